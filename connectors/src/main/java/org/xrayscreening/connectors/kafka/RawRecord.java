package org.xrayscreening.connectors.kafka;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Arrays;
import java.util.Objects;

import org.xrayscreening.connectors.event.DeadLetter;
import org.xrayscreening.connectors.event.DeadLetterReason;
import org.xrayscreening.connectors.event.InvalidEventException;

/**
 * A Kafka record as read, not yet parsed: key and value bytes and where they came from. Parsing happens later
 * in the job, so a failure can go to the dead-letter topic with the original bytes and coordinates
 * ({@link #toDeadLetter}). A Flink POJO (public no-arg constructor, getters and setters), serialized by
 * Flink's PojoSerializer rather than Kryo.
 */
public class RawRecord {

    private byte[] key;
    private byte[] value;
    private String topic;
    private int partition;
    private long offset;
    private long timestamp;

    /** For Flink. */
    public RawRecord() {
    }

    public RawRecord(byte[] key, byte[] value, String topic, int partition, long offset, long timestamp) {
        this.key = key;
        this.value = value;
        this.topic = topic;
        this.partition = partition;
        this.offset = offset;
        this.timestamp = timestamp;
    }

    public byte[] getKey() {
        return key;
    }

    public void setKey(byte[] key) {
        this.key = key;
    }

    public byte[] getValue() {
        return value;
    }

    public void setValue(byte[] value) {
        this.value = value;
    }

    public String getTopic() {
        return topic;
    }

    public void setTopic(String topic) {
        this.topic = topic;
    }

    public int getPartition() {
        return partition;
    }

    public void setPartition(int partition) {
        this.partition = partition;
    }

    public long getOffset() {
        return offset;
    }

    public void setOffset(long offset) {
        this.offset = offset;
    }

    /** The Kafka record timestamp, epoch milliseconds. */
    public long getTimestamp() {
        return timestamp;
    }

    public void setTimestamp(long timestamp) {
        this.timestamp = timestamp;
    }

    /** The key as UTF-8 text, or null. */
    public String keyAsString() {
        return key == null ? null : new String(key, StandardCharsets.UTF_8);
    }

    /** A dead letter for this record, carrying its bytes and coordinates. */
    public DeadLetter toDeadLetter(DeadLetterReason reason, String detail, Instant failedAt) {
        return DeadLetter.of(reason, detail, topic, partition, offset, key, value, failedAt);
    }

    /** A dead letter for this record from a parse or image failure. */
    public DeadLetter toDeadLetter(InvalidEventException e, Instant failedAt) {
        return toDeadLetter(e.reason(), e.detail(), failedAt);
    }

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        if (!(o instanceof RawRecord r)) {
            return false;
        }
        return partition == r.partition && offset == r.offset && timestamp == r.timestamp
                && Objects.equals(topic, r.topic) && Arrays.equals(key, r.key) && Arrays.equals(value, r.value);
    }

    @Override
    public int hashCode() {
        return Objects.hash(topic, partition, offset);
    }

    /** Coordinates and sizes only: the bytes may hold a patient reference. */
    @Override
    public String toString() {
        return "RawRecord[" + topic + "/" + partition + "@" + offset + ", ts=" + timestamp + ", key="
                + (key == null ? "null" : key.length + " bytes") + ", value="
                + (value == null ? "null" : value.length + " bytes") + "]";
    }
}
