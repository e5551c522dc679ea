package org.xrayscreening.trainer.evaluation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.xrayscreening.models.registry.EnsembleSettings;
import org.xrayscreening.models.registry.EnsembleSettings.Combination;
import org.xrayscreening.trainer.evaluation.EnsembleFitting.Candidate;
import org.xrayscreening.trainer.evaluation.EnsembleFitting.ModelValidationScores;

class EnsembleFittingTest {
    private static final int N = 3_000;

    /** Three models: a good one (over-confident), a weaker one, and noise; about 30% COVID-19. */
    private static List<ModelValidationScores> models(boolean[] y, long seed) {
        Random r = new Random(seed);
        float[] good = new float[N];
        float[] weak = new float[N];
        float[] noise = new float[N];
        for (int i = 0; i < N; i++) {
            y[i] = r.nextDouble() < 0.3;
            double z = (y[i] ? 1.5 : -1.5) + r.nextGaussian();
            good[i] = (float) EnsembleFit.sigmoid(3 * z + 0.5);
            weak[i] = (float) EnsembleFit.sigmoid(0.5 * z + 0.7 * r.nextGaussian());
            noise[i] = (float) EnsembleFit.sigmoid(r.nextGaussian());
        }
        return List.of(new ModelValidationScores("mobilenet", "m-1", good),
                new ModelValidationScores("resnet50", "r-1", weak), new ModelValidationScores("xception", "x-1", noise));
    }

    @Test
    void theSettingsComputeWhatEnsembleFitComputes() {
        boolean[] y = new boolean[N];
        List<ModelValidationScores> models = models(y, 11);
        EnsembleFitting.Result result = EnsembleFitting.fit(models, y, Combination.CALIBRATED_MEAN, 0.95, 0.95,
                "sha256:d", "trainer fit-ensemble ...");

        // calibrated mean: EnsembleFit's Platt per model, then the plain mean of the calibrated probabilities
        EnsembleSettings mean = result.candidates().get(Combination.CALIBRATED_MEAN).settings();
        float[][] calibrated = new float[3][];
        for (int k = 0; k < 3; k++) {
            EnsembleFit.Platt platt = EnsembleFit.Platt.fit(models.get(k).scores(), y);
            assertThat(mean.models().get(k).plattA()).isEqualTo(platt.a());
            assertThat(mean.models().get(k).plattB()).isEqualTo(platt.b());
            calibrated[k] = platt.apply(models.get(k).scores());
        }
        float[] p = result.candidates().get(Combination.CALIBRATED_MEAN).probabilities();
        for (int i = 0; i < N; i++) {
            double expected = (calibrated[0][i] + calibrated[1][i] + (double) calibrated[2][i]) / 3;
            assertThat((double) p[i]).isCloseTo(expected, within(1e-6));
            assertThat(mean.probability(Map.of("mobilenet", (double) models.get(0).scores()[i], "resnet50",
                    (double) models.get(1).scores()[i], "xception", (double) models.get(2).scores()[i])))
                    .isCloseTo(expected, within(1e-6));
        }

        // stack: EnsembleFit's logistic regression on the models' logits
        EnsembleSettings stack = result.candidates().get(Combination.STACKED).settings();
        EnsembleFit.Stacked fit = EnsembleFit.Stacked.fit(models.stream().map(ModelValidationScores::scores).toList(), y);
        float[] expected = fit.apply(models.stream().map(ModelValidationScores::scores).toList());
        float[] q = result.candidates().get(Combination.STACKED).probabilities();
        for (int i = 0; i < N; i++) {
            assertThat(q[i]).isCloseTo(expected[i], within(1e-6f));
        }
        assertThat(stack.stackedBias()).isEqualTo(fit.bias());
        assertThat(stack.models()).extracting(EnsembleSettings.ModelCalibration::stackedWeight)
                .containsExactly(fit.weights()[0], fit.weights()[1], fit.weights()[2]);
        // the noise model earns (almost) no weight
        assertThat(Math.abs(fit.weights()[2])).isLessThan(0.1);
    }

