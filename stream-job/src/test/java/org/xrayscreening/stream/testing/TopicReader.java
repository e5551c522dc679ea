package org.xrayscreening.stream.testing;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.xrayscreening.connectors.event.EventCodec;

/**
 * Reads a topic from the beginning as a downstream consumer would: read_committed, so only output of committed
 * transactions (checkpoints) is seen, each call with a fresh consumer group.
 */
public final class TopicReader {
    private static final EventCodec CODEC = new EventCodec();

    private TopicReader() {}

    /** Records until {@code expected} have been read or {@code timeout} passed (then fewer: let the caller assert). */
    public static <T> List<T> readUntil(String bootstrap, String topic, Class<T> type, int expected, Duration timeout) {
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        return readUntil(p, topic, type, expected, timeout);
    }

    /** As above, with client settings (bootstrap.servers, TLS, SASL) of the caller's. */
    public static <T> List<T> readUntil(Properties client, String topic, Class<T> type, int expected, Duration timeout) {
        List<T> out = new ArrayList<>();
        try (KafkaConsumer<String, byte[]> consumer = consumer(client)) {
            consumer.subscribe(List.of(topic));
            long deadline = System.nanoTime() + timeout.toNanos();
            while (out.size() < expected && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(250))) {
                    out.add(CODEC.fromJson(r.value(), type));
                }
            }
        }
        return out;
    }

    /** Everything the topic holds after reading for {@code duration}: shows duplicates a count-bounded read hides. */
    public static <T> List<T> readAll(String bootstrap, String topic, Class<T> type, Duration duration) {
        return readUntil(bootstrap, topic, type, Integer.MAX_VALUE, duration);
    }

    private static KafkaConsumer<String, byte[]> consumer(Properties client) {
        Properties p = new Properties();
        p.putAll(client);
        p.put("group.id", "test-reader-" + System.nanoTime());
        p.put("auto.offset.reset", "earliest");
        p.put("isolation.level", "read_committed");
        p.put("key.deserializer", StringDeserializer.class.getName());
        p.put("value.deserializer", ByteArrayDeserializer.class.getName());
        return new KafkaConsumer<>(p);
    }
}
