package org.xrayscreening.stream.ensemble;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.streaming.api.operators.KeyedProcessOperator;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.xrayscreening.connectors.event.Decision;
import org.xrayscreening.connectors.event.Recommendation;
import org.xrayscreening.models.registry.EnsembleSettings;
import org.xrayscreening.models.registry.EnsembleSettings.Combination;
import org.xrayscreening.models.registry.EnsembleSettings.ModelCalibration;
import org.xrayscreening.stream.metrics.ScreeningMetrics;
import org.xrayscreening.stream.scoring.ModelOutcome;

/** The ensemble operator deciding with published ensemble settings (harness, as {@link StudyEnsembleTest}). */
class StudyEnsembleSettingsTest {
    private static final List<String> MODELS = List.of("mobilenet", "resnet50", "inceptionv3", "xception");
    private static final double[] A = {0.8, 1.3, 0.5, 1.0};
    private static final double[] B = {-0.2, 0.4, 0.1, -1.0};

    private KeyedOneInputStreamOperatorTestHarness<String, ModelOutcome, Recommendation> harness;

    /** Calibrated mean of the four "-v1" versions, band [0.25, 0.6). */
    static EnsembleSettings settings() {
        List<ModelCalibration> models = new java.util.ArrayList<>();
        for (int k = 0; k < 4; k++) {
            models.add(new ModelCalibration(MODELS.get(k), MODELS.get(k) + "-v1", A[k], B[k], null));
        }
        return new EnsembleSettings(1, "e7", null, Combination.CALIBRATED_MEAN, models, null, 0.25, 0.25, 0.6, 0.95,
                0.9, Map.of("sensitivity", 0.96), "sha256:x", "validation", "trainer fit-ensemble", null);
    }

    private void open(EnsembleSettings settings) throws Exception {
        StudyEnsemble ensemble = new StudyEnsemble(MODELS, EnsemblePolicy.defaults(), Duration.ofSeconds(30),
                Duration.ofHours(1)).withEnsembleSettings(settings);
        harness = new KeyedOneInputStreamOperatorTestHarness<>(new KeyedProcessOperator<>(ensemble),
                o -> o.studyId, Types.STRING);
        harness.open();
        harness.setProcessingTime(1_000);
    }

    @AfterEach
    void tearDown() throws Exception {
        harness.close();
    }

    private static ModelOutcome outcome(String study, String model, String version, double p) {
        return ModelOutcome.scored(study, "patient-1", 500, 600, model, version, p, 12.5);
    }

    private static double calibrated(int k, double p) {
        return 1 / (1 + Math.exp(-(A[k] * Math.log(p / (1 - p)) + B[k])));
    }

    @Test
    void decidesWithTheSettingsWhenTheVersionsMatch() throws Exception {
        open(settings());
        double[] p = {0.3, 0.35, 0.4, 0.45};
        double expected = 0;
        for (int k = 0; k < 4; k++) {
            harness.processElement(outcome("s1", MODELS.get(k), MODELS.get(k) + "-v1", p[k]), 1_000);
            expected += calibrated(k, p[k]) / 4;
        }
        Recommendation r = harness.extractOutputValues().get(0);
        assertThat(r.ensembleProbability()).isCloseTo(expected, within(1e-12));
        // raw mean 0.375 would be NO_COVID_FINDINGS under the default policy (band 0.4-0.6); calibrated it is
        // above the validation band's lower edge
        assertThat(expected).isBetween(0.25, 0.6);
        assertThat(EnsemblePolicy.defaults().decide(List.of(0.3, 0.35, 0.4, 0.45)).decision())
                .isEqualTo(Decision.NO_COVID_FINDINGS);
        assertThat(r.decision()).isEqualTo(Decision.INDETERMINATE);
        assertThat(r.threshold()).isEqualTo(0.25);
        assertThat(r.indeterminateLow()).isEqualTo(0.25);
        assertThat(r.indeterminateHigh()).isEqualTo(0.6);
        assertThat(r.reason()).isEqualTo("near threshold (ensemble@e7)");
        // each model's own probability is reported as it scored, not calibrated
        assertThat(r.modelScores()).extracting(s -> s.probability()).containsExactly(0.3, 0.35, 0.4, 0.45);
    }

