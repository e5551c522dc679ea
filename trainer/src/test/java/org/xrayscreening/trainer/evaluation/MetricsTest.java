package org.xrayscreening.trainer.evaluation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.Locale;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class MetricsTest {

    /** Table 1 of Sethi et al. 2020: counts and the metrics printed there, to 3 decimals. */
    @ParameterizedTest(name = "{0}")
    @CsvSource({
        "InceptionV3, 73, 1461, 12, 17, 0.981, 0.992, 0.859, 0.811, 0.834",
        "ResNet50, 86, 1203, 4, 270, 0.825, 0.997, 0.956, 0.242, 0.386",
        "MobileNet, 79, 1462, 11, 11, 0.986, 0.993, 0.878, 0.878, 0.878",
        "Xception, 56, 1466, 7, 34, 0.974, 0.995, 0.889, 0.622, 0.732"})
    void paperRows(String model, long tp, long tn, long fp, long fn, String acc, String spec, String prec, String rec,
            String f1) {
        ConfusionMatrix m = new ConfusionMatrix(tp, tn, fp, fn);
        assertThat(r3(m.accuracy())).isEqualTo(acc);
        assertThat(r3(m.specificity())).isEqualTo(spec);
        assertThat(r3(m.precision())).isEqualTo(prec);
        assertThat(r3(m.recall())).isEqualTo(rec);
        assertThat(r3(m.f1())).isEqualTo(f1);
    }

    @Test
    void countsAtThresholdAndUndefinedMetrics() {
        float[] p = {0.9f, 0.5f, 0.49f, 0.2f, 0.7f, 0.1f};
        boolean[] y = {true, true, true, false, false, false};
        ConfusionMatrix m = ConfusionMatrix.at(p, y, 0.5); // >= 0.5 is positive
        assertThat(m).isEqualTo(new ConfusionMatrix(2, 2, 1, 1));
        assertThat(m.accuracy()).isCloseTo(4 / 6.0, within(1e-12));
        assertThat(m.f1()).isCloseTo(4 / 6.0, within(1e-12));
        ConfusionMatrix none = new ConfusionMatrix(0, 5, 0, 0);
        assertThat(none.precision()).isNaN();
        assertThat(none.recall()).isNaN();
        assertThat(none.specificity()).isEqualTo(1.0);
    }

    @Test
    void rocAucMatchesHandComputedPairCountWithTies() {
        // positives 0.9, 0.7, 0.4; negatives 0.8, 0.4, 0.2: pairs won 3 + 2 + (0.5 + 1) = 6.5 of 9
        float[] s = {0.9f, 0.8f, 0.7f, 0.4f, 0.4f, 0.2f};
        boolean[] y = {true, false, true, true, false, false};
        RocCurve roc = RocCurve.of(s, y);
        assertThat(roc.auc()).isCloseTo(6.5 / 9, within(1e-12));
        assertThat(roc.points().get(0).fpr()).isZero();
        RocCurve.Point last = roc.points().get(roc.points().size() - 1);
        assertThat(last.fpr()).isEqualTo(1.0);
        assertThat(last.tpr()).isEqualTo(1.0);
        assertThat(RocCurve.of(new float[] {0.1f, 0.2f}, new boolean[] {true, true}).auc()).isNaN();
        assertThat(RocCurve.of(new float[] {0.9f, 0.1f}, new boolean[] {true, false}).auc()).isEqualTo(1.0);
    }

    @Test
    void thresholdIsTheHighestReachingTheTargetSensitivity() {
        float[] s = {0.95f, 0.9f, 0.8f, 0.6f, 0.3f, 0.7f, 0.5f, 0.2f};
        boolean[] y = {true, true, true, true, true, false, false, false};
        // sensitivity >= 0.8 needs 4 of 5 positives: threshold 0.6
        assertThat(ThresholdChooser.forSensitivity(s, y, 0.8)).isEqualTo(0.6f);
        assertThat(ThresholdChooser.forSensitivity(s, y, 1.0)).isEqualTo(0.3f);
        assertThat(ConfusionMatrix.at(s, y, ThresholdChooser.forSensitivity(s, y, 0.8)).recall()).isGreaterThanOrEqualTo(0.8);
    }

    @Test
    void thresholdForSensitivity95IsTheLargestKeeping19Of20Positives() {
        // positives at 0.81, 0.82, ..., 1.00; negatives spread over [0.05, 0.95]. Sensitivity >= 0.95 needs 19 of
        // the 20 positives at or above the threshold: the largest such threshold is the 19th highest, 0.82
        // (0.83 keeps only 18 = 0.90; 0.815, a negative, lies between and must not be picked)
        float[] s = new float[40];
        boolean[] y = new boolean[40];
        for (int i = 0; i < 20; i++) {
            s[i] = 0.81f + 0.01f * i;
            y[i] = true;
            s[20 + i] = 0.05f + 0.045f * i;
        }
        s[39] = 0.815f;
        assertThat(ThresholdChooser.forSensitivity(s, y, 0.95)).isEqualTo(0.82f);
        assertThat(ConfusionMatrix.at(s, y, 0.82f).recall()).isEqualTo(0.95);
        assertThat(ConfusionMatrix.at(s, y, 0.83f).recall()).isEqualTo(0.90);
    }

    private static String r3(double v) {
        return String.format(Locale.ROOT, "%.3f", v);
    }
}
