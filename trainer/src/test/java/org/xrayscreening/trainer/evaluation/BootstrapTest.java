package org.xrayscreening.trainer.evaluation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.xrayscreening.trainer.dataset.DatasetEntry;
import org.xrayscreening.trainer.dataset.Label;

class BootstrapTest {
    private static final Bootstrap BOOTSTRAP = new Bootstrap(1000, 11);

    /** Scored images: {@code positives} COVID-19 then {@code negatives} others, each its own patient. */
    private record Sample(List<DatasetEntry> entries, float[] scores) {}

    private static Sample separated(int positives, int negatives, long seed, int imagesPerPatient) {
        Random r = new Random(seed);
        List<DatasetEntry> entries = new ArrayList<>();
        List<Float> scores = new ArrayList<>();
        for (int i = 0; i < positives + negatives; i++) {
            boolean covid = i < positives;
            // overlapping classes: AUC about 0.85, so it can move in both directions
            float s = (float) (1 / (1 + Math.exp(-(r.nextGaussian() + (covid ? 1.5 : 0)))));
            for (int k = 0; k < imagesPerPatient; k++) {
                entries.add(entry("img" + i + "-" + k, covid, "p" + i));
                scores.add(s);
            }
        }
        float[] a = new float[scores.size()];
        for (int i = 0; i < a.length; i++) {
            a[i] = scores.get(i);
        }
        return new Sample(entries, a);
    }

    static DatasetEntry entry(String name, boolean covid, String patient) {
        return new DatasetEntry(name, Path.of(name), covid ? Label.COVID : Label.NON_COVID, patient, null);
    }

    @Test
    void intervalContainsThePointEstimateAndShrinksWithTheSampleSize() {
        Sample small = separated(50, 50, 1, 1);
        Sample large = separated(800, 800, 2, 1);
        Bootstrap.Interval a = BOOTSTRAP.interval(small.entries(), small.scores(), Bootstrap.auc());
        Bootstrap.Interval b = BOOTSTRAP.interval(large.entries(), large.scores(), Bootstrap.auc());
        assertThat(a.estimate()).isEqualTo(RocCurve.of(small.scores(), ModelEvaluation.positives(small.entries())).auc());
        assertThat(a.contains(a.estimate())).isTrue();
        assertThat(b.contains(b.estimate())).isTrue();
        assertThat(a.defined()).isEqualTo(1000);
        // 16 times the patients: the width falls by about sqrt(16) = 4
        assertThat(a.width() / b.width()).isBetween(2.8, 5.5);
    }

    @Test
    void sensitivityIntervalHasTheBinomialWidth() {
        // 400 COVID-19 patients, 320 of them above the threshold: sensitivity 0.8, standard error
        // sqrt(0.8 * 0.2 / 400) = 0.02, so a 95% interval about 2 * 1.96 * 0.02 = 0.078 wide around 0.8
        List<DatasetEntry> entries = new ArrayList<>();
        float[] scores = new float[800];
        for (int i = 0; i < 800; i++) {
            boolean covid = i < 400;
            entries.add(entry("i" + i, covid, "p" + i));
            scores[i] = covid ? (i < 320 ? 0.9f : 0.1f) : 0.2f;
        }
        Bootstrap.Interval s = BOOTSTRAP.interval(entries, scores, Bootstrap.sensitivityAt(0.5));
        assertThat(s.estimate()).isEqualTo(0.8);
        assertThat(s.width()).isCloseTo(0.078, within(0.012));
        assertThat((s.low() + s.high()) / 2).isCloseTo(0.8, within(0.01));
        Bootstrap.Interval spec = BOOTSTRAP.interval(entries, scores, Bootstrap.specificityAt(0.5));
        assertThat(spec.estimate()).isEqualTo(1.0);
        assertThat(spec.low()).isEqualTo(1.0); // every draw of all-negative-below-threshold patients is 1
    }

    @Test
    void resamplesPatientsNotImages() {
        // ten identical images per patient carry the information of one image: the interval must be as wide
        // as with one image per patient, not sqrt(10) narrower as if the copies were independent
        Sample perPatient = separated(60, 60, 3, 1);
        Sample tenCopies = separated(60, 60, 3, 10);
        List<DatasetEntry> independent = new ArrayList<>();
        for (DatasetEntry e : tenCopies.entries()) {
            independent.add(entry(e.name(), e.label().isCovid(), e.name()));
        }
        double one = BOOTSTRAP.interval(perPatient.entries(), perPatient.scores(), Bootstrap.auc()).width();
        double grouped = BOOTSTRAP.interval(tenCopies.entries(), tenCopies.scores(), Bootstrap.auc()).width();
        double ungrouped = BOOTSTRAP.interval(independent, tenCopies.scores(), Bootstrap.auc()).width();
        assertThat(grouped / one).isBetween(0.8, 1.25);
        assertThat(grouped / ungrouped).isGreaterThan(2.2);
    }

    @Test
    void sameSeedSameIntervalAndUndefinedWithoutTheNeededClass() {
        Sample s = separated(30, 30, 4, 1);
        assertThat(new Bootstrap(300, 5).interval(s.entries(), s.scores(), Bootstrap.auc()))
                .isEqualTo(new Bootstrap(300, 5).interval(s.entries(), s.scores(), Bootstrap.auc()));
        assertThat(new Bootstrap(300, 6).interval(s.entries(), s.scores(), Bootstrap.auc()))
                .isNotEqualTo(new Bootstrap(300, 5).interval(s.entries(), s.scores(), Bootstrap.auc()));
        List<DatasetEntry> negativesOnly = s.entries().subList(30, 60);
        float[] negScores = java.util.Arrays.copyOfRange(s.scores(), 30, 60);
        Bootstrap.Interval auc = BOOTSTRAP.interval(negativesOnly, negScores, Bootstrap.auc());
        assertThat(auc.estimate()).isNaN();
        assertThat(auc.low()).isNaN();
        assertThat(BOOTSTRAP.interval(negativesOnly, negScores, Bootstrap.sensitivityAt(0.5)).estimate()).isNaN();
        assertThat(BOOTSTRAP.interval(negativesOnly, negScores, Bootstrap.specificityAt(0.5)).defined()).isEqualTo(1000);
    }

    @Test
    void quantileInterpolatesBetweenOrderStatistics() {
        double[] v = {1, 2, 3, 4, 5};
        assertThat(Bootstrap.quantile(v, 0)).isEqualTo(1);
        assertThat(Bootstrap.quantile(v, 0.5)).isEqualTo(3);
        assertThat(Bootstrap.quantile(v, 0.125)).isEqualTo(1.5);
        assertThat(Bootstrap.quantile(v, 1)).isEqualTo(5);
    }
}
