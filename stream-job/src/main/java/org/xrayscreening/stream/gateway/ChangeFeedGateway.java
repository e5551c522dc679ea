package org.xrayscreening.stream.gateway;

import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xrayscreening.connectors.event.EventCodec;
import org.xrayscreening.connectors.event.ImageReference;
import org.xrayscreening.connectors.event.XrayAcquired;
import org.xrayscreening.connectors.orthanc.ChestXrayFilter;
import org.xrayscreening.connectors.orthanc.ChestXrayFilter.SkipReason;
import org.xrayscreening.connectors.orthanc.OrthancClient;

/**
 * Follows Orthanc's change feed and publishes one {@code xray.acquired} event per new frontal chest X-ray
 * instance, with a claim-check URI to the instance's DICOM file ({@code /instances/{id}/file}): no pixels in
 * Kafka. Other instances are skipped and counted by reason.
 *
 * <p><b>Exactly once across restarts.</b> Each page of the feed is published in one Kafka transaction that
 * holds the page's events <em>and</em> the new feed position (the page's last sequence number, in a compacted
 * topic, see {@link GatewayPosition}). Either both become visible to {@code read_committed} readers or neither
 * does, so there is no window between "published" and "position saved":
 * <ul>
 * <li>a crash before the commit leaves an open transaction; the next gateway with the same transactional id
 * calls {@code initTransactions()}, which fences the old producer and aborts that transaction, then reads
 * the last <em>committed</em> position and publishes the page again - the aborted copies are never seen;
 * <li>a crash after the commit: the position is already durable, the page is not read again;
 * <li>a failed or uncertain commit: the producer is discarded and the same recovery runs.
 * </ul>
 * The Flink job reads {@code xray.acquired} with {@code read_committed}, as every consumer of it must. The
 * sequence number is Orthanc's own (its index database); a new Orthanc database restarts it at 1, so a fresh
 * Orthanc needs a fresh gateway id.
 *
 * <p>The patient ID (0010,0020) goes into the event's {@code patientRef} and nowhere else: log lines name
 * sequence numbers, counts and reasons, never tag values.
 */
