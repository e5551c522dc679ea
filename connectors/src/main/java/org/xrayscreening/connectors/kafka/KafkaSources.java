package org.xrayscreening.connectors.kafka;

import java.util.Map;
import java.util.Objects;

import org.apache.flink.connector.kafka.source.KafkaSource;
import org.apache.flink.connector.kafka.source.KafkaSourceBuilder;
import org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.OffsetResetStrategy;

/** Factories for the job's Kafka sources. */
public final class KafkaSources {

    private KafkaSources() {
    }

    /**
     * An unbounded source of {@link RawRecord}s from {@code topic}: reads only committed records
     * ({@code isolation.level=read_committed}, so aborted transactions of an exactly-once producer are never
     * seen), starts from the group's committed offsets or, without any, from the earliest offset; offsets are
     * committed to Kafka on checkpoints (for monitoring; recovery uses Flink's checkpointed offsets).
     *
     * @param extraProps Kafka consumer or KafkaSource properties, applied last (they win); may be null
     */
    @SuppressWarnings("deprecation") // OffsetResetStrategy: the connector's API still takes it
    public static KafkaSource<RawRecord> raw(String bootstrapServers, String topic, String groupId,
                                             Map<String, String> extraProps) {
        Objects.requireNonNull(bootstrapServers, "bootstrapServers");
        Objects.requireNonNull(topic, "topic");
        Objects.requireNonNull(groupId, "groupId");
        KafkaSourceBuilder<RawRecord> builder = KafkaSource.<RawRecord>builder()
                .setBootstrapServers(bootstrapServers)
                .setTopics(topic)
                .setGroupId(groupId)
                .setStartingOffsets(OffsetsInitializer.committedOffsets(OffsetResetStrategy.EARLIEST))
                .setDeserializer(new RawRecordDeserializationSchema())
                .setProperty(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        if (extraProps != null) {
            extraProps.forEach(builder::setProperty);
        }
        return builder.build();
    }
}