    @Test
    void theBandIsEnsembleFitsAndItsOutcomeIsTheStreamJobsDecision() {
        boolean[] y = new boolean[N];
        List<ModelValidationScores> models = models(y, 12);
        EnsembleFitting.Result result = EnsembleFitting.fit(models, y, Combination.STACKED, 0.95, 0.9, null, "cmd");
        for (Candidate c : result.candidates().values()) {
            EnsembleFit.Band band = EnsembleFit.Band.choose(c.probabilities(), y, 0.95, 0.9);
            assertThat(c.settings().indeterminateLow()).isEqualTo(band.low()).isEqualTo(c.settings().threshold());
            assertThat(c.settings().indeterminateHigh()).isEqualTo(band.high()).isGreaterThan(band.low());
            EnsembleFit.Outcome o = band.apply(c.probabilities(), y);
            assertThat(c.sensitivity()).isEqualTo(o.sensitivity()).isGreaterThanOrEqualTo(0.95);
            assertThat(c.specificity()).isEqualTo(o.specificity());
            assertThat(c.indeterminate()).isEqualTo(o.indeterminate()).isPositive();
        }
        EnsembleSettings chosen = result.chosen();
        assertThat(chosen.combination()).isEqualTo(Combination.STACKED);
        assertThat(chosen.validationMetrics()).containsKeys("sensitivity", "specificity", "auc", "ece",
                "stacked.auc", "calibrated-mean.auc", "calibrated-mean.sensitivity");
        assertThat(chosen.validationMetrics().get("sensitivity"))
                .isEqualTo(result.candidates().get(Combination.STACKED).sensitivity());
        assertThat(chosen.models()).extracting(EnsembleSettings.ModelCalibration::toString)
                .containsExactly("mobilenet@m-1", "resnet50@r-1", "xception@x-1");
        assertThat(chosen.split()).isEqualTo("validation");
        assertThat(result.comparisonTable()).contains("| validation | calibrated-mean | stacked (chosen) |")
                .contains("sensitivity (suspected or indeterminate)");
        // the settings survive JSON unchanged, so the published numbers are the fitted ones
        assertThat(chosen.toJson()).contains("\"stacked.auc\"");
    }

    @Test
    void refusesWhatCannotBeFit() {
        boolean[] none = new boolean[10];
        List<ModelValidationScores> m = List.of(new ModelValidationScores("mobilenet", "v", new float[10]));
        assertThatThrownBy(() -> EnsembleFitting.fit(m, none, Combination.STACKED, 0.95, 0.95, null, null))
                .hasMessageContaining("no COVID-19 image");
        boolean[] y = new boolean[11];
        y[0] = true;
        assertThatThrownBy(() -> EnsembleFitting.fit(m, y, Combination.STACKED, 0.95, 0.95, null, null))
                .hasMessageContaining("scored 10 validation images, expected 11");
    }

    private static Candidate candidate(long indeterminate, double sensitivity, double specificity) {
        return new Candidate(null, new float[0], 100, 20, indeterminate, sensitivity, specificity, 0.9, 0.05);
    }

    @Test
    void bestPicksTheMostSpecificCombinationThatKeepsTheSensitivity() {
        Combination mean = Combination.CALIBRATED_MEAN;
        Combination stack = Combination.STACKED;
        assertThat(EnsembleFitting.best(Map.of(mean, candidate(5, 0.96, 0.80), stack, candidate(5, 0.96, 0.90)), 0.95))
                .isEqualTo(stack);
        // more specific but below the target sensitivity: not a screening band
        assertThat(EnsembleFitting.best(Map.of(mean, candidate(5, 0.96, 0.80), stack, candidate(5, 0.93, 0.99)), 0.95))
                .isEqualTo(mean);
        // equal specificity: fewer indeterminate studies for the radiologist
        assertThat(EnsembleFitting.best(Map.of(mean, candidate(9, 0.96, 0.85), stack, candidate(3, 0.96, 0.85)), 0.95))
                .isEqualTo(stack);
        // a full tie: the calibrated mean, which fits fewer parameters
        assertThat(EnsembleFitting.best(Map.of(stack, candidate(3, 0.96, 0.85), mean, candidate(3, 0.96, 0.85)), 0.95))
                .isEqualTo(mean);
    }

    @Test
    void withoutAChoiceTheBestCombinationIsPublishedWithItsOwnBand() {
        boolean[] y = new boolean[N];
        List<ModelValidationScores> models = models(y, 13);
        EnsembleFitting.Result result = EnsembleFitting.fit(models, y, EnsembleFitting.choice("best"), 0.95, 0.95,
                null, "cmd");
        Combination best = EnsembleFitting.best(result.candidates(), 0.95);
        assertThat(result.chosen().combination()).isEqualTo(best);
        assertThat(result.chosen().indeterminateLow())
                .isEqualTo(result.candidates().get(best).settings().indeterminateLow());
        assertThat(EnsembleFitting.choice("stacked")).isEqualTo(Combination.STACKED);
        assertThatThrownBy(() -> EnsembleFitting.choice("median")).isInstanceOf(IllegalArgumentException.class);
    }
}
