package org.xrayscreening.stream.ensemble;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.xrayscreening.connectors.event.Decision;
import org.xrayscreening.connectors.event.ModelScore;
import org.xrayscreening.models.registry.EnsembleSettings;
import org.xrayscreening.models.registry.EnsembleSettings.Combination;
import org.xrayscreening.models.registry.EnsembleSettings.ModelCalibration;
import org.xrayscreening.stream.ensemble.EnsembleDecider.Fallback;
import org.xrayscreening.stream.ensemble.EnsembleDecider.Outcome;

class EnsembleDeciderTest {
    static final EnsemblePolicy POLICY = EnsemblePolicy.defaults();

    /** Calibrated mean of mobilenet@m-1 (a 0.8, b -0.2) and resnet50@r-1 (a 1.3, b 0.4), band [0.3, 0.7). */
    static EnsembleSettings calibratedMean() {
        return new EnsembleSettings(1, "e1", null, Combination.CALIBRATED_MEAN,
                List.of(new ModelCalibration("mobilenet", "m-1", 0.8, -0.2, null),
                        new ModelCalibration("resnet50", "r-1", 1.3, 0.4, null)),
                null, 0.3, 0.3, 0.7, 0.95, 0.95, Map.of(), null, "validation", "test", null);
    }

    static EnsembleSettings stacked() {
        return new EnsembleSettings(1, "s1", null, Combination.STACKED,
                List.of(new ModelCalibration("mobilenet", "m-1", 0.8, -0.2, 1.1),
                        new ModelCalibration("resnet50", "r-1", 1.3, 0.4, 0.6)),
                -0.35, 0.25, 0.25, 0.6, 0.95, 0.95, Map.of(), null, "validation", "test", null);
    }

    /** One model, identity calibration (a = 1, b = 0): the ensemble probability is the model's, to probe the band. */
    static EnsembleSettings identity(double low, double high) {
        return new EnsembleSettings(1, "id", null, Combination.CALIBRATED_MEAN,
                List.of(new ModelCalibration("mobilenet", "m-1", 1, 0, null)), null, low, low, high, 0.95, 0.95,
                Map.of(), null, "validation", "test", null);
    }

    static ModelScore score(String model, String version, double p) {
        return new ModelScore(model, version, p, 10.0, null);
    }

    static double sigmoid(double z) {
        return 1 / (1 + Math.exp(-z));
    }

    @Test
    void withoutSettingsItIsThePolicy() {
        EnsembleDecider decider = new EnsembleDecider(POLICY, null);
        List<List<Double>> cases = List.of(List.of(0.9, 0.8, 0.7, 0.8), List.of(0.1, 0.2), List.of(0.45, 0.55),
                List.of(0.05, 0.95, 0.9), List.of(0.9), List.of());
        for (List<Double> ps : cases) {
            List<ModelScore> scores = new ArrayList<>();
            for (int i = 0; i < ps.size(); i++) {
                scores.add(score(List.of("mobilenet", "resnet50", "inceptionv3", "xception").get(i), "v", ps.get(i)));
            }
            Outcome o = decider.decide(scores);
            EnsemblePolicy.Outcome expected = POLICY.decide(ps);
            assertThat(o.decision()).isEqualTo(expected.decision());
            assertThat(o.reason()).isEqualTo(expected.reason());
            assertThat(Double.valueOf(o.probability())).isEqualTo(Double.valueOf(expected.probability()));
            assertThat(o.threshold()).isEqualTo(0.5);
            assertThat(o.low()).isEqualTo(0.4);
            assertThat(o.high()).isEqualTo(0.6);
            assertThat(o.fallback()).isNull();
            assertThat(o.settingsVersion()).isNull();
        }
    }

