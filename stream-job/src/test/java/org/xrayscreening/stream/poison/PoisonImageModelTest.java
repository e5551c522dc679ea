package org.xrayscreening.stream.poison;

import static org.assertj.core.api.Assertions.assertThat;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.streaming.api.operators.KeyedProcessOperator;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.apache.flink.streaming.util.TwoInputStreamOperatorTestHarness;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xrayscreening.connectors.event.DeadLetter;
import org.xrayscreening.connectors.event.DeadLetterReason;
import org.xrayscreening.connectors.event.ModelUpdate;
import org.xrayscreening.connectors.event.Recommendation;
import org.xrayscreening.models.Architecture;
import org.xrayscreening.models.registry.ModelRegistry;
import org.xrayscreening.models.synthetic.SyntheticChestXray;
import org.xrayscreening.stream.ensemble.EnsemblePolicy;
import org.xrayscreening.stream.ensemble.StudyEnsemble;
import org.xrayscreening.connectors.image.CanonicalImage;
import org.xrayscreening.stream.intake.StudyImage;
import org.xrayscreening.stream.scoring.ModelOutcome;
import org.xrayscreening.stream.scoring.ModelScoring;
import org.xrayscreening.stream.scoring.ScoringBatch;
import org.xrayscreening.stream.metrics.ScreeningMetrics;
import org.xrayscreening.stream.testing.TestModels;

/**
 * The same protection around native inference: a study whose inference never returned twice (the markers a
 * crashed TaskManager leaves) is not run again, and the ensemble turns it into one IMAGE_CRASHED_WORKER dead letter
 * instead of a recommendation; a study that returns leaves no marker.
 */
class PoisonImageModelTest {

    @TempDir
    static Path root;
    static ModelRegistry registry;

    @BeforeAll
    static void publish() throws Exception {
        registry = new ModelRegistry(root.resolve("registry"));
        TestModels.publishUntrained(registry, Architecture.MOBILENET, 64, "production");
    }

    static StudyImage study(String id, long offset) {
        BufferedImage gray16 = CanonicalImage.toGray16(SyntheticChestXray.negative(offset, 64).gray8(), 512);
        return new StudyImage(id, "patient", 1_000, 2_000, gray16.getWidth(), gray16.getHeight(),
                CanonicalImage.pixels(gray16).clone()).from("xray.acquired", 0, offset);
    }

    /** The model operator on input 1 (studies), model updates on input 2, as the job wires it. */
    static TwoInputStreamOperatorTestHarness<StudyImage, ModelUpdate, ModelOutcome> scoring(Path journal, ScoringBatch batching)
            throws Exception {
        var h = new TwoInputStreamOperatorTestHarness<>(
                new ModelScoring(Architecture.MOBILENET, registry.root().toString(), "production", batching)
                        .withAttemptJournal(new AttemptJournal.Config(journal.toString(), 2)), 1, 1, 0);
        h.setup();
        h.initializeState((OperatorSubtaskState) null);
        h.open();
        return h;
    }

    static TwoInputStreamOperatorTestHarness<StudyImage, ModelUpdate, ModelOutcome> scoring(Path journal) throws Exception {
        return scoring(journal, ScoringBatch.DEFAULT);
    }

    static List<ModelOutcome> outcomes(TwoInputStreamOperatorTestHarness<StudyImage, ModelUpdate, ModelOutcome> h) {
        List<ModelOutcome> out = new java.util.ArrayList<>();
        for (Object o : h.getOutput()) {
            if (o instanceof StreamRecord<?> r && r.getValue() instanceof ModelOutcome m) {
                out.add(m);
            }
        }
        return out;
    }

