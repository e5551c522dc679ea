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

    /**
     * Largest original value carried in a dead letter. Base64 makes it 4/3 larger: 512 KiB becomes ~683 KiB,
     * which with the rest of the dead letter stays under Kafka's default 1 MiB record limit (producer
     * {@code max.request.size}, broker {@code message.max.bytes}). A larger input record (possible when the
     * source topic allows it) would make the dead-letter sink fail, and the job restart, on every replay of the
     * same record: a poison pill found by the bad-input corpus.
     */
    public static final int MAX_ORIGINAL_VALUE_BYTES = 512 * 1024;
    /** Longest original key carried (a Kafka key is normally a studyId of at most 256 characters). */
    public static final int MAX_ORIGINAL_KEY_BYTES = 1024;

    /**
     * A dead letter for the record at {@code topic/partition/offset} holding {@code key} and {@code value}. A
     * value over {@link #MAX_ORIGINAL_VALUE_BYTES} or a key over {@link #MAX_ORIGINAL_KEY_BYTES} is left out
     * (null) and the detail says so, with its size and SHA-256: the record stays readable at its coordinates.
     */
    public static DeadLetter of(DeadLetterReason reason, String detail, String topic, int partition, long offset,
                                byte[] key, byte[] value, Instant failedAt) {
        String note = "";
        if (value != null && value.length > MAX_ORIGINAL_VALUE_BYTES) {
            note += "; original value (" + value.length + " bytes, sha256 " + sha256(value) + ") left out: over "
                    + MAX_ORIGINAL_VALUE_BYTES + " bytes, read it at its source offset";
            value = null;
        }
        if (key != null && key.length > MAX_ORIGINAL_KEY_BYTES) {
            note += "; original key (" + key.length + " bytes) left out: over " + MAX_ORIGINAL_KEY_BYTES + " bytes";
            key = null;
        }
        return new DeadLetter(EventCodec.SCHEMA_VERSION, reason, detail + note, topic, partition, offset,
                key == null ? null : new String(key, StandardCharsets.UTF_8),
                value == null ? null : Base64.getEncoder().encodeToString(value), failedAt);
    }

    private static String sha256(byte[] b) {
        try {
            return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(b));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every JDK", e);
        }
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