    @Test
    void aHotSwappedVersionFallsBackCountsAndLogsNoStudy() throws Exception {
        open(settings());
        double before = ScreeningMetrics.get().ensembleSettingsFallbacks.labelValues("version_mismatch").get();
        harness.processElement(outcome("s2", "mobilenet", "mobilenet-v2", 0.3), 1_000);
        for (int k = 1; k < 4; k++) {
            harness.processElement(outcome("s2", MODELS.get(k), MODELS.get(k) + "-v1", 0.35 + 0.05 * (k - 1)), 1_000);
        }
        Recommendation r = harness.extractOutputValues().get(0);
        assertThat(r.ensembleProbability()).isCloseTo(0.375, within(1e-12)); // the raw mean
        assertThat(r.decision()).isEqualTo(Decision.NO_COVID_FINDINGS);
        assertThat(r.threshold()).isEqualTo(0.5);
        assertThat(r.indeterminateLow()).isEqualTo(0.4);
        assertThat(r.reason()).isEqualTo("below threshold (uncalibrated: ensemble@e7 not applicable)");
        assertThat(ScreeningMetrics.get().ensembleSettingsFallbacks.labelValues("version_mismatch").get())
                .isEqualTo(before + 1);
    }

    @Test
    void aTimeoutStillGivesACalibratedPartialResult() throws Exception {
        open(settings());
        harness.processElement(outcome("s3", "mobilenet", "mobilenet-v1", 0.95), 1_000);
        harness.processElement(outcome("s3", "xception", "xception-v1", 0.9), 1_000);
        harness.setProcessingTime(31_000);
        Recommendation r = harness.extractOutputValues().get(0);
        assertThat(r.missingModels()).containsExactly("resnet50", "inceptionv3");
        assertThat(r.ensembleProbability()).isCloseTo((calibrated(0, 0.95) + calibrated(3, 0.9)) / 2, within(1e-12));
        assertThat(r.decision()).isEqualTo(Decision.COVID_SUSPECTED);
        assertThat(r.reason()).isEqualTo("above threshold (ensemble@e7); missing resnet50, inceptionv3 (timed out)");
    }

    @Test
    void withoutSettingsTheOperatorIsUnchanged() throws Exception {
        open(null);
        for (String m : MODELS) {
            harness.processElement(outcome("s4", m, m + "-v1", 0.375), 1_000);
        }
        Recommendation r = harness.extractOutputValues().get(0);
        assertThat(r.decision()).isEqualTo(Decision.NO_COVID_FINDINGS);
        assertThat(r.reason()).isEqualTo("below threshold");
        assertThat(r.threshold()).isEqualTo(0.5);
    }

    @Test
    void theSettingsTravelWithTheOperatorThroughASnapshot() throws Exception {
        open(settings());
        harness.processElement(outcome("s5", "mobilenet", "mobilenet-v1", 0.3), 1_000);
        var snapshot = harness.snapshot(1L, 1_000);
        harness.close();
        StudyEnsemble restored = new StudyEnsemble(MODELS, EnsemblePolicy.defaults(), Duration.ofSeconds(30),
                Duration.ofHours(1)).withEnsembleSettings(settings());
        harness = new KeyedOneInputStreamOperatorTestHarness<>(new KeyedProcessOperator<>(restored), o -> o.studyId,
                Types.STRING);
        harness.setup();
        harness.initializeState(snapshot);
        harness.open();
        for (int k = 1; k < 4; k++) {
            harness.processElement(outcome("s5", MODELS.get(k), MODELS.get(k) + "-v1", 0.3), 2_000);
        }
        Recommendation r = harness.extractOutputValues().get(0);
        double expected = 0;
        for (int k = 0; k < 4; k++) {
            expected += calibrated(k, 0.3) / 4;
        }
        assertThat(r.ensembleProbability()).isCloseTo(expected, within(1e-12));
        assertThat(r.reason()).contains("ensemble@e7");
    }
}
