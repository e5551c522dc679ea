package org.xrayscreening.trainer.lifecycle;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.text.ParseException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TimeZone;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.quartz.CronExpression;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xrayscreening.connectors.event.DeadLetter;
import org.xrayscreening.connectors.event.EventCodec;
import org.xrayscreening.connectors.event.InvalidEventException;
import org.xrayscreening.connectors.event.ModelUpdate;
import org.xrayscreening.connectors.event.TrainerCommand;
import org.xrayscreening.connectors.event.XrayLabelled;
import org.xrayscreening.connectors.image.ImageDecoder;
import org.xrayscreening.connectors.image.ImageLoader;
import org.xrayscreening.connectors.image.ImageSourcePolicy;
import org.xrayscreening.models.Architecture;

/**
 * The trainer's long-running mode. Two threads:
 * <ul>
 *   <li><b>ingest</b>: consumes {@code xray.labelled} (read_committed, manual commits), loads and decodes each
 *       image with the connectors' {@link ImageLoader} / {@link ImageDecoder} and writes it to the
 *       {@link TrainingStore}; offsets are committed only after the store's manifest is durable. A record that
 *       cannot be used goes to {@code xray.dead-letter} with its reason (counted, logged by topic/partition/offset
 *       and reason only: no patient data) and never stops the loop.</li>
 *   <li><b>refit</b>: consumes {@code xray.trainer-commands} and fires the cron schedule; runs {@link Refitter}
 *       (commands that arrive during a refit are merged into the next one). A command's offset is committed after
 *       its refit finished, so a crash mid-refit repeats it. A scheduled refit is skipped when the store has not
 *       changed since the last refit; a commanded one always runs.</li>
 * </ul>
 */
