package org.xrayscreening.stream.local;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;
import org.apache.flink.api.common.JobStatus;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.xrayscreening.connectors.event.Alert;
import org.xrayscreening.connectors.event.DeadLetter;
import org.xrayscreening.connectors.event.Decision;
import org.xrayscreening.connectors.event.EventCodec;
import org.xrayscreening.connectors.event.Recommendation;
import org.xrayscreening.stream.ScreeningJob;
import org.xrayscreening.stream.metrics.ScreeningMetrics;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * Runs the whole system on one machine: an embedded Kafka broker, a local Flink environment, the registry
 * under {@code local-data/} (filled with demo-grade models trained on synthetic images if it is empty), and a
 * producer streaming sample studies. Prints each recommendation as it is committed. Ctrl-C stops it all; with
 * {@code --count N} it stops by itself once all N studies have a result, and exits non-zero if the job fails or
 * results are still missing after {@code --exit-timeout}. A one-line summary is printed at exit.
 */
@Command(name = "local", mixinStandardHelpOptions = true,
        description = "Run everything locally on embedded defaults (Kafka, Flink, demo models, sample studies).")
public class LocalScreening implements Callable<Integer> {

    @ParentCommand
    ScreeningJob parent;

    @Spec
    CommandSpec spec;

    @Option(names = "--work-dir", defaultValue = "local-data", description = "Where the local run keeps its files.")
    Path workDir;

    @Option(names = "--data", description = "Stream the images of this folder (manifest.csv or covid/, non-covid/) instead of synthetic ones.")
    Path data;

    @Option(names = "--rate", defaultValue = "2", description = "Studies produced per second.")
    double rate;

    @Option(names = "--count", defaultValue = "-1",
            description = "Studies to produce (-1: until stopped). With N >= 0 the run exits (0) once every one has "
                    + "been printed as a recommendation or a dead letter; with --data at most the folder's images.")
    long count;

    @Option(names = "--exit-timeout", defaultValue = "PT15M",
            description = "With --count N: exit non-zero if results are still missing this long after the last study "
                    + "was produced (ISO-8601 duration).")
    Duration exitTimeout;

    @Option(names = "--bad-every", defaultValue = "25", description = "Every n-th record is malformed, to show the dead-letter path (0: never).")
    int badEvery;

    @Option(names = "--demo-input-size", defaultValue = "" + DemoModels.DEFAULT_INPUT_SIZE, description = "Input size of demo models trained when the registry is empty.")
    int demoInputSize;

    @Option(names = "--demo-images", defaultValue = "" + DemoModels.DEFAULT_IMAGES, description = "Synthetic training images per demo model.")
    int demoImages;

    @Option(names = "--demo-epochs", defaultValue = "" + DemoModels.DEFAULT_EPOCHS, description = "Epochs per demo model.")
    int demoEpochs;

    @Option(names = "--worklist-port", defaultValue = "8090",
            description = "Port of the radiologists' worklist on 127.0.0.1 (0: a free port, -1: no worklist).")
    int worklistPort;

