package org.xrayscreening.trainer.lifecycle;

import ai.djl.MalformedModelException;
import ai.djl.Model;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xrayscreening.connectors.event.ModelUpdate;
import org.xrayscreening.models.Architecture;
import org.xrayscreening.models.inference.ModelExport;
import org.xrayscreening.models.preprocess.Preprocessor;
import org.xrayscreening.models.registry.ModelMetadata;
import org.xrayscreening.models.registry.ModelNotFoundException;
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
import org.xrayscreening.trainer.evaluation.ModelEvaluation;
import org.xrayscreening.trainer.evaluation.ModelScores;
import org.xrayscreening.trainer.report.EvaluationReport;
import org.xrayscreening.trainer.training.RunInfo;
import org.xrayscreening.trainer.training.TrainOptions;
import org.xrayscreening.trainer.training.TrainingRun;

/**
 * One champion/challenger refit, for each model that has a {@code production} alias (or the ones asked for):
 * <ol>
 *   <li>snapshot the {@link TrainingStore} (train + validation manifest, and the patient-stable held-out manifest);</li>
 *   <li>fine-tune a challenger from the champion's (production) weights with {@link TrainingRun} (default preset:
 *       Adam, class-weighted cross-entropy, best validation epoch kept; batch-norm momentum 0.9);</li>
 *   <li>score champion and challenger on the same fixed evaluation set ({@code --eval-data}, else the held-out
 *       snapshot) and compare them at the champion's decision threshold with the {@link PromotionPolicy};</li>
 *   <li>publish the challenger (promoted or not, for the audit trail) with both sets of numbers and the decision
 *       in its metadata and the champion's decision threshold;</li>
 *   <li>on promotion: point the {@code production} alias at it and send a {@link ModelUpdate} (sha256 of its
 *       {@code metadata.json});</li>
 *   <li>write {@code report.md} + {@code refit.json} in the refit folder, and per model the evaluation report
 *       (tables, confusion matrices, ROC curves) in {@code <model>/}.</li>
 * </ol>
 */
public final class Refitter {
    private static final Logger LOG = LoggerFactory.getLogger(Refitter.class);
    private static final DateTimeFormatter RUN_TIME = DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss").withZone(ZoneOffset.UTC);
    public static final String LAST_REFIT_FILE = "last-refit.json";

    /** How a refit trains, evaluates and decides. */
    public record Settings(Path registry, Path runs, Path evalData, String alias, double holdoutFraction, int epochs,
            int batchSize, float learningRate, float bnMomentum, double validationFraction, long seed, int threads,
            boolean augment, double timeBudgetMinutes, int minStudies, PromotionPolicy policy) {
        public Settings {
            Objects.requireNonNull(registry, "registry");
            Objects.requireNonNull(runs, "runs");
            Objects.requireNonNull(policy, "policy");
            new SplitSpec(seed, holdoutFraction, validationFraction); // validates the fractions
        }

        public static Settings defaults(Path registry, Path runs) {
            return new Settings(registry, runs, null, "production", 0.2, 3, 16, 1e-4f, 0.9f, 0.25, 42, 0, true, 0, 20,
                    PromotionPolicy.defaults());
        }
    }

    /** Where promotions are announced (Kafka in production, a list in tests). */
    @FunctionalInterface
    public interface UpdateSink {
        void send(ModelUpdate update) throws Exception;
    }

    public enum Status { PROMOTED, REJECTED, SKIPPED, FAILED }

    /** What happened to one model. */
    public record ModelOutcome(String model, String champion, String challenger, Status status, String reason,
            boolean updateSent, String metadataSha256, double threshold, Map<String, Double> championMetrics,
            Map<String, Double> challengerMetrics, List<PromotionPolicy.Comparison> comparisons, String trainingRun) {}

    /** One refit. */
    public record Result(String id, Path dir, Path report, String trigger, Instant startedAt, Instant finishedAt,
            String storeDigest, int storeStudies, List<ModelOutcome> outcomes) {}

    private final Settings settings;
    private final UpdateSink updates;
    private final PrintStream out;

    public Refitter(Settings settings, UpdateSink updates, PrintStream out) {
        this.settings = settings;
        this.updates = Objects.requireNonNull(updates, "updates");
        this.out = out;
    }