    @Test
    void aBatchHoldingAStudyThatDiedBeforeRunsOneStudyPerForwardPass(@TempDir Path journalDir) throws Exception {
        // s-b's earlier attempt ended the worker once (a batch it was in died): if it is a poison image, running it
        // in a batch again would take its batch mates down with it a second time
        AttemptJournal journal = AttemptJournal.open(new AttemptJournal.Config(journalDir.toString(), 2), "model-mobilenet");
        assertThat(journal.beginAttempt(AttemptJournal.key("xray.acquired", 0, 21))).isEqualTo(1);
        var batchSizes = ScreeningMetrics.get().inferenceBatchSize;
        long passesBefore = passes(batchSizes);
        List<ModelOutcome> outcomes;
        try (var h = scoring(journalDir, new ScoringBatch(4, Duration.ofSeconds(10), 0))) {
            h.processElement1(new StreamRecord<>(study("s-a", 20), 0));
            h.processElement1(new StreamRecord<>(study("s-b", 21), 0));
            h.processElement1(new StreamRecord<>(study("s-c", 22), 0));
            h.prepareSnapshotPreBarrier(1);
            outcomes = outcomes(h);
            // and a batch with no such study is one forward pass
            long passesMiddle = passes(batchSizes);
            assertThat(passesMiddle - passesBefore).as("forward passes for a batch with a study that died").isEqualTo(3);
            h.processElement1(new StreamRecord<>(study("s-d", 23), 0));
            h.processElement1(new StreamRecord<>(study("s-e", 24), 0));
            h.prepareSnapshotPreBarrier(2);
            assertThat(passes(batchSizes) - passesMiddle).as("forward passes for a clean batch").isEqualTo(1);
        }
        assertThat(outcomes).extracting(o -> o.studyId).containsExactly("s-a", "s-b", "s-c");
        assertThat(outcomes).allMatch(ModelOutcome::succeeded);
        try (Stream<Path> markers = Files.list(journalDir.resolve("model-mobilenet"))) {
            assertThat(markers.count()).as("every attempt returned, s-b's earlier one cleared too").isZero();
        }
    }

    private static long passes(io.prometheus.metrics.core.metrics.Histogram histogram) {
        return histogram.collect().getDataPoints().stream()
                .filter(d -> "mobilenet".equals(d.getLabels().get("model")))
                .mapToLong(d -> d.getCount()).sum();
    }

    @Test
    void aBatchThatDiedIsScoredOneStudyAtATimeSoOnlyThePoisonReachesTheLimit(@TempDir Path journalDir)
            throws Exception {
        // a batch of three died once in inference (attempt 1 of each left open); then, scored one at a time, the
        // poison (offset 11) died again alone (its attempt 2 left open)
        AttemptJournal journal = AttemptJournal.open(new AttemptJournal.Config(journalDir.toString(), 2), "model-mobilenet");
        for (long offset : new long[] {10, 11, 12}) {
            assertThat(journal.beginAttempt(AttemptJournal.key("xray.acquired", 0, offset))).isEqualTo(1);
        }
        assertThat(journal.beginAttempt(AttemptJournal.key("xray.acquired", 0, 11))).isEqualTo(2);

        List<ModelOutcome> outcomes;
        try (var h = scoring(journalDir, new ScoringBatch(4, Duration.ofSeconds(10), 0))) {
            h.processElement1(new StreamRecord<>(study("s-a", 10), 0));
            h.processElement1(new StreamRecord<>(study("s-poison", 11), 0));
            h.processElement1(new StreamRecord<>(study("s-b", 12), 0));
            h.prepareSnapshotPreBarrier(1); // flushes the held batch, as a checkpoint would
            outcomes = outcomes(h);
        }
        assertThat(outcomes).extracting(o -> o.studyId).containsExactly("s-a", "s-poison", "s-b");
        assertThat(outcomes.get(0).succeeded()).isTrue();
        assertThat(outcomes.get(1).crashedWorker).isTrue();
        assertThat(outcomes.get(2).succeeded()).as("a batch mate of the poison is answered").isTrue();
        try (Stream<Path> markers = Files.list(journalDir.resolve("model-mobilenet"))) {
            assertThat(markers.map(p -> p.getFileName().toString()))
                    .as("only the poison's markers remain").allMatch(n -> n.startsWith("xray.acquired-0-11#"));
        }
    }

