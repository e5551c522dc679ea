package org.xrayscreening.trainer.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import org.xrayscreening.models.explain.HeatmapRegions;
import org.xrayscreening.models.inference.CovidClassifier;
import org.xrayscreening.models.inference.Precision;
import org.xrayscreening.models.preprocess.Preprocessor;
import org.xrayscreening.models.registry.EnsembleRegistry;
import org.xrayscreening.models.registry.EnsembleSettings;
import org.xrayscreening.models.registry.ModelRef;
import org.xrayscreening.models.registry.ModelRegistry;
import org.xrayscreening.trainer.TrainerCli;
import org.xrayscreening.trainer.dataset.Dataset;
import org.xrayscreening.trainer.dataset.DatasetEntry;
import org.xrayscreening.trainer.dataset.DatasetSplit;
import org.xrayscreening.trainer.dataset.PreparedImages;
import org.xrayscreening.trainer.dataset.Split;
import org.xrayscreening.trainer.dataset.SplitSpec;
import org.xrayscreening.trainer.evaluation.Bootstrap;
import org.xrayscreening.trainer.evaluation.Calibration;
import org.xrayscreening.trainer.evaluation.EnsembleFit;
import org.xrayscreening.trainer.evaluation.HeatmapReview;
import org.xrayscreening.trainer.evaluation.EnsembleFitting;
import org.xrayscreening.trainer.evaluation.ModelEvaluation;
import org.xrayscreening.trainer.evaluation.ProtocolEvaluation;
import org.xrayscreening.trainer.evaluation.ModelScores;
import org.xrayscreening.trainer.evaluation.PrecisionAgreement;
import org.xrayscreening.trainer.report.EvaluationReport;
import org.xrayscreening.trainer.report.HeatmapGallery;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code evaluate}: scores registry models on a dataset split, alone and as a mean-probability ensemble, and
 * writes report.md, metrics.json, predictions.csv and PNGs to {@code runs/<timestamp>-<name>/}.
 */
@Command(name = "evaluate", mixinStandardHelpOptions = true,
        description = "Evaluate registry models (and their ensemble) on a dataset split.")
public final class EvaluateCommand implements Callable<Integer> {
    private static final DateTimeFormatter RUN_TIME =
            DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss").withZone(ZoneOffset.UTC);

    @Option(names = "--model", required = true, description = "<arch>@<version|alias|latest>; repeat for several")
    List<String> models;

    @Option(names = "--registry", defaultValue = "registry", description = "model registry folder (default: ${DEFAULT-VALUE})")
    Path registry;

    @Option(names = "--data", required = true,
            description = "dataset folder or manifest; repeat to combine collections (give those of training)")
    List<Path> data;

    @Option(names = "--split", defaultValue = "test",
            description = "test, validation, train, all, or excluded (every image of the --exclude-source sources:"
                    + " leave-one-source-out) (default: ${DEFAULT-VALUE}); the split is recomputed from --seed, the"
                    + " fractions and --exclude-source, which must match training")
    String split;

    @Option(names = "--seed", defaultValue = "42", description = "split seed used in training (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--test-fraction", defaultValue = "0.25")
    double testFraction;

    @Option(names = "--validation-fraction", defaultValue = "0.30")
    double validationFraction;

    @Option(names = "--exclude-source", paramLabel = "SOURCE",
            description = "as in train: the split (so the validation images) is computed without this source;"
                    + " give the same as the model's training run; repeatable")
    List<String> excludeSources = List.of();

    @Option(names = "--only-source", paramLabel = "SOURCE",
            description = "evaluate only the images of this source (manifest column source_repo/source); repeatable")
    List<String> onlySources = List.of();

    @Option(names = "--bootstrap", defaultValue = "1000",
            description = "bootstrap replicates for the 95%% intervals (patients resampled); 0 = no protocol section"
                    + " (default: ${DEFAULT-VALUE})")
    int bootstrapReplicates;

    @Option(names = "--bootstrap-seed", defaultValue = "" + Bootstrap.DEFAULT_SEED,
            description = "seed of the bootstrap draws (default: ${DEFAULT-VALUE})")
    long bootstrapSeed;

