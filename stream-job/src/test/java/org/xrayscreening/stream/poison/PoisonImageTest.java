package org.xrayscreening.stream.poison;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.stream.Stream;
import org.apache.flink.streaming.util.OneInputStreamOperatorTestHarness;
import org.apache.flink.streaming.util.ProcessFunctionTestHarnesses;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xrayscreening.connectors.event.DeadLetter;
import org.xrayscreening.connectors.event.DeadLetterReason;
import org.xrayscreening.connectors.event.EventCodec;
import org.xrayscreening.connectors.event.ImageReference;
import org.xrayscreening.connectors.event.XrayAcquired;
import org.xrayscreening.connectors.image.ImageLimits;
import org.xrayscreening.connectors.image.ImageSourcePolicy;
import org.xrayscreening.connectors.kafka.RawRecord;
import org.xrayscreening.models.synthetic.SyntheticChestXray;
import org.xrayscreening.stream.intake.StudyImage;
import org.xrayscreening.stream.intake.StudyIntake;
import org.xrayscreening.stream.local.SampleStudies;

/**
 * An image that kills the worker: the intake operator is recreated after each death (a new harness over the same
 * journal folder stands for the TaskManager that Flink restarts from the last checkpoint, whose state knows
 * nothing of the death). The death is a real {@code OutOfMemoryError} from the test switch.
 */
class PoisonImageTest {

    static final EventCodec CODEC = new EventCodec();

    @TempDir
    Path dir;

    @BeforeEach
    void poisonSwitchOn() {
        System.setProperty(StudyIntake.OUT_OF_MEMORY_SWITCH, "poison-");
    }

    @AfterEach
    void poisonSwitchOff() {
        System.clearProperty(StudyIntake.OUT_OF_MEMORY_SWITCH);
    }

    OneInputStreamOperatorTestHarness<RawRecord, StudyImage> worker(int limit) throws Exception {
        StudyIntake intake = new StudyIntake(ImageLimits.DEFAULTS, ImageSourcePolicy.NONE, 128, "127.0.0.1", 0)
                .withAttemptJournal(new AttemptJournal.Config(dir.toString(), limit));
        return ProcessFunctionTestHarnesses.forProcessFunction(intake);
    }

    static RawRecord record(String studyId, long offset) throws Exception {
        byte[] png = SampleStudies.encode(SyntheticChestXray.of(offset, 96, false).gray8(), "png");
        byte[] value = CODEC.toJson(new XrayAcquired(1, studyId, "PATIENT-9", Instant.parse("2026-12-01T08:00:00Z"),
                "PA", "test", ImageReference.inline(ImageReference.PNG, png)));
        return new RawRecord(studyId.getBytes(StandardCharsets.UTF_8), value, "xray.acquired", 2, offset, 0L);
    }

    /** One worker life: processes the record, or dies of it (the harness is then dropped, not closed cleanly). */
    static void dies(OneInputStreamOperatorTestHarness<RawRecord, StudyImage> worker, RawRecord r) {
        assertThatThrownBy(() -> worker.processElement(r, 0L)).isInstanceOf(OutOfMemoryError.class);
    }

    long markers() throws Exception {
        try (Stream<Path> s = Files.list(dir.resolve("intake"))) {
            return s.count();
        }
    }

    @Test
    void anImageThatKilledTheWorkerTwiceIsDeadLetteredOnTheNextAttempt() throws Exception {
        RawRecord poison = record("poison-1", 17);
        dies(worker(2), poison);
        dies(worker(2), poison);
        assertThat(markers()).isEqualTo(2);

        OneInputStreamOperatorTestHarness<RawRecord, StudyImage> third = worker(2);
        third.processElement(poison, 0L);
        third.processElement(record("study-ok", 18), 0L);
        List<DeadLetter> dead = List.copyOf(third.getSideOutput(StudyIntake.DEAD_LETTERS)).stream()
                .map(r -> r.getValue()).toList();
        assertThat(dead).hasSize(1);
        DeadLetter d = dead.get(0);
        assertThat(d.reason()).isEqualTo(DeadLetterReason.IMAGE_CRASHED_WORKER);
        assertThat(d.sourceTopic()).isEqualTo("xray.acquired");
        assertThat(d.partition()).isEqualTo(2);
        assertThat(d.offset()).isEqualTo(17);
        assertThat(d.originalValue()).isEqualTo(poison.getValue());
        assertThat(d.detail()).contains("2 time(s)").doesNotContain("poison-1", "PATIENT");
        // the next record is processed as usual and leaves no marker; the poison's markers stay (a replay
        // from an older checkpoint is refused again)
        assertThat(third.extractOutputValues()).extracting(s -> s.studyId).containsExactly("study-ok");
        assertThat(markers()).isEqualTo(2);
        third.close();
    }

