package org.xrayscreening.connectors.event;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Base64;

/**
 * A record that could not be processed, on {@code xray.dead-letter}: why, the original bytes (base64) and
 * where they came from, so it can be replayed once fixed.
 *
 * @param key the original Kafka key as UTF-8 text, or null
 * @param originalValueBase64 the original value bytes, base64, or null if there were none
 */
public record DeadLetter(
        int schemaVersion,
        DeadLetterReason reason,
        String detail,
        String sourceTopic,
        int partition,
        long offset,
        String key,
        String originalValueBase64,
        Instant failedAt) {

    /** A dead letter for the record at {@code topic/partition/offset} holding {@code key} and {@code value}. */
    public static DeadLetter of(DeadLetterReason reason, String detail, String topic, int partition, long offset,
                                byte[] key, byte[] value, Instant failedAt) {
        return new DeadLetter(EventCodec.SCHEMA_VERSION, reason, detail, topic, partition, offset,
                key == null ? null : new String(key, StandardCharsets.UTF_8),
                value == null ? null : Base64.getEncoder().encodeToString(value), failedAt);
    }

    /** The original value bytes, or null. */
    public byte[] originalValue() {
        return originalValueBase64 == null ? null : Base64.getDecoder().decode(originalValueBase64);
    }

    /** Without the original bytes (they may hold a patient reference). */
    @Override
    public String toString() {
        return "DeadLetter[schemaVersion=" + schemaVersion + ", reason=" + reason + ", detail=" + detail
                + ", source=" + sourceTopic + "/" + partition + "@" + offset + ", failedAt=" + failedAt + "]";
    }
}