    @Option(names = "--calibration-bins", defaultValue = "" + Calibration.DEFAULT_BINS,
            description = "equal-width score bins of the reliability plot and ECE (default: ${DEFAULT-VALUE})")
    int calibrationBins;

    @Option(names = "--ensemble-fit", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "with several models: also a mean of Platt-calibrated probabilities and a logistic stack,"
                    + " both fit on validation, and for every ensemble an indeterminate band chosen on validation"
                    + " (default: on; --no-ensemble-fit turns it off)")
    boolean ensembleFit;

    @Option(names = "--band-specificity", defaultValue = "0.95",
            description = "the band's upper edge: lowest validation threshold with this specificity; its lower edge"
                    + " keeps --target-sensitivity (default: ${DEFAULT-VALUE})")
    double bandSpecificity;

    @Option(names = "--target-sensitivity", defaultValue = "0.95",
            description = "the second table's threshold is chosen on validation for this sensitivity (default: ${DEFAULT-VALUE})")
    double targetSensitivity;

    @Option(names = "--runs", defaultValue = "runs", description = "folder of run folders (default: ${DEFAULT-VALUE})")
    Path runs;

    @Option(names = "--name", defaultValue = "evaluate", description = "run folder suffix (default: ${DEFAULT-VALUE})")
    String name;

    @Mixin
    ScoringFlags scoring;

    @Option(names = "--precision", split = ",", defaultValue = "fp32",
            description = "fp32, bf16 or auto; several (fp32,bf16) score each model in each and print how far the"
                    + " answers moved against the bar bf16 must pass (default: ${DEFAULT-VALUE})")
    List<String> precisionNames;

    @Option(names = "--gallery", defaultValue = "0", paramLabel = "K",
            description = "Grad-CAM review of every fp32 model: per source a PNG gallery of up to K most confident"
                    + " true/false positives/negatives with the heatmap over the X-ray, and the share of heatmap mass"
                    + " inside the lung mask (manifest column lung_mask), in the border band and in the corners"
                    + " (default: ${DEFAULT-VALUE}: off)")
    int gallery;

    @Option(names = "--heatmap-images", defaultValue = "400",
            description = "with --gallery: measure the shares on at most this many images, evenly spread in name"
                    + " order; 0 = all (default: ${DEFAULT-VALUE})")
    int heatmapImages;

    @Option(names = "--ensemble-settings", paramLabel = "VERSION|latest",
            description = "also evaluate these ensemble settings from the registry (published by fit-ensemble, fit on"
                    + " validation) on this split; the --model list must be the versions they were fit for")
    String ensembleSettingsRef;

    private Path scoreCache;