    @Test
    void theLimitIsConfigurable() throws Exception {
        RawRecord poison = record("poison-2", 5);
        dies(worker(1), poison);
        OneInputStreamOperatorTestHarness<RawRecord, StudyImage> second = worker(1);
        second.processElement(poison, 0L);
        assertThat(second.getSideOutput(StudyIntake.DEAD_LETTERS)).hasSize(1);
        assertThat(second.extractOutputValues()).isEmpty();
        second.close();

        RawRecord other = record("poison-3", 6);
        dies(worker(3), other);
        dies(worker(3), other);
        dies(worker(3), other);
        OneInputStreamOperatorTestHarness<RawRecord, StudyImage> fourth = worker(3);
        fourth.processElement(other, 0L);
        assertThat(List.copyOf(fourth.getSideOutput(StudyIntake.DEAD_LETTERS)).get(0).getValue().detail())
                .contains("3 time(s)");
        fourth.close();
    }

    @Test
    void aRecordInFlightWhenItsWorkerWasKilledForAnotherReasonIsProcessedNormally() throws Exception {
        RawRecord record = record("study-7", 9);
        // the worker died once with this record in hand (kill -9 of the TaskManager): one open attempt
        assertThat(AttemptJournal.open(new AttemptJournal.Config(dir.toString(), 2), "intake")
                .begin(AttemptJournal.key("xray.acquired", 2, 9))).isTrue();
        OneInputStreamOperatorTestHarness<RawRecord, StudyImage> next = worker(2);
        next.processElement(record, 0L);
        assertThat(next.extractOutputValues()).hasSize(1);
        assertThat(next.getSideOutput(StudyIntake.DEAD_LETTERS)).isNullOrEmpty();
        assertThat(markers()).isZero();
        next.close();
    }

    @Test
    void ordinaryBadInputStillGetsItsOwnReasonAndLeavesNoMarker() throws Exception {
        OneInputStreamOperatorTestHarness<RawRecord, StudyImage> w = worker(2);
        w.processElement(new RawRecord(null, "{not json".getBytes(StandardCharsets.UTF_8), "xray.acquired", 0, 1, 0L), 0L);
        assertThat(List.copyOf(w.getSideOutput(StudyIntake.DEAD_LETTERS)).get(0).getValue().reason())
                .isEqualTo(DeadLetterReason.MALFORMED_JSON);
        assertThat(markers()).isZero();
        w.close();
    }

    /** The real operator takes the JVM-wide isolation: the exclusive side for a suspect, the shared one otherwise. */
    @Test
    void theIntakeRunsASuspectAloneAndWaitsWhileAnotherSuspectRuns() throws Exception {
        RawRecord suspect = record("study-8", 30);
        // one earlier death with this record in hand: it is a suspect now
        assertThat(AttemptJournal.open(new AttemptJournal.Config(dir.toString(), 2), "intake")
                .begin(AttemptJournal.key("xray.acquired", 2, 30))).isTrue();
        SuspectIsolation isolation = SuspectIsolation.jvmWide();
        OneInputStreamOperatorTestHarness<RawRecord, StudyImage> w = worker(2);
        Thread intake;
        try (SuspectIsolation.Unit otherOperator = isolation.enter(false)) { // a model forward pass in flight
            intake = new Thread(() -> {
                try {
                    w.processElement(suspect, 0L);
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
            });
            intake.start();
            SuspectIsolationTest.await(() -> isolation.waiting() == 1, "the suspect waits");
            assertThat(markers()).as("its second attempt has not begun").isEqualTo(1);
        }
        intake.join(10_000);
        assertThat(intake.isAlive()).isFalse();
        assertThat(w.extractOutputValues()).extracting(s -> s.studyId).containsExactly("study-8");
        assertThat(markers()).isZero();

        RawRecord plain = record("study-9", 31);
        try (SuspectIsolation.Unit otherSuspect = isolation.enter(true)) { // a suspect in a model operator
            intake = new Thread(() -> {
                try {
                    w.processElement(plain, 0L);
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
            });
            intake.start();
            SuspectIsolationTest.await(() -> isolation.waiting() == 1, "the plain record waits");
            assertThat(markers()).isZero();
        }
        intake.join(10_000);
        assertThat(w.extractOutputValues()).extracting(s -> s.studyId).containsExactly("study-8", "study-9");
        w.close();
    }
}
