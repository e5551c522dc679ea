package org.xrayscreening.stream.scoring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.djl.pytorch.jni.JniUtils;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.xrayscreening.models.NativeRuntime;
import org.xrayscreening.models.inference.Precision;
import org.junit.jupiter.api.io.TempDir;
import org.xrayscreening.connectors.event.ModelUpdate;
import org.xrayscreening.models.Architecture;
import org.xrayscreening.models.registry.ModelRegistry;
import org.xrayscreening.models.registry.ModelVersion;
import org.xrayscreening.models.synthetic.SyntheticChestXray;
import org.xrayscreening.connectors.image.CanonicalImage;
import org.xrayscreening.stream.intake.StudyImage;
import org.xrayscreening.stream.scoring.ModelScoringTest.Harness;
import org.xrayscreening.stream.testing.TestModels;

/** ModelScoring holding studies for one forward pass: when a batch goes out, in what order, and that none is lost. */
class MicroBatchingTest {

    private static final long LONG_WAIT_MS = 60_000;

    @TempDir
    static Path root;
    static ModelRegistry registry;
    static ModelVersion version;
    /** P(COVID) of each study scored alone, by the unbatched operator. */
    static List<Double> unbatched;

    @BeforeAll
    static void publishAndScoreOneByOne() throws Exception {
        registry = new ModelRegistry(root.resolve("registry"));
        version = TestModels.publishUntrained(registry, Architecture.MOBILENET, 64, "production");
        try (Harness harness = ModelScoringTest.open(new Harness(new ModelScoring(Architecture.MOBILENET,
                registry.root().toString(), "production", new ScoringBatch(1, Duration.ZERO, 0))), null)) {
            for (int i = 0; i < 6; i++) {
                harness.processElement(study(i), 0);
            }
            unbatched = harness.extractOutputValues().stream().map(o -> o.probability).toList();
        }
        assertThat(unbatched).hasSize(6).doesNotHaveDuplicates();
    }

    private static StudyImage study(int i) {
        BufferedImage image = (i % 2 == 0 ? SyntheticChestXray.positive(100 + i, 96) : SyntheticChestXray.negative(100 + i, 96)).gray8();
        BufferedImage gray16 = CanonicalImage.toGray16(image, 512);
        return new StudyImage("s" + i, "patient", 1_000 + i, 2_000 + i, gray16.getWidth(), gray16.getHeight(),
                CanonicalImage.pixels(gray16).clone());
    }

    private static Harness batching(int maxStudies, long waitMs, OperatorSubtaskState restoreFrom) throws Exception {
        Harness harness = new Harness(new ModelScoring(Architecture.MOBILENET, registry.root().toString(), "production",
                new ScoringBatch(maxStudies, Duration.ofMillis(waitMs), 0)));
        ModelScoringTest.open(harness, restoreFrom);
        harness.setProcessingTime(10_000);
        return harness;
    }

    /** Each outcome is the unbatched operator's answer for the same study (one forward pass per batch). */
    private static void assertSameAsUnbatched(List<ModelOutcome> outcomes) {
        for (ModelOutcome o : outcomes) {
            assertThat(o.succeeded()).isTrue();
            assertThat(o.probability).as(o.studyId)
                    .isCloseTo(unbatched.get(Integer.parseInt(o.studyId.substring(1))), Offset.offset(1e-5));
        }
    }

    @Test
    void fullBatchIsScoredInOnePassInArrivalOrder() throws Exception {
        try (Harness harness = batching(3, LONG_WAIT_MS, null)) {
            harness.processElement(study(0), 0);
            harness.processElement(study(1), 0);
            assertThat(harness.extractOutputValues()).isEmpty();
            harness.processElement(study(2), 0);
            List<ModelOutcome> out = harness.extractOutputValues();
            assertThat(out).extracting(o -> o.studyId).containsExactly("s0", "s1", "s2");
            assertSameAsUnbatched(out);
            // one forward pass: all three waited for the same inference
            assertThat(out).extracting(o -> o.inferenceMillis).containsOnly(out.get(0).inferenceMillis);
            assertThat(out).extracting(o -> o.acquiredAtMillis).containsExactly(1_000L, 1_001L, 1_002L);
        }
    }

    @Test
    void partialBatchGoesOutWhenItsWaitIsOver() throws Exception {
        try (Harness harness = batching(4, 200, null)) {
            harness.processElement(study(3), 0);
            harness.setProcessingTime(10_100);
            harness.processElement(study(4), 0);
            harness.setProcessingTime(10_199);
            assertThat(harness.extractOutputValues()).isEmpty();
            // the wait counts from the batch's first study, not its last
            harness.setProcessingTime(10_200);
            List<ModelOutcome> out = harness.extractOutputValues();
            assertThat(out).extracting(o -> o.studyId).containsExactly("s3", "s4");
            assertSameAsUnbatched(out);

            // the next batch starts its own wait
            harness.processElement(study(5), 0);
            harness.setProcessingTime(10_399);
            assertThat(harness.extractOutputValues()).hasSize(2);
            harness.setProcessingTime(10_400);
            assertThat(harness.extractOutputValues()).extracting(o -> o.studyId).containsExactly("s3", "s4", "s5");
        }
    }

