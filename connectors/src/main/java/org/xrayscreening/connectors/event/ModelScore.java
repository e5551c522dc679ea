package org.xrayscreening.connectors.event;

/**
 * One model's output for one study.
 *
 * @param model architecture id, e.g. {@code mobilenet}, {@code resnet50}
 * @param version the exact registry version that produced the score
 * @param probability P(covid) in [0, 1]
 * @param inferenceMillis time spent in the model
 */
public record ModelScore(String model, String version, double probability, double inferenceMillis) {
}
