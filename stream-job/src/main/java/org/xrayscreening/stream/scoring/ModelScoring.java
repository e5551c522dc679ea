package org.xrayscreening.stream.scoring;

import org.xrayscreening.models.NativeRuntime;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.time.Instant;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.BroadcastState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.streaming.api.functions.co.BroadcastProcessFunction;
import org.apache.flink.util.Collector;
import org.apache.flink.util.OutputTag;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xrayscreening.connectors.event.EventCodec;
import org.xrayscreening.connectors.event.ModelStatus;
import org.xrayscreening.connectors.event.ModelUpdate;
import org.xrayscreening.models.Architecture;
import org.xrayscreening.models.inference.CovidClassifier;
import org.xrayscreening.models.registry.ModelIntegrityException;
import org.xrayscreening.models.registry.ModelRegistry;
import org.xrayscreening.models.registry.ModelVersion;
import org.xrayscreening.stream.intake.CanonicalImage;
import org.xrayscreening.stream.intake.StudyImage;
import org.xrayscreening.stream.metrics.ScreeningMetrics;
import org.xrayscreening.stream.poison.AttemptJournal;

/**
 * One network's operator: a DJL predictor per subtask, created in open() and closed in close() (a Predictor is
 * not thread-safe, so it is never shared), plus hot swap from the broadcast {@code xray.model-updates} stream.
 *
 * <p>Hot swap: an update for this model is loaded beside the serving version (checksums verified, the
 * metadata digest compared with the update's, one smoke inference — {@link CovidClassifier#load} does those),
 * then the operator switches between two records. The active version is kept in broadcast state, so a restart
 * from a checkpoint taken after a swap serves the swapped-in version (it is re-loaded before the first study
 * is scored). A version that fails leaves the old one serving and is counted, logged and reported as a
 * {@link ModelStatus} on the side output. The load runs on the operator thread, so a swap stalls this model's
 * stream for one model load and no longer; the other models keep scoring.
 *
 * <p>An inference failure becomes a failed {@link ModelOutcome}, so the ensemble can name the model as missing.
 */
public class ModelScoring extends BroadcastProcessFunction<StudyImage, ModelUpdate, ModelOutcome> {

    /** model id -> version every subtask of that model should serve. */
    public static final MapStateDescriptor<String, String> ACTIVE_VERSIONS =
            new MapStateDescriptor<>("active-model-versions", Types.STRING, Types.STRING);
    public static final OutputTag<ModelStatus> MODEL_STATUS = new OutputTag<>("model-status") {};

    private static final Logger LOG = LoggerFactory.getLogger(ModelScoring.class);

    private final Architecture architecture;
    private final String registryRoot;
    private final String initialRef;
    private AttemptJournal.Config attemptJournal = AttemptJournal.Config.off();
    private transient AttemptJournal journal;
    private transient ModelRegistry registry;
    private transient CovidClassifier classifier;
    private transient String version;
    private transient boolean restoredChecked;

    public ModelScoring(Architecture architecture, String registryRoot, String initialRef) {
        this.architecture = architecture;
        this.registryRoot = registryRoot;
        this.initialRef = initialRef;
    }

    /**
     * Notes each study in {@code config}'s journal before it enters native inference, so that an image that crashes
     * this model {@code limit} times is not run again (the study becomes an IMAGE_CRASHED_WORKER dead letter).
     */
    public ModelScoring withAttemptJournal(AttemptJournal.Config config) {
        this.attemptJournal = java.util.Objects.requireNonNull(config, "config");
        return this;
    }

    @Override
    public void open(OpenContext openContext) throws Exception {
        NativeRuntime.logOnce(LOG::info);
        journal = AttemptJournal.open(attemptJournal, "model-" + architecture.id());
        registry = new ModelRegistry(Path.of(registryRoot));
        classifier = CovidClassifier.load(registry, architecture, initialRef);
        version = classifier.version().version();
        ScreeningMetrics.get().setActiveVersion(architecture.id(), version);
        LOG.info("{} subtask {} serving version {}", architecture.id(),
                getRuntimeContext().getTaskInfo().getIndexOfThisSubtask(), version);
    }

    @Override
    public void processElement(StudyImage study, ReadOnlyContext ctx, Collector<ModelOutcome> out) throws Exception {
        if (!restoredChecked) {
            // after a restore, broadcast state says which version was active when the checkpoint was taken
            restoredChecked = true;
            String wanted = ctx.getBroadcastState(ACTIVE_VERSIONS).get(architecture.id());
            if (wanted != null && !wanted.equals(version)) {
                swap(wanted, null, "restored from checkpoint", ctx::output);
            }
        }
        boolean journaled = journal != null && study.sourceTopic != null;
        if (journaled && !journal.begin(AttemptJournal.key(study.sourceTopic, study.sourcePartition, study.sourceOffset))) {
            LOG.warn("{}: record {}-{}@{} ended the worker {} time(s); not run again", architecture.id(),
                    study.sourceTopic, study.sourcePartition, study.sourceOffset, journal.limit());
            out.collect(ModelOutcome.crashedWorker(study.studyId, study.patientRef, study.acquiredAtMillis,
                    study.ingestedAtMillis, architecture.id(), version, journal.limit(), study.sourceTopic,
                    study.sourcePartition, study.sourceOffset));
            return;
        }
        // An Error (OutOfMemoryError) or a native crash leaves the attempt open on purpose: it counts as a death.
        score(study, out);
        if (journaled) {
            journal.end();
        }
    }