    @Test
    void partialBatchAtACheckpointIsScoredBeforeTheBarrierAndNotAgainAfterRestore() throws Exception {
        List<String> emitted = new ArrayList<>();
        OperatorSubtaskState snapshot;
        try (Harness harness = batching(4, LONG_WAIT_MS, null)) {
            harness.processElement(study(0), 0);
            harness.processElement(study(1), 0);
            // what the task does on a checkpoint: prepareSnapshotPreBarrier, then the barrier, then the snapshot
            harness.prepareSnapshotPreBarrier(1);
            List<ModelOutcome> beforeBarrier = harness.extractOutputValues();
            assertThat(beforeBarrier).extracting(o -> o.studyId).containsExactly("s0", "s1");
            assertSameAsUnbatched(beforeBarrier);
            snapshot = harness.snapshot(1, 10_000);
            beforeBarrier.forEach(o -> emitted.add(o.studyId));
            // a failure after the checkpoint: whatever the old instance did next is rolled back
            harness.processElement(study(2), 0);
        }
        // the source replays from the checkpoint's offsets: s2 onwards
        try (Harness restored = batching(4, LONG_WAIT_MS, snapshot)) {
            assertThat(restored.extractOutputValues()).as("nothing held in state comes back").isEmpty();
            for (int i = 2; i < 6; i++) {
                restored.processElement(study(i), 0);
            }
            List<ModelOutcome> out = restored.extractOutputValues();
            assertSameAsUnbatched(out);
            out.forEach(o -> emitted.add(o.studyId));
        }
        assertThat(emitted).containsExactly("s0", "s1", "s2", "s3", "s4", "s5");
    }

    @Test
    void partialBatchIsScoredAtEndOfInput() throws Exception {
        Harness harness = batching(4, LONG_WAIT_MS, null);
        harness.processElement(study(0), 0);
        harness.processElement(study(5), 0);
        assertThat(harness.extractOutputValues()).isEmpty();
        harness.close(); // finish(), then close(), as a task does at end of input
        List<ModelOutcome> out = harness.extractOutputValues();
        assertThat(out).extracting(o -> o.studyId).containsExactly("s0", "s5");
        assertSameAsUnbatched(out);
    }

    @Test
    void studiesHeldBeforeAnUpdateAreAnsweredByTheVersionServingWhenTheyArrived() throws Exception {
        ModelVersion next = TestModels.publishUntrained(registry, Architecture.MOBILENET, 64, null);
        try (Harness harness = batching(4, LONG_WAIT_MS, null)) {
            harness.processElement(study(0), 0);
            harness.processBroadcastElement(ModelUpdate.of("mobilenet", next.version(), null, null, "promotion"), 0);
            harness.processElement(study(1), 0);
            harness.setProcessingTime(10_000 + LONG_WAIT_MS);
            assertThat(harness.extractOutputValues()).extracting(o -> o.studyId + "=" + o.version)
                    .containsExactly("s0=" + version.version(), "s1=" + next.version());
        }
    }

    @Test
    void anImageThatCannotBePreparedFailsAloneNotItsBatch() throws Exception {
        try (Harness harness = batching(3, LONG_WAIT_MS, null)) {
            harness.processElement(study(0), 0);
            harness.processElement(new StudyImage("bad", "p", 0, 0, 50, 50, new short[10]), 0);
            harness.processElement(study(1), 0);
            List<ModelOutcome> out = harness.extractOutputValues();
            assertThat(out).extracting(o -> o.studyId).containsExactly("s0", "bad", "s1");
            assertThat(out.get(1).succeeded()).isFalse();
            assertThat(out.get(1).error).startsWith("inference failed");
            assertSameAsUnbatched(List.of(out.get(0), out.get(2)));
        }
    }

    @Test
    void theOperatorThreadRunsTheConfiguredIntraOpThreads() throws Exception {
        for (int threads : new int[] {1, 2}) {
            try (Harness harness = ModelScoringTest.open(new Harness(new ModelScoring(Architecture.MOBILENET,
                    registry.root().toString(), "production", new ScoringBatch(1, Duration.ZERO, threads))), null)) {
                // the harness runs the operator on this thread, as a task runs it on its own
                assertThat(JniUtils.getNumThreads()).isEqualTo(threads);
                harness.processElement(study(0), 0);
                assertSameAsUnbatched(harness.extractOutputValues());
            }
        }
    }

    @Test
    void bf16ScoringServesProbabilitiesCloseToFp32() throws Exception {
        assumeTrue(NativeRuntime.hasBfloat16Instructions(), "this CPU has no AVX512_BF16 / AMX-BF16");
        try (Harness harness = ModelScoringTest.open(new Harness(new ModelScoring(Architecture.MOBILENET,
                registry.root().toString(), "production", new ScoringBatch(1, Duration.ZERO, 0, Precision.BF16))),
                null)) {
            for (int i = 0; i < 4; i++) {
                harness.processElement(study(i), 0);
            }
            double maxDiff = 0;
            for (ModelOutcome o : harness.extractOutputValues()) {
                assertThat(o.succeeded()).isTrue();
                double fp32 = unbatched.get(Integer.parseInt(o.studyId.substring(1)));
                maxDiff = Math.max(maxDiff, Math.abs(o.probability - fp32));
            }
            // computed in bf16 (fp32 answers agree to 1e-5 above), and still close to fp32
            assertThat(maxDiff).isGreaterThan(1e-4).isLessThan(0.05);
        }
    }
}
