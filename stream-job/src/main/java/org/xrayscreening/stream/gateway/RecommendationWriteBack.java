package org.xrayscreening.stream.gateway;

import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xrayscreening.connectors.event.EventCodec;
import org.xrayscreening.connectors.event.Recommendation;
import org.xrayscreening.connectors.orthanc.OrthancClient;

/**
 * Writes each recommendation back to Orthanc, so that a viewer of the study shows it: as user-defined
 * metadata (a JSON copy of the recommendation without the patient reference) on the instance and on its study.
 * Orthanc must declare the metadata name in its {@code UserMetadata} configuration (see the README).
 *
 * <p>Reads {@code xray.recommendations} with {@code read_committed} (only what the job committed) in its own
 * consumer group and commits offsets after the writes: at least once, and writing the same metadata twice is
 * harmless. Recommendations for studies that this Orthanc does not hold (other sources) are counted and passed.
 * The study-level entry holds the latest recommendation of the study; each instance keeps its own.
 */
public final class RecommendationWriteBack implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(RecommendationWriteBack.class);

    private final OrthancClient orthanc;
    private final String metadataName;
    private final KafkaConsumer<String, byte[]> consumer;
    private final EventCodec codec = new EventCodec();
    private final GatewayMetrics metrics = GatewayMetrics.get();
    private final java.util.concurrent.CountDownLatch stopped = new java.util.concurrent.CountDownLatch(1);

    public RecommendationWriteBack(OrthancClient orthanc, Map<String, Object> kafkaProps, String groupId,
                                   String topic, String metadataName) {
        this.orthanc = orthanc;
        this.metadataName = metadataName;
        Properties p = new Properties();
        p.putAll(kafkaProps);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, groupId);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        this.consumer = new KafkaConsumer<>(p);
        consumer.subscribe(List.of(topic));
    }

    /**
     * One poll: writes what it read, then commits the offsets.
     *
     * @return records handled
     * @throws IOException when Orthanc failed; nothing of the batch is committed and the consumer is rewound
     *         to the committed offsets, so the batch is written again
     */
    public int step(Duration poll) throws IOException {
        ConsumerRecords<String, byte[]> records = consumer.poll(poll);
        try {
            for (ConsumerRecord<String, byte[]> r : records) {
                writeBack(r.value());
            }
        } catch (IOException e) {
            var committed = consumer.committed(consumer.assignment());
            for (var tp : consumer.assignment()) {
                var offset = committed.get(tp);
                if (offset != null) {
                    consumer.seek(tp, offset);
                } else {
                    consumer.seekToBeginning(List.of(tp));
                }
            }
            throw e;
        }
        if (!records.isEmpty()) {
            consumer.commitSync();
        }
        return records.count();
    }

    private void writeBack(byte[] value) throws IOException {
        Recommendation rec;
        try {
            rec = codec.fromJson(value, Recommendation.class);
        } catch (RuntimeException e) {
            metrics.writeBacks.labelValues("unreadable").inc();
            return;
        }
        if (rec == null || rec.studyId() == null) {
            metrics.writeBacks.labelValues("unreadable").inc();
            return;
        }
        Optional<String> instance = orthanc.instanceBySopInstanceUid(rec.studyId());
        if (instance.isEmpty()) {
            metrics.writeBacks.labelValues("not_in_this_orthanc").inc();
            return;
        }
        // the patient reference stays out: Orthanc holds the patient's tags already, the copy adds nothing
        Recommendation shown = new Recommendation(rec.schemaVersion(), rec.studyId(), null, rec.decision(),
                rec.ensembleProbability(), rec.threshold(), rec.indeterminateLow(), rec.indeterminateHigh(),
                rec.modelScores(), rec.missingModels(), rec.acquiredAt(), rec.recommendedAt(), rec.endToEndMillis(),
                rec.reason());
        String json = codec.toJsonString(shown);
        orthanc.putMetadata("instances", instance.get(), metadataName, json);
        orthanc.putMetadata("studies", orthanc.studyOfInstance(instance.get()), metadataName, json);
        metrics.writeBacks.labelValues("written").inc();
        LOG.info("recommendation {} written back to Orthanc", rec.decision());
    }

    /** Polls until {@link #stop()}; Orthanc failures are retried after a pause. */
    public void run() throws InterruptedException {
        while (stopped.getCount() > 0) {
            try {
                step(Duration.ofMillis(500));
            } catch (IOException e) {
                metrics.errors.labelValues("orthanc").inc();
                LOG.warn("writing recommendations back to Orthanc failed, retrying: {}", e.getMessage());
                stopped.await(2, java.util.concurrent.TimeUnit.SECONDS);
            } catch (org.apache.kafka.common.errors.WakeupException e) {
                // stop() woke a blocked poll: the loop condition ends it
            }
        }
    }

    /**
     * Makes {@link #run()} return; any thread. A wake-up rather than an interrupt, so that the consumer can
     * still leave its group cleanly when it is closed.
     */
    public void stop() {
        stopped.countDown();
        consumer.wakeup();
    }

    @Override
    public void close() {
        consumer.close(Duration.ofSeconds(5));
    }
}