    private void score(StudyImage study, Collector<ModelOutcome> out) {
        long start = System.nanoTime();
        try {
            BufferedImage image = CanonicalImage.fromPixels(study.width, study.height, study.pixels);
            double probability = classifier.predict(image);
            double seconds = (System.nanoTime() - start) / 1e9;
            ScreeningMetrics.get().inferenceSeconds.labelValues(architecture.id()).observe(seconds);
            out.collect(ModelOutcome.scored(study.studyId, study.patientRef, study.acquiredAtMillis,
                    study.ingestedAtMillis, architecture.id(), version, probability, seconds * 1000));
        } catch (Exception e) {
            LOG.warn("{}@{} inference failed: {}", architecture.id(), version, e.toString());
            out.collect(ModelOutcome.failed(study.studyId, study.patientRef, study.acquiredAtMillis,
                    study.ingestedAtMillis, architecture.id(), version, "inference failed: "
                            + e.getClass().getSimpleName()));
        }
    }

    @Override
    public void processBroadcastElement(ModelUpdate update, Context ctx, Collector<ModelOutcome> out) throws Exception {
        if (!architecture.id().equals(update.model())) {
            return;
        }
        BroadcastState<String, String> active = ctx.getBroadcastState(ACTIVE_VERSIONS);
        restoredChecked = true; // an explicit update supersedes whatever was restored
        if (swap(update.version(), update.sha256(), update.reason(), ctx::output)) {
            active.put(architecture.id(), version);
        }
    }

    /** Loads {@code target} beside the serving version and switches to it; false (old one keeps serving) on failure. */
    private boolean swap(String target, String expectedMetadataSha256, String reason, StatusSink status) {
        int subtask = getRuntimeContext().getTaskInfo().getIndexOfThisSubtask();
        String previous = version;
        long start = System.nanoTime();
        if (target.equals(version)) {
            status.output(MODEL_STATUS, new ModelStatus(EventCodec.SCHEMA_VERSION, architecture.id(), version,
                    ModelStatus.Status.SERVING, previous, "already serving", subtask, 0, Instant.now()));
            return true;
        }
        CovidClassifier next = null;
        try {
            ModelVersion candidate = registry.resolve(architecture, target);
            if (expectedMetadataSha256 != null) {
                String actual = ModelRegistry.sha256(candidate.directory().resolve(ModelRegistry.METADATA_FILE));
                if (!actual.equalsIgnoreCase(expectedMetadataSha256)) {
                    throw new ModelIntegrityException(architecture.id(), ModelRegistry.METADATA_FILE,
                            expectedMetadataSha256, actual, "metadata digest differs from the update's");
                }
            }
            next = CovidClassifier.load(registry, candidate);
        } catch (Exception e) {
            long millis = (System.nanoTime() - start) / 1_000_000;
            ScreeningMetrics.get().modelUpdateFailures.labelValues(architecture.id()).inc();
            LOG.warn("{} subtask {}: version {} rejected, {} keeps serving: {}", architecture.id(), subtask, target,
                    previous, e.getMessage());
            status.output(MODEL_STATUS, new ModelStatus(EventCodec.SCHEMA_VERSION, architecture.id(), target,
                    ModelStatus.Status.REJECTED, previous, e.getClass().getSimpleName() + ": " + e.getMessage(),
                    subtask, millis, Instant.now()));
            return false;
        }
        CovidClassifier old = classifier;
        classifier = next;
        version = next.version().version();
        old.close();
        long millis = (System.nanoTime() - start) / 1_000_000;
        ScreeningMetrics.get().setActiveVersion(architecture.id(), version);
        ScreeningMetrics.get().modelSwaps.labelValues(architecture.id()).inc();
        LOG.info("{} subtask {}: switched {} -> {} in {} ms ({})", architecture.id(), subtask, previous, version,
                millis, reason);
        status.output(MODEL_STATUS, new ModelStatus(EventCodec.SCHEMA_VERSION, architecture.id(), version,
                ModelStatus.Status.SERVING, previous, reason, subtask, millis, Instant.now()));
        return true;
    }

    /** Both contexts can write side outputs, but share no interface for it. */
    @FunctionalInterface
    private interface StatusSink {
        void output(OutputTag<ModelStatus> tag, ModelStatus status);
    }

    /** The version this subtask serves; for tests. */
    String servingVersion() {
        return version;
    }

    @Override
    public void close() throws Exception {
        if (classifier != null) {
            classifier.close();
        }
    }
}
