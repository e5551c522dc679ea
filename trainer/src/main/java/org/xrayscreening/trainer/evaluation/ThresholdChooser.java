package org.xrayscreening.trainer.evaluation;

/**
 * Picks the decision threshold for a target sensitivity on a validation set: the highest threshold (so the
 * fewest false positives) at which at least {@code targetSensitivity} of the COVID-19 images are called
 * positive. With no positives it falls back to 0.5.
 */
public final class ThresholdChooser {
    private ThresholdChooser() {}

    public static double forSensitivity(float[] scores, boolean[] positive, double targetSensitivity) {
        if (!(targetSensitivity > 0 && targetSensitivity <= 1)) {
            throw new IllegalArgumentException("target sensitivity must be in (0, 1]: " + targetSensitivity);
        }
        double best = Double.NaN;
        for (RocCurve.Point p : RocCurve.of(scores, positive).points()) {
            if (!Double.isNaN(p.tpr()) && p.tpr() >= targetSensitivity && Double.isFinite(p.threshold())) {
                best = p.threshold();
                break; // points go from the highest threshold down
            }
        }
        return Double.isNaN(best) ? 0.5 : best;
    }
}