    @Test
    void calibratesEachModelThenAveragesAsFitOnValidation() {
        EnsembleDecider decider = new EnsembleDecider(POLICY, calibratedMean());
        Outcome o = decider.decide(List.of(score("mobilenet", "m-1", 0.9), score("resnet50", "r-1", 0.2)));
        double m = sigmoid(0.8 * Math.log(0.9 / 0.1) - 0.2); // 0.826
        double r = sigmoid(1.3 * Math.log(0.2 / 0.8) + 0.4); // 0.198
        assertThat(o.probability()).isCloseTo((m + r) / 2, within(1e-12));
        assertThat(o.decision()).isEqualTo(Decision.INDETERMINATE); // 0.512 in [0.3, 0.7)
        assertThat(o.reason()).isEqualTo("near threshold (ensemble@e1)");
        assertThat(o.threshold()).isEqualTo(0.3);
        assertThat(o.low()).isEqualTo(0.3);
        assertThat(o.high()).isEqualTo(0.7);
        assertThat(o.settingsVersion()).isEqualTo("e1");
        assertThat(o.fallback()).isNull();
        // the raw mean (0.55) would have been "near threshold" too, but at another probability
        assertThat(o.probability()).isNotCloseTo(0.55, within(0.01));
    }

    @Test
    void stacksTheModelsLogits() {
        EnsembleDecider decider = new EnsembleDecider(POLICY, stacked());
        Outcome o = decider.decide(List.of(score("mobilenet", "m-1", 0.9), score("resnet50", "r-1", 0.2)));
        double z = -0.35 + 1.1 * Math.log(0.9 / 0.1) + 0.6 * Math.log(0.2 / 0.8);
        assertThat(o.probability()).isCloseTo(sigmoid(z), within(1e-12)); // 0.775
        assertThat(o.decision()).isEqualTo(Decision.COVID_SUSPECTED);
        assertThat(o.reason()).isEqualTo("above threshold (ensemble@s1)");
    }

    @Test
    void bandEdges() {
        EnsembleDecider decider = new EnsembleDecider(POLICY, identity(0.3, 0.7));
        assertThat(decideOne(decider, 0.3).decision()).isEqualTo(Decision.INDETERMINATE); // the lower edge is flagged
        assertThat(decideOne(decider, Math.nextDown(0.3f)).decision()).isEqualTo(Decision.NO_COVID_FINDINGS);
        assertThat(decideOne(decider, Math.nextDown(0.3f)).reason()).startsWith("below threshold");
        assertThat(decideOne(decider, Math.nextDown(0.7f)).decision()).isEqualTo(Decision.INDETERMINATE);
        assertThat(decideOne(decider, 0.7).decision()).isEqualTo(Decision.COVID_SUSPECTED); // the upper edge is not
        assertThat(decideOne(decider, 0.999).decision()).isEqualTo(Decision.COVID_SUSPECTED);
        assertThat(decideOne(decider, 0.001).decision()).isEqualTo(Decision.NO_COVID_FINDINGS);
        // asymmetric: the band need not be centred on anything
        EnsembleDecider narrow = new EnsembleDecider(POLICY, identity(0.12, 0.81));
        assertThat(decideOne(narrow, 0.5).decision()).isEqualTo(Decision.INDETERMINATE);
        assertThat(decideOne(narrow, 0.11).decision()).isEqualTo(Decision.NO_COVID_FINDINGS);
        // no band (low = high): a plain threshold
        EnsembleDecider none = new EnsembleDecider(POLICY, identity(0.4, 0.4));
        assertThat(decideOne(none, 0.4).decision()).isEqualTo(Decision.COVID_SUSPECTED);
        assertThat(decideOne(none, 0.39).decision()).isEqualTo(Decision.NO_COVID_FINDINGS);
    }

    private static Outcome decideOne(EnsembleDecider decider, double p) {
        // minModels 1 so that one model decides
        return new EnsembleDecider(new EnsemblePolicy(0.5, 0.1, 0.5, 1), decider.settings())
                .decide(List.of(score("mobilenet", "m-1", p)));
    }

