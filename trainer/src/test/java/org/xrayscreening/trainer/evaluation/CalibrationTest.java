package org.xrayscreening.trainer.evaluation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.Random;
import org.junit.jupiter.api.Test;

class CalibrationTest {
    @Test
    void overconfidentBinByHand() {
        // every image scored 0.9 and every one COVID-19: one bin, |1.0 - 0.9| = 0.1; Brier (0.1)^2
        Calibration c = Calibration.of(new float[] {0.9f, 0.9f, 0.9f, 0.9f}, new boolean[] {true, true, true, true}, 10);
        assertThat(c.bins()).hasSize(1);
        assertThat(c.bins().get(0).low()).isCloseTo(0.9, within(1e-12));
        assertThat(c.expectedCalibrationError()).isCloseTo(0.1, within(1e-6));
        assertThat(c.brierScore()).isCloseTo(0.01, within(1e-6));
    }

    @Test
    void eceWeighsBinsByTheirImages() {
        // four at 0.25 with one positive (share 0.25: no error), four at 0.75 all positive (error 0.25):
        // ECE = 4/8 * 0 + 4/8 * 0.25 = 0.125
        float[] s = {0.25f, 0.25f, 0.25f, 0.25f, 0.75f, 0.75f, 0.75f, 0.75f};
        boolean[] y = {true, false, false, false, true, true, true, true};
        Calibration c = Calibration.of(s, y, 10);
        assertThat(c.bins()).extracting(Calibration.Bin::images).containsExactly(4, 4);
        assertThat(c.bins()).extracting(Calibration.Bin::observedRate).containsExactly(0.25, 1.0);
        assertThat(c.expectedCalibrationError()).isCloseTo(0.125, within(1e-6));
        // Brier: (0.75^2 + 3 * 0.25^2 + 4 * 0.25^2) / 8 = (0.5625 + 0.4375) / 8 = 0.125
        assertThat(c.brierScore()).isCloseTo(0.125, within(1e-6));
    }

    @Test
    void perfectlyCalibratedScoresHaveAnEceNearZeroAndDistortedOnesDoNot() {
        Random r = new Random(9);
        int n = 200_000;
        float[] p = new float[n];
        float[] distorted = new float[n];
        boolean[] y = new boolean[n];
        for (int i = 0; i < n; i++) {
            p[i] = r.nextFloat();
            y[i] = r.nextDouble() < p[i];
            distorted[i] = (float) Math.sqrt(p[i]); // over-confident for COVID-19
        }
        assertThat(Calibration.of(p, y, 10).expectedCalibrationError()).isLessThan(0.01);
        // E|sqrt(p) - p| over uniform p = 1/6: binning blurs it little
        assertThat(Calibration.of(distorted, y, 10).expectedCalibrationError()).isCloseTo(1.0 / 6, within(0.02));
    }

    @Test
    void oneGoesToTheLastBinAndScoresOutsideTheUnitIntervalAreRefused() {
        Calibration c = Calibration.of(new float[] {1.0f, 0.0f}, new boolean[] {true, false}, 10);
        assertThat(c.bins()).extracting(Calibration.Bin::low).containsExactly(0.0, 0.9);
        assertThat(c.expectedCalibrationError()).isZero();
        assertThatThrownBy(() -> Calibration.of(new float[] {1.2f}, new boolean[] {true}, 10))
                .hasMessageContaining("outside [0, 1]");
        assertThatThrownBy(() -> Calibration.of(new float[] {Float.NaN}, new boolean[] {true}, 10))
                .hasMessageContaining("outside [0, 1]");
    }
}
