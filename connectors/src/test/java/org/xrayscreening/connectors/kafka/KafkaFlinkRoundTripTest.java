package org.xrayscreening.connectors.kafka;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;

import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.Test;
import org.xrayscreening.connectors.event.DeadLetter;
import org.xrayscreening.connectors.event.DeadLetterReason;
import org.xrayscreening.connectors.event.EventCodec;
import org.xrayscreening.connectors.event.InvalidEventException;

/**
 * The source and sink factories in a real Flink MiniCluster against the embedded broker: every input record
 * comes out once, through an exactly-once (transactional) sink, read back read_committed.
 */
class KafkaFlinkRoundTripTest {

    static final int RECORDS = 30;

    /** Parses each record; every one is invalid on purpose, so each becomes a dead letter. */
    static final class ToDeadLetter implements MapFunction<RawRecord, DeadLetter> {
        private final EventCodec codec = new EventCodec();

        @Override
        public DeadLetter map(RawRecord raw) {
            try {
                codec.parseAcquired(raw.getValue());
                return raw.toDeadLetter(DeadLetterReason.INFERENCE_FAILED, "unexpectedly valid", Instant.now());
            } catch (InvalidEventException e) {
                return raw.toDeadLetter(e, Instant.now());
            }
        }
    }

    @Test
    void everyRecordOnceThroughTheTransactionalSink() throws Exception {
        KafkaTopics topics = KafkaTopics.DEFAULTS.withPrefix("rt.");
        EventCodec codec = new EventCodec();
        try (EmbeddedKafka kafka = new EmbeddedKafka().start()) {
            kafka.createTopics(2, topics.acquired(), topics.deadLetter());
            String bootstrap = kafka.bootstrapServers();

            Properties p = kafka.clientProperties();
            p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
            p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
            Set<String> sent = new HashSet<>();
            try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p)) {
                for (int i = 0; i < RECORDS; i++) {
                    String value = "{\"schemaVersion\":1,\"studyId\":\"s-" + i + "\"}"; // no acquiredAt
                    sent.add(value);
                    producer.send(new ProducerRecord<>(topics.acquired(), bytes("s-" + i), bytes(value)));
                }
            }

            Configuration conf = new Configuration();
            StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(2, conf);
            env.enableCheckpointing(500);
            env.fromSource(KafkaSources.raw(bootstrap, topics.acquired(), "rt-job", Map.of()),
                            WatermarkStrategy.noWatermarks(), "acquired")
                    .map(new ToDeadLetter())
                    .sinkTo(KafkaSinks.json(bootstrap, topics.deadLetter(), DeadLetter::key,
                            DeliveryGuarantee.EXACTLY_ONCE, "rt-dead-letters", Map.of()));
            JobClient job = env.executeAsync("connectors-round-trip");
            List<DeadLetter> out = new ArrayList<>();
            try {
                Properties c = kafka.clientProperties();
                c.put(ConsumerConfig.GROUP_ID_CONFIG, "rt-check");
                c.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
                c.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
                c.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
                c.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
                try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(c)) {
                    consumer.subscribe(List.of(topics.deadLetter()));
                    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
                    while (out.size() < RECORDS && System.nanoTime() < deadline) {
                        consumer.poll(Duration.ofMillis(250))
                                .forEach(r -> out.add(codec.fromJson(r.value(), DeadLetter.class)));
                    }
                    // two more checkpoints: nothing may come twice
                    consumer.poll(Duration.ofMillis(1200))
                            .forEach(r -> out.add(codec.fromJson(r.value(), DeadLetter.class)));
                }
            } finally {
                job.cancel().get();
            }
            assertThat(out).hasSize(RECORDS);
            assertThat(out).allSatisfy(d -> {
                assertThat(d.reason()).isEqualTo(DeadLetterReason.MISSING_FIELD);
                assertThat(d.detail()).isEqualTo("acquiredAt is missing");
                assertThat(d.sourceTopic()).isEqualTo(topics.acquired());
                assertThat(d.key()).startsWith("s-");
            });
            Set<String> values = new HashSet<>();
            out.forEach(d -> values.add(new String(d.originalValue(), StandardCharsets.UTF_8)));
            assertThat(values).isEqualTo(sent);
            Set<String> coordinates = new HashSet<>();
            out.forEach(d -> coordinates.add(d.partition() + "@" + d.offset()));
            assertThat(coordinates).hasSize(RECORDS);
        }
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