    /** The models with a {@code production} (settings' alias) version, in the registry's order. */
    public List<Architecture> modelsInProduction() throws IOException {
        ModelRegistry registry = new ModelRegistry(settings.registry());
        List<Architecture> list = new ArrayList<>();
        for (Architecture a : Architecture.values()) {
            if (registry.aliases(a).containsKey(settings.alias())) {
                list.add(a);
            }
        }
        return list;
    }

    /** Runs one refit of {@code models} (empty: all in production). Never throws for one model's failure. */
    public synchronized Result refit(TrainingStore store, List<Architecture> models, String trigger) throws IOException {
        Instant started = Instant.now();
        List<Architecture> targets = models.isEmpty() ? modelsInProduction() : models;
        Path dir = settings.runs().resolve(RUN_TIME.format(started) + "-refit");
        for (int i = 2; Files.exists(dir); i++) {
            dir = settings.runs().resolve(RUN_TIME.format(started) + "-refit-" + i);
        }
        Files.createDirectories(dir);
        String id = dir.getFileName().toString();
        store.flush();
        TrainingStore.Snapshot snapshot = store.snapshot(id, settings.holdoutFraction());
        out.printf(Locale.ROOT, "refit %s (%s): store %d studies; snapshot train %d (%d covid), held out %d (%d covid); models %s%n",
                id, trigger, store.size(), snapshot.trainStudies(), snapshot.trainCovid(), snapshot.holdoutStudies(),
                snapshot.holdoutCovid(), targets.stream().map(Architecture::id).toList());
        LOG.info("refit {} ({}) of {}: store {} studies", id, trigger, targets, store.size());
        List<ModelOutcome> outcomes = new ArrayList<>();
        String dataProblem = dataProblem(snapshot);
        for (Architecture arch : targets) {
            if (dataProblem != null) {
                outcomes.add(skipped(arch, dataProblem));
                continue;
            }
            try {
                outcomes.add(refitOne(arch, id, dir, snapshot, trigger));
            } catch (Exception e) {
                LOG.error("refit {} of {} failed", id, arch.id(), e);
                outcomes.add(new ModelOutcome(arch.id(), null, null, Status.FAILED,
                        e.getClass().getSimpleName() + ": " + e.getMessage(), false, null, Double.NaN, Map.of(), Map.of(),
                        List.of(), null));
            }
        }
        Result result = new Result(id, dir, dir.resolve("report.md"), trigger, started, Instant.now(), snapshot.digest(),
                store.size(), outcomes);
        RefitReport.write(result, snapshot, settings);
        Json.write(store.root().resolve(LAST_REFIT_FILE), Map.of("id", id, "storeDigest", snapshot.digest(),
                "finishedAt", result.finishedAt().toString()));
        for (ModelOutcome o : outcomes) {
            out.printf(Locale.ROOT, "%s: %s%s -> %s (%s)%n", o.model(), o.champion() == null ? "" : o.champion() + " vs ",
                    o.challenger() == null ? "-" : o.challenger(), o.status(), o.reason());
        }
        out.println("report: " + result.report());
        return result;
    }

    /** The store digest of the last finished refit, or null. */
    public static String lastRefitDigest(TrainingStore store) {
        Path f = store.root().resolve(LAST_REFIT_FILE);
        try {
            return Files.isRegularFile(f) ? Json.MAPPER.readTree(f.toFile()).path("storeDigest").asText(null) : null;
        } catch (IOException e) {
            return null;
        }
    }

    private String dataProblem(TrainingStore.Snapshot s) {
        int trainNon = s.trainStudies() - s.trainCovid();
        if (s.trainStudies() < settings.minStudies()) {
            return "only " + s.trainStudies() + " training studies in the store (minimum " + settings.minStudies() + ")";
        }
        if (s.trainCovid() == 0 || trainNon == 0) {
            return "the training snapshot lacks a class (" + s.trainCovid() + " covid, " + trainNon + " non-covid)";
        }
        if (settings.evalData() == null && (s.holdoutCovid() == 0 || s.holdoutStudies() == s.holdoutCovid())) {
            return "the held-out snapshot lacks a class (" + s.holdoutCovid() + " covid, "
                    + (s.holdoutStudies() - s.holdoutCovid()) + " non-covid): sensitivity or specificity would be"
                    + " undefined; wait for more labels or pass --eval-data";
        }
        return null;
    }

    private static ModelOutcome skipped(Architecture arch, String why) {
        return new ModelOutcome(arch.id(), null, null, Status.SKIPPED, why, false, null, Double.NaN, Map.of(), Map.of(),
                List.of(), null);
    }

