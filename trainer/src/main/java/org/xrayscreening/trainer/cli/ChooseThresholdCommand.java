package org.xrayscreening.trainer.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import org.xrayscreening.models.inference.CovidClassifier;
import org.xrayscreening.models.preprocess.Preprocessor;
import org.xrayscreening.models.registry.ModelMetadata;
import org.xrayscreening.models.registry.ModelRef;
import org.xrayscreening.models.registry.ModelRegistry;
import org.xrayscreening.models.registry.ModelVersion;
import org.xrayscreening.trainer.TrainerCli;
import org.xrayscreening.trainer.dataset.Dataset;
import org.xrayscreening.trainer.dataset.DatasetSplit;
import org.xrayscreening.trainer.dataset.PreparedImages;
import org.xrayscreening.trainer.dataset.Split;
import org.xrayscreening.trainer.dataset.SplitSpec;
import org.xrayscreening.trainer.evaluation.ConfusionMatrix;
import org.xrayscreening.trainer.evaluation.ThresholdChooser;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code choose-threshold}: scores a registry model on the validation split it was selected on, picks the
 * highest decision threshold that keeps validation sensitivity at or above the target, and publishes the same
 * weights as a <b>new version</b> whose metadata carries that threshold (versions are immutable, and the stream
 * job takes each model's decision threshold from the version it serves). The metadata records how the
 * threshold was chosen (metrics {@code threshold.*}, and the command in the notes).
 */
@Command(name = "choose-threshold", mixinStandardHelpOptions = true,
        description = "Choose a model's decision threshold on its validation split for a target sensitivity and"
                + " publish the same weights with it as a new registry version.")
public final class ChooseThresholdCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "<arch>@<version|alias|latest>")
    String model;

    @Option(names = "--registry", required = true, description = "model registry folder")
    Path registry;

    @Option(names = "--data", required = true,
            description = "the dataset the model was trained on (repeat for each collection of its training run)")
    List<Path> data;

    @Option(names = "--seed", defaultValue = "42", description = "split seed used in training (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--test-fraction", defaultValue = "0.25")
    double testFraction;

    @Option(names = "--validation-fraction", defaultValue = "0.30")
    double validationFraction;

    @Option(names = "--exclude-source", paramLabel = "SOURCE", description = "as in the model's train command; repeatable")
    List<String> excludeSources = List.of();

    @Option(names = "--target-sensitivity", defaultValue = "0.95",
            description = "validation sensitivity the threshold must keep (default: ${DEFAULT-VALUE})")
    double targetSensitivity;

    @Option(names = "--model-version", description = "name of the new version (default: <version>-sens<target>)")
    String newVersion;

    @Option(names = "--dry-run", description = "print the threshold, publish nothing")
    boolean dryRun;

    @Mixin
    ScoringFlags scoring;

    @Override
    public Integer call() throws Exception {
        scoring.configureThreads();
        Dataset dataset;
        try {
            dataset = Dataset.load(data).withoutSources(excludeSources);
        } catch (IllegalArgumentException e) {
            System.err.println(e.getMessage()); // names the sources the data has, or the clashing collections
            return 2;
        }
        DatasetSplit ds = DatasetSplit.of(dataset, new SplitSpec(seed, testFraction, validationFraction));
        ModelRegistry reg = new ModelRegistry(registry);
        ModelRef ref = ModelRef.parse(model);
        ModelVersion version = reg.resolve(ref.architecture(), ref.ref());
        ModelMetadata old = version.metadata();
        if (old.trainingDataDigest() != null && !old.trainingDataDigest().equals(ds.digest())) {
            // another split's "validation" images may have been training images of this model
            System.err.println(version + " was trained on data/split " + old.trainingDataDigest() + ", not on "
                    + ds.digest() + ": give the --data, --seed, fractions and --exclude-source of its training run");
            return 2;
        }
        List<org.xrayscreening.trainer.dataset.DatasetEntry> validation = ds.get(Split.VALIDATION);
        float[] scores;
        PreparedImages prepared;
        try (CovidClassifier classifier = CovidClassifier.load(reg, version)) {
            Preprocessor pre = classifier.preprocessor();
            prepared = PreparedImages.load(validation, pre);
            Path cacheRoot = scoring.scoreCache();
            Path cached = cacheRoot == null ? null : cacheRoot.resolve(
                    version.architecture().id() + "@" + version.version() + "-"
                            + ScoreCache.key(ds.digest(), Split.VALIDATION.id(), old.files()) + ".csv");
            float[][] pv = cached == null ? null : ScoreCache.read(cached, prepared, prepared);
            if (pv == null) {
                System.out.println("scoring " + prepared.size() + " validation images with " + version + " ...");
                float[] v = classifier.predictPreprocessed(prepared.inputs());
                pv = new float[][] {v, v};
                if (cached != null) {
                    ScoreCache.write(cached, prepared, prepared, pv);
                }
            }
            scores = pv[1];
        }
        boolean[] positive = new boolean[prepared.size()];
        for (int i = 0; i < positive.length; i++) {
            positive[i] = prepared.entry(i).label().isCovid();
        }
        if (!(targetSensitivity > 0 && targetSensitivity <= 1)) {
            System.err.println("--target-sensitivity must be in (0, 1]: " + targetSensitivity);
            return 2;
        }
        boolean anyCovid = false;
        for (boolean p : positive) {
            anyCovid |= p;
        }
        if (!anyCovid) {
            // ThresholdChooser would fall back to 0.5: a number nothing was measured for
            System.err.println("the validation split holds no COVID-19 image: no sensitivity to choose a threshold for");
            return 2;
        }
        double threshold = ThresholdChooser.forSensitivity(scores, positive, targetSensitivity);
        ConfusionMatrix at = ConfusionMatrix.at(scores, positive, threshold);
        System.out.printf(Locale.ROOT, "%s: validation %d images (%d covid); threshold %.6f (was %.6f): sensitivity"
                + " %.3f, specificity %.3f%n", version, prepared.size(), at.positives(), threshold,
                old.decisionThreshold(), at.recall(), at.specificity());
        if (dryRun) {
            return 0;
        }
        if (threshold == old.decisionThreshold()) {
            System.out.println(version + " already has this threshold in its metadata: nothing to publish");
            return 0;
        }
        Map<String, Double> metrics = new LinkedHashMap<>(old.metrics());
        metrics.put("threshold.targetSensitivity", targetSensitivity);
        metrics.put("threshold.previous", old.decisionThreshold());
        metrics.put("threshold.validation.images", (double) prepared.size());
        metrics.put("threshold.validation.sensitivity", at.recall());
        if (Double.isFinite(at.specificity())) {
            metrics.put("threshold.validation.specificity", at.specificity());
        }
        String how = String.format(Locale.ROOT, "decision threshold %.6f chosen on the validation split (%s, %d"
                + " images) as the highest with sensitivity >= %.2f, by `%s`; weights identical to %s (threshold"
                + " %.6f)", threshold, ds.digest(), prepared.size(), targetSensitivity, TrainerCli.commandLine(),
                version, old.decisionThreshold());
        ModelMetadata metadata = new ModelMetadata(old.architecture(), null, old.inputSize(), old.normalization(),
                old.classNames(), threshold, old.trainingDataDigest(), metrics, null, old.command(),
                old.notes() == null ? how : old.notes() + "; " + how, null, old.preprocessing());
        String name = newVersion != null ? newVersion
                : version.version() + String.format(Locale.ROOT, "-sens%02d", Math.round(targetSensitivity * 100));
        Path staging = Files.createTempDirectory("threshold-staging-");
        try {
            copyWeights(version.directory(), staging);
            ModelVersion published = reg.publish(version.architecture(), name, staging, metadata);
            System.out.println("published " + published + " (decision threshold " + threshold + ") to " + registry);
        } finally {
            try (Stream<Path> walk = Files.walk(staging)) {
                walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
        return 0;
    }

    /** Every file of the version but its metadata (the registry writes a new one). */
    static void copyWeights(Path from, Path to) throws IOException {
        try (Stream<Path> walk = Files.walk(from)) {
            for (Path p : walk.filter(Files::isRegularFile).toList()) {
                if (p.getFileName().toString().equals(ModelRegistry.METADATA_FILE) && p.getParent().equals(from)) {
                    continue;
                }
                Path target = to.resolve(from.relativize(p).toString());
                Files.createDirectories(target.getParent());
                Files.copy(p, target);
            }
        }
    }
}
