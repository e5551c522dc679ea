package org.xrayscreening.trainer.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Model;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TimeZone;
import java.util.function.BooleanSupplier;
import javax.imageio.ImageIO;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.xrayscreening.connectors.event.DeadLetter;
import org.xrayscreening.connectors.event.DeadLetterReason;
import org.xrayscreening.connectors.event.EventCodec;
import org.xrayscreening.connectors.event.ImageReference;
import org.xrayscreening.connectors.event.ModelUpdate;
import org.xrayscreening.connectors.event.TrainerCommand;
import org.xrayscreening.connectors.event.XrayLabelled;
import org.xrayscreening.connectors.kafka.EmbeddedKafka;
import org.xrayscreening.connectors.kafka.KafkaTopics;
import org.xrayscreening.models.Architecture;
import org.xrayscreening.models.inference.ModelExport;
import org.xrayscreening.models.registry.ModelMetadata;
import org.xrayscreening.models.registry.ModelRegistry;
import org.xrayscreening.models.registry.ModelVersion;
import org.xrayscreening.models.synthetic.SyntheticChestXray;
import org.xrayscreening.trainer.TrainerCli;
import org.xrayscreening.trainer.dataset.Dataset;

/**
 * The trainer's long-running mode end to end on a real (embedded) broker: labelled studies in (and two bad
 * records), a refit command event, a champion/challenger refit of a tiny MobileNet (64 px, 1 epoch), and a
 * promotion or a documented rejection, consistent everywhere (metadata, report, alias, xray.model-updates).
 */
class TrainerLifecycleIT {
    private static final int SIZE = 64;
    private static final int STUDIES = 40;
    private final EventCodec codec = new EventCodec();

    @Test
    @Timeout(300)
    void labelledEventsInRefitOnCommandPromotionOrDocumentedRejection(@TempDir Path tmp) throws Exception {
        TrainerCli.configureThreads(2);
        KafkaTopics topics = KafkaTopics.DEFAULTS.withPrefix("lc.");
        String commands = "lc." + TrainerCommand.TOPIC;
        Path registryRoot = tmp.resolve("registry");
        ModelRegistry registry = new ModelRegistry(registryRoot);
        ModelVersion v1 = publishChampion(registry, tmp.resolve("staging"));
        String championSha = ModelRegistry.sha256(v1.directory().resolve(ModelRegistry.METADATA_FILE));

        try (EmbeddedKafka kafka = new EmbeddedKafka().start()) {
            List<String> names = new ArrayList<>(topics.all());
            names.add(commands);
            kafka.createTopics(1, names.toArray(String[]::new));
            String bootstrap = kafka.bootstrapServers();

            // every fifth image by file: claim check from the one folder the trainer may read
            Path claimChecks = java.nio.file.Files.createDirectories(tmp.resolve("labelled-images"));
            // 40 confirmed studies (half COVID-19; two studies per patient) and two bad records
            try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(
                    TrainerService.producerProperties(bootstrap, Map.of()))) {
                for (int i = 0; i < STUDIES; i++) {
                    boolean positive = (i / 2) % 2 == 0;
                    XrayLabelled e = new XrayLabelled(1, "study-" + i, "patient-" + (i / 2),
                            Instant.parse("2026-01-01T08:00:00Z"), "PA", "site-" + (i % 3),
                            i % 5 == 0 ? ImageReference.at(ImageReference.PNG, claimCheck(claimChecks, i, png(500 + i, positive)))
                                    : ImageReference.inline(ImageReference.PNG, png(500 + i, positive)),
                            positive ? XrayLabelled.COVID : XrayLabelled.NON_COVID,
                            i % 4 == 0 ? XrayLabelled.RADIOLOGIST : XrayLabelled.PCR,
                            Instant.parse("2026-01-03T08:00:00Z"));
                    send(producer, topics.labelled(), e.studyId(), codec.toJson(e));
                }
                send(producer, topics.labelled(), "bad-json", "{\"schemaVersion\":1,".getBytes(StandardCharsets.UTF_8));
                XrayLabelled garbage = new XrayLabelled(1, "bad-image", "patient-x", Instant.now(), "PA", "site-0",
                        ImageReference.inline(ImageReference.PNG, "not a png at all".getBytes(StandardCharsets.UTF_8)),
                        XrayLabelled.COVID, XrayLabelled.PCR, null);
                send(producer, topics.labelled(), "bad-image", codec.toJson(garbage));
                // claim checks outside --allow-file-root / --allow-url-prefix: refused, never read
                for (String uri : List.of("file:///etc/passwd", "http://127.0.0.1:9404/metrics")) {
                    XrayLabelled forbidden = new XrayLabelled(1, "bad-source-" + uri.charAt(0), "patient-x", Instant.now(),
                            "PA", "site-0", ImageReference.at(ImageReference.PNG, uri), XrayLabelled.COVID,
                            XrayLabelled.PCR, null);
                    send(producer, topics.labelled(), forbidden.studyId(), codec.toJson(forbidden));
                }
            }

            TrainingStore store = TrainingStore.open(tmp.resolve("store"));
            Refitter.Settings settings = new Refitter.Settings(registryRoot, tmp.resolve("runs"), null, "production",
                    0.25, 1, 8, 1e-3f, 0.9f, 0.25, 7, 2, false, 0, 10, PromotionPolicy.defaults());
            TrainerService.Config config = new TrainerService.Config(bootstrap, topics.labelled(), commands,
                    topics.deadLetter(), topics.modelUpdates(), "lc-trainer", null, TimeZone.getTimeZone("UTC"), Map.of(),
                    org.xrayscreening.connectors.image.ImageSourcePolicy.of(List.of(claimChecks), List.of(), false));
            ByteArrayOutputStream log = new ByteArrayOutputStream();
            long t0 = System.nanoTime();
            try (TrainerService service = new TrainerService(config, store, settings,
                    new PrintStream(log, true, StandardCharsets.UTF_8)).start()) {
                // size() counts rows in memory; the manifest follows at the end of the poll batch (flush), and the
                // dataset below reads the manifest: wait for it, or a loaded machine sees the store before its flush
                waitFor(() -> store.size() == STUDIES && service.deadLettered() == 4 && manifestRows(store) == STUDIES,
                        Duration.ofSeconds(60), service);
                System.out.printf("ingested %d studies + 4 dead letters in %.1f s%n", STUDIES, (System.nanoTime() - t0) / 1e9);

                // the store is durable and reads as a dataset
                assertThat(Dataset.load(store.root()).entries()).hasSize(STUDIES);
                List<ConsumerRecord<byte[], byte[]>> dead = readAll(bootstrap, topics.deadLetter(), 4, Duration.ofSeconds(20));
                assertThat(dead).hasSize(4);
                assertThat(dead.stream().map(r -> codec.fromJson(r.value(), DeadLetter.class).reason()))
                        .containsExactlyInAnyOrder(DeadLetterReason.MALFORMED_JSON, DeadLetterReason.UNDECODABLE_IMAGE,
                                DeadLetterReason.IMAGE_SOURCE_NOT_ALLOWED, DeadLetterReason.IMAGE_SOURCE_NOT_ALLOWED);
                assertThat(dead.stream().map(r -> codec.fromJson(r.value(), DeadLetter.class).detail()))
                        .noneMatch(d -> d.contains("patient") || d.contains("passwd") || d.contains("127.0.0.1"));

                // refit on a command event
                try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(
                        TrainerService.producerProperties(bootstrap, Map.of()))) {
                    send(producer, commands, "it", codec.toJson(TrainerCommand.refit(List.of("mobilenet"), "lifecycle-it")));
                }
                long t1 = System.nanoTime();
                waitFor(() -> service.refits().size() == 1, Duration.ofSeconds(180), service);
                System.out.printf("refit finished %.1f s after the command%n", (System.nanoTime() - t1) / 1e9);
            }
            System.out.println(log.toString(StandardCharsets.UTF_8));

