package org.xrayscreening.stream.ensemble;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.streaming.api.operators.KeyedProcessOperator;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.xrayscreening.connectors.event.Decision;
import org.xrayscreening.connectors.event.ModelScore;
import org.xrayscreening.connectors.event.Recommendation;
import org.xrayscreening.stream.scoring.ModelOutcome;

class StudyEnsembleTest {

    private static final List<String> MODELS = List.of("mobilenet", "resnet50", "inceptionv3", "xception");
    private KeyedOneInputStreamOperatorTestHarness<String, ModelOutcome, Recommendation> harness;

    @BeforeEach
    void setUp() throws Exception {
        StudyEnsemble ensemble = new StudyEnsemble(MODELS, EnsemblePolicy.defaults(), Duration.ofSeconds(30),
                Duration.ofHours(1));
        harness = new KeyedOneInputStreamOperatorTestHarness<>(new KeyedProcessOperator<>(ensemble),
                o -> o.studyId, Types.STRING);
        harness.open();
        harness.setProcessingTime(1_000);
    }

    @AfterEach
    void tearDown() throws Exception {
        harness.close();
    }

    private static ModelOutcome outcome(String study, String model, double p) {
        return ModelOutcome.scored(study, "patient-1", 500, 600, model, model + "-v1", p, 12.5);
    }

    @Test
    void emitsOnceWhenAllFourAnswered() throws Exception {
        harness.processElement(outcome("s1", "mobilenet", 0.9), 1_000);
        harness.processElement(outcome("s1", "resnet50", 0.8), 1_000);
        harness.processElement(outcome("s1", "inceptionv3", 0.7), 1_000);
        assertThat(harness.extractOutputValues()).isEmpty();
        harness.setProcessingTime(1_200);
        harness.processElement(outcome("s1", "xception", 0.8), 1_200);

        List<Recommendation> out = harness.extractOutputValues();
        assertThat(out).hasSize(1);
        Recommendation r = out.get(0);
        assertThat(r.studyId()).isEqualTo("s1");
        assertThat(r.patientRef()).isEqualTo("patient-1");
        assertThat(r.decision()).isEqualTo(Decision.COVID_SUSPECTED);
        assertThat(r.ensembleProbability()).isCloseTo(0.8, org.assertj.core.data.Offset.offset(1e-9));
        assertThat(r.modelScores()).extracting(ModelScore::model).containsExactlyElementsOf(MODELS);
        assertThat(r.modelScores()).extracting(ModelScore::version)
                .containsExactly("mobilenet-v1", "resnet50-v1", "inceptionv3-v1", "xception-v1");
        assertThat(r.missingModels()).isEmpty();
        assertThat(r.endToEndMillis()).isEqualTo(1_200 - 500);
        // the timeout timer was removed: nothing more comes out later
        harness.setProcessingTime(100_000);
        assertThat(harness.extractOutputValues()).hasSize(1);
        assertThat(harness.numProcessingTimeTimers()).isZero();
    }

    @Test
    void eachModelScoreCarriesItsVersionsOwnThreshold() throws Exception {
        ModelOutcome mobilenet = outcome("s9", "mobilenet", 0.3);
        mobilenet.decisionThreshold = 0.23;
        ModelOutcome resnet = outcome("s9", "resnet50", 0.6);
        resnet.decisionThreshold = 0.71;
        harness.processElement(mobilenet, 1_000);
        harness.processElement(resnet, 1_000);
        harness.processElement(outcome("s9", "inceptionv3", 0.5), 1_000); // no threshold known (NaN)
        harness.processElement(outcome("s9", "xception", 0.5), 1_000);
        Recommendation r = harness.extractOutputValues().get(0);
        assertThat(r.modelScores()).extracting(ModelScore::threshold).containsExactly(0.23, 0.71, null, null);
        assertThat(r.modelScores()).extracting(s -> s.calledCovid(r.threshold()))
                .containsExactly(true, false, true, true);
    }

