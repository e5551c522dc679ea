package org.xrayscreening.trainer.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Model;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TimeZone;
import javax.imageio.ImageIO;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xrayscreening.connectors.event.DeadLetter;
import org.xrayscreening.connectors.event.DeadLetterReason;
import org.xrayscreening.connectors.event.EventCodec;
import org.xrayscreening.connectors.event.ImageReference;
import org.xrayscreening.connectors.event.ModelUpdate;
import org.xrayscreening.connectors.event.TrainerCommand;
import org.xrayscreening.connectors.event.XrayLabelled;
import org.xrayscreening.connectors.image.ImageSourcePolicy;
import org.xrayscreening.connectors.kafka.KafkaClientProperties;
import org.xrayscreening.connectors.kafka.KafkaTopics;
import org.xrayscreening.models.Architecture;
import org.xrayscreening.models.inference.ModelExport;
import org.xrayscreening.models.registry.ModelMetadata;
import org.xrayscreening.models.registry.ModelRegistry;
import org.xrayscreening.models.synthetic.SyntheticChestXray;
import org.xrayscreening.trainer.TrainerCli;
import org.xrayscreening.testsupport.SaslSslKafka;

/**
 * The trainer against a broker that only speaks SASL_SSL (SCRAM-SHA-512 over TLS) to it: the long-running
 * service stores labelled studies and dead-letters a bad one, and {@code rollback} announces a version, both with
 * the client properties file of {@code --kafka-properties}; with a wrong password {@code serve} and
 * {@code rollback} end within seconds saying the credentials were refused (and the rollback moves no alias).
 */
class AuthenticatedKafkaTrainerIT {

    static final String PASSWORD = "scram-" + System.nanoTime();
    static final int SIZE = 64;
    static final KafkaTopics TOPICS = KafkaTopics.DEFAULTS.withPrefix("sec.");

    @TempDir
    static Path dir;
    static SaslSslKafka kafka;
    static Path registryRoot;
    static ModelRegistry registry;

    @BeforeAll
    static void start() throws Exception {
        kafka = new SaslSslKafka(dir.resolve("kafka"), PASSWORD).start();
        List<String> names = new ArrayList<>(TOPICS.all());
        names.add("sec." + TrainerCommand.TOPIC);
        kafka.embedded().createTopics(1, names.toArray(String[]::new));
        registryRoot = dir.resolve("registry");
        registry = new ModelRegistry(registryRoot);
        for (String version : List.of("v1", "v2")) {
            Path staging = dir.resolve("staging-" + version);
            try (Model model = ModelExport.newModel(Architecture.MOBILENET, SIZE)) {
                ModelExport.save(model, staging);
            }
            registry.publish(Architecture.MOBILENET, version, staging,
                    ModelMetadata.builder(Architecture.MOBILENET, SIZE).notes("test model").build());
        }
        registry.setAlias(Architecture.MOBILENET, "production", "v2");
    }

    @AfterAll
    static void stop() throws Exception {
        if (kafka != null) {
            kafka.close();
        }
    }

    @Test
    void serviceAndRollbackWorkThroughSaslSslWithAPropertiesFile() throws Exception {
        Path good = kafka.clientPropertiesFile("client.properties", SaslSslKafka.USER, PASSWORD);
        EventCodec codec = new EventCodec();
        Properties producerProps = kafka.clientProperties();
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(
                TrainerService.producerProperties(kafka.bootstrapServers(), settings(producerProps)))) {
            for (int i = 0; i < 3; i++) {
                XrayLabelled e = new XrayLabelled(1, "study-" + i, "patient-" + i, Instant.parse("2026-01-01T08:00:00Z"),
                        "PA", "site", ImageReference.inline(ImageReference.PNG, png(i)), XrayLabelled.COVID,
                        XrayLabelled.PCR, Instant.parse("2026-01-02T08:00:00Z"));
                producer.send(new ProducerRecord<>(TOPICS.labelled(), bytes(e.studyId()), codec.toJson(e))).get();
            }
            producer.send(new ProducerRecord<>(TOPICS.labelled(), bytes("bad"), bytes("{\"schemaVersion\":1,"))).get();
        }

