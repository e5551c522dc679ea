package org.xrayscreening.trainer.evaluation;

import java.util.ArrayList;
import java.util.List;

/**
 * How far P(COVID-19) can be read as a probability: the scores are put into equal-width bins over [0, 1]; in a
 * calibrated model each bin's share of COVID-19 images equals its mean score. The expected calibration error
 * (ECE, Guo et al. 2017) is the image-weighted mean of |share - mean score| over the bins; the Brier score is
 * the mean squared difference between score and label (0 = perfect), which needs no binning.
 *
 * @param bins the non-empty bins, lowest first
 */
public record Calibration(List<Bin> bins, int binCount, int images, double expectedCalibrationError, double brierScore) {
    public static final int DEFAULT_BINS = 10;

    /** Scores in [{@code low}, {@code high}) (the last bin includes 1.0). */
    public record Bin(double low, double high, int images, double meanScore, double observedRate) {}

    public Calibration {
        bins = List.copyOf(bins);
    }

    public static Calibration of(float[] scores, boolean[] positive, int binCount) {
        if (scores.length != positive.length) {
            throw new IllegalArgumentException("length mismatch");
        }
        if (binCount < 1) {
            throw new IllegalArgumentException("at least one bin is needed: " + binCount);
        }
        int[] n = new int[binCount];
        double[] scoreSum = new double[binCount];
        int[] pos = new int[binCount];
        double brier = 0;
        for (int i = 0; i < scores.length; i++) {
            float s = scores[i];
            if (!(s >= 0 && s <= 1)) {
                throw new IllegalArgumentException("score outside [0, 1] at image " + i + ": " + s);
            }
            int b = Math.min(binCount - 1, (int) (s * binCount));
            n[b]++;
            scoreSum[b] += s;
            if (positive[i]) {
                pos[b]++;
            }
            double d = s - (positive[i] ? 1 : 0);
            brier += d * d;
        }
        List<Bin> bins = new ArrayList<>();
        double ece = 0;
        for (int b = 0; b < binCount; b++) {
            if (n[b] == 0) {
                continue;
            }
            double mean = scoreSum[b] / n[b];
            double rate = (double) pos[b] / n[b];
            bins.add(new Bin((double) b / binCount, (double) (b + 1) / binCount, n[b], mean, rate));
            ece += (double) n[b] / scores.length * Math.abs(rate - mean);
        }
        int total = scores.length;
        return new Calibration(bins, binCount, total, total == 0 ? Double.NaN : ece,
                total == 0 ? Double.NaN : brier / total);
    }

    /** ECE as a bootstrap statistic (for intervals). */
    public static Bootstrap.Statistic ece(int binCount) {
        return (s, p) -> of(s, p, binCount).expectedCalibrationError();
    }
}