    private ModelOutcome refitOne(Architecture arch, String id, Path dir, TrainingStore.Snapshot snapshot, String trigger)
            throws Exception {
        ModelRegistry registry = new ModelRegistry(settings.registry());
        ModelVersion champion;
        try {
            champion = registry.resolve(arch, settings.alias());
        } catch (ModelNotFoundException e) {
            return skipped(arch, "no " + settings.alias() + " version to start from");
        }
        registry.verify(champion);
        ModelMetadata cm = champion.metadata();
        if (cm.normalization() != arch.normalization()) {
            return skipped(arch, "champion " + champion + " uses " + cm.normalization() + " normalization; training uses "
                    + arch.normalization());
        }
        int size = cm.inputSize();
        double threshold = cm.decisionThreshold();
        out.printf(Locale.ROOT, "%s: champion %s (%d px, threshold %.4f)%n", arch.id(), champion, size, threshold);

        // 1. challenger: fine-tune from the champion's weights
        TrainOptions options = new TrainOptions(arch, snapshot.trainManifest().toString(), "default", size,
                settings.epochs(), settings.batchSize(), settings.learningRate(), settings.seed(), 0.0,
                settings.validationFraction(), settings.threads(), "production:" + champion, settings.bnMomentum(),
                settings.augment(), true, 0, 0, settings.timeBudgetMinutes(), TrainerCli.commandLine(),
                List.of("refit " + id + " (" + trigger + ") from " + champion))
                .withPreprocessing(cm.preprocessing()); // the champion's masks and intensity: its weights expect them
        TrainingRun.Result run = TrainingRun.start(options, dir.resolve("training"), arch.id(), out,
                (model, o, train, log) -> {
                    loadWeights(model, champion.directory());
                    log.println("initialized from " + champion);
                });
        RunInfo info = Json.read(run.runDir().resolve(TrainingRun.RUN_FILE), RunInfo.class);

        // 2. both on the same evaluation set, at the champion's threshold
        Preprocessor pre = cm.preprocessor();
        Dataset evalSet = settings.evalData() != null ? Dataset.load(settings.evalData())
                : Dataset.load(snapshot.holdoutManifest());
        PreparedImages eval = PreparedImages.load(evalSet.entries(), pre);
        List<DatasetEntry> validationEntries = DatasetSplit.of(Dataset.load(snapshot.trainManifest()),
                new SplitSpec(settings.seed(), 0.0, settings.validationFraction())).get(Split.VALIDATION);
        PreparedImages validation = PreparedImages.load(validationEntries, pre);
        boolean[] positive = TrainingRun.positives(eval);
        float[][] championScores;
        float[][] challengerScores;
        try (Model model = ModelExport.newModel(arch, size)) {
            loadWeights(model, champion.directory());
            championScores = new float[][] {TrainingRun.predict(model, eval), TrainingRun.predict(model, validation)};
        }
        try (Model model = ModelExport.newModel(arch, size)) {
            loadWeights(model, run.finalWeights().getParent());
            challengerScores = new float[][] {TrainingRun.predict(model, eval), TrainingRun.predict(model, validation)};
        }
        Map<String, Double> a = PromotionPolicy.metrics(championScores[0], positive, threshold);
        Map<String, Double> b = PromotionPolicy.metrics(challengerScores[0], positive, threshold);
        PromotionPolicy.Decision decision = settings.policy().decide(a, b);
        boolean promote = decision.promoted();
        String reason = decision.reason();
        // production may have moved meanwhile (a rollback, another refit): then this comparison is stale
        ModelVersion now = registry.resolve(arch, settings.alias());
        if (promote && !now.version().equals(champion.version())) {
            promote = false;
            reason = settings.alias() + " moved from " + champion.version() + " to " + now.version()
                    + " during the refit; not promoting over a version it was not compared with";
        }

        // 3. publish the challenger with both sets of numbers and the decision
        Map<String, Double> metrics = new LinkedHashMap<>();
        putAll(metrics, "champion.", a);
        putAll(metrics, "challenger.", b);
        metrics.put("eval.images", (double) eval.size());
        metrics.put("eval.covid", (double) eval.count(org.xrayscreening.trainer.dataset.Label.COVID));
        metrics.put("decision.promoted", promote ? 1.0 : 0.0);
        metrics.put("decision.threshold", threshold);
        metrics.put("decision.tolerance", settings.policy().tolerance());
        var state = Json.read(run.runDir().resolve(TrainingRun.STATE_FILE),
                org.xrayscreening.trainer.training.RunState.class);
        metrics.put("train.epochs", (double) state.completedEpochs);
        metrics.put("train.bestEpoch", (double) state.bestEpoch);
        metrics.put("train.images", (double) state.trainImages);
        metrics.put("train.seconds", state.trainSeconds);
        String evalName = settings.evalData() != null ? settings.evalData().toString()
                : "held-out snapshot " + snapshot.holdoutManifest().getFileName();
        String notes = String.format(Locale.ROOT, "champion/challenger refit %s (%s): challenger of %s (%s), fine-tuned"
                + " %d epochs (best %d) on %s (%s); evaluated with the champion on %s (%d images) at the champion's"
                + " threshold %.4f; criteria %s; decision: %s - %s", id, trigger, champion, settings.alias(),
                state.completedEpochs, state.bestEpoch, snapshot.trainManifest().getFileName(), info.splitSummary(),
                evalName, eval.size(), threshold, settings.policy(), promote ? "promoted" : "rejected", reason);
        ModelMetadata metadata = ModelMetadata.builder(arch, size)
                .normalization(cm.normalization())
                .preprocessing(cm.preprocessing())
                .classNames(cm.classNames())
                .decisionThreshold(threshold)
                .trainingDataDigest(info.datasetDigest())
                .metrics(metrics)
                .command(TrainerCli.commandLine())
                .notes(notes)
                .build();
        ModelVersion challenger = registry.publish(arch, null, run.finalWeights().getParent(), metadata);
        String sha = ModelRegistry.sha256(challenger.directory().resolve(ModelRegistry.METADATA_FILE));
        out.printf(Locale.ROOT, "%s: published challenger %s; decision %s: %s%n", arch.id(), challenger,
                promote ? "PROMOTED" : "REJECTED", reason);

        // 4. the evaluation report of both (tables, confusion matrices, ROC curves)
        List<ModelScores> scores = List.of(
                new ModelScores(champion + " (champion)", eval.entries(), championScores[0], validation.entries(),
                        championScores[1], null),
                new ModelScores(challenger + " (challenger)", eval.entries(), challengerScores[0], validation.entries(),
                        challengerScores[1], null));
        List<ModelEvaluation> evaluations = scores.stream().map(s -> ModelEvaluation.of(s, 0.95)).toList();
        EvaluationReport.write(dir.resolve(arch.id()), new EvaluationReport.Context(TrainerCli.commandLine(), evalName,
                "evaluation set", "fixed evaluation set; validation = " + settings.validationFraction()
                        + " of the training snapshot", info.datasetDigest(), eval.skipped()), scores, evaluations);

        // 5. promotion: alias, then the announcement
        boolean sent = false;
        if (promote) {
            registry.setAlias(arch, settings.alias(), challenger.version());
            try {
                updates.send(ModelUpdate.of(arch.id(), challenger.version(), challenger.directory().toString(), sha,
                        "promotion: refit " + id + " (" + trigger + "), " + reason));
                sent = true;
                LOG.info("promoted {} over {}; model update sent", challenger, champion);
            } catch (Exception e) {
                LOG.error("promoted {} (alias moved) but the model update could not be sent; re-send it with"
                        + " 'trainer rollback --model {} --to {}'", challenger, arch.id(), challenger.version(), e);
                reason = reason + "; WARNING: the model update could not be sent (" + e.getMessage()
                        + "): re-send with trainer rollback --model " + arch.id() + " --to " + challenger.version();
            }
        }
        return new ModelOutcome(arch.id(), champion.toString(), challenger.toString(),
                promote ? Status.PROMOTED : Status.REJECTED, reason, sent, sha, threshold, a, b, decision.comparisons(),
                run.runDir().toString());
    }

    static void loadWeights(Model model, Path dir) throws IOException {
        try {
            model.load(dir, ModelExport.WEIGHTS_PREFIX, Map.of("epoch", "0"));
        } catch (MalformedModelException e) {
            throw new IOException("cannot load weights from " + dir + ": " + e.getMessage(), e);
        }
    }

    private static void putAll(Map<String, Double> target, String prefix, Map<String, Double> values) {
        values.forEach((k, v) -> {
            if (Double.isFinite(v)) { // JSON has no NaN: undefined metrics are left out
                target.put(prefix + k, v);
            }
        });
    }
}
