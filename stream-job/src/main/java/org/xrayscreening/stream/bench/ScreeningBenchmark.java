package org.xrayscreening.stream.bench;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.xrayscreening.connectors.event.Alert;
import org.xrayscreening.connectors.event.EventCodec;
import org.xrayscreening.connectors.event.ModelScore;
import org.xrayscreening.connectors.event.Recommendation;
import org.xrayscreening.stream.ScreeningJob;
import org.xrayscreening.stream.local.DemoModels;
import org.xrayscreening.stream.local.EmbeddedPipeline;
import org.xrayscreening.stream.local.LocalScreening;
import org.xrayscreening.stream.local.SampleStudies;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * Streams N synthetic studies through the embedded pipeline (embedded Kafka, local Flink, the registry's
 * models) and prints throughput, end-to-end latency percentiles and per-model inference time as Markdown.
 *
 * <p>Two latencies are reported: "produced" is acquisition to the ensemble's decision (what the
 * {@code xray_end_to_end_seconds} histogram sees); "visible" is acquisition to a read_committed consumer
 * receiving it, which adds up to one checkpoint interval because exactly-once output is committed per
 * checkpoint.
 */
@Command(name = "benchmark", mixinStandardHelpOptions = true,
        description = "Stream N synthetic studies through the embedded pipeline and print throughput and latency.")
public class ScreeningBenchmark implements Callable<Integer> {

    @ParentCommand
    ScreeningJob parent;

    @Spec
    CommandSpec spec;

    @Option(names = "--studies", defaultValue = "200", description = "Studies to stream (after warm-up).")
    int studies;

    @Option(names = "--warmup", defaultValue = "8", description = "Studies streamed first and not measured.")
    int warmup;

    @Option(names = "--rate", defaultValue = "0",
            description = "Studies per second to produce (0: all at once, which measures throughput; a rate below "
                    + "the throughput measures latency without a backlog).")
    double rate;

    @Option(names = "--image-size", defaultValue = "320", description = "Side of the synthetic images.")
    int imageSize;

    @Option(names = "--work-dir", defaultValue = "local-data", description = "Where registry and spool live by default.")
    Path workDir;

    @Option(names = "--untrained-native", description = "Serve randomly initialized models at each network's "
            + "native input size (224/224/299/299) from a temporary registry: speed does not depend on the weights, "
            + "and demo models are smaller than production ones.")
    boolean untrainedNative;

    @Option(names = "--timeout", defaultValue = "PT30M", description = "Give up after this long (ISO-8601 duration).")
    Duration timeout;

    @Option(names = "--flagged-shares", split = ",", paramLabel = "SHARE",
            description = "After the plain run (heatmaps off), run the same studies again with heatmaps on, once per "
                    + "share (e.g. 0.1,0.5): the threshold is set between the plain run's ensemble probabilities so that "
                    + "this share of studies is flagged (band 0, no disagreement rule). For measuring only.")
    List<Double> flaggedShares = new ArrayList<>();

    @Option(names = "--compare", split = ",", paramLabel = "SIZE/WAIT/THREADS",
            description = "Compare scoring configurations in one run, e.g. 1/0/2,4/100/1: batch size, batch wait "
                    + "(ms) and intra-op threads per model operator. For each, a fresh pipeline measures the "
                    + "saturation rate (--studies at once), then offers --loads of it at a fixed rate.")
    List<String> compare;

    @Option(names = "--loads", split = ",", defaultValue = "0.5,0.7,0.9",
            description = "With --compare: offered loads as fractions of each configuration's saturation rate.")
    List<Double> loads;

    @Option(names = "--load-studies", defaultValue = "30",
            description = "With --compare: studies streamed at each fixed offered load.")
    int loadStudies;

    @Option(names = "--rounds", defaultValue = "1",
            description = "With --compare: times the whole comparison is repeated (configurations interleaved); "
                    + "the table shows medians.")
    int rounds;

