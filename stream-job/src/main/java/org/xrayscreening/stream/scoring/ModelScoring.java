package org.xrayscreening.stream.scoring;

import ai.djl.pytorch.jni.JniUtils;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ScheduledFuture;
import org.apache.flink.api.common.operators.ProcessingTimeService.ProcessingTimeCallback;
import org.apache.flink.api.common.state.BroadcastState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.runtime.state.StateInitializationContext;
import org.apache.flink.streaming.api.operators.AbstractStreamOperator;
import org.apache.flink.streaming.api.operators.TwoInputStreamOperator;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.util.OutputTag;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xrayscreening.connectors.event.EventCodec;
import org.xrayscreening.connectors.event.ModelStatus;
import org.xrayscreening.connectors.event.ModelUpdate;
import org.xrayscreening.models.Architecture;
import org.xrayscreening.models.NativeRuntime;
import org.xrayscreening.models.inference.CovidClassifier;
import org.xrayscreening.models.inference.Precision;
import org.xrayscreening.models.registry.ModelIntegrityException;
import org.xrayscreening.models.registry.ModelRegistry;
import org.xrayscreening.models.registry.ModelVersion;
import org.xrayscreening.connectors.image.CanonicalImage;
import org.xrayscreening.stream.intake.StudyImage;
import org.xrayscreening.stream.metrics.ScreeningMetrics;
import org.xrayscreening.stream.poison.AttemptJournal;
import org.xrayscreening.stream.poison.SuspectIsolation;

/**
 * One network's operator: a DJL predictor per subtask, created in open() and closed in close() (a Predictor is
 * not thread-safe, so it is never shared), micro-batching, and hot swap from the broadcast
 * {@code xray.model-updates} stream (input 2, broadcast-partitioned).
 *
 * <p>Micro-batching ({@link ScoringBatch}): studies are held until {@code maxStudies} have arrived or
 * {@code maxWait} has passed since the first one (a processing-time timer), then scored in one forward pass and
 * emitted in arrival order. Held studies are never put into state: the batch is scored and emitted in
 * {@link #prepareSnapshotPreBarrier}, before the checkpoint barrier is forwarded, so every study whose input
 * offset a checkpoint covers has its outcome downstream of that barrier too (nothing lost on restore, nothing
 * scored twice), and the checkpoint stays free of image pixels. {@link #finish} scores what is left at end of
 * input. This needs an operator, not a {@code BroadcastProcessFunction}: a function on a non-keyed stream can
 * neither set a timer nor act before the barrier.
 *
 * <p>Hot swap: an update for this model is loaded beside the serving version (checksums verified, the
 * metadata digest compared with the update's, one smoke inference — {@link CovidClassifier#load} does those),
 * then the operator switches between two records; studies held before the update are scored with the old
 * version first. The active version is kept in broadcast state, so a restart from a checkpoint taken after a
 * swap serves the swapped-in version (it is re-loaded before the first study is scored). A version that fails
 * leaves the old one serving and is counted, logged and reported as a {@link ModelStatus} on the side output.
 * The load runs on the operator thread, so a swap stalls this model's stream for one model load and no longer;
 * the other models keep scoring.
 *
 * <p>An inference failure becomes a failed {@link ModelOutcome}, so the ensemble can name the model as missing;
 * an image that cannot be prepared fails alone, not its batch.
 */
