package org.xrayscreening.connectors.kafka;

import java.io.Serializable;
import java.util.List;
import java.util.Objects;

/**
 * The names of the project's topics. {@link #DEFAULTS} holds the standard names; {@link #withPrefix(String)}
 * gives a set that does not collide with others on the same broker (tests, several demos).
 */
public record KafkaTopics(
        String acquired,
        String recommendations,
        String alerts,
        String deadLetter,
        String labelled,
        String modelUpdates,
        String modelStatus) implements Serializable {

    public static final KafkaTopics DEFAULTS = new KafkaTopics("xray.acquired", "xray.recommendations",
            "xray.alerts", "xray.dead-letter", "xray.labelled", "xray.model-updates", "xray.model-status");

    public KafkaTopics {
        Objects.requireNonNull(acquired, "acquired");
        Objects.requireNonNull(recommendations, "recommendations");
        Objects.requireNonNull(alerts, "alerts");
        Objects.requireNonNull(deadLetter, "deadLetter");
        Objects.requireNonNull(labelled, "labelled");
        Objects.requireNonNull(modelUpdates, "modelUpdates");
        Objects.requireNonNull(modelStatus, "modelStatus");
    }

    /** {@link #DEFAULTS}. */
    public static KafkaTopics defaults() {
        return DEFAULTS;
    }

    /** Every name prefixed, e.g. {@code withPrefix("t1.")} gives {@code t1.xray.acquired}, ... */
    public KafkaTopics withPrefix(String prefix) {
        return new KafkaTopics(prefix + acquired, prefix + recommendations, prefix + alerts, prefix + deadLetter,
                prefix + labelled, prefix + modelUpdates, prefix + modelStatus);
    }

    /** All seven names. */
    public List<String> all() {
        return List.of(acquired, recommendations, alerts, deadLetter, labelled, modelUpdates, modelStatus);
    }

    /** As an array, for {@code EmbeddedKafka.createTopics(partitions, topics.allArray())}. */
    public String[] allArray() {
        return all().toArray(String[]::new);
    }
}
