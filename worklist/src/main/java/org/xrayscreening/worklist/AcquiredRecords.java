package org.xrayscreening.worklist;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.xrayscreening.connectors.event.EventCodec;
import org.xrayscreening.connectors.event.InvalidEventException;
import org.xrayscreening.connectors.event.XrayAcquired;

/**
 * Reads one {@code xray.acquired} record back by its position (the worklist keeps positions, not images): the
 * study's image reference, patient reference and acquisition details, validated as the stream job validates
 * them. One consumer, used by one request at a time.
 */
public final class AcquiredRecords implements AutoCloseable {
    private final KafkaConsumer<String, byte[]> consumer;
    private final EventCodec codec = new EventCodec();

    public AcquiredRecords(Map<String, Object> kafkaConfig) {
        Map<String, Object> c = TopicFollower.consumerConfig(kafkaConfig);
        c.put("max.poll.records", 1);
        this.consumer = new KafkaConsumer<>(c);
    }

    /** The acquisition record of {@code studyId} at {@code location}. */
    public synchronized XrayAcquired read(String studyId, WorklistState.Location location) throws WorklistException {
        TopicPartition tp = new TopicPartition(location.topic(), location.partition());
        consumer.assign(List.of(tp));
        consumer.seek(tp, location.offset());
        long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
        while (System.nanoTime() < deadline) {
            for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(500))) {
                if (r.offset() != location.offset()) {
                    break; // the record is gone (compacted or deleted by retention)
                }
                XrayAcquired acquired;
                try {
                    acquired = codec.parseAcquired(r.value());
                } catch (InvalidEventException e) {
                    throw new WorklistException(409, "The study's acquisition record is not valid ("
                            + e.reason() + "); it cannot be shown or labelled here.");
                }
                if (!studyId.equals(acquired.studyId())) {
                    throw new WorklistException(409, "The study's acquisition record names another study.");
                }
                return acquired;
            }
            if (consumer.position(tp) > location.offset()) {
                break;
            }
        }
        throw new WorklistException(410, "The study's acquisition record is no longer on the topic (retention).");
    }

    @Override
    public synchronized void close() {
        consumer.close(Duration.ofSeconds(5));
    }
}