public final class ChangeFeedGateway implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(ChangeFeedGateway.class);

    /** What the gateway needs to know; see {@link DicomGateway} for the command-line options. */
    public record Settings(String gatewayId, String transactionalId, String topicAcquired, String topicPosition,
                           String claimCheckBaseUrl, String source, int pageSize, Duration pollInterval) {}

    /** Test hook: called inside the transaction, after the events and the position were sent, before commit. */
    interface BeforeCommit {
        void run(int events) throws Exception;
    }

    private final OrthancClient orthanc;
    private final Map<String, Object> kafkaProps;
    private final Settings settings;
    private final EventCodec codec = new EventCodec();
    private final GatewayMetrics metrics = GatewayMetrics.get();
    private BeforeCommit beforeCommit = events -> { };
    private KafkaProducer<String, byte[]> producer;
    private long position = -1;
    private boolean warnedBehind;
    /** Counted down by {@link #stop()}: ends {@link #run()} and its pauses without interrupting Kafka clients. */
    private final java.util.concurrent.CountDownLatch stopped = new java.util.concurrent.CountDownLatch(1);

    /** @param kafkaProps bootstrap servers and any client properties (TLS, SASL) */
    public ChangeFeedGateway(OrthancClient orthanc, Map<String, Object> kafkaProps, Settings settings) {
        this.orthanc = orthanc;
        this.kafkaProps = Map.copyOf(kafkaProps);
        this.settings = settings;
    }

    void beforeCommit(BeforeCommit hook) {
        this.beforeCommit = hook;
    }

    /** The committed position (the last change sequence number published), -1 before {@link #recover()}. */
    public long position() {
        return position;
    }

    /**
     * (Re)starts the producer and reads the durable position. Order matters: {@code initTransactions()} first,
     * so that a transaction a crashed predecessor left open is aborted before the position is read.
     */
    public void recover() {
        closeProducer(Duration.ZERO);
        Map<String, Object> p = new java.util.HashMap<>(kafkaProps);
        p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, settings.transactionalId());
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.putIfAbsent(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, 60_000);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        producer = new KafkaProducer<>(p);
        producer.initTransactions();
        position = GatewayPosition.read(kafkaProps, settings.topicPosition(), settings.gatewayId(), Duration.ofSeconds(60));
        metrics.position.set(position);
        LOG.info("gateway '{}' resumes the Orthanc change feed after sequence number {}", settings.gatewayId(), position);
    }

    /**
     * Reads one page of the feed after the committed position and publishes it.
     *
     * @return the number of changes read (0: the feed has nothing new)
     * @throws IOException when Orthanc cannot be read (nothing was published; retry later)
     * @throws org.apache.kafka.common.KafkaException when publishing failed; call {@link #recover()} before retrying
     */
    public int step() throws Exception {
        if (producer == null) {
            recover();
        }
        OrthancClient.ChangePage page = orthanc.changes(position, settings.pageSize());
        if (page.changes().isEmpty()) {
            if (page.last() < position && !warnedBehind) {
                warnedBehind = true; // once: it stays true until someone acts
                LOG.warn("Orthanc's change feed ends at sequence number {}, before this gateway's position {}: a new "
                        + "Orthanc database? New instances are not published until the feed passes {}; give the "
                        + "gateway a new --gateway-id to start from the beginning", page.last(), position, position);
            }
            return 0;
        }
        long last = position;
        List<ProducerRecord<String, byte[]>> events = new ArrayList<>();
        Map<SkipReason, Integer> skips = new EnumMap<>(SkipReason.class);
        int gone = 0;
        for (OrthancClient.Change change : page.changes()) {
            last = Math.max(last, change.seq());
            if (!change.isNewInstance()) {
                continue;
            }
            Optional<Map<String, String>> tags = orthanc.simplifiedTags(change.id());
            if (tags.isEmpty()) {
                gone++; // deleted since it arrived: nothing to screen
                continue;
            }
            Optional<SkipReason> skip = ChestXrayFilter.skipReason(tags.get());
            if (skip.isPresent()) {
                skips.merge(skip.get(), 1, Integer::sum);
                continue;
            }
            XrayAcquired event = event(change.id(), tags.get());
            events.add(new ProducerRecord<>(settings.topicAcquired(), event.studyId(), codec.toJson(event)));
        }
        // Orthanc's Last is the last sequence number of the page; take it if it is ahead (changes may be filtered)
        last = Math.max(last, page.last());
        producer.beginTransaction();
        for (ProducerRecord<String, byte[]> e : events) {
            producer.send(e);
        }
        producer.send(new ProducerRecord<>(settings.topicPosition(), settings.gatewayId(),
                GatewayPosition.value(last, orthanc.baseUrl())));
        beforeCommit.run(events.size());
        producer.commitTransaction();
        position = last;
        metrics.position.set(last);
        metrics.published.inc(events.size());
        skips.forEach((reason, n) -> metrics.skipped.labelValues(reason.label()).inc(n));
        if (gone > 0) {
            metrics.skipped.labelValues("deleted").inc(gone);
        }
        int skipped = skips.values().stream().mapToInt(Integer::intValue).sum() + gone;
        if (events.size() + skipped > 0) {
            LOG.info("changes up to {}: {} chest X-ray instance(s) published, {} instance(s) skipped {}", last,
                    events.size(), skipped, skips);
        } else { // other changes (new series/studies, the recommendations' own metadata updates)
            LOG.debug("changes up to {}: no new instance", last);
        }
        return page.changes().size();
    }

    /** The event for one instance. {@code studyId} is the SOP Instance UID: one event, one recommendation per image. */
    XrayAcquired event(String instanceId, Map<String, String> tags) {
        String patientId = tags.getOrDefault("PatientID", "").strip();
        String view = tags.getOrDefault("ViewPosition", "").strip();
        String uri = settings.claimCheckBaseUrl() + "/instances/" + instanceId + "/file";
        return new XrayAcquired(EventCodec.SCHEMA_VERSION, tags.get("SOPInstanceUID").strip(),
                patientId.isEmpty() ? null : patientId, Instant.now(), view.isEmpty() ? null : view,
                settings.source(), ImageReference.at(ImageReference.DICOM, uri));
    }

    /** Makes {@link #run()} return after the page in progress. Any thread. */
    public void stop() {
        stopped.countDown();
    }

    /**
     * Follows the feed until {@link #stop()}: pages back to back while there are changes, one poll per interval
     * otherwise. Orthanc errors are retried after the interval; Kafka errors restart the producer from the
     * durable position. A fenced producer (another gateway took over the same id) ends the loop.
     */
    public void run() throws InterruptedException {
        while (stopped.getCount() > 0) {
            int read;
            try {
                read = step();
            } catch (org.apache.kafka.common.errors.ProducerFencedException
                     | org.apache.kafka.common.errors.InvalidProducerEpochException e) {
                throw new IllegalStateException("another gateway runs with the transactional id of this one", e);
            } catch (IOException e) {
                metrics.errors.labelValues("orthanc").inc();
                LOG.warn("Orthanc cannot be read, retrying: {}", e.getMessage());
                read = 0;
            } catch (org.apache.kafka.common.errors.InterruptException e) {
                Thread.currentThread().interrupt();
                break;
            } catch (RuntimeException e) {
                metrics.errors.labelValues("kafka").inc();
                LOG.warn("publishing failed, restarting from the committed position: {}", e.toString());
                closeProducer(Duration.ZERO);
                read = 0;
            } catch (InterruptedException e) {
                throw e;
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
            if (read < settings.pageSize()) {
                stopped.await(settings.pollInterval().toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
            }
        }
    }

    private void closeProducer(Duration timeout) {
        if (producer != null) {
            try {
                producer.close(timeout);
            } catch (RuntimeException e) {
                LOG.debug("closing the producer", e);
            }
            producer = null;
        }
    }

    @Override
    public void close() {
        closeProducer(Duration.ofSeconds(5));
    }
}
