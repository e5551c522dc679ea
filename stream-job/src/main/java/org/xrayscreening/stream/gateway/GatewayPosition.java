package org.xrayscreening.stream.gateway;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The gateway's durable position in Orthanc's change feed: the last change sequence number whose events were
 * published, kept in a compacted Kafka topic (key: the gateway id) and written in the same Kafka transaction as
 * those events (see {@link ChangeFeedGateway}). Reading it with {@code read_committed} therefore sees the
 * position if and only if it sees the events.
 */
public final class GatewayPosition {

    private static final Logger LOG = LoggerFactory.getLogger(GatewayPosition.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    private GatewayPosition() {}

    /** The record value for {@code seq}. */
    static byte[] value(long seq, String orthancUrl) {
        return JSON.createObjectNode().put("lastChangeSeq", seq).put("orthanc", orthancUrl).toString()
                .getBytes(java.nio.charset.StandardCharsets.UTF_8);
    }

    /** Creates the compacted topic if it does not exist (a broker without auto-creation, or with other defaults). */
    static void ensureTopic(Map<String, Object> clientProps, String topic) {
        try (Admin admin = Admin.create(clientProps)) {
            admin.createTopics(List.of(new NewTopic(topic, java.util.Optional.of(1), java.util.Optional.empty())
                    .configs(Map.of(TopicConfig.CLEANUP_POLICY_CONFIG, TopicConfig.CLEANUP_POLICY_COMPACT))))
                    .all().get();
            LOG.info("created the compacted position topic {}", topic);
        } catch (ExecutionException e) {
            if (!(e.getCause() instanceof TopicExistsException)) {
                LOG.warn("cannot create the position topic {} ({}); it must exist and be compacted", topic,
                        e.getCause().getClass().getSimpleName());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * The last committed sequence number for {@code gatewayId}, or 0 (the start of the feed) when there is none.
     * Call after the transactional producer's {@code initTransactions()}: that aborts a transaction a crashed
     * predecessor left open, so the end of the topic read here is final.
     */
    static long read(Map<String, Object> clientProps, String topic, String gatewayId, Duration timeout) {
        Properties p = new Properties();
        p.putAll(clientProps);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        long seq = 0;
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(p)) {
            List<TopicPartition> partitions = new ArrayList<>();
            List<PartitionInfo> infos = consumer.partitionsFor(topic, timeout);
            for (PartitionInfo info : infos == null ? List.<PartitionInfo>of() : infos) {
                partitions.add(new TopicPartition(topic, info.partition()));
            }
            if (partitions.isEmpty()) {
                return 0;
            }
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            // with read_committed, the end offsets are the last stable offsets: nothing after them is decided yet
            Map<TopicPartition, Long> end = new HashMap<>(consumer.endOffsets(partitions, timeout));
            long deadline = System.nanoTime() + timeout.toNanos();
            while (!end.isEmpty()) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("the position topic " + topic + " could not be read in " + timeout);
                }
                for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    if (gatewayId.equals(r.key()) && r.value() != null) {
                        JsonNode v = JSON.readTree(r.value());
                        seq = v.path("lastChangeSeq").asLong(seq);
                    }
                }
                end.entrySet().removeIf(e -> consumer.position(e.getKey()) >= e.getValue());
            }
        } catch (java.io.IOException e) {
            throw new IllegalStateException("a record in the position topic " + topic + " is not valid JSON", e);
        }
        return seq;
    }
}