    @Test
    void aStudyThatCrashedInferenceTwiceIsNotRunAgainAndBecomesOneDeadLetter(@TempDir Path journalDir) throws Exception {
        // two TaskManagers died inside inference of offset 5: their attempts were begun and never ended
        AttemptJournal.Config config = new AttemptJournal.Config(journalDir.toString(), 2);
        String key = AttemptJournal.key("xray.acquired", 0, 5);
        assertThat(AttemptJournal.open(config, "model-mobilenet").begin(key)).isTrue();
        assertThat(AttemptJournal.open(config, "model-mobilenet").begin(key)).isTrue();

        List<ModelOutcome> outcomes;
        try (var h = scoring(journalDir)) {
            h.processElement1(new StreamRecord<>(study("s-poison", 5), 0));
            h.processElement1(new StreamRecord<>(study("s-ok", 6), 0));
            outcomes = outcomes(h);
        }
        assertThat(outcomes).hasSize(2);
        ModelOutcome refused = outcomes.get(0);
        assertThat(refused.crashedWorker).isTrue();
        assertThat(refused.succeeded()).isFalse();
        assertThat(refused.sourceOffset).isEqualTo(5);
        assertThat(outcomes.get(1).succeeded()).isTrue();
        try (Stream<Path> markers = Files.list(journalDir.resolve("model-mobilenet"))) {
            assertThat(markers.count()).as("the poison's two markers, none for the study that returned").isEqualTo(2);
        }

        // the ensemble: the refused model's outcome turns the whole study into a dead letter, no recommendation
        List<String> models = List.of("mobilenet", "resnet50");
        StudyEnsemble ensemble = new StudyEnsemble(models, EnsemblePolicy.defaults(), Duration.ofSeconds(30),
                Duration.ofHours(1));
        try (KeyedOneInputStreamOperatorTestHarness<String, ModelOutcome, Recommendation> e =
                     new KeyedOneInputStreamOperatorTestHarness<>(new KeyedProcessOperator<>(ensemble),
                             o -> o.studyId, Types.STRING)) {
            e.open();
            e.processElement(refused, 0);
            e.processElement(ModelOutcome.scored("s-poison", "patient", 1_000, 2_000, "resnet50", "v1", 0.3, 5), 0);
            // a late answer for the dead-lettered study must not start a recommendation
            e.processElement(ModelOutcome.scored("s-poison", "patient", 1_000, 2_000, "resnet50", "v1", 0.3, 5), 0);
            assertThat(e.extractOutputValues()).isEmpty();
            List<DeadLetter> dead = e.getSideOutput(StudyEnsemble.DEAD_LETTERS).stream().map(r -> r.getValue()).toList();
            assertThat(dead).hasSize(1);
            assertThat(dead.get(0).reason()).isEqualTo(DeadLetterReason.IMAGE_CRASHED_WORKER);
            assertThat(dead.get(0).offset()).isEqualTo(5);
            assertThat(dead.get(0).sourceTopic()).isEqualTo("xray.acquired");
            assertThat(dead.get(0).detail()).contains("mobilenet", "2 time(s)").doesNotContain("patient");
        }
    }

    /** The real operator takes the JVM-wide isolation around its attempts, and emits only after releasing it. */
    @Test
    void aSuspectStudyIsScoredAloneAndAPlainOneWaitsWhileAnotherSuspectRuns(@TempDir Path journalDir) throws Exception {
        AttemptJournal journal = AttemptJournal.open(new AttemptJournal.Config(journalDir.toString(), 2), "model-mobilenet");
        assertThat(journal.beginAttempt(AttemptJournal.key("xray.acquired", 0, 40))).isEqualTo(1); // died once
        SuspectIsolation isolation = SuspectIsolation.jvmWide();
        try (var h = scoring(journalDir)) {
            Thread operator;
            try (SuspectIsolation.Unit intakeInFlight = isolation.enter(false)) {
                operator = new Thread(() -> {
                    try {
                        h.processElement1(new StreamRecord<>(study("s-suspect", 40), 0));
                    } catch (Exception e) {
                        throw new AssertionError(e);
                    }
                });
                operator.start();
                SuspectIsolationTest.await(() -> isolation.waiting() == 1, "the suspect waits");
                assertThat(journal.previousAttempts(AttemptJournal.key("xray.acquired", 0, 40))).isEqualTo(1);
                assertThat(outcomes(h)).isEmpty();
            }
            operator.join(30_000);
            assertThat(operator.isAlive()).isFalse();
            assertThat(outcomes(h)).extracting(o -> o.studyId).containsExactly("s-suspect");

            try (SuspectIsolation.Unit suspectElsewhere = isolation.enter(true)) {
                operator = new Thread(() -> {
                    try {
                        h.processElement1(new StreamRecord<>(study("s-plain", 41), 0));
                    } catch (Exception e) {
                        throw new AssertionError(e);
                    }
                });
                operator.start();
                SuspectIsolationTest.await(() -> isolation.waiting() == 1, "the plain study waits");
                assertThat(outcomes(h)).hasSize(1);
            }
            operator.join(30_000);
            assertThat(outcomes(h)).extracting(o -> o.studyId).containsExactly("s-suspect", "s-plain");
            assertThat(outcomes(h)).allMatch(ModelOutcome::succeeded);
        }
        try (Stream<Path> markers = Files.list(journalDir.resolve("model-mobilenet"))) {
            assertThat(markers.count()).isZero();
        }
    }
}