    @Override
    public Integer call() throws Exception {
        ScreeningJob.Options options = parent.options;
        if (!ScreeningJob.given(spec, "--registry")) {
            options.registry = workDir.resolve("registry");
        }
        if (!ScreeningJob.given(spec, "--checkpoint-interval")) {
            options.checkpointIntervalMs = 1000;
        }
        options.metricsPort = 0;
        LocalScreening.allowLocalImageSources(options, workDir, null); // the synthetic DICOM spool
        if (untrainedNative) {
            options.registry = untrainedNativeRegistry(workDir.resolve("bench-registry"));
        }
        if (compare != null && !compare.isEmpty()) {
            return new LoadComparison(this, options).run();
        }
        if (!flaggedShares.isEmpty() && !ScreeningJob.given(spec, "--heatmap-root")) {
            options.heatmapRoot = null; // the plain run; the flagged runs below turn heatmaps on
        }
        Result plain = measure(options);
        System.out.println(plain.markdown(options));
        if (flaggedShares.isEmpty()) {
            return 0;
        }
        List<Double> probabilities = plain.recommendations().stream().map(Recommendation::ensembleProbability)
                .sorted(java.util.Comparator.reverseOrder()).toList();
        StringBuilder table = new StringBuilder(String.format(Locale.ROOT, "%n| flagged share asked | flagged | "
                + "threshold | throughput img/s (all outputs) | vs heatmaps off | heatmap ms per flagged study "
                + "(mean, warm-up included) | alerts with heatmap | heatmap missing |%n| --- | --- | --- | --- | --- | --- | --- | --- |%n"
                + "| heatmaps off (default policy) | %d alerts | %s | %.2f | 1.00 | - | - | - |%n", plain.flagged(), options.threshold,
                plain.n() / plain.seconds()));
        for (double share : flaggedShares) {
            int k = (int) Math.round(share * probabilities.size());
            if (k < 1 || k >= probabilities.size()) {
                throw new IllegalArgumentException("share " + share + " flags " + k + " of " + probabilities.size());
            }
            options.threshold = (probabilities.get(k - 1) + probabilities.get(k)) / 2;
            options.indeterminateBand = 0;
            options.maxDisagreement = 1.0;
            options.heatmapRoot = workDir.resolve("bench-heatmaps").resolve("run-" + System.currentTimeMillis());
            double countBefore = heatmapSeconds().getCount();
            double sumBefore = heatmapSeconds().getSum();
            System.out.printf(Locale.ROOT, "%nheatmaps on, threshold %.6f (%.0f%% of studies flagged) ...%n",
                    options.threshold, share * 100);
            Result flagged = measure(options);
            System.out.println(flagged.markdown(options));
            double count = heatmapSeconds().getCount() - countBefore;
            double millis = count > 0 ? (heatmapSeconds().getSum() - sumBefore) * 1000 / count : Double.NaN;
            long withHeatmap = flagged.alerts().stream().filter(a -> a.heatmapUri() != null).count();
            long missing = flagged.alerts().stream().filter(a -> a.heatmapMissing() != null).count();
            double throughput = flagged.n() / flagged.seconds();
            table.append(String.format(Locale.ROOT, "| %.0f%% | %d | %.6f | %.2f | %.2f | %.0f | %d | %d |%n",
                    share * 100, flagged.flagged(), options.threshold, throughput,
                    throughput / (plain.n() / plain.seconds()), millis, withHeatmap, missing));
        }
        System.out.println(table);
        return 0;
    }

    private static io.prometheus.metrics.model.snapshots.HistogramSnapshot.HistogramDataPointSnapshot heatmapSeconds() {
        return org.xrayscreening.stream.metrics.ScreeningMetrics.get().heatmapSeconds.collect().getDataPoints().get(0);
    }

    private Result measure(ScreeningJob.Options options) throws Exception {
        try (EmbeddedPipeline pipeline = EmbeddedPipeline.start(options,
                EmbeddedPipeline.demoModels(options.registry, DemoModels.DEFAULT_INPUT_SIZE,
                        DemoModels.DEFAULT_IMAGES, DemoModels.DEFAULT_EPOCHS))) {
            System.out.printf(Locale.ROOT, "warming up with %d studies ...%n", warmup);
            run(pipeline, options, "warmup-", warmup);
            System.out.printf(Locale.ROOT, "measuring %d studies ...%n", studies);
            return run(pipeline, options, "bench-", studies);
        }
    }