    @Override
    public Integer call() throws Exception {
        ScreeningJob.Options options = parent.options;
        boolean registryGiven = ScreeningJob.given(spec, "--registry");
        Path registryRoot = registryGiven ? options.registry : workDir.resolve("registry");
        options.registry = registryRoot;
        if (!ScreeningJob.given(spec, "--checkpoint-interval")) {
            options.checkpointIntervalMs = 2000; // results show up within ~2 s locally
        }
        if (!ScreeningJob.given(spec, "--metrics-host")) {
            options.metricsHost = "127.0.0.1";
        }
        allowLocalImageSources(options, workDir, data);
        if (!ScreeningJob.given(spec, "--heatmap-root")) {
            options.heatmapRoot = workDir.resolve("heatmaps");
        }
        if (!ScreeningJob.given(spec, "--attempt-journal")) {
            // the embedded broker is new on every run and numbers its offsets from 0 again: old markers mean nothing
            options.attemptJournal = workDir.resolve("attempt-journal");
            org.apache.flink.util.FileUtils.deleteDirectoryQuietly(options.attemptJournal.toFile());
        }
        long started = System.nanoTime();

        AtomicBoolean running = new AtomicBoolean(true);
        CountDownLatch stopped = new CountDownLatch(1);
        // Ctrl-C: let the main thread stop the producer, cancel the job and close the broker before exit.
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            running.set(false);
            try {
                stopped.await(30, java.util.concurrent.TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "local-shutdown"));
        DemoModels demo = EmbeddedPipeline.demoModels(registryRoot, demoInputSize, demoImages, demoEpochs);
        Tally tally = new Tally();
        String failure;
        try (EmbeddedPipeline pipeline = EmbeddedPipeline.start(options, demo)) {
            ScreeningMetrics.serve(options.metricsHost, options.metricsPort);
            System.out.printf(Locale.ROOT, "Kafka (embedded) at %s; %s%n", pipeline.bootstrapServers(),
                    ScreeningMetrics.servingPort() > 0 ? String.format(Locale.ROOT, "metrics at http://%s:%d/metrics",
                            options.metricsHost, ScreeningMetrics.servingPort()) : "metrics off");
            System.out.printf(Locale.ROOT, "Flink job %s running with %s; %s%n",
                    pipeline.job().getJobID(), String.join(", ", options.models),
                    count < 0 ? "Ctrl-C stops" : "exits once all " + count + " studies have a result (Ctrl-C stops)");

            LocalWorklist worklist = LocalWorklist.start(pipeline.bootstrapServers(), options, worklistPort, workDir, data);
            Thread producer = new Thread(() -> produce(pipeline.bootstrapServers(), options.topicAcquired, running, tally),
                    "sample-producer");
            producer.setDaemon(true);
            producer.start();
            try {
                failure = printResults(pipeline, options, running, started, tally);
            } finally {
                running.set(false);
                producer.join(5000);
                if (worklist != null) {
                    worklist.close();
                }
                System.out.println("stopping the Flink job and the embedded broker ...");
                ScreeningMetrics.stopServing();
            }
        } finally {
            stopped.countDown();
        }
        System.out.println("stopped.");
        System.out.printf(Locale.ROOT, "summary: produced %d, recommendations %d, dead letters %d%s%n",
                tally.produced.get(), tally.recommendations, tally.deadLetters,
                failure == null ? "" : " -- FAILED: " + failure);
        if (failure != null) {
            System.err.println("local run failed: " + failure);
            return 1;
        }
        return 0;
    }

    /**
     * The local run reads claim checks from its own work folder (the synthetic DICOM spool) and from the
     * {@code --data} folder when one is given, besides any {@code --allow-*} option; nothing else.
     */
    public static void allowLocalImageSources(ScreeningJob.Options options, Path workDir, Path data) throws java.io.IOException {
        java.nio.file.Files.createDirectories(workDir);
        java.util.List<Path> roots = new java.util.ArrayList<>(options.allowFileRoots == null ? List.of() : options.allowFileRoots);
        roots.add(workDir.toAbsolutePath());
        if (data != null) {
            roots.add(data.toAbsolutePath());
        }
        options.allowFileRoots = roots;
    }

    /** What the producer sent and the printer saw; the producer's fields are read by the printer thread. */
    static final class Tally {
        final java.util.concurrent.atomic.AtomicLong produced = new java.util.concurrent.atomic.AtomicLong();
        /** Set when the producer has sent everything it will send; System.nanoTime() of that moment. */
        volatile long producerDoneAt;
        volatile boolean producerDone;
        volatile String producerError;
        long recommendations;
        long deadLetters;
        /** Recommendations that need an alert, and the alerts printed with their heatmap line. */
        long flagged;
        long heatmapLines;

        long results() {
            return recommendations + deadLetters;
        }
    }

    private void produce(String bootstrap, String topic, AtomicBoolean running, Tally tally) {
        Random random = new Random(7);
        Path spool = workDir.resolve("spool");
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(Map.of(
                "bootstrap.servers", bootstrap, "key.serializer", org.apache.kafka.common.serialization.StringSerializer.class.getName(),
                "value.serializer", org.apache.kafka.common.serialization.ByteArraySerializer.class.getName(),
                "enable.idempotence", "true", "acks", "all"))) {
            List<Path> files = data == null ? List.of() : SampleStudies.listImages(data);
            if (data != null) {
                System.out.printf(Locale.ROOT, "streaming %d images from %s%n", files.size(), data);
            }
            long sleepMillis = Math.max(1, (long) (1000 / rate));
            for (long i = 0; running.get() && (count < 0 || i < count); i++) {
                if (data != null && i >= files.size()) {
                    break;
                }
                ProducerRecord<String, byte[]> record;
                if (badEvery > 0 && i > 0 && i % badEvery == 0) {
                    record = new ProducerRecord<>(topic, "bad-" + i,
                            "{\"schemaVersion\":1,\"studyId\":\"bad-%d\"".formatted(i).getBytes());
                } else {
                    SampleStudies.Sample s = data == null ? SampleStudies.synthetic(i, 256, spool, random)
                            : SampleStudies.fromFile(i, files.get((int) i));
                    record = new ProducerRecord<>(topic, s.studyId(), s.json());
                }
                producer.send(record).get(); // counted only once the broker has it
                tally.produced.incrementAndGet();
                Thread.sleep(sleepMillis);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception e) {
            tally.producerError = e.toString();
            System.err.println("producer stopped: " + e);
        } finally {
            tally.producerDoneAt = System.nanoTime();
            tally.producerDone = true;
        }
    }