    @Override
    public Integer call() throws Exception {
        scoring.configureThreads();
        scoreCache = scoring.scoreCache();
        if (bootstrapReplicates < 0 || calibrationBins < 1) {
            System.err.println("--bootstrap must be >= 0 and --calibration-bins >= 1");
            return 2;
        }
        if (gallery < 0 || heatmapImages < 0) {
            System.err.println("--gallery and --heatmap-images must be >= 0");
            return 2;
        }
        Dataset full;
        Dataset dataset;
        try {
            full = Dataset.load(data);
            dataset = full.withoutSources(excludeSources);
            if (!onlySources.isEmpty()) {
                full.onlySources(onlySources);
            }
        } catch (IllegalArgumentException e) {
            System.err.println(e.getMessage()); // names the sources the data has, or the clashing collections
            return 2;
        }
        SplitSpec spec = new SplitSpec(seed, testFraction, validationFraction);
        DatasetSplit ds = DatasetSplit.of(dataset, spec);
        List<DatasetEntry> evalEntries;
        String splitName;
        if ("all".equalsIgnoreCase(split)) {
            evalEntries = dataset.entries();
            splitName = "all";
        } else if ("excluded".equalsIgnoreCase(split)) {
            if (excludeSources.isEmpty()) {
                System.err.println("--split excluded needs --exclude-source (the sources the model never saw)");
                return 2;
            }
            evalEntries = full.onlySources(excludeSources).entries();
            splitName = "excluded";
        } else {
            Split s = Split.parse(split);
            evalEntries = ds.get(s);
            splitName = s.id();
        }
        String cacheSplit = splitName; // a source's scores are picked out of its split's cached file
        if (!onlySources.isEmpty()) {
            evalEntries = evalEntries.stream().filter(e -> onlySources.contains(e.source())).toList();
            if (evalEntries.isEmpty()) {
                System.err.println("the " + split + " split holds no image of " + onlySources);
                return 2;
            }
            splitName = splitName + " of " + String.join(" + ", onlySources);
        }
        List<DatasetEntry> validationEntries = ds.get(Split.VALIDATION);
        List<DatasetEntry> evaluated = evalEntries;
        System.out.println("evaluating on " + splitName + ": " + evalEntries.size() + " images; validation (threshold): "
                + validationEntries.size() + "; split " + ds.summary());

        ModelRegistry reg = new ModelRegistry(registry);
        Map<Preprocessor, PreparedImages[]> cache = new HashMap<>();
        List<ModelScores> scores = new ArrayList<>();
        Set<String> skipped = new LinkedHashSet<>();
        List<Precision> precisions = precisionNames.stream().map(Precision::parse).distinct().toList();
        Map<Precision, List<ModelScores>> byPrecision = new LinkedHashMap<>();
        List<PrecisionAgreement> agreements = new ArrayList<>();
        Map<String, Double> modelThresholds = new HashMap<>();
        List<HeatmapReview.Result> heatmapReviews = new ArrayList<>();
        for (String m : models) {
          ModelRef ref = ModelRef.parse(m);
          ModelScores fp32Scores = null;
          for (Precision precision : precisions) {
            try (CovidClassifier classifier = CovidClassifier.load(reg, reg.resolve(ref.architecture(), ref.ref()),
                    precision)) {
                Preprocessor pre = classifier.preprocessor();
                PreparedImages[] prepared = cache.computeIfAbsent(pre, p -> {
                    PreparedImages e = PreparedImages.load(evaluated, p);
                    // --split validation: the evaluated images are the validation images, prepared and scored once
                    return new PreparedImages[] {e, evaluated.equals(validationEntries) ? e
                            : PreparedImages.load(validationEntries, p)};
                });
                skipped.addAll(prepared[0].skipped());
                skipped.addAll(prepared[1].skipped());
                long t0 = System.nanoTime();
                Path cached = scoreCache == null ? null : scoreCache.resolve(classifier.version().architecture().id()
                        + "@" + classifier.version().version() + "-" + ScoreCache.key(ds.digest(), cacheSplit,
                        classifier.metadata().files()) + (precision == Precision.FP32 ? "" : "-" + precision.id())
                        + ".csv");
                float[][] pv = cached == null ? null : ScoreCache.read(cached, prepared[0], prepared[1]);
                boolean fromCache = pv != null;
                if (pv == null) {
                    float[] evaluatedScores = classifier.predictPreprocessed(prepared[0].inputs());
                    pv = new float[][] {evaluatedScores, prepared[1] == prepared[0] ? evaluatedScores
                            : classifier.predictPreprocessed(prepared[1].inputs())};
                    if (cached != null) {
                        ScoreCache.write(cached, prepared[0], prepared[1], pv);
                    }
                }
                float[] p = pv[0];
                float[] v = pv[1];
                double sec = (System.nanoTime() - t0) / 1e9;
                String note = null;
                String trained = classifier.metadata().trainingDataDigest();
                if (trained != null && !trained.equals(ds.digest())) {
                    note = "trained on data/split " + trained + ", not on this one (" + ds.digest()
                            + "): evaluated images may have been seen in training";
                }
                String label = classifier.version() + (precision == Precision.FP32 ? "" : " (" + precision.id() + ")");
                ModelScores modelScores = new ModelScores(label, prepared[0].entries(), p, prepared[1].entries(), v, note);
                scores.add(modelScores);
                modelThresholds.put(label, classifier.metadata().decisionThreshold());
                byPrecision.computeIfAbsent(precision, k -> new ArrayList<>()).add(modelScores);
                if (gallery > 0 && precision == Precision.FP32) {
                    heatmapReviews.add(HeatmapReview.review(classifier, label, prepared[0], p,
                            classifier.metadata().decisionThreshold(), new HeatmapReview.Settings(gallery,
                                    heatmapImages, 192, HeatmapRegions.DEFAULT_BAND, bootstrapReplicates > 0
                                    ? new Bootstrap(bootstrapReplicates, bootstrapSeed) : null), System.out));
                }
                if (precision == Precision.FP32) {
                    fp32Scores = modelScores;
                } else if (fp32Scores != null) {
                    agreements.add(PrecisionAgreement.of(classifier.version().toString(), precision.id(), fp32Scores,
                            modelScores, classifier.metadata().decisionThreshold()));
                }
                if (fromCache) {
                    System.out.printf(Locale.ROOT, "%s: %d + %d scores from %s%n", label, p.length, v.length, cached);
                } else {
                    System.out.printf(Locale.ROOT, "%s: scored %d + %d images in %.1f s (%.1f img/s)%n", label,
                            p.length, v.length, sec, (p.length + (prepared[1] == prepared[0] ? 0 : v.length)) / sec);
                }
            }
          }
        }
        List<ModelScores> all = new ArrayList<>(scores);
        byPrecision.forEach((precision, group) -> {
            if (group.size() > 1) {
                ModelScores ensemble = ModelEvaluation.ensemble(group);
                all.add(precision == Precision.FP32 ? ensemble : new ModelScores("ensemble (" + precision.id() + ")",
                        ensemble.entries(), ensemble.scores(), ensemble.validationEntries(),
                        ensemble.validationScores(), ensemble.note()));
            }
        });
        List<ModelScores> fp32Models = byPrecision.getOrDefault(Precision.FP32, List.of());
        EnsembleSettings published = null;
        if (ensembleSettingsRef != null) {
            published = new EnsembleRegistry(registry).resolve(ensembleSettingsRef);
            ModelScores applied;
            try {
                applied = EnsembleFitting.apply(published, fp32Models);
            } catch (IllegalArgumentException e) {
                System.err.println(e.getMessage());
                return 2;
            }
            all.add(applied);
            // the protocol section judges it at its published threshold, not one chosen again here
            modelThresholds.put(applied.name(), published.threshold());
        }
        List<ModelScores> ensembles = new ArrayList<>();
        StringBuilder ensembleFits = new StringBuilder();
        if (fp32Models.size() > 1) {
            ensembles.add(all.stream().filter(s -> s.name().startsWith("ensemble (mean")).findFirst().orElseThrow());
            if (ensembleFit) {
                ensembles.addAll(fitEnsembles(fp32Models, ensembleFits));
                all.addAll(ensembles.subList(1, ensembles.size()));
            }
        }
        List<ModelEvaluation> evaluations = new ArrayList<>();
        for (ModelScores s : all) {
            evaluations.add(ModelEvaluation.of(s, targetSensitivity));
        }
        EvaluationReport.Protocol protocol = null;
        if (bootstrapReplicates > 0) {
            Bootstrap bootstrap = new Bootstrap(bootstrapReplicates, bootstrapSeed);
            List<ProtocolEvaluation> protocolEvaluations = new ArrayList<>();
            for (int i = 0; i < all.size(); i++) {
                ModelScores s = all.get(i);
                Double own = modelThresholds.get(s.name());
                // an ensemble has no registry metadata: its threshold is chosen on validation as in the tables above
                double threshold = own != null ? own : evaluations.get(i).chosenThreshold();
                String origin = own != null ? "registry metadata" : String.format(Locale.ROOT,
                        "validation, sensitivity >= %.2f", targetSensitivity);
                System.out.printf(Locale.ROOT, "%s: bootstrap intervals (%d replicates) ...%n", s.name(),
                        bootstrapReplicates);
                protocolEvaluations.add(ProtocolEvaluation.of(s, threshold, origin, bootstrap, calibrationBins));
            }
            protocol = new EvaluationReport.Protocol(protocolEvaluations, bootstrapReplicates, bootstrapSeed,
                    calibrationBins);
        }
        Path dir = runs.resolve(RUN_TIME.format(Instant.now()) + "-" + name);
        Files.createDirectories(dir);
        EvaluationReport.write(dir, new EvaluationReport.Context(TrainerCli.commandLine(), dataset.origin(), splitName,
                spec.toString(), ds.digest(), new ArrayList<>(skipped)), all, evaluations, protocol);
        System.out.print(EvaluationReport.markdownTables(evaluations));
        if (protocol != null) {
            System.out.println();
            System.out.print(EvaluationReport.protocolMarkdown(protocol));
        }
        if (!ensembles.isEmpty()) {
            String bands = bandSection(ensembles, ensembleFits.toString());
            Files.writeString(dir.resolve("report.md"), "\n" + bands, java.nio.file.StandardOpenOption.APPEND);
            System.out.println();
            System.out.print(bands);
        }
        if (published != null) {
            String prefix = "ensemble@" + published.version() + " ";
            String section = publishedSection(published, all.stream().filter(s -> s.name().startsWith(prefix))
                    .findFirst().orElseThrow(), splitName);
            Files.writeString(dir.resolve("report.md"), "\n" + section, java.nio.file.StandardOpenOption.APPEND);
            System.out.println();
            System.out.print(section);
        }
        if (!agreements.isEmpty()) {
            String table = PrecisionAgreement.markdown(agreements);
            Files.writeString(dir.resolve("precision-agreement.md"), "# Precision agreement\n\n" + splitName
                    + " split, " + evalEntries.size() + " images; the model's own decision threshold (metadata).\n\n"
                    + table);
            System.out.println();
            System.out.print(table);
        }
        if (!heatmapReviews.isEmpty()) {
            HeatmapGallery.write(dir, heatmapReviews);
            System.out.println();
            System.out.print(HeatmapGallery.markdown(heatmapReviews));
        }
        System.out.println("report: " + dir.resolve("report.md"));
        return 0;
    }

