package org.xrayscreening.connectors.kafka;

import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;

import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.connector.kafka.sink.KafkaSink;
import org.apache.flink.connector.kafka.sink.KafkaSinkBuilder;
import org.apache.flink.util.function.SerializableFunction;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.xrayscreening.connectors.event.EventCodec;

/** Factories for the job's Kafka sinks. */
public final class KafkaSinks {

    /**
     * The producer's {@code transaction.timeout.ms} unless overridden: 10 minutes. It must not exceed the
     * broker's {@code transaction.max.timeout.ms} (15 minutes by default); the sink's own default of one hour
     * makes an exactly-once job fail and restart forever.
     */
    public static final Duration DEFAULT_TRANSACTION_TIMEOUT = Duration.ofMinutes(10);

    private KafkaSinks() {
    }

    /**
     * A sink writing each element as {@link EventCodec} JSON to {@code topic}.
     *
     * @param keyFn the Kafka key of an element, e.g. {@code Recommendation::studyId}; a
     *        {@link SerializableFunction} (a {@code java.util.function.Function} that Flink can ship), so a
     *        lambda or method reference works; null for no key
     * @param guarantee {@code EXACTLY_ONCE} needs checkpointing and a {@code transactionalIdPrefix} unique to
     *        this sink across every job on the cluster
     * @param transactionalIdPrefix required for {@code EXACTLY_ONCE}, ignored otherwise (may be null)
     * @param extraProps Kafka producer properties, applied last (they win); may be null
     */
    public static <T> KafkaSink<T> json(String bootstrapServers, String topic, SerializableFunction<T, String> keyFn,
                                        DeliveryGuarantee guarantee, String transactionalIdPrefix,
                                        Map<String, String> extraProps) {
        Objects.requireNonNull(bootstrapServers, "bootstrapServers");
        Objects.requireNonNull(topic, "topic");
        Objects.requireNonNull(guarantee, "guarantee");
        Properties props = new Properties();
        props.setProperty(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG,
                Long.toString(DEFAULT_TRANSACTION_TIMEOUT.toMillis()));
        if (extraProps != null) {
            props.putAll(extraProps);
        }
        KafkaSinkBuilder<T> builder = KafkaSink.<T>builder()
                .setKafkaProducerConfig(props)
                .setBootstrapServers(bootstrapServers)
                .setRecordSerializer(new JsonRecordSerializationSchema<>(topic, keyFn, new EventCodec()))
                .setDeliveryGuarantee(guarantee);
        if (guarantee == DeliveryGuarantee.EXACTLY_ONCE) {
            if (transactionalIdPrefix == null || transactionalIdPrefix.isBlank()) {
                throw new IllegalArgumentException("EXACTLY_ONCE needs a transactionalIdPrefix unique to this sink");
            }
            builder.setTransactionalIdPrefix(transactionalIdPrefix);
        } else if (transactionalIdPrefix != null && !transactionalIdPrefix.isBlank()) {
            builder.setTransactionalIdPrefix(transactionalIdPrefix);
        }
        return builder.build();
    }
}