    @Test
    void timeoutEmitsPartialResultNamingMissingModels() throws Exception {
        harness.processElement(outcome("s2", "mobilenet", 0.1), 1_000);
        harness.processElement(outcome("s2", "xception", 0.2), 1_000);
        harness.setProcessingTime(30_999);
        assertThat(harness.extractOutputValues()).isEmpty();
        harness.setProcessingTime(31_000);

        List<Recommendation> out = harness.extractOutputValues();
        assertThat(out).hasSize(1);
        Recommendation r = out.get(0);
        assertThat(r.missingModels()).containsExactly("resnet50", "inceptionv3");
        assertThat(r.modelScores()).hasSize(2);
        assertThat(r.decision()).isEqualTo(Decision.NO_COVID_FINDINGS);
        assertThat(r.reason()).contains("missing resnet50, inceptionv3").contains("timed out");
    }

    @Test
    void lateAnswerAfterTimeoutDoesNotCreateSecondRecommendation() throws Exception {
        harness.processElement(outcome("s3", "mobilenet", 0.9), 1_000);
        harness.processElement(outcome("s3", "resnet50", 0.9), 1_000);
        harness.setProcessingTime(40_000);
        assertThat(harness.extractOutputValues()).hasSize(1);
        harness.processElement(outcome("s3", "inceptionv3", 0.9), 40_000);
        harness.processElement(outcome("s3", "xception", 0.9), 40_000);
        harness.setProcessingTime(200_000);
        assertThat(harness.extractOutputValues()).hasSize(1);
    }

    @Test
    void failedModelIsMissingAndDoesNotWaitForTimeout() throws Exception {
        harness.processElement(outcome("s4", "mobilenet", 0.9), 1_000);
        harness.processElement(outcome("s4", "resnet50", 0.85), 1_000);
        harness.processElement(outcome("s4", "inceptionv3", 0.95), 1_000);
        harness.processElement(ModelOutcome.failed("s4", "patient-1", 500, 600, "xception", "xception-v1",
                "inference failed: IllegalStateException"), 1_000);
        List<Recommendation> out = harness.extractOutputValues();
        assertThat(out).hasSize(1);
        assertThat(out.get(0).missingModels()).containsExactly("xception");
        assertThat(out.get(0).reason()).contains("failed: xception");
        assertThat(out.get(0).decision()).isEqualTo(Decision.COVID_SUSPECTED);
    }

    @Test
    void studiesAreIndependent() throws Exception {
        for (String model : MODELS) {
            harness.processElement(outcome("a", model, 0.9), 1_000);
            harness.processElement(outcome("b", model, 0.1), 1_000);
        }
        assertThat(harness.extractOutputValues()).extracting(Recommendation::studyId, Recommendation::decision)
                .containsExactly(org.assertj.core.groups.Tuple.tuple("a", Decision.COVID_SUSPECTED),
                        org.assertj.core.groups.Tuple.tuple("b", Decision.NO_COVID_FINDINGS));
    }

    @Test
    void pendingStudySurvivesSnapshotAndRestore() throws Exception {
        harness.processElement(outcome("s5", "mobilenet", 0.9), 1_000);
        harness.processElement(outcome("s5", "resnet50", 0.9), 1_000);
        var snapshot = harness.snapshot(1L, 1_000);
        harness.close();

        StudyEnsemble ensemble = new StudyEnsemble(MODELS, EnsemblePolicy.defaults(), Duration.ofSeconds(30),
                Duration.ofHours(1));
        harness = new KeyedOneInputStreamOperatorTestHarness<>(new KeyedProcessOperator<>(ensemble),
                o -> o.studyId, Types.STRING);
        harness.setup();
        harness.initializeState(snapshot);
        harness.open();
        harness.setProcessingTime(2_000);
        harness.processElement(outcome("s5", "inceptionv3", 0.9), 2_000);
        harness.processElement(outcome("s5", "xception", 0.9), 2_000);
        List<Recommendation> out = harness.extractOutputValues();
        assertThat(out).hasSize(1);
        assertThat(out.get(0).modelScores()).hasSize(4);
    }
}