public class ModelScoring extends AbstractStreamOperator<ModelOutcome>
        implements TwoInputStreamOperator<StudyImage, ModelUpdate, ModelOutcome>, ProcessingTimeCallback {

    /** model id -> version every subtask of that model should serve. */
    public static final MapStateDescriptor<String, String> ACTIVE_VERSIONS =
            new MapStateDescriptor<>("active-model-versions", Types.STRING, Types.STRING);
    public static final OutputTag<ModelStatus> MODEL_STATUS = new OutputTag<>("model-status") {};

    private static final Logger LOG = LoggerFactory.getLogger(ModelScoring.class);

    private final Architecture architecture;
    private final String registryRoot;
    private final String initialRef;
    private final ScoringBatch batching;
    private AttemptJournal.Config attemptJournal = AttemptJournal.Config.off();
    private transient AttemptJournal journal;
    private transient ModelRegistry registry;
    private transient CovidClassifier classifier;
    private transient String version;
    private transient boolean restoredChecked;
    private transient BroadcastState<String, String> activeVersions;
    private transient List<StreamRecord<StudyImage>> held;
    private transient ScheduledFuture<?> flushTimer;

    public ModelScoring(Architecture architecture, String registryRoot, String initialRef) {
        this(architecture, registryRoot, initialRef, new ScoringBatch(1, java.time.Duration.ZERO, 0));
    }

    public ModelScoring(Architecture architecture, String registryRoot, String initialRef, ScoringBatch batching) {
        this.architecture = architecture;
        this.registryRoot = registryRoot;
        this.initialRef = initialRef;
        this.batching = batching;
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
    public void initializeState(StateInitializationContext context) throws Exception {
        super.initializeState(context);
        activeVersions = context.getOperatorStateStore().getBroadcastState(ACTIVE_VERSIONS);
    }

    @Override
    public void open() throws Exception {
        super.open();
        NativeRuntime.logOnce(LOG::info);
        held = new ArrayList<>(batching.maxStudies());
        journal = AttemptJournal.open(attemptJournal, "model-" + architecture.id());
        registry = new ModelRegistry(Path.of(registryRoot));
        // refused here, on the machine that runs the model: the one starting the job may have another CPU
        Precision precision = batching.precision().requireSupported();
        classifier = CovidClassifier.load(registry, registry.resolve(architecture, initialRef), precision);
        if (batching.intraOpThreads() > 0) {
            // OpenMP's thread count is per calling thread: this is the operator thread that runs every inference
            JniUtils.setNumThreads(batching.intraOpThreads());
        }
        version = classifier.version().version();
        ScreeningMetrics.get().setActiveVersion(architecture.id(), version);
        LOG.info("{} subtask {} serving version {} in {} (batches of up to {} studies or {} ms, {} intra-op threads)",
                architecture.id(), subtask(), version, precision.id(), batching.maxStudies(), batching.maxWait().toMillis(),
                batching.intraOpThreads() > 0 ? batching.intraOpThreads() : JniUtils.getNumThreads());
    }

    @Override
    public void processElement1(StreamRecord<StudyImage> record) throws Exception {
        if (!restoredChecked) {
            // after a restore, broadcast state says which version was active when the checkpoint was taken
            restoredChecked = true;
            String wanted = activeVersions.get(architecture.id());
            if (wanted != null && !wanted.equals(version)) {
                swap(wanted, null, "restored from checkpoint");
            }
        }
        // here, not in scoreHeld's try: this test-only fault must fail the task (and restart the job), not
        // become a failed outcome
        InjectedFault.maybeThrow(record.getValue().studyId, architecture.id());
        held.add(record.copy(record.getValue()));
        if (batching.unbatched() || held.size() >= batching.maxStudies()) {
            scoreHeld();
        } else if (flushTimer == null) {
            long now = getProcessingTimeService().getCurrentProcessingTime();
            flushTimer = getProcessingTimeService().registerTimer(now + batching.maxWait().toMillis(), this);
        }
    }

    /** The batch's wait is over: score what has arrived. */
    @Override
    public void onProcessingTime(long time) throws Exception {
        flushTimer = null;
        scoreHeld();
    }

    @Override
    public void processElement2(StreamRecord<ModelUpdate> record) throws Exception {
        ModelUpdate update = record.getValue();
        if (!architecture.id().equals(update.model())) {
            return;
        }
        scoreHeld(); // studies that arrived before the update are answered by the version serving then
        restoredChecked = true; // an explicit update supersedes whatever was restored
        if (swap(update.version(), update.sha256(), update.reason())) {
            activeVersions.put(architecture.id(), version);
        }
    }

    /** Outcomes of held studies go out before the barrier, so the checkpoint includes them (see class comment). */
    @Override
    public void prepareSnapshotPreBarrier(long checkpointId) throws Exception {
        scoreHeld();
        super.prepareSnapshotPreBarrier(checkpointId);
    }

    @Override
    public void finish() throws Exception {
        scoreHeld();
        super.finish();
    }

    /**
     * Scores every held study in one forward pass and emits the outcomes in arrival order.
     *
     * <p>With an attempt journal, each study's attempt is noted just before it enters native inference and
     * cleared when inference returns; an Error (OutOfMemoryError) or a native crash leaves it open, which counts
     * as a death of the worker on that record. A batch that died takes all its studies down with it, so a batch
     * with any study that has died before is scored one study at a time: only the poison image then dies again
     * and reaches the limit; its batch mates are answered. Such a study (a suspect) is also scored with no other
     * journaled work in flight in this JVM ({@link SuspectIsolation}), so that its next death is charged to it alone.
     */
    private void scoreHeld() throws InterruptedException {
        if (flushTimer != null) {
            flushTimer.cancel(false);
            flushTimer = null;
        }
        if (held == null || held.isEmpty()) {
            return;
        }
        List<StreamRecord<StudyImage>> batch = held;
        held = new ArrayList<>(batching.maxStudies());
        boolean oneByOne = false;
        if (journal != null) {
            for (StreamRecord<StudyImage> record : batch) {
                String key = journalKey(record.getValue());
                oneByOne |= key != null && (journal.limit() == 1 || journal.previousAttempts(key) > 0);
            }
        }
        if (oneByOne) {
            for (StreamRecord<StudyImage> record : batch) {
                scoreBatch(List.of(record));
            }
        } else {
            scoreBatch(batch);
        }
    }

    /** One forward pass over {@code batch} (its attempts journaled around it); outcomes emitted in order. */
    private void scoreBatch(List<StreamRecord<StudyImage>> batch) throws InterruptedException {
        ModelOutcome[] outcomes = new ModelOutcome[batch.size()];
        if (journal == null) {
            infer(batch, outcomes);
        } else {
            boolean suspect = false;
            for (StreamRecord<StudyImage> record : batch) {
                String key = journalKey(record.getValue());
                suspect |= key != null && journal.previousAttempts(key) > 0;
            }
            // beginAttempt .. endAttempt inside the unit; emitting (which can block on backpressure) after it
            try (SuspectIsolation.Unit unit = SuspectIsolation.jvmWide().enter(suspect)) {
                infer(batch, outcomes);
            }
        }
        for (int i = 0; i < batch.size(); i++) {
            output.collect(batch.get(i).replace(outcomes[i]));
        }
    }

    /** Fills {@code outcomes}: begins the journal attempts, runs the forward pass, ends the attempts. */
    private void infer(List<StreamRecord<StudyImage>> batch, ModelOutcome[] outcomes) {
        String[] journaled = new String[batch.size()]; // key of each study whose attempt is open, else null
        int[] attempt = new int[batch.size()];
        List<float[]> inputs = new ArrayList<>(batch.size());
        List<Integer> prepared = new ArrayList<>(batch.size());
        for (int i = 0; i < batch.size(); i++) {
            StudyImage study = batch.get(i).getValue();
            String key = journal == null ? null : journalKey(study);
            if (key != null) {
                attempt[i] = journal.beginAttempt(key);
                if (attempt[i] == 0) {
                    LOG.warn("{}: record {}-{}@{} ended the worker {} time(s); not run again", architecture.id(),
                            study.sourceTopic, study.sourcePartition, study.sourceOffset, journal.limit());
                    outcomes[i] = ModelOutcome.crashedWorker(study.studyId, study.patientRef, study.acquiredAtMillis,
                            study.ingestedAtMillis, architecture.id(), version, journal.limit(), study.sourceTopic,
                            study.sourcePartition, study.sourceOffset);
                    continue;
                }
                journaled[i] = key;
            }
            try {
                inputs.add(classifier.preprocessor().toChw(
                        CanonicalImage.fromPixels(study.width, study.height, study.pixels)));
                prepared.add(i);
            } catch (RuntimeException e) {
                outcomes[i] = failed(study, e);
            }
        }
        long start = System.nanoTime();
        if (!inputs.isEmpty()) {
            // test-only, off by default: the JVM dies here, inside the journaled attempts, as a crash in native
            // inference would
            for (int i : prepared) {
                InjectedCrash.maybeHalt(batch.get(i).getValue().studyId, architecture.id());
            }
            try {
                float[] probabilities = classifier.predictPreprocessed(inputs);
                double seconds = (System.nanoTime() - start) / 1e9;
                for (int j = 0; j < probabilities.length; j++) {
                    StudyImage study = batch.get(prepared.get(j)).getValue();
                    // each study waited for the whole forward pass, so that is its inference time
                    ScreeningMetrics.get().inferenceSeconds.labelValues(architecture.id()).observe(seconds);
                    outcomes[prepared.get(j)] = ModelOutcome.scored(study.studyId, study.patientRef,
                            study.acquiredAtMillis, study.ingestedAtMillis, architecture.id(), version,
                            probabilities[j], seconds * 1000);
                    outcomes[prepared.get(j)].decisionThreshold = classifier.metadata().decisionThreshold();
                }
                ScreeningMetrics.get().inferenceBatchSize.labelValues(architecture.id()).observe(inputs.size());
            } catch (Exception e) {
                for (int i : prepared) {
                    outcomes[i] = failed(batch.get(i).getValue(), e);
                }
            }
        }
        // inference returned (an Exception is an answer, not a death): these attempts are over
        for (int i = 0; i < batch.size(); i++) {
            if (journaled[i] != null) {
                journal.endAttempt(journaled[i], attempt[i]);
            }
        }
    }

    /** The study's journal key, or null when it did not come from a Kafka record (nothing to replay). */
    private static String journalKey(StudyImage study) {
        return study.sourceTopic == null ? null
                : AttemptJournal.key(study.sourceTopic, study.sourcePartition, study.sourceOffset);
    }

    private ModelOutcome failed(StudyImage study, Exception e) {
        LOG.warn("{}@{} inference failed: {}", architecture.id(), version, e.toString());
        return ModelOutcome.failed(study.studyId, study.patientRef, study.acquiredAtMillis, study.ingestedAtMillis,
                architecture.id(), version, "inference failed: " + e.getClass().getSimpleName());
    }

    /** Loads {@code target} beside the serving version and switches to it; false (old one keeps serving) on failure. */
    private boolean swap(String target, String expectedMetadataSha256, String reason) {
        int subtask = subtask();
        String previous = version;
        long start = System.nanoTime();
        if (target.equals(version)) {
            status(new ModelStatus(EventCodec.SCHEMA_VERSION, architecture.id(), version,
                    ModelStatus.Status.SERVING, previous, "already serving", subtask, 0, Instant.now()));
            return true;
        }
        CovidClassifier next;
        try {
            ModelVersion candidate = registry.resolve(architecture, target);
            if (expectedMetadataSha256 != null) {
                String actual = ModelRegistry.sha256(candidate.directory().resolve(ModelRegistry.METADATA_FILE));
                if (!actual.equalsIgnoreCase(expectedMetadataSha256)) {
                    throw new ModelIntegrityException(architecture.id(), ModelRegistry.METADATA_FILE,
                            expectedMetadataSha256, actual, "metadata digest differs from the update's");
                }
            }
            next = CovidClassifier.load(registry, candidate, batching.precision());
        } catch (Exception e) {
            long millis = (System.nanoTime() - start) / 1_000_000;
            ScreeningMetrics.get().modelUpdateFailures.labelValues(architecture.id()).inc();
            LOG.warn("{} subtask {}: version {} rejected, {} keeps serving: {}", architecture.id(), subtask, target,
                    previous, e.getMessage());
            status(new ModelStatus(EventCodec.SCHEMA_VERSION, architecture.id(), target,
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
        status(new ModelStatus(EventCodec.SCHEMA_VERSION, architecture.id(), version,
                ModelStatus.Status.SERVING, previous, reason, subtask, millis, Instant.now()));
        return true;
    }

    private void status(ModelStatus status) {
        output.collect(MODEL_STATUS, new StreamRecord<>(status));
    }

    private int subtask() {
        return getRuntimeContext().getTaskInfo().getIndexOfThisSubtask();
    }

    /** The version this subtask serves; for tests. */
    String servingVersion() {
        return version;
    }

    /** The version broadcast state names for this model (null: none swapped in); for tests. */
    String recordedVersion() throws Exception {
        return activeVersions.get(architecture.id());
    }

    @Override
    public void close() throws Exception {
        try {
            if (classifier != null) {
                classifier.close();
            }
        } finally {
            super.close();
        }
    }
}
