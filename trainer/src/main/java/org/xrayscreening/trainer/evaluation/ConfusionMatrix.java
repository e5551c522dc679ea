package org.xrayscreening.trainer.evaluation;

/**
 * Counts of a binary decision, COVID-19 being the positive class, and the paper's Table 1 metrics derived
 * from them. A metric whose denominator is zero is reported as NaN (undefined), not as 0 or 1.
 */
public record ConfusionMatrix(long tp, long tn, long fp, long fn) {
    public ConfusionMatrix {
        if (tp < 0 || tn < 0 || fp < 0 || fn < 0) {
            throw new IllegalArgumentException("negative count");
        }
    }

    /** Positive when {@code probability >= threshold}; {@code positive[i]} is the true label. */
    public static ConfusionMatrix at(float[] probabilities, boolean[] positive, double threshold) {
        if (probabilities.length != positive.length) {
            throw new IllegalArgumentException("length mismatch");
        }
        long tp = 0;
        long tn = 0;
        long fp = 0;
        long fn = 0;
        for (int i = 0; i < probabilities.length; i++) {
            boolean predicted = probabilities[i] >= threshold;
            if (positive[i]) {
                if (predicted) {
                    tp++;
                } else {
                    fn++;
                }
            } else if (predicted) {
                fp++;
            } else {
                tn++;
            }
        }
        return new ConfusionMatrix(tp, tn, fp, fn);
    }

    public long total() {
        return tp + tn + fp + fn;
    }

    public long positives() {
        return tp + fn;
    }

    public long negatives() {
        return tn + fp;
    }

    public double accuracy() {
        return ratio(tp + tn, total());
    }

    /** TN / (TN + FP). */
    public double specificity() {
        return ratio(tn, tn + fp);
    }

    /** TP / (TP + FP). */
    public double precision() {
        return ratio(tp, tp + fp);
    }

    /** Sensitivity, TP / (TP + FN). */
    public double recall() {
        return ratio(tp, tp + fn);
    }

    /** Harmonic mean of precision and recall, 2TP / (2TP + FP + FN). */
    public double f1() {
        return ratio(2 * tp, 2 * tp + fp + fn);
    }

    private static double ratio(long a, long b) {
        return b == 0 ? Double.NaN : (double) a / b;
    }
}
