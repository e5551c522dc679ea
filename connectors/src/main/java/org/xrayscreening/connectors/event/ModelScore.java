package org.xrayscreening.connectors.event;

/**
 * One model's output for one study.
 *
 * @param model architecture id, e.g. {@code mobilenet}, {@code resnet50}
 * @param version the exact registry version that produced the score
 * @param probability P(covid) in [0, 1]
 * @param inferenceMillis time spent in the model
 * @param threshold the version's own decision threshold (registry metadata {@code decisionThreshold}, chosen on
 *     its validation split): this model calls the study COVID-19 at {@code probability >= threshold}. Optional,
 *     added in place in schema version 1 (absent in older events; readers then fall back to the ensemble
 *     threshold)
 */
public record ModelScore(String model, String version, double probability, double inferenceMillis, Double threshold) {

    /** A score without the model's own threshold (as events written before it was recorded). */
    public ModelScore(String model, String version, double probability, double inferenceMillis) {
        this(model, version, probability, inferenceMillis, null);
    }

    /** This model's own call, at its threshold; {@code fallback} when the event does not carry one. */
    public boolean calledCovid(double fallback) {
        return probability >= (threshold != null ? threshold : fallback);
    }
}