            Refitter.Result refit = refitResult(tmp.resolve("runs"));
            assertThat(refit).isNotNull();
            Path report = Files.list(tmp.resolve("runs")).filter(p -> p.getFileName().toString().endsWith("-refit"))
                    .findFirst().orElseThrow().resolve("report.md");
            List<ModelVersion> versions = registry.list(Architecture.MOBILENET);
            assertThat(versions).hasSize(2);
            ModelVersion challenger = versions.stream().filter(v -> !v.version().equals("v1")).findFirst().orElseThrow();
            ModelMetadata m = challenger.metadata();
            boolean promoted = m.metrics().get("decision.promoted") == 1.0;
            System.out.println("decision: " + (promoted ? "PROMOTED" : "REJECTED") + " - " + m.notes());
            assertThat(m.notes()).contains("decision: " + (promoted ? "promoted" : "rejected"))
                    .contains("mobilenet@v1");
            assertThat(m.metrics()).containsKeys("champion.sensitivity", "challenger.sensitivity", "champion.f1",
                    "challenger.f1", "eval.images");
            assertThat(m.decisionThreshold()).isEqualTo(v1.metadata().decisionThreshold());
            registry.verify(challenger);

            String md = Files.readString(report);
            assertThat(md).contains("mobilenet@v1").contains(challenger.toString())
                    .contains(promoted ? "**PROMOTED**" : "**REJECTED**");
            assertThat(md.contains("**PROMOTED**")).isEqualTo(promoted); // one model: exactly one decision
            assertThat(report.resolveSibling("mobilenet").resolve("roc-all.png")).isRegularFile();
            try (var pngs = Files.list(report.resolveSibling("mobilenet"))) {
                assertThat(pngs.map(p -> p.getFileName().toString()).filter(n -> n.endsWith("-confusion.png")))
                        .hasSize(2);
            }