    /** A registry with one untrained model per architecture at its native size, all aliased "production". */
    static Path untrainedNativeRegistry(Path root) throws Exception {
        org.xrayscreening.models.registry.ModelRegistry registry = new org.xrayscreening.models.registry.ModelRegistry(root);
        for (org.xrayscreening.models.Architecture a : org.xrayscreening.models.Architecture.values()) {
            try {
                registry.resolve(a, "production");
                continue;
            } catch (org.xrayscreening.models.registry.ModelNotFoundException e) {
                // publish one below
            }
            java.nio.file.Files.createDirectories(root);
            Path staging = java.nio.file.Files.createTempDirectory(root, ".bench-staging-");
            try (ai.djl.Model model = org.xrayscreening.models.inference.ModelExport.newModel(a, a.nativeInputSize())) {
                org.xrayscreening.models.inference.ModelExport.save(model, staging);
            }
            var version = registry.publish(a, null, staging, org.xrayscreening.models.registry.ModelMetadata
                    .builder(a, a.nativeInputSize()).trainingDataDigest("untrained").command("benchmark --untrained-native")
                    .notes("UNTRAINED: for speed measurements only").build());
            registry.setAlias(a, "production", version.version());
        }
        return root;
    }

    private Result run(EmbeddedPipeline pipeline, ScreeningJob.Options options, String prefix, int n) throws Exception {
        return run(pipeline, options, prefix, n, rate);
    }

