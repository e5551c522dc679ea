package org.xrayscreening.worklist;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import javax.imageio.ImageIO;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.xrayscreening.connectors.event.Alert;
import org.xrayscreening.connectors.event.Decision;
import org.xrayscreening.connectors.event.EventCodec;
import org.xrayscreening.connectors.event.ImageReference;
import org.xrayscreening.connectors.event.ModelScore;
import org.xrayscreening.connectors.event.Recommendation;
import org.xrayscreening.connectors.event.XrayAcquired;
import org.xrayscreening.connectors.kafka.KafkaTopics;

/** Test helpers: puts a flagged study on the topics as the gateway and the stream job would, reads labels back. */
final class Studies {
    static final EventCodec CODEC = new EventCodec();

    private Studies() {}

    static byte[] png(BufferedImage image) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(image, "png", out);
        return out.toByteArray();
    }

    static Recommendation recommendation(String studyId, Decision decision, double p, Instant acquiredAt) {
        return new Recommendation(1, studyId, "PAT-7781", decision, p, 0.5, 0.4, 0.6,
                List.of(new ModelScore("mobilenet", "v3", Math.min(1, p + 0.04), 12),
                        new ModelScore("resnet50", "v7", Math.max(0, p - 0.03), 30)),
                List.of(), acquiredAt, acquiredAt.plusSeconds(2), 2000, "demo");
    }

    /** Acquisition, recommendation and alert of one study, each in its topic. */
    static void putFlagged(String bootstrap, KafkaTopics topics, XrayAcquired acquired, Recommendation r,
                           String heatmapUri) throws Exception {
        try (KafkaProducer<String, byte[]> p = producer(bootstrap)) {
            p.send(new ProducerRecord<>(topics.acquired(), acquired.studyId(), CODEC.toJson(acquired))).get();
            p.send(new ProducerRecord<>(topics.recommendations(), r.studyId(), CODEC.toJson(r))).get();
            Alert alert = Alert.clinical(r, r.recommendedAt());
            if (heatmapUri != null) {
                alert = alert.withHeatmap(heatmapUri);
            }
            p.send(new ProducerRecord<>(topics.alerts(), r.studyId(), CODEC.toJson(alert))).get();
        }
    }

    static XrayAcquired acquired(String studyId, ImageReference image, Instant at) {
        return new XrayAcquired(1, studyId, "PAT-7781", at, "PA", "test-modality", image);
    }

    static KafkaProducer<String, byte[]> producer(String bootstrap) {
        return new KafkaProducer<>(Map.of("bootstrap.servers", bootstrap, "key.serializer", StringSerializer.class.getName(),
                "value.serializer", ByteArraySerializer.class.getName(), "acks", "all", "max.request.size", 16 * 1024 * 1024));
    }

    /** Every committed record on the topic now (read_committed, from the beginning). */
    static List<ConsumerRecord<String, byte[]>> readCommitted(String bootstrap, String topic) {
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put("isolation.level", "read_committed");
        p.put("key.deserializer", StringDeserializer.class.getName());
        p.put("value.deserializer", ByteArrayDeserializer.class.getName());
        List<ConsumerRecord<String, byte[]>> out = new ArrayList<>();
        try (KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(p)) {
            List<TopicPartition> parts = c.partitionsFor(topic).stream()
                    .map(i -> new TopicPartition(i.topic(), i.partition())).toList();
            c.assign(parts);
            c.seekToBeginning(parts);
            Map<TopicPartition, Long> end = c.endOffsets(parts);
            long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            while (System.nanoTime() < deadline && parts.stream().anyMatch(tp -> c.position(tp) < end.get(tp))) {
                c.poll(Duration.ofMillis(200)).forEach(out::add);
            }
        }
        return out;
    }

    static void await(String what, java.util.function.BooleanSupplier condition, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(50);
        }
    }
}