    /** The published settings' own three-way decision on the evaluated split, next to what they did on validation. */
    static String publishedSection(EnsembleSettings settings, ModelScores applied, String splitName) {
        boolean[] positive = new boolean[applied.entries().size()];
        for (int i = 0; i < positive.length; i++) {
            positive[i] = applied.entries().get(i).label().isCovid();
        }
        EnsembleFitting.Candidate o = EnsembleFitting.measure(settings, applied.scores(), positive);
        Map<String, Double> v = settings.validationMetrics();
        StringBuilder sb = new StringBuilder("## Published ensemble settings ").append(settings.version()).append("\n\n");
        sb.append(String.format(Locale.ROOT, "%s of %s; band [%.4f, %.4f) (below: no findings, from the upper edge:"
                + " suspected), fit on %s %s for sensitivity >= %.2f and band specificity %.2f, by `%s`. Sensitivity"
                + " counts suspected and indeterminate, specificity counts no findings: the stream job's decision.%n%n",
                settings.combination().id(), settings.models(), settings.indeterminateLow(), settings.indeterminateHigh(),
                settings.split(), settings.dataDigest(), settings.targetSensitivity(), settings.targetSpecificity(),
                settings.command()));
        sb.append("| split | images | COVID-19 | indeterminate | sensitivity | specificity | ROC AUC |\n"
                + "| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
        sb.append(String.format(Locale.ROOT, "| %s | %d | %d | %d (%.1f%%) | %s | %s | %s |%n", splitName, o.images(),
                o.covid(), o.indeterminate(), 100.0 * o.indeterminate() / Math.max(1, o.images()),
                EvaluationReport.f(o.sensitivity()), EvaluationReport.f(o.specificity()), EvaluationReport.f(o.auc())));
        sb.append(String.format(Locale.ROOT, "| validation (at fit) | %.0f | %.0f | %.0f | %s | %s | %s |%n",
                v.getOrDefault("images", Double.NaN), v.getOrDefault("covid", Double.NaN),
                v.getOrDefault("indeterminate", Double.NaN), EvaluationReport.f(v.getOrDefault("sensitivity", Double.NaN)),
                EvaluationReport.f(v.getOrDefault("specificity", Double.NaN)),
                EvaluationReport.f(v.getOrDefault("auc", Double.NaN))));
        return sb.toString();
    }

    /** Platt-calibrated mean and logistic stack of the models, fit on validation; the fitted numbers go to {@code fits}. */
    static List<ModelScores> fitEnsembles(List<ModelScores> models, StringBuilder fits) {
        ModelScores first = models.get(0);
        boolean[] validationPositive = new boolean[first.validationEntries().size()];
        for (int i = 0; i < validationPositive.length; i++) {
            validationPositive[i] = first.validationEntries().get(i).label().isCovid();
        }
        List<ModelScores> calibrated = new ArrayList<>();
        fits.append("Platt scaling per model (P = sigmoid(a * logit(p) + b), fit on validation):");
        for (ModelScores m : models) {
            EnsembleFit.Platt platt = EnsembleFit.Platt.fit(m.validationScores(), validationPositive);
            fits.append(String.format(Locale.ROOT, " %s a %.3f b %.3f;", m.name(), platt.a(), platt.b()));
            calibrated.add(new ModelScores(m.name(), m.entries(), platt.apply(m.scores()), m.validationEntries(),
                    platt.apply(m.validationScores()), null));
        }
        ModelScores mean = ModelEvaluation.ensemble(calibrated);
        List<ModelScores> out = new ArrayList<>();
        out.add(new ModelScores("ensemble (Platt-calibrated mean of " + models.size() + ")", mean.entries(),
                mean.scores(), mean.validationEntries(), mean.validationScores(), null));
        EnsembleFit.Stacked stacked = EnsembleFit.Stacked.fit(
                models.stream().map(ModelScores::validationScores).toList(), validationPositive);
        fits.append("\n\nLogistic stack on the models' logits (fit on validation): bias ")
                .append(String.format(Locale.ROOT, "%.3f", stacked.bias()));
        for (int k = 0; k < models.size(); k++) {
            fits.append(String.format(Locale.ROOT, ", %s %.3f", models.get(k).name(), stacked.weights()[k]));
        }
        fits.append(".\n");
        out.add(new ModelScores("ensemble (stacked on validation)", first.entries(),
                stacked.apply(models.stream().map(ModelScores::scores).toList()), first.validationEntries(),
                stacked.apply(models.stream().map(ModelScores::validationScores).toList()), null));
        return out;
    }

    private String bandSection(List<ModelScores> ensembles, String fits) {
        StringBuilder sb = new StringBuilder("## Ensemble: combinations and the indeterminate band, fit on validation\n\n");
        sb.append(fits).append('\n');
        sb.append(String.format(Locale.ROOT, "Band: below `low` no findings, from `high` suspected, in between"
                + " indeterminate; `low` keeps validation sensitivity (suspected or indeterminate) >= %.2f, `high` is"
                + " the lowest validation threshold with specificity >= %.2f. Rates on this split; sensitivity counts"
                + " suspected and indeterminate (both reach a clinician), specificity counts no findings.%n%n",
                targetSensitivity, bandSpecificity));
        sb.append("| ensemble | low | high | images | indeterminate | sensitivity | specificity | stream job"
                + " (--threshold / --indeterminate-band, or ensemble settings) |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n");
        for (ModelScores e : ensembles) {
            boolean[] vp = new boolean[e.validationEntries().size()];
            for (int i = 0; i < vp.length; i++) {
                vp[i] = e.validationEntries().get(i).label().isCovid();
            }
            boolean[] ep = new boolean[e.entries().size()];
            for (int i = 0; i < ep.length; i++) {
                ep[i] = e.entries().get(i).label().isCovid();
            }
            EnsembleFit.Band band = EnsembleFit.Band.choose(e.validationScores(), vp, targetSensitivity, bandSpecificity);
            EnsembleFit.Outcome o = band.apply(e.scores(), ep);
            // the plain mean is the stream job's flag policy; the fitted ones reach it as published ensemble settings
            String stream = e.name().startsWith("ensemble (mean") ? String.format(Locale.ROOT, "%.4f / %.4f",
                    (band.low() + band.high()) / 2, (band.high() - band.low()) / 2)
                    : e.name().startsWith("ensemble (stacked") ? "`fit-ensemble --combination stacked`"
                    : "`fit-ensemble --combination calibrated-mean`";
            sb.append(String.format(Locale.ROOT, "| %s | %.4f | %.4f | %d | %d (%.1f%%) | %s | %s | %s |%n", e.name(),
                    band.low(), band.high(), o.images(), o.indeterminate(), 100.0 * o.indeterminate() / Math.max(1,
                    o.images()), EvaluationReport.f(o.sensitivity()), EvaluationReport.f(o.specificity()), stream));
        }
        return sb.toString();
    }
}