public final class TrainerService implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(TrainerService.class);

    /**
     * Where it reads and writes. {@code imageSources}: where claim-check images of labelled events may be read
     * from (a refusal is an {@code IMAGE_SOURCE_NOT_ALLOWED} dead letter).
     */
    public record Config(String bootstrapServers, String labelledTopic, String commandsTopic, String deadLetterTopic,
            String modelUpdatesTopic, String groupId, String schedule, TimeZone scheduleZone,
            Map<String, String> kafkaProperties, ImageSourcePolicy imageSources) {

        public Config {
            imageSources = imageSources == null ? ImageSourcePolicy.NONE : imageSources;
        }

        /** Inline images only. */
        public Config(String bootstrapServers, String labelledTopic, String commandsTopic, String deadLetterTopic,
                String modelUpdatesTopic, String groupId, String schedule, TimeZone scheduleZone,
                Map<String, String> kafkaProperties) {
            this(bootstrapServers, labelledTopic, commandsTopic, deadLetterTopic, modelUpdatesTopic, groupId, schedule,
                    scheduleZone, kafkaProperties, ImageSourcePolicy.NONE);
        }
    }

    private final Config config;
    private final TrainingStore store;
    private final Refitter.Settings settings;
    private final java.io.PrintStream out;
    private final EventCodec codec = new EventCodec();
    private final ImageLoader loader;
    private final ImageDecoder decoder = new ImageDecoder();
    private final CronExpression cron;
    private final AtomicBoolean running = new AtomicBoolean(true);
    private final List<Refitter.Result> refits = new CopyOnWriteArrayList<>();
    private final AtomicLong accepted = new AtomicLong();
    private final AtomicLong unchanged = new AtomicLong();
    private final AtomicLong deadLettered = new AtomicLong();
    private final AtomicLong commandsRejected = new AtomicLong();
    private volatile Throwable failure;
    private KafkaProducer<byte[], byte[]> producer;
    private KafkaConsumer<byte[], byte[]> labelledConsumer;
    private KafkaConsumer<byte[], byte[]> commandConsumer;
    private Thread ingestThread;
    private Thread refitThread;
    private final List<java.util.concurrent.Future<?>> pendingSends = new CopyOnWriteArrayList<>();

    public TrainerService(Config config, TrainingStore store, Refitter.Settings settings, java.io.PrintStream out)
            throws ParseException {
        this.config = config;
        this.store = store;
        this.settings = settings;
        this.out = out;
        this.loader = new ImageLoader(org.xrayscreening.connectors.image.ImageLimits.DEFAULTS, config.imageSources());
        if (config.schedule() != null && !config.schedule().isBlank()) {
            cron = new CronExpression(config.schedule());
            cron.setTimeZone(config.scheduleZone() == null ? TimeZone.getTimeZone("UTC") : config.scheduleZone());
        } else {
            cron = null;
        }
    }

    /** Starts both threads and returns. */
    public synchronized TrainerService start() {
        producer = new KafkaProducer<>(producerProperties(config));
        labelledConsumer = new KafkaConsumer<>(consumerProperties(config, config.groupId()));
        commandConsumer = new KafkaConsumer<>(consumerProperties(config, config.groupId() + "-commands"));
        Refitter refitter = new Refitter(settings, update -> sendUpdate(update), out);
        ingestThread = new Thread(this::ingestLoop, "trainer-ingest");
        refitThread = new Thread(() -> refitLoop(refitter), "trainer-refit");
        ingestThread.start();
        refitThread.start();
        LOG.info("trainer serving: {} -> store {}; commands {}; schedule {}; image sources: {}", config.labelledTopic(),
                store.root(), config.commandsTopic(),
                cron == null ? "none" : cron.getCronExpression() + " " + cron.getTimeZone().getID(),
                config.imageSources().summary());
        return this;
    }

    private void sendUpdate(ModelUpdate update) throws Exception {
        producer.send(new ProducerRecord<>(config.modelUpdatesTopic(), update.model().getBytes(StandardCharsets.UTF_8),
                codec.toJson(update))).get();
        producer.flush();
    }

    // ------------------------------------------------------------------------------------------ ingest

    private void ingestLoop() {
        try {
            labelledConsumer.subscribe(List.of(config.labelledTopic()));
            while (running.get()) {
                ConsumerRecords<byte[], byte[]> records = labelledConsumer.poll(Duration.ofMillis(500));
                if (records.isEmpty()) {
                    continue;
                }
                Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
                for (ConsumerRecord<byte[], byte[]> r : records) {
                    ingest(r);
                    offsets.put(new TopicPartition(r.topic(), r.partition()), new OffsetAndMetadata(r.offset() + 1));
                }
                store.flush();
                awaitSends();
                labelledConsumer.commitSync(offsets);
            }
        } catch (WakeupException e) {
            if (running.get()) {
                fail(e);
            }
        } catch (Throwable e) {
            fail(e);
        } finally {
            labelledConsumer.close(Duration.ofSeconds(5));
        }
    }

    /** Stores one record or dead-letters it; throws only when the store itself cannot be written. */
    private void ingest(ConsumerRecord<byte[], byte[]> r) throws IOException {
        XrayLabelled event;
        byte[] image;
        try {
            event = codec.parseLabelled(r.value());
            image = loader.load(event.image());
            decoder.decode(image, event.image().contentType());
        } catch (InvalidEventException e) {
            deadLetter(r, e);
            return;
        } catch (RuntimeException e) {
            deadLetter(r, new InvalidEventException(org.xrayscreening.connectors.event.DeadLetterReason.UNDECODABLE_IMAGE,
                    "image cannot be decoded (" + e.getClass().getSimpleName() + ")"));
            return;
        }
        TrainingStore.Outcome outcome = store.put(event, image);
        if (outcome == TrainingStore.Outcome.ADDED || outcome == TrainingStore.Outcome.REPLACED) {
            accepted.incrementAndGet();
        } else {
            unchanged.incrementAndGet();
        }
    }

    private void deadLetter(ConsumerRecord<byte[], byte[]> r, InvalidEventException e) {
        deadLettered.incrementAndGet();
        LOG.warn("{}/{}@{} -> dead letter: {} {}", r.topic(), r.partition(), r.offset(), e.reason(), e.detail());
        DeadLetter dl = DeadLetter.of(e.reason(), e.detail(), r.topic(), r.partition(), r.offset(), r.key(), r.value(),
                Instant.now());
        pendingSends.add(producer.send(new ProducerRecord<>(config.deadLetterTopic(), r.key(), codec.toJson(dl))));
    }

    /** Waits for every dead letter sent so far: an offset is committed only after its dead letter is acknowledged. */
    private void awaitSends() throws Exception {
        producer.flush();
        for (java.util.concurrent.Future<?> f : pendingSends) {
            f.get();
            pendingSends.remove(f);
        }
    }

    // ------------------------------------------------------------------------------------------ refit

    private void refitLoop(Refitter refitter) {
        try {
            commandConsumer.subscribe(List.of(config.commandsTopic()));
            Date next = cron == null ? null : cron.getNextValidTimeAfter(new Date());
            if (next != null) {
                out.println("next scheduled refit: " + next.toInstant());
            }
            while (running.get()) {
                ConsumerRecords<byte[], byte[]> records = commandConsumer.poll(Duration.ofMillis(500));
                Set<String> models = new LinkedHashSet<>();
                List<String> requesters = new ArrayList<>();
                boolean all = false;
                boolean commanded = false;
                Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
                for (ConsumerRecord<byte[], byte[]> r : records) {
                    offsets.put(new TopicPartition(r.topic(), r.partition()), new OffsetAndMetadata(r.offset() + 1));
                    try {
                        TrainerCommand c = TrainerCommand.parse(codec, r.value());
                        for (String m : c.models()) {
                            Architecture.fromId(m); // unknown ids are refused here, not mid-refit
                        }
                        commanded = true;
                        all |= c.models().isEmpty();
                        models.addAll(c.models());
                        requesters.add(c.requestedBy() == null ? "unknown" : c.requestedBy());
                    } catch (InvalidEventException e) {
                        commandsRejected.incrementAndGet();
                        deadLetter(r, e);
                    } catch (IllegalArgumentException e) {
                        commandsRejected.incrementAndGet();
                        deadLetter(r, new InvalidEventException(
                                org.xrayscreening.connectors.event.DeadLetterReason.INVALID_FIELD, "unknown model id"));
                    }
                }
                boolean scheduled = next != null && !new Date().before(next);
                if (scheduled) {
                    next = cron.getNextValidTimeAfter(new Date());
                }
                if (commanded) {
                    List<Architecture> targets = all ? List.of() : models.stream().map(Architecture::fromId).toList();
                    runRefit(refitter, targets, "command from " + String.join(", ", requesters));
                } else if (scheduled) {
                    String digest = store.digest();
                    if (digest.equals(Refitter.lastRefitDigest(store))) {
                        out.println("scheduled refit skipped: no new labels since the last refit");
                    } else {
                        runRefit(refitter, List.of(), "schedule " + cron.getCronExpression());
                    }
                    out.println("next scheduled refit: " + next.toInstant());
                }
                if (!offsets.isEmpty()) {
                    awaitSends();
                    commandConsumer.commitSync(offsets);
                }
            }
        } catch (WakeupException e) {
            if (running.get()) {
                fail(e);
            }
        } catch (Throwable e) {
            fail(e);
        } finally {
            commandConsumer.close(Duration.ofSeconds(5));
        }
    }

    private void runRefit(Refitter refitter, List<Architecture> models, String trigger) throws IOException {
        refits.add(refitter.refit(store, models, trigger));
    }

    private void fail(Throwable e) {
        LOG.error("trainer service stopping: {}", e.toString(), e);
        failure = e;
        running.set(false);
    }

    // ------------------------------------------------------------------------------------------ state

    public List<Refitter.Result> refits() {
        return List.copyOf(refits);
    }

    public long accepted() {
        return accepted.get();
    }

    public long unchanged() {
        return unchanged.get();
    }

    public long deadLettered() {
        return deadLettered.get();
    }

    public long commandsRejected() {
        return commandsRejected.get();
    }

    /** The error that stopped a thread, or null. */
    public Throwable failure() {
        return failure;
    }

    public boolean isRunning() {
        return running.get();
    }

    /** Blocks until both threads ended (after {@link #close} or a failure). */
    public void await() throws InterruptedException {
        ingestThread.join();
        refitThread.join();
    }

    /** Stops polling; a refit in progress finishes first. */
    @Override
    public void close() throws InterruptedException {
        running.set(false);
        if (labelledConsumer != null) {
            labelledConsumer.wakeup();
        }
        if (ingestThread != null) {
            ingestThread.join();
        }
        if (refitThread != null) {
            // no wakeup: a refit in progress completes and commits its command
            refitThread.join();
        }
        if (producer != null) {
            producer.close(Duration.ofSeconds(10));
        }
        loader.close(); // idle HTTP connections of claim-check downloads
        LOG.info("trainer stopped: {} studies stored, {} redeliveries, {} dead letters, {} refits", accepted.get(),
                unchanged.get(), deadLettered.get(), refits.size());
    }

    // ------------------------------------------------------------------------------------------ kafka

    static Properties consumerProperties(Config c, String groupId) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, c.bootstrapServers());
        p.put(ConsumerConfig.GROUP_ID_CONFIG, groupId);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "50");
        // a refit holds the command consumer for its whole length
        p.put(ConsumerConfig.MAX_POLL_INTERVAL_MS_CONFIG, Integer.toString(6 * 3600 * 1000));
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        c.kafkaProperties().forEach(p::put);
        return p;
    }

    static Properties producerProperties(Config c) {
        return producerProperties(c.bootstrapServers(), c.kafkaProperties());
    }

    public static Properties producerProperties(String bootstrapServers, Map<String, String> extra) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        p.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, Integer.toString(48 << 20));
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        extra.forEach(p::put);
        return p;
    }
}
