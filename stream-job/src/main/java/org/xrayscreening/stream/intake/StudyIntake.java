package org.xrayscreening.stream.intake;

import org.xrayscreening.connectors.image.CanonicalImage;
import java.awt.image.BufferedImage;
import java.time.Instant;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.util.Collector;
import org.apache.flink.util.OutputTag;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xrayscreening.connectors.event.DeadLetter;
import org.xrayscreening.connectors.event.DeadLetterReason;
import org.xrayscreening.connectors.event.EventCodec;
import org.xrayscreening.connectors.event.InvalidEventException;
import org.xrayscreening.connectors.event.XrayAcquired;
import org.xrayscreening.connectors.image.ImageDecoder;
import org.xrayscreening.connectors.image.ImageLimits;
import org.xrayscreening.connectors.image.ImageLoader;
import org.xrayscreening.connectors.image.ImageSourcePolicy;
import org.xrayscreening.connectors.kafka.RawRecord;
import org.xrayscreening.stream.metrics.ScreeningMetrics;
import org.xrayscreening.stream.poison.AttemptJournal;
import org.xrayscreening.stream.poison.SuspectIsolation;

/**
 * First operator: parses an {@code xray.acquired} record, fetches and decodes its image, and turns it into
 * the canonical {@link StudyImage}. Anything wrong sends the original record, its Kafka coordinates and a
 * reason code to the dead-letter side output, so that records in = recommendations + dead letters.
 */
public class StudyIntake extends ProcessFunction<RawRecord, StudyImage> {

    public static final OutputTag<DeadLetter> DEAD_LETTERS = new OutputTag<>("dead-letters") {};
    /**
     * Test-only system property, unset in production: a study whose id starts with its value makes the intake throw
     * a real {@code OutOfMemoryError} while decoding (an impossible allocation), as a decompression bomb would.
     */
    public static final String OUT_OF_MEMORY_SWITCH = "xray.testing.out-of-memory-study-prefix";
    private static final Logger LOG = LoggerFactory.getLogger(StudyIntake.class);

    private final ImageLimits limits;
    private final ImageSourcePolicy imageSources;
    private final int canonicalMaxSide;
    private final String metricsHost;
    private final int metricsPort;
    private AttemptJournal.Config attemptJournal = AttemptJournal.Config.off();
    private transient AttemptJournal journal;
    private transient String outOfMemoryPrefix;
    private transient EventCodec codec;
    private transient ImageLoader loader;
    private transient ImageDecoder decoder;

    /** @param imageSources where claim-check images may be read from (a refusal is an IMAGE_SOURCE_NOT_ALLOWED dead letter) */
    public StudyIntake(ImageLimits limits, ImageSourcePolicy imageSources, int canonicalMaxSide, String metricsHost,
                       int metricsPort) {
        this.limits = limits;
        this.imageSources = java.util.Objects.requireNonNull(imageSources, "imageSources");
        this.canonicalMaxSide = canonicalMaxSide;
        this.metricsHost = metricsHost;
        this.metricsPort = metricsPort;
    }

    /**
     * Notes each record in {@code config}'s journal before its image is read, so that a record that kills the worker
     * {@code limit} times becomes an {@code IMAGE_CRASHED_WORKER} dead letter instead of a restart loop.
     */
    public StudyIntake withAttemptJournal(AttemptJournal.Config config) {
        this.attemptJournal = java.util.Objects.requireNonNull(config, "config");
        return this;
    }

    @Override
    public void open(OpenContext openContext) {
        journal = AttemptJournal.open(attemptJournal, "intake");
        outOfMemoryPrefix = System.getProperty(OUT_OF_MEMORY_SWITCH);
        if (outOfMemoryPrefix != null) {
            LOG.warn("test switch {} is set: studies whose id starts with it throw OutOfMemoryError", OUT_OF_MEMORY_SWITCH);
        }
        // On a session cluster every job (and a resubmitted one) gets its own classloader, with its own copy of
        // ScreeningMetrics: the port must be free again when this job's classes are released. Registered before
        // serving, so that a start that is interrupted (the task cancelled meanwhile) is stopped as well.
        getRuntimeContext().registerUserCodeClassLoaderReleaseHookIfAbsent("xray-metrics-endpoint",
                ScreeningMetrics::stopServing);
        ScreeningMetrics.serve(metricsHost, metricsPort);
        codec = new EventCodec(limits);
        loader = new ImageLoader(limits, imageSources);
        LOG.info("image sources: {}", imageSources.summary());
        decoder = new ImageDecoder(limits);
    }