    /**
     * Prints results until stopped; with {@code --count N} until every produced record has a result. Returns
     * null on success, or why the run failed (job failed, producer failed, results missing at the timeout).
     */
    private String printResults(EmbeddedPipeline pipeline, ScreeningJob.Options options, AtomicBoolean running,
            long started, Tally tally) throws Exception {
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(Map.of(
                "bootstrap.servers", pipeline.bootstrapServers(), "group.id", "local-printer", "auto.offset.reset", "earliest",
                "isolation.level", "read_committed",
                "key.deserializer", org.apache.kafka.common.serialization.StringDeserializer.class.getName(),
                "value.deserializer", org.apache.kafka.common.serialization.ByteArrayDeserializer.class.getName()))) {
            consumer.subscribe(List.of(options.topicRecommendations, options.topicDeadLetter, options.topicAlerts));
            EventCodec codec = new EventCodec();
            long nextStatusCheck = 0;
            while (running.get()) {
                ConsumerRecords<String, byte[]> records = consumer.poll(Duration.ofMillis(500));
                for (ConsumerRecord<String, byte[]> record : records) {
                    double t = (System.nanoTime() - started) / 1e9;
                    if (record.topic().equals(options.topicDeadLetter)) {
                        DeadLetter d = codec.fromJson(record.value(), DeadLetter.class);
                        System.out.printf(Locale.ROOT, "[%7.1fs] %-12s DEAD LETTER %s: %s%n", t, d.key(),
                                d.reason(), d.detail());
                        tally.deadLetters++;
                    } else if (record.topic().equals(options.topicAlerts)) {
                        Alert a = codec.fromJson(record.value(), Alert.class);
                        if (a.heatmapUri() != null) {
                            System.out.printf(Locale.ROOT, "[%7.1fs] %-12s heatmap %s%n", t, a.studyId(), a.heatmapUri());
                            tally.heatmapLines++;
                        } else if (a.heatmapMissing() != null) {
                            System.out.printf(Locale.ROOT, "[%7.1fs] %-12s heatmap missing: %s%n", t, a.studyId(),
                                    a.heatmapMissing());
                            tally.heatmapLines++;
                        }
                    } else {
                        Recommendation r = codec.fromJson(record.value(), Recommendation.class);
                        System.out.println(format(t, r));
                        tally.recommendations++;
                        if (r.decision() != Decision.NO_COVID_FINDINGS) {
                            tally.flagged++;
                        }
                    }
                }
                if (System.nanoTime() >= nextStatusCheck) {
                    nextStatusCheck = System.nanoTime() + 2_000_000_000L;
                    JobStatus status = pipeline.job().getJobStatus().get(30, TimeUnit.SECONDS);
                    if (status.isGloballyTerminalState()) {
                        return "the Flink job ended with status " + status;
                    }
                }
                if (count < 0) {
                    continue;
                }
                if (tally.producerError != null) {
                    return "the producer failed after " + tally.produced.get() + " records: " + tally.producerError;
                }
                // with heatmaps on, also wait for each flagged study's heatmap line (its URI, or why it is missing)
                if (tally.producerDone && tally.results() >= tally.produced.get()
                        && (options.heatmapRoot == null || tally.heatmapLines >= tally.flagged)) {
                    return null;
                }
                if (tally.producerDone && System.nanoTime() - tally.producerDoneAt > exitTimeout.toNanos()) {
                    return String.format(Locale.ROOT, "%d of %d records have no result %s after the last one was "
                                    + "produced (--exit-timeout)", tally.produced.get() - tally.results(),
                            tally.produced.get(), exitTimeout);
                }
            }
            return null; // stopped (Ctrl-C)
        }
    }

    static String format(double t, Recommendation r) {
        String scores = r.modelScores().stream()
                .map(s -> String.format(Locale.ROOT, "%s=%.2f", s.model(), s.probability()))
                .collect(Collectors.joining(" "));
        String missing = r.missingModels().isEmpty() ? "" : " missing=" + r.missingModels();
        return String.format(Locale.ROOT, "[%7.1fs] %-12s %-17s p=%.2f  %s%s  e2e=%d ms", t, r.studyId(),
                r.decision(), r.ensembleProbability(), scores, missing, r.endToEndMillis());
    }
}