        // the service as `serve` builds it, with the file's settings
        TrainingStore store = TrainingStore.open(dir.resolve("store"));
        Refitter.Settings settings = new Refitter.Settings(registryRoot, dir.resolve("runs"), null, "production",
                0.25, 1, 8, 1e-3f, 0.9f, 0.25, 7, 2, false, 0, 10, PromotionPolicy.defaults());
        TrainerService.Config config = new TrainerService.Config(kafka.bootstrapServers(), TOPICS.labelled(),
                "sec." + TrainerCommand.TOPIC, TOPICS.deadLetter(), TOPICS.modelUpdates(), "sec-trainer", null,
                TimeZone.getTimeZone("UTC"), KafkaClientProperties.merge(good, Map.of()), ImageSourcePolicy.NONE);
        try (TrainerService service = new TrainerService(config, store, settings, System.out).start()) {
            long end = System.nanoTime() + Duration.ofSeconds(90).toNanos();
            while (!(store.size() == 3 && service.deadLettered() == 1)) {
                assertThat(service.failure()).isNull();
                assertThat(System.nanoTime()).as("stored " + store.size() + ", dead letters " + service.deadLettered())
                        .isLessThan(end);
                Thread.sleep(100);
            }
        }
        List<ConsumerRecord<byte[], byte[]>> dead = read(TOPICS.deadLetter(), 1);
        assertThat(dead).hasSize(1);
        assertThat(codec.fromJson(dead.get(0).value(), DeadLetter.class).reason()).isEqualTo(DeadLetterReason.MALFORMED_JSON);

        assertThat(TrainerCli.run("rollback", "--registry", registryRoot.toString(), "--model", "mobilenet", "--to", "v1",
                "--bootstrap-servers", kafka.bootstrapServers(), "--kafka-properties", good.toString(),
                "--topic-prefix", "sec.", "--reason", "secure-rollback")).isZero();
        assertThat(registry.resolve(Architecture.MOBILENET, "production").version()).isEqualTo("v1");
        List<ConsumerRecord<byte[], byte[]>> updates = read(TOPICS.modelUpdates(), 1);
        assertThat(updates).hasSize(1);
        ModelUpdate update = codec.parseModelUpdate(updates.get(0).value());
        assertThat(update.version()).isEqualTo("v1");
        assertThat(update.reason()).startsWith("secure-rollback");
        registry.setAlias(Architecture.MOBILENET, "production", "v2");
    }

    @Test
    void wrongPasswordEndsServeAndRollbackWithAClearError() throws Exception {
        Path wrong = kafka.clientPropertiesFile("wrong.properties", SaslSslKafka.USER, "not-the-password");
        String production = registry.resolve(Architecture.MOBILENET, "production").version();

        Outcome serve = run("serve", "--bootstrap-servers", kafka.bootstrapServers(), "--kafka-properties", wrong.toString(),
                "--store", dir.resolve("store-wrong").toString(), "--registry", registryRoot.toString(),
                "--runs", dir.resolve("runs-wrong").toString(), "--topic-prefix", "sec.");
        Outcome rollback = run("rollback", "--registry", registryRoot.toString(), "--model", "mobilenet",
                "--to", "v1", "--bootstrap-servers", kafka.bootstrapServers(), "--kafka-properties", wrong.toString(),
                "--topic-prefix", "sec.");
        for (Outcome o : List.of(serve, rollback)) {
            System.out.printf("wrong password: exit %d after %.1f s: %s%n", o.exit, o.seconds, o.stderr.strip());
            assertThat(o.exit).isEqualTo(2);
            assertThat(o.seconds).isLessThan(20);
            assertThat(o.stderr).contains("refused the credentials", "SCRAM-SHA-512")
                    .doesNotContain("not-the-password", PASSWORD);
        }
        assertThat(registry.resolve(Architecture.MOBILENET, "production").version()).isEqualTo(production);
    }

    record Outcome(int exit, double seconds, String stderr) {}

    static Outcome run(String... args) {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream original = System.err;
        long t0 = System.nanoTime();
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            int exit = TrainerCli.run(args);
            return new Outcome(exit, (System.nanoTime() - t0) / 1e9, err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setErr(original);
        }
    }

    static Map<String, String> settings(Properties p) {
        Map<String, String> m = new java.util.HashMap<>();
        p.stringPropertyNames().stream().filter(k -> !k.equals("bootstrap.servers")).forEach(k -> m.put(k, p.getProperty(k)));
        return m;
    }

    static List<ConsumerRecord<byte[], byte[]>> read(String topic, int expected) {
        Properties p = kafka.clientProperties();
        p.put("group.id", "reader-" + System.nanoTime());
        p.put("isolation.level", "read_committed");
        p.put("auto.offset.reset", "earliest");
        p.put("key.deserializer", ByteArrayDeserializer.class.getName());
        p.put("value.deserializer", ByteArrayDeserializer.class.getName());
        List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p)) {
            c.subscribe(List.of(topic));
            long end = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (System.nanoTime() < end && out.size() < expected) {
                c.poll(Duration.ofMillis(200)).forEach(out::add);
            }
            c.poll(Duration.ofMillis(500)).forEach(out::add);
        }
        return out;
    }

    static byte[] png(int seed) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(SyntheticChestXray.of(seed, SIZE, true).gray8(), "png", out);
        return out.toByteArray();
    }

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
