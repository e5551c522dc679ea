package org.xrayscreening.stream.ensemble;

import java.io.Serializable;
import java.util.List;
import org.xrayscreening.connectors.event.Decision;

/**
 * How the four model probabilities become one decision. A recommendation, not a diagnosis: when the evidence
 * is weak the policy says INDETERMINATE rather than guessing, so a clinician looks at the case.
 *
 * <ul>
 *   <li>ensemble probability = mean of the probabilities of the models that answered;
 *   <li>INDETERMINATE when it lies within {@code band} of the threshold ("near threshold"), when the models
 *       disagree (some at or above the threshold, some below, spread larger than {@code maxDisagreement}),
 *       or when fewer than {@code minModels} answered;
 *   <li>otherwise COVID_SUSPECTED at or above the threshold, NO_COVID_FINDINGS below.
 * </ul>
 */
public record EnsemblePolicy(double threshold, double band, double maxDisagreement, int minModels)
        implements Serializable {

    public static EnsemblePolicy defaults() {
        return new EnsemblePolicy(0.5, 0.1, 0.5, 2);
    }

    public EnsemblePolicy {
        if (threshold <= 0 || threshold >= 1) {
            throw new IllegalArgumentException("threshold must be in (0, 1), was " + threshold);
        }
        if (band < 0 || band >= 0.5) {
            throw new IllegalArgumentException("band must be in [0, 0.5), was " + band);
        }
        if (minModels < 1) {
            throw new IllegalArgumentException("minModels must be >= 1, was " + minModels);
        }
    }

    public double indeterminateLow() {
        return Math.max(0.0, threshold - band);
    }

    public double indeterminateHigh() {
        return Math.min(1.0, threshold + band);
    }

    public Outcome decide(List<Double> probabilities) {
        if (probabilities.size() < minModels) {
            double mean = probabilities.isEmpty() ? Double.NaN : mean(probabilities);
            return new Outcome(Decision.INDETERMINATE, mean,
                    "only " + probabilities.size() + " model(s) answered, " + minModels + " needed");
        }
        double mean = mean(probabilities);
        double min = probabilities.stream().mapToDouble(Double::doubleValue).min().orElseThrow();
        double max = probabilities.stream().mapToDouble(Double::doubleValue).max().orElseThrow();
        if (min < threshold && max >= threshold && max - min > maxDisagreement) {
            return new Outcome(Decision.INDETERMINATE, mean, "models disagree");
        }
        if (mean > indeterminateLow() && mean < indeterminateHigh()) {
            return new Outcome(Decision.INDETERMINATE, mean, "near threshold");
        }
        if (mean >= threshold) {
            return new Outcome(Decision.COVID_SUSPECTED, mean, "above threshold");
        }
        return new Outcome(Decision.NO_COVID_FINDINGS, mean, "below threshold");
    }

    private static double mean(List<Double> values) {
        return values.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
    }

    public record Outcome(Decision decision, double probability, String reason) {}
}