    Result run(EmbeddedPipeline pipeline, ScreeningJob.Options options, String prefix, int n, double rate)
            throws Exception {
        EventCodec codec = new EventCodec();
        Random random = new Random(11);
        List<byte[]> payloads = new ArrayList<>();
        List<String> keys = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            SampleStudies.Sample s = SampleStudies.synthetic(i, imageSize, workDir.resolve("spool"), random);
            // re-key so warm-up and measured studies never collide
            var event = codec.parseAcquired(s.json());
            String id = prefix + s.studyId();
            keys.add(id);
            payloads.add(codec.toJson(new org.xrayscreening.connectors.event.XrayAcquired(event.schemaVersion(), id,
                    event.patientRef(), event.acquiredAt(), event.view(), event.source(), event.image())));
        }
        Map<String, Object> consumerProps = Map.of("bootstrap.servers", pipeline.bootstrapServers(),
                "group.id", "bench-" + prefix + System.nanoTime(), "auto.offset.reset", "latest",
                "isolation.level", "read_committed", "key.deserializer", StringDeserializer.class.getName(),
                "value.deserializer", ByteArrayDeserializer.class.getName());
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(consumerProps);
             KafkaProducer<String, byte[]> producer = new KafkaProducer<>(Map.of(
                     "bootstrap.servers", pipeline.bootstrapServers(), "key.serializer", StringSerializer.class.getName(),
                     "value.serializer", ByteArraySerializer.class.getName(), "acks", "all", "linger.ms", "5"))) {
            consumer.subscribe(List.of(options.topicRecommendations, options.topicAlerts));
            while (consumer.assignment().isEmpty()) {
                consumer.poll(Duration.ofMillis(100));
            }
            consumer.seekToEnd(consumer.assignment());
            consumer.assignment().forEach(consumer::position);

            long start = System.nanoTime();
            // produce on its own thread so that "visible" latency is measured while studies still arrive
            Thread sender = new Thread(() -> {
                try {
                    for (int i = 0; i < n; i++) {
                        if (rate > 0) {
                            // study i is due at start + i / rate, however long sending the earlier ones took
                            long due = start + (long) (i * 1e9 / rate);
                            long wait = due - System.nanoTime();
                            if (wait > 0) {
                                Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
                            }
                        }
                        // acquisition time = the moment of producing, so latency covers the whole pipeline
                        var event = codec.parseAcquired(payloads.get(i));
                        byte[] stamped = codec.toJson(new org.xrayscreening.connectors.event.XrayAcquired(
                                event.schemaVersion(), event.studyId(), event.patientRef(), Instant.now(), event.view(),
                                event.source(), event.image()));
                        producer.send(new ProducerRecord<>(options.topicAcquired, keys.get(i), stamped));
                        if (rate > 0) {
                            producer.flush();
                        }
                    }
                    producer.flush();
                } catch (Exception e) {
                    throw new IllegalStateException("benchmark producer failed", e);
                }
            }, "benchmark-producer");
            sender.start();

            Map<String, Recommendation> received = new HashMap<>();
            Map<String, Alert> alerts = new HashMap<>();
            List<Long> visibleMillis = new ArrayList<>();
            long deadline = System.nanoTime() + timeout.toNanos();
            long lastReceived = start;
            // done when every study has its recommendation and every flagged one its alert (heatmap made or not)
            while ((received.size() < n || alerts.size() < flaggedCount(received.values()))
                    && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, byte[]> record : consumer.poll(Duration.ofMillis(200))) {
                    if (record.topic().equals(options.topicAlerts)) {
                        Alert a = codec.fromJson(record.value(), Alert.class);
                        if (a.studyId() != null && a.studyId().startsWith(prefix) && alerts.putIfAbsent(a.studyId(), a) == null) {
                            lastReceived = System.nanoTime();
                        }
                        continue;
                    }
                    Recommendation r = codec.fromJson(record.value(), Recommendation.class);
                    if (r.studyId().startsWith(prefix) && received.putIfAbsent(r.studyId(), r) == null) {
                        visibleMillis.add(System.currentTimeMillis() - r.acquiredAt().toEpochMilli());
                        lastReceived = System.nanoTime();
                        if (received.size() % 10 == 0) {
                            System.out.printf(Locale.ROOT, "\r  %d/%d recommendations", received.size(), n);
                        }
                    }
                }
            }
            System.out.println();
            sender.join();
            if (received.size() < n) {
                throw new IllegalStateException("only " + received.size() + " of " + n + " recommendations within " + timeout);
            }
            return new Result(rate, n, (lastReceived - start) / 1e9, new ArrayList<>(received.values()), visibleMillis,
                    new ArrayList<>(alerts.values()));
        }
    }

    private static long flaggedCount(java.util.Collection<Recommendation> recommendations) {
        return recommendations.stream().filter(r -> r.decision() != org.xrayscreening.connectors.event.Decision.NO_COVID_FINDINGS)
                .count();
    }

    record Result(double rate, int n, double seconds, List<Recommendation> recommendations, List<Long> visibleMillis,
                  List<Alert> alerts) {

        long flagged() {
            return flaggedCount(recommendations);
        }

        String markdown(ScreeningJob.Options options) {
            StringBuilder sb = new StringBuilder();
            List<Long> produced = recommendations.stream().map(Recommendation::endToEndMillis).sorted().toList();
            List<Long> visible = visibleMillis.stream().sorted().toList();
            sb.append(String.format(Locale.ROOT, "%n| studies | offered rate /s | wall s | throughput img/s | checkpoint ms | models |%n"
                    + "| --- | --- | --- | --- | --- | --- |%n| %d | %s | %.1f | %.2f | %d | %s |%n", n,
                    rate > 0 ? String.format(Locale.ROOT, "%.2f", rate) : "all at once", seconds, n / seconds,
                    options.checkpointIntervalMs, String.join(", ", options.models)));
            sb.append(String.format(Locale.ROOT, "%n| latency (ms) | p50 | p95 | p99 | max |%n| --- | --- | --- | --- | --- |%n"));
            sb.append(row("acquired -> decision produced", produced));
            sb.append(row("acquired -> visible (read_committed)", visible));
            Map<String, List<Long>> perModel = new java.util.TreeMap<>();
            Map<String, String> versions = new java.util.TreeMap<>();
            for (Recommendation r : recommendations) {
                for (ModelScore s : r.modelScores()) {
                    perModel.computeIfAbsent(s.model(), k -> new ArrayList<>()).add(Math.round(s.inferenceMillis()));
                    versions.put(s.model(), s.version());
                }
            }
            sb.append(String.format(Locale.ROOT, "%n| model inference (ms, preprocessing included) | version | mean | p50 | p95 |%n| --- | --- | --- | --- | --- |%n"));
            perModel.forEach((model, values) -> {
                List<Long> sorted = values.stream().sorted().toList();
                double mean = sorted.stream().mapToLong(Long::longValue).average().orElse(Double.NaN);
                sb.append(String.format(Locale.ROOT, "| %s | %s | %.1f | %d | %d |%n", model, versions.get(model), mean,
                        percentile(sorted, 50), percentile(sorted, 95)));
            });
            long partial = recommendations.stream().filter(r -> !r.missingModels().isEmpty()).count();
            sb.append(String.format(Locale.ROOT, "%nrecommendations with missing models: %d of %d%n", partial, n));
            return sb.toString();
        }

        private static String row(String name, List<Long> sorted) {
            return String.format(Locale.ROOT, "| %s | %d | %d | %d | %d |%n", name, percentile(sorted, 50),
                    percentile(sorted, 95), percentile(sorted, 99), sorted.get(sorted.size() - 1));
        }

        static long percentile(List<Long> sorted, int p) {
            int index = (int) Math.ceil(p / 100.0 * sorted.size()) - 1;
            return sorted.get(Math.max(0, Math.min(sorted.size() - 1, index)));
        }
    }
}
