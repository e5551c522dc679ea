package org.xrayscreening.connectors.event;

import java.time.Instant;

/**
 * What a model operator did with a {@link ModelUpdate}, on {@code xray.model-status}: one event per operator
 * subtask, so an engineer can see that every instance switched (or why one refused). Kafka key: the model.
 *
 * @param status SERVING (switched, or already serving) or REJECTED (the previous version keeps serving)
 * @param previousVersion the version served before the update
 * @param detail why a version was rejected (checksum mismatch, load failure, ...), or null
 * @param subtask index of the operator subtask that reports
 */
public record ModelStatus(
        int schemaVersion,
        String model,
        String version,
        Status status,
        String previousVersion,
        String detail,
        int subtask,
        long loadMillis,
        Instant at) {

    public enum Status { SERVING, REJECTED }
}
