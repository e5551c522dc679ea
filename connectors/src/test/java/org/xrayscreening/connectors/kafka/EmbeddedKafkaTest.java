package org.xrayscreening.connectors.kafka;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.Set;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.Test;
import org.xrayscreening.connectors.event.EventCodec;
import org.xrayscreening.connectors.event.ImageReference;
import org.xrayscreening.connectors.event.XrayAcquired;

class EmbeddedKafkaTest {

    @Test
    void startsCreatesTopicsAndDeliversOnlyCommittedRecords() throws Exception {
        EventCodec codec = new EventCodec();
        XrayAcquired event = new XrayAcquired(1, "study-42", "p-1", Instant.parse("2020-04-01T10:00:00Z"), "PA",
                "test", ImageReference.inline(ImageReference.PNG, new byte[] {1, 2, 3}));
        KafkaTopics topics = KafkaTopics.DEFAULTS;
        try (EmbeddedKafka kafka = new EmbeddedKafka().start()) {
            kafka.createTopics(2, topics.allArray());
            kafka.createTopics(2, topics.acquired()); // again: no error
            try (Admin admin = Admin.create(kafka.clientProperties())) {
                assertThat(admin.listTopics().names().get()).containsAll(topics.all());
                TopicDescription d = admin.describeTopics(Set.of(topics.acquired())).allTopicNames().get()
                        .get(topics.acquired());
                assertThat(d.partitions()).hasSize(2);
                assertThat(admin.describeCluster().nodes().get()).hasSize(1);
            }

            Properties p = kafka.clientProperties();
            p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
            p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
            p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, "embedded-kafka-test");
            p.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, "600000");
            try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p)) {
                producer.initTransactions();
                producer.beginTransaction();
                producer.send(new ProducerRecord<>(topics.acquired(), bytes("aborted"), bytes("{}")));
                producer.flush();
                producer.abortTransaction();
                producer.beginTransaction();
                producer.send(new ProducerRecord<>(topics.acquired(), bytes(event.studyId()), codec.toJson(event)));
                producer.commitTransaction();
            }

            Properties c = kafka.clientProperties();
            c.put(ConsumerConfig.GROUP_ID_CONFIG, "embedded-kafka-test");
            c.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
            c.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
            c.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
            c.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
            List<ConsumerRecord<byte[], byte[]>> read = new ArrayList<>();
            try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(c)) {
                consumer.subscribe(List.of(topics.acquired()));
                long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
                while (read.isEmpty() && System.nanoTime() < deadline) {
                    consumer.poll(Duration.ofMillis(200)).forEach(read::add);
                }
                // a little longer: the aborted record must never show up
                consumer.poll(Duration.ofMillis(500)).forEach(read::add);
            }
            assertThat(read).hasSize(1);
            assertThat(new String(read.get(0).key(), StandardCharsets.UTF_8)).isEqualTo("study-42");
            assertThat(codec.parseAcquired(read.get(0).value())).isEqualTo(event);
        }
    }

    @Test
    void closeRemovesItsDirectory() throws Exception {
        EmbeddedKafka kafka = new EmbeddedKafka().start();
        Path dir = baseDir(kafka);
        assertThat(Files.isDirectory(dir)).isTrue();
        kafka.close();
        assertThat(Files.exists(dir)).isFalse();
    }

    private static Path baseDir(EmbeddedKafka kafka) throws Exception {
        var f = EmbeddedKafka.class.getDeclaredField("baseDir");
        f.setAccessible(true);
        return (Path) f.get(kafka);
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