            List<ConsumerRecord<byte[], byte[]>> updates = readAll(bootstrap, topics.modelUpdates(), 1,
                    Duration.ofSeconds(promoted ? 20 : 5));
            if (promoted) {
                assertThat(registry.resolve(Architecture.MOBILENET, "production").version()).isEqualTo(challenger.version());
                assertThat(updates).hasSize(1);
                assertThat(new String(updates.get(0).key(), StandardCharsets.UTF_8)).isEqualTo("mobilenet");
                ModelUpdate u = codec.parseModelUpdate(updates.get(0).value());
                assertThat(u.version()).isEqualTo(challenger.version());
                assertThat(u.sha256()).isEqualTo(ModelRegistry.sha256(challenger.directory()
                        .resolve(ModelRegistry.METADATA_FILE))).isNotEqualTo(championSha);
            } else {
                assertThat(registry.resolve(Architecture.MOBILENET, "production").version()).isEqualTo("v1");
                assertThat(updates).isEmpty();
            }

            // roll back to the champion by name: alias back on v1, an update naming v1 with its metadata digest
            assertThat(TrainerCli.run("rollback", "--registry", registryRoot.toString(), "--model", "mobilenet",
                    "--to", "v1", "--bootstrap-servers", bootstrap, "--topic-prefix", "lc.", "--reason", "rollback-it"))
                    .isZero();
            assertThat(registry.resolve(Architecture.MOBILENET, "production").version()).isEqualTo("v1");
            List<ConsumerRecord<byte[], byte[]>> after = readAll(bootstrap, topics.modelUpdates(), updates.size() + 1,
                    Duration.ofSeconds(20));
            assertThat(after).hasSize(updates.size() + 1);
            ModelUpdate rollback = codec.parseModelUpdate(after.get(after.size() - 1).value());
            assertThat(rollback.version()).isEqualTo("v1");
            assertThat(rollback.sha256()).isEqualTo(championSha);
            assertThat(rollback.reason()).startsWith("rollback-it");
            System.out.printf("whole lifecycle test %.1f s%n", (System.nanoTime() - t0) / 1e9);
        }
    }

    private static Refitter.Result refitResult(Path runs) throws Exception {
        try (var dirs = Files.list(runs)) {
            Path dir = dirs.filter(p -> p.getFileName().toString().endsWith("-refit")).findFirst().orElseThrow();
            assertThat(dir.resolve("refit.json")).isRegularFile();
            return new Refitter.Result(dir.getFileName().toString(), dir, dir.resolve("report.md"), null, null, null,
                    null, 0, List.of());
        }
    }

    private static int manifestRows(TrainingStore store) {
        try {
            return java.nio.file.Files.isRegularFile(store.manifest()) ? TrainingStore.read(store.manifest()).size() : 0;
        } catch (java.io.IOException e) {
            return -1;
        }
    }

    private static ModelVersion publishChampion(ModelRegistry registry, Path staging) throws Exception {
        try (Model model = ModelExport.newModel(Architecture.MOBILENET, SIZE)) {
            ModelExport.save(model, staging);
        }
        ModelVersion v1 = registry.publish(Architecture.MOBILENET, "v1", staging,
                ModelMetadata.builder(Architecture.MOBILENET, SIZE).decisionThreshold(0.5).notes("test champion").build());
        registry.setAlias(Architecture.MOBILENET, "production", "v1");
        return v1;
    }

    private static byte[] png(long seed, boolean positive) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(SyntheticChestXray.of(seed, SIZE, positive).gray8(), "png", out);
        return out.toByteArray();
    }

    private static void send(KafkaProducer<byte[], byte[]> p, String topic, String key, byte[] value) throws Exception {
        p.send(new ProducerRecord<>(topic, key.getBytes(StandardCharsets.UTF_8), value)).get();
    }

    private static void waitFor(BooleanSupplier condition, Duration timeout, TrainerService service) throws Exception {
        long end = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (service.failure() != null) {
                throw new AssertionError("trainer service failed", service.failure());
            }
            if (System.nanoTime() > end) {
                throw new AssertionError("timed out after " + timeout + " (stored " + service.accepted()
                        + ", dead letters " + service.deadLettered() + ", refits " + service.refits().size() + ")");
            }
            Thread.sleep(100);
        }
    }

    /** Reads a topic from the start with read_committed until {@code expected} records or the timeout. */
    private static List<ConsumerRecord<byte[], byte[]>> readAll(String bootstrap, String topic, int expected,
            Duration timeout) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, "reader-" + topic + "-" + System.nanoTime());
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p)) {
            c.subscribe(List.of(topic));
            long end = System.nanoTime() + timeout.toNanos();
            while (System.nanoTime() < end && out.size() < expected) {
                c.poll(Duration.ofMillis(200)).forEach(out::add);
            }
            // a little longer: more than expected would be a duplicate
            c.poll(Duration.ofMillis(500)).forEach(out::add);
        }
        return out;
    }

    private static String claimCheck(Path dir, int i, byte[] png) throws java.io.IOException {
        return java.nio.file.Files.write(dir.resolve("study-" + i + ".png"), png).toUri().toString();
    }
}
