package org.xrayscreening.trainer.evaluation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class EnsembleFitTest {
    @Test
    void plattScalingUndoesAKnownDistortion() {
        // truth: P(COVID-19 | z) = sigmoid(z); the model reports sigmoid(2z + 1) (over-confident, shifted).
        // logit(p) = 2z + 1, so the calibrated map is sigmoid(0.5 * logit(p) - 0.5): a = 0.5, b = -0.5
        Random r = new Random(3);
        int n = 40_000;
        float[] p = new float[n];
        boolean[] y = new boolean[n];
        for (int i = 0; i < n; i++) {
            double z = r.nextGaussian() * 1.5;
            y[i] = r.nextDouble() < EnsembleFit.sigmoid(z);
            p[i] = (float) EnsembleFit.sigmoid(2 * z + 1);
        }
        EnsembleFit.Platt platt = EnsembleFit.Platt.fit(p, y);
        assertThat(platt.a()).isCloseTo(0.5, within(0.04));
        assertThat(platt.b()).isCloseTo(-0.5, within(0.06));
        assertThat(Calibration.of(platt.apply(p), y, 10).expectedCalibrationError())
                .isLessThan(0.02).isLessThan(Calibration.of(p, y, 10).expectedCalibrationError() / 3);
    }

    @Test
    void stackingGivesAnUninformativeModelNoWeight() {
        // model A reports the true probability; model B noise unrelated to the label: weights about (1, 0), bias 0
        Random r = new Random(4);
        int n = 40_000;
        float[] a = new float[n];
        float[] b = new float[n];
        boolean[] y = new boolean[n];
        for (int i = 0; i < n; i++) {
            double z = r.nextGaussian() * 2;
            y[i] = r.nextDouble() < EnsembleFit.sigmoid(z);
            a[i] = (float) EnsembleFit.sigmoid(z);
            b[i] = (float) EnsembleFit.sigmoid(r.nextGaussian() * 2);
        }
        EnsembleFit.Stacked s = EnsembleFit.Stacked.fit(List.of(a, b), y);
        assertThat(s.weights()[0]).isCloseTo(1.0, within(0.06));
        assertThat(s.weights()[1]).isCloseTo(0.0, within(0.03));
        assertThat(s.bias()).isCloseTo(0.0, within(0.05));
        // the plain mean is hurt by the noise model; the stacked combination is not
        float[] mean = new float[n];
        for (int i = 0; i < n; i++) {
            mean[i] = (a[i] + b[i]) / 2;
        }
        assertThat(RocCurve.of(s.apply(List.of(a, b)), y).auc()).isGreaterThan(RocCurve.of(mean, y).auc() + 0.02);
    }

    @Test
    void bandByHand() {
        // COVID-19 at 0.3, 0.6, 0.7, 0.8, 0.9; others at 0.1, 0.2, 0.4, 0.5, 0.65. Sensitivity 1.0 needs every
        // COVID-19 image flagged: low = 0.3. Specificity 1.0 needs no other image at or above: high = 0.7
        float[] s = {0.3f, 0.6f, 0.7f, 0.8f, 0.9f, 0.1f, 0.2f, 0.4f, 0.5f, 0.65f};
        boolean[] y = {true, true, true, true, true, false, false, false, false, false};
        EnsembleFit.Band band = EnsembleFit.Band.choose(s, y, 1.0, 1.0);
        assertThat(band.low()).isEqualTo(0.3f);
        assertThat(band.high()).isEqualTo(0.7f);
        EnsembleFit.Outcome o = band.apply(s, y);
        assertThat(o.indeterminate()).isEqualTo(5); // 0.3, 0.6, 0.4, 0.5, 0.65
        assertThat(o.sensitivity()).isEqualTo(1.0);
        assertThat(o.specificity()).isEqualTo(0.4); // only 0.1 and 0.2 are cleared
        // when the sensitivity edge lies above the specificity edge there is no band
        EnsembleFit.Band none = EnsembleFit.Band.choose(s, y, 0.2, 0.6);
        assertThat(none.high()).isEqualTo(none.low());
        assertThat(none.apply(s, y).indeterminate()).isZero();
    }
}
