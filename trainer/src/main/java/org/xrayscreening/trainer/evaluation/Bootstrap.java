package org.xrayscreening.trainer.evaluation;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.xrayscreening.trainer.dataset.DatasetEntry;

/**
 * Percentile bootstrap intervals for metrics of scored images, resampling <b>patients</b>, not images: several
 * images of one patient are not independent evidence, and resampling them one by one would give intervals that
 * are too narrow. Patients (groups of {@link DatasetEntry#groupKey()}) are drawn with replacement separately
 * among COVID-19 patients (a patient with any COVID-19 image) and the others, each stratum keeping its size, so
 * every replicate holds both classes whenever the sample does (a rate or an AUC is defined in each replicate).
 *
 * <p>Every interval starts from the same seed, so the models and sources of one report are resampled with the
 * same patient draws (common random numbers), and a rerun reproduces every interval exactly.
 */
public final class Bootstrap {
    /** A metric of a sample: scores aligned with true labels (COVID-19 = true). NaN when undefined. */
    @FunctionalInterface
    public interface Statistic {
        double of(float[] scores, boolean[] positive);
    }

    /**
     * A point estimate with its 95% percentile interval over {@code replicates} draws ({@code defined} of them
     * gave a finite value). Bounds are NaN when the point estimate is undefined.
     */
    public record Interval(double estimate, double low, double high, int replicates, int defined) {
        public boolean contains(double v) {
            return v >= low && v <= high;
        }

        public double width() {
            return high - low;
        }

        public static Interval undefined(int replicates) {
            return new Interval(Double.NaN, Double.NaN, Double.NaN, replicates, 0);
        }
    }

    public static final int DEFAULT_REPLICATES = 1000;
    public static final long DEFAULT_SEED = 20260101L;
    static final double ALPHA = 0.05;

    private final int replicates;
    private final long seed;

    public Bootstrap(int replicates, long seed) {
        if (replicates < 1) {
            throw new IllegalArgumentException("bootstrap replicates must be >= 1: " + replicates);
        }
        this.replicates = replicates;
        this.seed = seed;
    }

    public int replicates() {
        return replicates;
    }

    public long seed() {
        return seed;
    }

    public Interval interval(List<DatasetEntry> entries, float[] scores, Statistic statistic) {
        if (entries.size() != scores.length) {
            throw new IllegalArgumentException("scores and entries differ in length");
        }
        boolean[] positive = ModelEvaluation.positives(entries);
        double estimate = statistic.of(scores, positive);
        if (!Double.isFinite(estimate)) {
            return Interval.undefined(replicates);
        }
        Map<String, List<Integer>> groups = new LinkedHashMap<>();
        for (int i = 0; i < entries.size(); i++) {
            groups.computeIfAbsent(entries.get(i).groupKey(), k -> new ArrayList<>()).add(i);
        }
        List<int[]> covidGroups = new ArrayList<>();
        List<int[]> otherGroups = new ArrayList<>();
        for (List<Integer> g : groups.values()) {
            int[] idx = g.stream().mapToInt(Integer::intValue).toArray();
            boolean covid = g.stream().anyMatch(i -> positive[i]);
            (covid ? covidGroups : otherGroups).add(idx);
        }
        SplittableRandom random = new SplittableRandom(seed);
        double[] values = new double[replicates];
        int defined = 0;
        int[] sample = new int[Math.max(16, entries.size() * 2)];
        for (int r = 0; r < replicates; r++) {
            int n = 0;
            for (List<int[]> stratum : List.of(covidGroups, otherGroups)) {
                for (int k = 0; k < stratum.size(); k++) {
                    int[] g = stratum.get(random.nextInt(stratum.size()));
                    if (n + g.length > sample.length) {
                        sample = Arrays.copyOf(sample, Math.max(sample.length * 2, n + g.length));
                    }
                    System.arraycopy(g, 0, sample, n, g.length);
                    n += g.length;
                }
            }
            float[] s = new float[n];
            boolean[] p = new boolean[n];
            for (int i = 0; i < n; i++) {
                s[i] = scores[sample[i]];
                p[i] = positive[sample[i]];
            }
            double v = statistic.of(s, p);
            if (Double.isFinite(v)) {
                values[defined++] = v;
            }
        }
        if (defined == 0) {
            return new Interval(estimate, Double.NaN, Double.NaN, replicates, 0);
        }
        double[] sorted = Arrays.copyOf(values, defined);
        Arrays.sort(sorted);
        return new Interval(estimate, quantile(sorted, ALPHA / 2), quantile(sorted, 1 - ALPHA / 2), replicates, defined);
    }

    /** Linear interpolation between order statistics (numpy's default "linear" method). */
    static double quantile(double[] sorted, double q) {
        double pos = q * (sorted.length - 1);
        int lo = (int) Math.floor(pos);
        int hi = Math.min(lo + 1, sorted.length - 1);
        return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
    }

    /** ROC AUC. */
    public static Statistic auc() {
        return (s, p) -> RocCurve.of(s, p).auc();
    }

    /** Sensitivity (TP / (TP + FN)) at a fixed threshold. */
    public static Statistic sensitivityAt(double threshold) {
        return (s, p) -> ConfusionMatrix.at(s, p, threshold).recall();
    }

    /** Specificity (TN / (TN + FP)) at a fixed threshold. */
    public static Statistic specificityAt(double threshold) {
        return (s, p) -> ConfusionMatrix.at(s, p, threshold).specificity();
    }
}
