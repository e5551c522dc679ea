package org.xrayscreening.connectors.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.java.typeutils.PojoTypeInfo;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.connector.kafka.sink.KafkaSink;
import org.apache.flink.connector.kafka.source.KafkaSource;
import org.apache.flink.util.Collector;
import org.apache.flink.util.InstantiationUtil;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Test;
import org.xrayscreening.connectors.event.DeadLetter;
import org.xrayscreening.connectors.event.DeadLetterReason;
import org.xrayscreening.connectors.event.EventCodec;
import org.xrayscreening.connectors.event.InvalidEventException;
import org.xrayscreening.connectors.event.Recommendation;

/** The factories' configuration, without a broker (the MiniCluster test runs them for real). */
class KafkaFactoriesTest {

    @Test
    void rawRecordIsAFlinkPojo() throws Exception {
        TypeInformation<RawRecord> type = new RawRecordDeserializationSchema().getProducedType();
        assertThat(type).isInstanceOf(PojoTypeInfo.class);
        RawRecord r = new RawRecord(bytes("k"), bytes("{\"patientRef\":\"P-1\"}"), "t", 3, 99, 1234);
        assertThat(r.toString()).doesNotContain("P-1").contains("t/3@99");
        var serializer = type.createSerializer(new org.apache.flink.api.common.serialization.SerializerConfigImpl());
        assertThat(serializer.copy(r)).isEqualTo(r);
    }

    @Test
    void deserializerKeepsBytesAndCoordinates() throws Exception {
        List<RawRecord> out = new ArrayList<>();
        new RawRecordDeserializationSchema().deserialize(
                new ConsumerRecord<>("xray.acquired", 1, 17L, bytes("s-1"), bytes("not json")), new Collector<>() {
                    @Override
                    public void collect(RawRecord record) {
                        out.add(record);
                    }

                    @Override
                    public void close() {
                    }
                });
        RawRecord r = out.get(0);
        assertThat(r.getTopic()).isEqualTo("xray.acquired");
        assertThat(r.getPartition()).isEqualTo(1);
        assertThat(r.getOffset()).isEqualTo(17);
        assertThat(r.keyAsString()).isEqualTo("s-1");
        DeadLetter dl = r.toDeadLetter(new InvalidEventException(DeadLetterReason.MALFORMED_JSON, "x"),
                Instant.EPOCH);
        assertThat(dl.originalValue()).isEqualTo(bytes("not json"));
        assertThat(dl.key()).isEqualTo("s-1");
        assertThat(dl.sourceTopic()).isEqualTo("xray.acquired");
        assertThat(dl.partition()).isEqualTo(1);
        assertThat(dl.offset()).isEqualTo(17);
    }

    @Test
    void sinkDefaultsTransactionTimeoutBelowBrokerMaximum() throws Exception {
        KafkaSink<Recommendation> sink = KafkaSinks.json("localhost:1", "xray.recommendations",
                Recommendation::studyId, DeliveryGuarantee.EXACTLY_ONCE, "job-1-recs", null);
        assertThat(producerConfig(sink).getProperty("transaction.timeout.ms")).isEqualTo("600000");
        KafkaSink<Recommendation> overridden = KafkaSinks.json("localhost:1", "t", Recommendation::studyId,
                DeliveryGuarantee.EXACTLY_ONCE, "p", Map.of("transaction.timeout.ms", "60000", "linger.ms", "5"));
        assertThat(producerConfig(overridden).getProperty("transaction.timeout.ms")).isEqualTo("60000");
        assertThat(producerConfig(overridden).getProperty("linger.ms")).isEqualTo("5");
        assertThat(producerConfig(overridden).getProperty("bootstrap.servers")).isEqualTo("localhost:1");
        // the sink (with its key function) must survive Flink's Java serialization
        assertThat(InstantiationUtil.clone(sink)).isNotNull();
    }

    @Test
    void exactlyOnceNeedsATransactionalIdPrefix() {
        assertThatThrownBy(() -> KafkaSinks.json("localhost:1", "t", Recommendation::studyId,
                DeliveryGuarantee.EXACTLY_ONCE, " ", null)).isInstanceOf(IllegalArgumentException.class);
        assertThat(KafkaSinks.<Recommendation>json("localhost:1", "t", null, DeliveryGuarantee.AT_LEAST_ONCE,
                null, null)).isNotNull();
    }

    @Test
    void serializerWritesCodecJsonKeyedByTheKeyFunction() {
        EventCodec codec = new EventCodec();
        DeadLetter dl = DeadLetter.of(DeadLetterReason.INFERENCE_FAILED, "d", "in", 0, 5, bytes("key-1"),
                bytes("v"), Instant.EPOCH);
        ProducerRecord<byte[], byte[]> r = new JsonRecordSerializationSchema<DeadLetter>("xray.dead-letter",
                DeadLetter::key, codec).serialize(dl, null, 42L);
        assertThat(r.topic()).isEqualTo("xray.dead-letter");
        assertThat(new String(r.key(), StandardCharsets.UTF_8)).isEqualTo("key-1");
        assertThat(r.timestamp()).isEqualTo(42L);
        assertThat(codec.fromJson(r.value(), DeadLetter.class)).isEqualTo(dl);
    }

    @Test
    void sourceIsReadCommittedFromEarliest() throws Exception {
        KafkaSource<RawRecord> source = KafkaSources.raw("localhost:1", "xray.acquired", "g", Map.of("client.rack",
                "r1"));
        Method m = KafkaSource.class.getDeclaredMethod("getConfiguration");
        m.setAccessible(true);
        Object conf = m.invoke(source);
        assertThat(conf.toString()).contains("isolation.level=read_committed").contains("client.rack=r1");
        assertThat(source.getBoundedness().name()).isEqualTo("CONTINUOUS_UNBOUNDED");
        assertThat(InstantiationUtil.clone(source)).isNotNull();
    }

    @Test
    void topicNames() {
        assertThat(KafkaTopics.DEFAULTS.all()).containsExactly("xray.acquired", "xray.recommendations",
                "xray.alerts", "xray.dead-letter", "xray.labelled", "xray.model-updates", "xray.model-status");
        assertThat(KafkaTopics.DEFAULTS.withPrefix("t1.").acquired()).isEqualTo("t1.xray.acquired");
    }

    private static Properties producerConfig(KafkaSink<?> sink) throws Exception {
        Method m = KafkaSink.class.getDeclaredMethod("getKafkaProducerConfig");
        m.setAccessible(true);
        return (Properties) m.invoke(sink);
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
