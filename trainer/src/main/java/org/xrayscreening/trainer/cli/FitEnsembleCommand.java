package org.xrayscreening.trainer.cli;

import ai.djl.translate.TranslateException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.xrayscreening.models.inference.CovidClassifier;
import org.xrayscreening.models.preprocess.Preprocessor;
import org.xrayscreening.models.registry.EnsembleRegistry;
import org.xrayscreening.models.registry.EnsembleSettings;
import org.xrayscreening.models.registry.EnsembleSettings.Combination;
import org.xrayscreening.models.registry.ModelRef;
import org.xrayscreening.models.registry.ModelRegistry;
import org.xrayscreening.models.registry.ModelVersion;
import org.xrayscreening.trainer.TrainerCli;
import org.xrayscreening.trainer.dataset.Dataset;
import org.xrayscreening.trainer.dataset.DatasetEntry;
import org.xrayscreening.trainer.dataset.DatasetSplit;
import org.xrayscreening.trainer.dataset.PreparedImages;
import org.xrayscreening.trainer.dataset.Split;
import org.xrayscreening.trainer.dataset.SplitSpec;
import org.xrayscreening.trainer.evaluation.EnsembleFitting;
import org.xrayscreening.trainer.evaluation.EnsembleFitting.ModelValidationScores;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code fit-ensemble}: scores registry models on the validation split they were trained with, fits both ways of
 * combining them (mean of Platt-calibrated probabilities, logistic stack) and the indeterminate band for the target
 * sensitivity, prints both side by side and publishes the chosen one as {@link EnsembleSettings} in the registry,
 * where the stream job finds them. Nothing is fit on the test split: {@code evaluate --ensemble-settings V} measures
 * the published settings there.
 *
 * <p>{@link #fit} and {@link #publish} are plain methods for other commands (e.g. one that trains and publishes the
 * production models and then their ensemble settings).
 */
@Command(name = "fit-ensemble", mixinStandardHelpOptions = true,
        description = "Fit the ensemble's calibration, combination and indeterminate band on the validation split"
                + " and publish them to the registry for the stream job.")
