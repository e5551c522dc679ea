package org.xrayscreening.worklist;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xrayscreening.connectors.event.Alert;
import org.xrayscreening.connectors.event.EventCodec;
import org.xrayscreening.connectors.event.InvalidEventException;
import org.xrayscreening.connectors.event.Recommendation;
import org.xrayscreening.connectors.event.XrayLabelled;
import org.xrayscreening.connectors.kafka.KafkaTopics;

/**
 * Reads {@code xray.alerts}, {@code xray.recommendations}, {@code xray.acquired} and {@code xray.labelled} from
 * the beginning, {@code read_committed}, into the {@link WorklistState}, and keeps following them. No consumer
 * group and no committed offsets: every start rebuilds the state from the topics (their retention bounds how far
 * back the list goes). {@link #caughtUp()} turns true once everything that was on the topics at start has been
 * read; until then the worklist refuses labels, since it could not yet recognise a retried click.
 *
 * <p>Acquisition records are not parsed here (an inline image can be megabytes): only their key, the study id,
 * and position are kept. Records that cannot be parsed are counted and skipped, never logged with their content.
 */
public final class TopicFollower implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(TopicFollower.class);

    private final Map<String, Object> consumerConfig;
    private final KafkaTopics topics;
    private final WorklistState state;
    private final EventCodec codec = new EventCodec();
    private final Map<TopicPartition, Long> labelledPositions = new ConcurrentHashMap<>();
    private final Thread thread;
    private volatile KafkaConsumer<String, byte[]> consumer;
    private volatile boolean running = true;
    private volatile boolean caughtUp;
    private volatile long skipped;
    private volatile Throwable failure;

    public TopicFollower(Map<String, Object> kafkaConfig, KafkaTopics topics, WorklistState state) {
        this.consumerConfig = consumerConfig(kafkaConfig);
        this.topics = topics;
        this.state = state;
        this.thread = new Thread(this::run, "worklist-topic-follower");
        this.thread.setDaemon(true);
    }

    /** Consumer settings: read_committed, no group, no auto commit. */
    static Map<String, Object> consumerConfig(Map<String, Object> kafkaConfig) {
        Map<String, Object> c = new HashMap<>(kafkaConfig);
        c.put("isolation.level", "read_committed");
        c.put("enable.auto.commit", "false");
        c.remove("group.id");
        c.put("key.deserializer", StringDeserializer.class.getName());
        c.put("value.deserializer", ByteArrayDeserializer.class.getName());
        c.putIfAbsent("max.partition.fetch.bytes", 16 * 1024 * 1024);
        return c;
    }

    public TopicFollower start() {
        thread.start();
        return this;
    }

    public boolean caughtUp() {
        return caughtUp;
    }

    public long skippedRecords() {
        return skipped;
    }

    public Throwable failure() {
        return failure;
    }

    /** Waits until the state holds every record of {@code xray.labelled} before {@code endOffsets}. */
    public boolean awaitLabelled(Map<TopicPartition, Long> endOffsets, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            boolean all = true;
            for (Map.Entry<TopicPartition, Long> e : endOffsets.entrySet()) {
                if (labelledPositions.getOrDefault(e.getKey(), 0L) < e.getValue()) {
                    all = false;
                    break;
                }
            }
            if (all) {
                return true;
            }
            TimeUnit.MILLISECONDS.sleep(20);
        }
        return false;
    }

    private void run() {
        try (KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(consumerConfig)) {
            consumer = c;
            List<TopicPartition> partitions = partitions(c);
            c.assign(partitions);
            c.seekToBeginning(partitions);
            Map<TopicPartition, Long> startEnd = c.endOffsets(partitions);
            LOG.info("rebuilding the worklist from {} partitions", partitions.size());
            while (running) {
                for (ConsumerRecord<String, byte[]> r : c.poll(Duration.ofMillis(500))) {
                    apply(r);
                }
                for (TopicPartition tp : partitions) {
                    if (tp.topic().equals(topics.labelled())) {
                        labelledPositions.put(tp, c.position(tp));
                    }
                }
                if (!caughtUp && startEnd.entrySet().stream().allMatch(e -> c.position(e.getKey()) >= e.getValue())) {
                    caughtUp = true;
                    LOG.info("worklist rebuilt: {} flagged studies ({} records skipped)", state.flaggedCount(), skipped);
                }
            }
        } catch (WakeupException e) {
            // closing
        } catch (Throwable t) {
            failure = t;
            LOG.error("the worklist stopped following the topics: {}", t.toString());
        }
    }

    private List<TopicPartition> partitions(KafkaConsumer<String, byte[]> c) throws InterruptedException {
        List<String> names = List.of(topics.alerts(), topics.recommendations(), topics.acquired(), topics.labelled());
        long nextLog = 0;
        while (running) {
            List<TopicPartition> all = new ArrayList<>();
            List<String> missing = new ArrayList<>();
            Map<String, List<PartitionInfo>> existing = c.listTopics(Duration.ofSeconds(10));
            for (String topic : names) {
                List<PartitionInfo> infos = existing.get(topic);
                if (infos == null || infos.isEmpty()) {
                    missing.add(topic);
                } else {
                    infos.forEach(i -> all.add(new TopicPartition(i.topic(), i.partition())));
                }
            }
            if (missing.isEmpty()) {
                return all;
            }
            if (System.nanoTime() > nextLog) {
                LOG.info("waiting for topics {}", missing);
                nextLog = System.nanoTime() + 30_000_000_000L;
            }
            TimeUnit.SECONDS.sleep(1);
        }
        throw new WakeupException();
    }

    void apply(ConsumerRecord<String, byte[]> r) {
        try {
            if (r.topic().equals(topics.acquired())) {
                state.onAcquired(r.key(), new WorklistState.Location(r.topic(), r.partition(), r.offset()));
            } else if (r.topic().equals(topics.alerts())) {
                state.onAlert(codec.fromJson(r.value(), Alert.class));
            } else if (r.topic().equals(topics.recommendations())) {
                state.onRecommendation(codec.fromJson(r.value(), Recommendation.class));
            } else if (r.topic().equals(topics.labelled())) {
                XrayLabelled l = codec.parseLabelled(r.value());
                state.onLabel(l, LabelHeaders.text(r.headers(), LabelHeaders.REVIEWER),
                        LabelHeaders.text(r.headers(), LabelHeaders.CLICK_ID));
            }
        } catch (InvalidEventException | IllegalArgumentException e) {
            skipped++;
            LOG.warn("skipped an unreadable record on {} partition {} offset {}", r.topic(), r.partition(), r.offset());
        }
    }

    @Override
    public void close() throws InterruptedException {
        running = false;
        KafkaConsumer<String, byte[]> c = consumer;
        if (c != null) {
            c.wakeup();
        }
        thread.join(10_000);
    }
}
