package org.xrayscreening.worklist;

import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xrayscreening.connectors.event.EventCodec;
import org.xrayscreening.connectors.event.XrayAcquired;
import org.xrayscreening.connectors.event.XrayLabelled;

/**
 * Publishes a radiologist's verdict as one {@code XrayLabelled} ({@code labelSource=RADIOLOGIST}) on
 * {@code xray.labelled}, exactly once per click:
 * <ol>
 * <li>the page makes a click id when the button is pressed and sends the same id on every retry;
 * <li>before publishing, the worklist waits until it has read {@code xray.labelled} up to its current end
 * ({@code read_committed}), so a click whose label was committed earlier - by this process before a lost response,
 * by a process that crashed, or by another replica - is found in the state and not published again;
 * <li>the record goes out in a Kafka transaction (idempotent producer, {@code acks=all}), with the click id in a
 * header; readers with {@code read_committed} see it once or not at all.
 * </ol>
 * Publishing is serialised in this process (clicks are rare), so two concurrent retries of one click publish once.
 */
public final class LabelPublisher implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(LabelPublisher.class);
    /** What the page generates: a UUID. Anything else is refused, so the header never carries arbitrary text. */
    static final Pattern CLICK_ID = Pattern.compile("[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}");
    public static final int MAX_NOTE_CHARS = 500;

    /** What happened to a click. */
    public enum Outcome { PUBLISHED, ALREADY_PUBLISHED }

    /** A click: which study, which verdict, by whom. */
    public record Click(String clickId, WorklistState.Study study, boolean covid, String note, User reviewer) {
    }

    private final Map<String, Object> producerConfig;
    private final Map<String, Object> consumerConfig;
    private final String topic;
    private final WorklistState state;
    private final TopicFollower follower;
    private final AcquiredRecords acquired;
    private final Clock clock;
    private final EventCodec codec = new EventCodec();
    private KafkaProducer<String, byte[]> producer;
    private KafkaConsumer<String, byte[]> ends;

    public LabelPublisher(Map<String, Object> kafkaConfig, String topic, String transactionalId, WorklistState state,
                          TopicFollower follower, AcquiredRecords acquired, Clock clock) {
        Map<String, Object> p = new HashMap<>(kafkaConfig);
        p.put("key.serializer", StringSerializer.class.getName());
        p.put("value.serializer", ByteArraySerializer.class.getName());
        p.put("enable.idempotence", "true");
        p.put("acks", "all");
        p.put("transactional.id", transactionalId);
        p.put("transaction.timeout.ms", "60000");
        p.put("max.request.size", 16 * 1024 * 1024);
        this.producerConfig = p;
        this.consumerConfig = TopicFollower.consumerConfig(kafkaConfig);
        this.topic = topic;
        this.state = state;
        this.follower = follower;
        this.acquired = acquired;
        this.clock = clock;
    }

    /** Checks a click's fields before anything is looked up; the message is shown to the user. */
    static void validate(String clickId, String note) throws WorklistException {
        if (clickId == null || !CLICK_ID.matcher(clickId).matches()) {
            throw new WorklistException(400, "The request has no valid click id (a UUID); reload the page.");
        }
        if (note != null && note.length() > MAX_NOTE_CHARS) {
            throw new WorklistException(400, "The note is longer than " + MAX_NOTE_CHARS + " characters.");
        }
    }

    public synchronized Outcome publish(Click click) throws WorklistException, InterruptedException {
        validate(click.clickId(), click.note());
        if (!follower.caughtUp()) {
            throw new WorklistException(503, "The worklist is still reading the topics; try again in a moment.");
        }
        syncLabelled();
        String label = click.covid() ? XrayLabelled.COVID : XrayLabelled.NON_COVID;
        var earlier = state.byClick(click.clickId());
        if (earlier.isPresent()) {
            if (!earlier.get().label().equals(label)) {
                throw new WorklistException(409, "This click was already recorded with the other verdict.");
            }
            return Outcome.ALREADY_PUBLISHED;
        }
        if (click.study().acquired() == null) {
            throw new WorklistException(409, "The study's acquisition record is not known to the worklist, so no "
                    + "label with its image can be published.");
        }
        XrayAcquired a = acquired.read(click.study().studyId(), click.study().acquired());
        XrayLabelled event = new XrayLabelled(EventCodec.SCHEMA_VERSION, a.studyId(), a.patientRef(), a.acquiredAt(),
                a.view(), a.source(), a.image(), label, XrayLabelled.RADIOLOGIST, clock.instant());
        ProducerRecord<String, byte[]> record = new ProducerRecord<>(topic, a.studyId(), codec.toJson(event));
        record.headers().add(LabelHeaders.CLICK_ID, LabelHeaders.bytes(click.clickId()));
        record.headers().add(LabelHeaders.REVIEWER, LabelHeaders.bytes(click.reviewer().name()));
        if (click.note() != null && !click.note().isBlank()) {
            record.headers().add(LabelHeaders.NOTE, LabelHeaders.bytes(click.note().strip()));
        }
        try {
            KafkaProducer<String, byte[]> p = producer();
            p.beginTransaction();
            p.send(record);
            p.commitTransaction();
        } catch (KafkaException e) {
            // the outcome may be unknown (e.g. a commit that timed out): drop the producer; the next one's
            // initTransactions completes or aborts the open transaction, and the retry's syncLabelled() then finds
            // the click if it was committed
            closeProducer();
            LOG.warn("a label could not be published (click {}): {}", click.clickId(), e.toString());
            throw new WorklistException(503, "The label could not be recorded (Kafka unavailable); try again.");
        }
        state.onLabel(event, click.reviewer().name(), click.clickId());
        LOG.info("label published: study key {}, click {}, by {}", click.study().key(), click.clickId(),
                click.reviewer().name());
        return Outcome.PUBLISHED;
    }

    /** Waits until the follower has read xray.labelled up to its current (committed) end. */
    private void syncLabelled() throws WorklistException, InterruptedException {
        Map<TopicPartition, Long> end;
        try {
            if (ends == null) {
                ends = new KafkaConsumer<>(consumerConfig);
            }
            List<TopicPartition> partitions = ends.partitionsFor(topic, Duration.ofSeconds(10)).stream()
                    .map(i -> new TopicPartition(i.topic(), i.partition())).collect(Collectors.toList());
            end = ends.endOffsets(partitions, Duration.ofSeconds(10));
        } catch (KafkaException e) {
            throw new WorklistException(503, "Kafka is not reachable; the label was not recorded. Try again.");
        }
        if (!follower.awaitLabelled(end, Duration.ofSeconds(15))) {
            throw new WorklistException(503, "The worklist is behind on the labels topic; try again in a moment.");
        }
    }

    private KafkaProducer<String, byte[]> producer() {
        if (producer == null) {
            KafkaProducer<String, byte[]> p = new KafkaProducer<>(producerConfig);
            try {
                p.initTransactions();
            } catch (KafkaException e) {
                p.close(Duration.ZERO);
                throw e;
            }
            producer = p;
        }
        return producer;
    }

    private void closeProducer() {
        if (producer != null) {
            try {
                producer.close(Duration.ofSeconds(5));
            } catch (KafkaException ignored) {
                // already broken
            }
            producer = null;
        }
    }

    @Override
    public synchronized void close() {
        closeProducer();
        if (ends != null) {
            ends.close(Duration.ofSeconds(5));
        }
    }
}