public final class FitEnsembleCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "<arch>@<version|alias|latest>; repeat for each model")
    List<String> models;

    @Option(names = "--data", required = true, description = "the dataset the models were trained on")
    Path data;

    @Option(names = "--split", defaultValue = "validation",
            description = "the split to fit on: validation only (the test split stays unseen) (default: ${DEFAULT-VALUE})")
    String split;

    @Option(names = "--seed", defaultValue = "42", description = "split seed used in training (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--test-fraction", defaultValue = "0.25")
    double testFraction;

    @Option(names = "--validation-fraction", defaultValue = "0.30")
    double validationFraction;

    @Option(names = "--exclude-source", paramLabel = "SOURCE", description = "as in the models' train command; repeatable")
    List<String> excludeSources = List.of();

    @Option(names = "--combination", defaultValue = "best", paramLabel = "best|calibrated-mean|stacked",
            description = "the combination to publish; both are fit and printed; best = the one with the higher validation"
                    + " specificity at the target sensitivity (default: ${DEFAULT-VALUE})")
    String combination;

    @Option(names = "--target-sensitivity", defaultValue = "0.95",
            description = "the band's lower edge keeps this share of validation COVID-19 images flagged (suspected or"
                    + " indeterminate) (default: ${DEFAULT-VALUE})")
    double targetSensitivity;

    @Option(names = "--band-specificity", defaultValue = "0.95",
            description = "the band's upper edge: lowest validation threshold with this specificity"
                    + " (default: ${DEFAULT-VALUE})")
    double bandSpecificity;

    @Option(names = "--publish", paramLabel = "REGISTRY",
            description = "publish the chosen settings to this registry (without it: print only)")
    Path publish;

    @Option(names = "--registry", description = "registry the models are read from (default: the --publish registry,"
            + " else ./registry)")
    Path registry;

    @Option(names = "--version", description = "name of the published settings version (default: <UTC time>-<hash>)")
    String version;

    @Mixin
    ScoringFlags scoring;

    @Override
    public Integer call() throws Exception {
        scoring.configureThreads();
        if (!Split.VALIDATION.id().equalsIgnoreCase(split.trim())) {
            System.err.println("--split must be validation: the ensemble is fit on validation only, and measured on"
                    + " test by `evaluate --ensemble-settings`");
            return 2;
        }
        Combination chosen;
        try {
            chosen = EnsembleFitting.choice(combination);
        } catch (IllegalArgumentException e) {
            System.err.println("--combination: " + e.getMessage());
            return 2;
        }
        Dataset dataset;
        try {
            dataset = Dataset.load(data).withoutSources(excludeSources);
        } catch (IllegalArgumentException e) {
            System.err.println(e.getMessage()); // names the sources the data has
            return 2;
        }
        DatasetSplit ds = DatasetSplit.of(dataset, new SplitSpec(seed, testFraction, validationFraction));
        Path modelRegistry = registry != null ? registry : publish != null ? publish : Path.of("registry");
        List<ModelRef> refs = new ArrayList<>();
        for (String m : models) {
            refs.add(ModelRef.parse(m.trim()));
        }
        Path cache = scoring.scoreCache();
        EnsembleFitting.Result result;
        try {
            result = fit(new ModelRegistry(modelRegistry), refs, ds, cache, chosen, targetSensitivity, bandSpecificity,
                    TrainerCli.commandLine());
        } catch (IllegalArgumentException e) {
            System.err.println(e.getMessage());
            return 2;
        }
        System.out.printf(Locale.ROOT, "%nEnsemble of %s, fit on the validation split %s (%d images, %d COVID-19);"
                        + " target sensitivity %.2f, band specificity %.2f:%n%n", result.chosen().models(), ds.digest(),
                result.candidates().get(result.chosen().combination()).images(),
                result.candidates().get(result.chosen().combination()).covid(), targetSensitivity,
                bandSpecificity);
        System.out.print(result.comparisonTable());
        if (publish == null) {
            System.out.println("\nnot published (no --publish)");
            return 0;
        }
        EnsembleSettings published;
        try {
            published = publish(publish, result.chosen(), version);
        } catch (java.nio.file.FileAlreadyExistsException e) {
            System.err.println(e.getReason() != null ? e.getReason() : "already exists: " + e.getFile());
            return 2;
        } catch (IllegalArgumentException e) {
            System.err.println("--version: " + e.getMessage());
            return 2;
        }
        System.out.println("\npublished " + published.describe() + " to " + publish.resolve(EnsembleRegistry.DIR)
                .resolve(published.version()));
        return 0;
    }

    /**
     * Scores each model on the validation split of {@code split} (through the evaluate command's score cache when
     * {@code scoreCache} is not null) and fits both combinations.
     *
     * @param models resolved to exact versions here; each must have been trained on this data and split (its
     *     metadata's training data digest), else its "validation" images may be its training images
     * @throws IllegalArgumentException for a model trained on other data, a model given twice, or a validation split
     *     without COVID-19 images
     */
    public static EnsembleFitting.Result fit(ModelRegistry registry, List<ModelRef> models, DatasetSplit split,
            Path scoreCache, Combination chosen, double targetSensitivity, double bandSpecificity, String command)
            throws IOException, TranslateException {
        List<DatasetEntry> validation = split.get(Split.VALIDATION);
        if (validation.isEmpty()) {
            throw new IllegalArgumentException("the validation split is empty");
        }
        Map<Preprocessor, PreparedImages> prepared = new HashMap<>();
        List<ModelValidationScores> scores = new ArrayList<>();
        List<DatasetEntry> order = null;
        for (ModelRef ref : models) {
            ModelVersion version = registry.resolve(ref);
            String trained = version.metadata().trainingDataDigest();
            if (trained != null && !trained.equals(split.digest())) {
                throw new IllegalArgumentException(version + " was trained on data/split " + trained + ", not on "
                        + split.digest() + ": give the --data, --seed, fractions and --exclude-source of its training run");
            }
            try (CovidClassifier classifier = CovidClassifier.load(registry, version)) {
                PreparedImages images = prepared.computeIfAbsent(classifier.preprocessor(),
                        p -> PreparedImages.load(validation, p));
                if (order == null) {
                    order = images.entries();
                } else if (!order.equals(images.entries())) {
                    // a preprocessor that skipped an image the others read: the rows would not line up
                    throw new IllegalArgumentException("the models could not all read the same validation images");
                }
                Path cached = scoreCache == null ? null : scoreCache.resolve(version.architecture().id() + "@"
                        + version.version() + "-" + ScoreCache.key(split.digest(), Split.VALIDATION.id(),
                        version.metadata().files()) + ".csv");
                float[][] pv = cached == null ? null : ScoreCache.read(cached, images, images);
                if (pv == null) {
                    System.out.println("scoring " + images.size() + " validation images with " + version + " ...");
                    float[] v = classifier.predictPreprocessed(images.inputs());
                    pv = new float[][] {v, v};
                    if (cached != null) {
                        ScoreCache.write(cached, images, images, pv);
                    }
                } else {
                    System.out.println(version + ": " + pv[1].length + " validation scores from " + cached);
                }
                scores.add(new ModelValidationScores(version.architecture().id(), version.version(), pv[1]));
            }
        }
        boolean[] positive = new boolean[order.size()];
        for (int i = 0; i < positive.length; i++) {
            positive[i] = order.get(i).label().isCovid();
        }
        return EnsembleFitting.fit(scores, positive, chosen, targetSensitivity, bandSpecificity, split.digest(), command);
    }

    /** Publishes settings to the registry at {@code registryRoot}; {@code version} null picks a name. */
    public static EnsembleSettings publish(Path registryRoot, EnsembleSettings settings, String version)
            throws IOException {
        return new EnsembleRegistry(registryRoot).publish(settings, version);
    }
}