    @Override
    public void close() throws Exception {
        if (loader != null) {
            loader.close(); // idle HTTP connections of claim-check downloads
        }
        super.close();
    }

    @Override
    public void processElement(RawRecord record, Context ctx, Collector<StudyImage> out) throws InterruptedException {
        ScreeningMetrics.get().eventsConsumed.inc();
        Reading reading;
        if (journal == null) {
            reading = read(record);
        } else {
            String key = AttemptJournal.key(record.getTopic(), record.getPartition(), record.getOffset());
            // a record that died before runs alone in this JVM (see SuspectIsolation); the attempt ends before
            // anything is emitted, because emitting can block on backpressure and must not hold the lock
            try (SuspectIsolation.Unit unit = SuspectIsolation.jvmWide().enter(journal.previousAttempts(key) > 0)) {
                if (!journal.begin(key)) {
                    reading = Reading.deadLetter(DeadLetterReason.IMAGE_CRASHED_WORKER, "processing this record "
                            + "ended the worker " + journal.limit() + " time(s) (out of memory or a native crash); "
                            + "not tried again");
                } else {
                    // An Error (OutOfMemoryError) leaves the attempt open on purpose: it counts as a death of the worker.
                    reading = read(record);
                    journal.end();
                }
            }
        }
        if (reading.study() != null) {
            out.collect(reading.study());
        } else {
            deadLetter(record, reading.reason(), reading.detail(), ctx);
        }
    }

    /** What reading one record gave: the study, or why it is a dead letter. */
    private record Reading(StudyImage study, DeadLetterReason reason, String detail) {
        static Reading deadLetter(DeadLetterReason reason, String detail) {
            return new Reading(null, reason, detail);
        }
    }

    private Reading read(RawRecord record) {
        try {
            XrayAcquired event = codec.parseAcquired(record.getValue());
            byte[] bytes = loader.load(event.image());
            if (outOfMemoryPrefix != null && event.studyId().startsWith(outOfMemoryPrefix)) {
                long[] impossible = new long[Integer.MAX_VALUE]; // OutOfMemoryError: exceeds the VM's array limit
                LOG.error("test switch allocated {} longs", impossible.length);
            }
            BufferedImage decoded = decoder.decode(bytes, event.image().contentType());
            BufferedImage canonical = CanonicalImage.toGray16(decoded, canonicalMaxSide);
            return new Reading(new StudyImage(event.studyId(), event.patientRef(), event.acquiredAt().toEpochMilli(),
                    System.currentTimeMillis(), canonical.getWidth(), canonical.getHeight(),
                    CanonicalImage.pixels(canonical)).from(record.getTopic(), record.getPartition(), record.getOffset()),
                    null, null);
        } catch (InvalidEventException e) {
            return Reading.deadLetter(e.reason(), e.detail());
        } catch (RuntimeException e) {
            // A bug or an unexpected library failure must not kill the job or lose the record.
            return Reading.deadLetter(DeadLetterReason.UNDECODABLE_IMAGE,
                    "unexpected " + e.getClass().getSimpleName() + " while reading the image");
        }
    }

    private void deadLetter(RawRecord record, DeadLetterReason reason, String detail, Context ctx) {
        // Kafka coordinates identify the record for operators without naming the study or the patient.
        LOG.warn("dead letter {} for {}-{}@{}: {}", reason, record.getTopic(), record.getPartition(),
                record.getOffset(), detail);
        ScreeningMetrics.get().deadLetters.labelValues(reason.name()).inc();
        ctx.output(DEAD_LETTERS, record.toDeadLetter(reason, detail, Instant.now()));
    }
}
