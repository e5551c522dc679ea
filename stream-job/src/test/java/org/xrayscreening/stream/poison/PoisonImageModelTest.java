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
import org.apache.flink.streaming.util.BroadcastOperatorTestHarness;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.apache.flink.streaming.util.ProcessFunctionTestHarnesses;
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
import org.xrayscreening.stream.intake.CanonicalImage;
import org.xrayscreening.stream.intake.StudyImage;
import org.xrayscreening.stream.scoring.ModelOutcome;
import org.xrayscreening.stream.scoring.ModelScoring;
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

    BroadcastOperatorTestHarness<StudyImage, ModelUpdate, ModelOutcome> scoring(Path journal) throws Exception {
        return ProcessFunctionTestHarnesses.forBroadcastProcessFunction(
                new ModelScoring(Architecture.MOBILENET, registry.root().toString(), "production")
                        .withAttemptJournal(new AttemptJournal.Config(journal.toString(), 2)),
                ModelScoring.ACTIVE_VERSIONS);
    }

    @Test
    void aStudyThatCrashedInferenceTwiceIsNotRunAgainAndBecomesOneDeadLetter(@TempDir Path journalDir) throws Exception {
        // two TaskManagers died inside inference of offset 5: their attempts were begun and never ended
        AttemptJournal.Config config = new AttemptJournal.Config(journalDir.toString(), 2);
        String key = AttemptJournal.key("xray.acquired", 0, 5);
        assertThat(AttemptJournal.open(config, "model-mobilenet").begin(key)).isTrue();
        assertThat(AttemptJournal.open(config, "model-mobilenet").begin(key)).isTrue();

        List<ModelOutcome> outcomes;
        try (BroadcastOperatorTestHarness<StudyImage, ModelUpdate, ModelOutcome> h = scoring(journalDir)) {
            h.processElement(study("s-poison", 5), 0);
            h.processElement(study("s-ok", 6), 0);
            outcomes = h.extractOutputValues();
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
}