    @Test
    void anotherModelVersionFallsBackToThePolicyAndSaysWhy() {
        EnsembleDecider decider = new EnsembleDecider(POLICY, calibratedMean());
        // resnet50 was hot-swapped to r-2: its probabilities are not the ones r-1's calibration was fit on
        Outcome o = decider.decide(List.of(score("mobilenet", "m-1", 0.9), score("resnet50", "r-2", 0.2)));
        EnsemblePolicy.Outcome policy = POLICY.decide(List.of(0.9, 0.2));
        assertThat(o.fallback()).isEqualTo(Fallback.VERSION_MISMATCH);
        assertThat(o.fallbackDetail()).isEqualTo("resnet50@r-2 scored, settings fit for resnet50@r-1");
        assertThat(o.decision()).isEqualTo(policy.decision());
        assertThat(o.probability()).isEqualTo(0.55);
        assertThat(o.reason()).isEqualTo(policy.reason() + " (uncalibrated: ensemble@e1 not applicable)");
        assertThat(o.threshold()).isEqualTo(0.5);
        assertThat(o.low()).isEqualTo(0.4);
        assertThat(o.settingsVersion()).isNull();

        assertThat(decider.decide(List.of(score("mobilenet", "m-1", 0.9), score("xception", "x-1", 0.2))).fallback())
                .isEqualTo(Fallback.MODEL_NOT_IN_SETTINGS);
        assertThat(new EnsembleDecider(POLICY, stacked()).decide(List.of(score("mobilenet", "m-1", 0.9),
                score("inceptionv3", "i", 0.9))).fallback()).isEqualTo(Fallback.MODEL_NOT_IN_SETTINGS);
    }

    @Test
    void missingModelsAndTooFewAnswers() {
        // a stack needs every model
        Outcome stack = new EnsembleDecider(POLICY, stacked()).decide(List.of(score("mobilenet", "m-1", 0.9)));
        assertThat(stack.fallback()).isEqualTo(Fallback.STACK_MODEL_MISSING);
        assertThat(stack.reason()).startsWith("only 1 model(s) answered, 2 needed");
        // a calibrated mean works with the models that answered, but minModels still applies
        EnsembleDecider mean = new EnsembleDecider(POLICY, calibratedMean());
        Outcome one = mean.decide(List.of(score("mobilenet", "m-1", 0.99)));
        assertThat(one.fallback()).isNull();
        assertThat(one.decision()).isEqualTo(Decision.INDETERMINATE);
        assertThat(one.reason()).isEqualTo("only 1 model(s) answered, 2 needed (ensemble@e1)");
        assertThat(one.probability()).isCloseTo(sigmoid(0.8 * Math.log(0.99 / 0.01) - 0.2), within(1e-12));
        Outcome alone = new EnsembleDecider(new EnsemblePolicy(0.5, 0.1, 0.5, 1), calibratedMean())
                .decide(List.of(score("mobilenet", "m-1", 0.99)));
        assertThat(alone.decision()).isEqualTo(Decision.COVID_SUSPECTED);
        // nobody answered: the policy's answer, nothing to calibrate and nothing to count
        Outcome nobody = mean.decide(List.of());
        assertThat(nobody.decision()).isEqualTo(Decision.INDETERMINATE);
        assertThat(nobody.fallback()).isNull();
    }

    @Test
    void theDisagreementRuleIsTheFallbacksOnly() {
        // raw 0.05 vs 0.97 across 0.5 with spread 0.92 > 0.5: the policy says "models disagree"
        List<ModelScore> split = List.of(score("mobilenet", "m-1", 0.05), score("resnet50", "r-1", 0.97));
        assertThat(new EnsembleDecider(POLICY, null).decide(split).reason()).isEqualTo("models disagree");
        Outcome o = new EnsembleDecider(POLICY, calibratedMean()).decide(split);
        double expected = (sigmoid(0.8 * Math.log(0.05 / 0.95) - 0.2) + sigmoid(1.3 * Math.log(0.97 / 0.03) + 0.4)) / 2;
        assertThat(o.probability()).isCloseTo(expected, within(1e-12));
        assertThat(o.reason()).doesNotContain("disagree");
    }
}
