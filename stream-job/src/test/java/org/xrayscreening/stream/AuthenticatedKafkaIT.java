package org.xrayscreening.stream;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Properties;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.xrayscreening.connectors.event.DeadLetter;
import org.xrayscreening.connectors.event.DeadLetterReason;
import org.xrayscreening.connectors.event.EventCodec;
import org.xrayscreening.connectors.event.ImageReference;
import org.xrayscreening.connectors.event.Recommendation;
import org.xrayscreening.connectors.event.XrayAcquired;
import org.xrayscreening.connectors.kafka.KafkaTopics;
import org.xrayscreening.models.Architecture;
import org.xrayscreening.models.registry.ModelRegistry;
import org.xrayscreening.models.synthetic.SyntheticChestXray;
import org.xrayscreening.stream.local.SampleStudies;
import org.xrayscreening.stream.testing.TestModels;
import org.xrayscreening.stream.testing.TopicReader;
import org.xrayscreening.testsupport.SaslSslKafka;
import picocli.CommandLine;

/**
 * The stream job against a broker that only speaks SASL_SSL (SCRAM-SHA-512 over TLS) to it: with the client
 * properties file given as {@code --kafka-properties} the job reads, scores and writes exactly-once as on a
 * plain broker; with a wrong password the command ends within seconds, saying the credentials were refused.
 */
class AuthenticatedKafkaIT {

    static final String PASSWORD = "scram-" + System.nanoTime();

    @RegisterExtension
    static final MiniClusterExtension FLINK = new MiniClusterExtension(
            new MiniClusterResourceConfiguration.Builder().setNumberTaskManagers(1).setNumberSlotsPerTaskManager(2).build());

    @TempDir
    static Path dir;
    static SaslSslKafka kafka;
    static ModelRegistry registry;

    @BeforeAll
    static void start() throws Exception {
        kafka = new SaslSslKafka(dir.resolve("kafka"), PASSWORD).start();
        kafka.embedded().createTopics(1, KafkaTopics.DEFAULTS.allArray());
        registry = new ModelRegistry(dir.resolve("registry"));
        TestModels.publishUntrained(registry, Architecture.MOBILENET, 80, "production");
    }

    @AfterAll
    static void stop() throws Exception {
        if (kafka != null) {
            kafka.close();
        }
    }

    @Test
    void jobWorksThroughSaslSslWithAPropertiesFile() throws Exception {
        Path good = kafka.clientPropertiesFile("client.properties", SaslSslKafka.USER, PASSWORD);
        ScreeningJob cli = new ScreeningJob();
        new CommandLine(cli).parseArgs("--bootstrap-servers", kafka.bootstrapServers(), "--kafka-properties", good.toString(),
                "--registry", registry.root().toString(), "--models", "mobilenet@production", "--min-models", "1",
                "--checkpoint-interval", "1000", "--metrics-port", "0", "--group-id", "secure-it",
                "--transactional-id-prefix", "secure-it-" + System.nanoTime());
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        cli.options.configure(env);
        ScreeningTopology.build(env, cli.options.kafkaSources(), cli.options.kafkaSinks(), cli.options.settings());
        JobClient job = env.executeAsync("secure-kafka-it");
        try {
            EventCodec codec = new EventCodec();
            Properties producerProps = kafka.clientProperties();
            producerProps.put("key.serializer", StringSerializer.class.getName());
            producerProps.put("value.serializer", ByteArraySerializer.class.getName());
            try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(producerProps)) {
                for (int i = 0; i < 3; i++) {
                    byte[] png = SampleStudies.encode(SyntheticChestXray.of(40 + i, 160, i == 0).gray8(), "png");
                    XrayAcquired e = new XrayAcquired(1, "secure-" + i, "P-" + i, Instant.now(), "PA", "it",
                            ImageReference.inline(ImageReference.PNG, png));
                    producer.send(new ProducerRecord<>("xray.acquired", e.studyId(), codec.toJson(e))).get();
                }
                producer.send(new ProducerRecord<>("xray.acquired", "secure-bad",
                        "{\"schemaVersion\":1".getBytes(StandardCharsets.UTF_8))).get();
            }
            List<Recommendation> recommendations = TopicReader.readUntil(kafka.clientProperties(),
                    "xray.recommendations", Recommendation.class, 3, Duration.ofMinutes(3));
            List<DeadLetter> deadLetters = TopicReader.readUntil(kafka.clientProperties(), "xray.dead-letter",
                    DeadLetter.class, 1, Duration.ofMinutes(1));
            assertThat(recommendations).extracting(Recommendation::studyId)
                    .containsExactlyInAnyOrder("secure-0", "secure-1", "secure-2");
            assertThat(deadLetters).extracting(DeadLetter::reason).containsExactly(DeadLetterReason.MALFORMED_JSON);
        } finally {
            job.cancel().get();
        }
    }

    @Test
    void wrongPasswordEndsTheCommandWithAClearErrorInsteadOfAHang() throws Exception {
        Path wrong = kafka.clientPropertiesFile("wrong.properties", SaslSslKafka.USER, "not-the-password");
        String[] args = {"--bootstrap-servers", kafka.bootstrapServers(), "--kafka-properties", wrong.toString(),
                "--registry", registry.root().toString(), "--models", "mobilenet@production", "--metrics-port", "0"};
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream original = System.err;
        long t0 = System.nanoTime();
        int exit;
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            exit = ScreeningJob.commandLine(new ScreeningJob(), args).execute(args);
        } finally {
            System.setErr(original);
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        String message = err.toString(StandardCharsets.UTF_8);
        System.out.printf("wrong password: exit %d after %.1f s: %s%n", exit, seconds, message.strip());
        assertThat(exit).isEqualTo(2);
        assertThat(seconds).isLessThan(20);
        assertThat(message).contains("refused the credentials", "SASL_SSL", "SCRAM-SHA-512", kafka.bootstrapServers())
                .doesNotContain("not-the-password", PASSWORD);
    }
}
