package org.xrayscreening.connectors.kafka;

import java.nio.charset.StandardCharsets;
import java.util.Objects;

import org.apache.flink.connector.kafka.sink.KafkaRecordSerializationSchema;
import org.apache.flink.util.function.SerializableFunction;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.xrayscreening.connectors.event.EventCodec;

/** Writes each element as {@link EventCodec} JSON to one topic, keyed by {@code keyFn} (UTF-8; null: no key). */
public class JsonRecordSerializationSchema<T> implements KafkaRecordSerializationSchema<T> {

    private static final long serialVersionUID = 1L;

    private final String topic;
    private final SerializableFunction<T, String> keyFn;
    private final EventCodec codec;

    public JsonRecordSerializationSchema(String topic, SerializableFunction<T, String> keyFn, EventCodec codec) {
        this.topic = Objects.requireNonNull(topic, "topic");
        this.keyFn = keyFn;
        this.codec = Objects.requireNonNull(codec, "codec");
    }

    @Override
    public ProducerRecord<byte[], byte[]> serialize(T element, KafkaSinkContext context, Long timestamp) {
        String key = keyFn == null ? null : keyFn.apply(element);
        return new ProducerRecord<>(topic, null, timestamp,
                key == null ? null : key.getBytes(StandardCharsets.UTF_8), codec.toJson(element));
    }
}
