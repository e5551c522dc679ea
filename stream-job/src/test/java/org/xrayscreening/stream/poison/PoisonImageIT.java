package org.xrayscreening.stream.poison;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.flink.api.common.JobStatus;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.xrayscreening.connectors.event.DeadLetter;
import org.xrayscreening.connectors.event.DeadLetterReason;
import org.xrayscreening.connectors.event.EventCodec;
import org.xrayscreening.connectors.event.ImageReference;
import org.xrayscreening.connectors.event.Recommendation;
import org.xrayscreening.connectors.event.XrayAcquired;
import org.xrayscreening.connectors.kafka.EmbeddedKafka;
import org.xrayscreening.connectors.kafka.KafkaTopics;
import org.xrayscreening.models.Architecture;
import org.xrayscreening.models.registry.ModelRegistry;
import org.xrayscreening.models.synthetic.SyntheticChestXray;
import org.xrayscreening.stream.ScreeningJob;
import org.xrayscreening.stream.ScreeningTopology;
import org.xrayscreening.stream.intake.StudyIntake;
import org.xrayscreening.stream.local.SampleStudies;
import org.xrayscreening.stream.testing.TestModels;
import org.xrayscreening.stream.testing.TopicReader;
import picocli.CommandLine;

/**
 * The whole job on a MiniCluster with a record that throws a real {@code OutOfMemoryError} (the test switch):
 * the task fails, Flink restarts it from the last checkpoint, it fails again, and on the third attempt the record
 * is an IMAGE_CRASHED_WORKER dead letter; the studies around it get their recommendation exactly once and the job
 * keeps running. Without the journal the same record would fail the job on every restart.
 */
class PoisonImageIT {

    @RegisterExtension
    static final MiniClusterExtension FLINK = new MiniClusterExtension(
            new MiniClusterResourceConfiguration.Builder().setNumberTaskManagers(1).setNumberSlotsPerTaskManager(1).build());

    @TempDir
    Path dir;

    @AfterEach
    void switchOff() {
        System.clearProperty(StudyIntake.OUT_OF_MEMORY_SWITCH);
    }

    @Test
    void anOutOfMemoryImageIsDeadLetteredAfterTwoDeathsAndTheJobKeepsRunning() throws Exception {
        System.setProperty(StudyIntake.OUT_OF_MEMORY_SWITCH, "poison-");
        ModelRegistry registry = new ModelRegistry(dir.resolve("registry"));
        TestModels.publishUntrained(registry, Architecture.MOBILENET, 64, "production");
        try (EmbeddedKafka kafka = new EmbeddedKafka().start()) {
            kafka.createTopics(1, KafkaTopics.DEFAULTS.allArray());
            ScreeningJob cli = new ScreeningJob();
            new CommandLine(cli).parseArgs("--bootstrap-servers", kafka.bootstrapServers(),
                    "--registry", registry.root().toString(), "--models", "mobilenet@production", "--min-models", "1",
                    "--checkpoint-interval", "500", "--metrics-port", "0", "--group-id", "poison-it",
                    "--transactional-id-prefix", "poison-it-" + System.nanoTime(),
                    "--attempt-journal", dir.resolve("journal").toString(), "--max-worker-crashes", "2");
            StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
            Configuration restarts = new Configuration();
            restarts.set(RestartStrategyOptions.RESTART_STRATEGY, "fixed-delay");
            restarts.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_ATTEMPTS, 10);
            restarts.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_DELAY, Duration.ofMillis(200));
            env.configure(restarts);
            cli.options.configure(env);
            ScreeningTopology.build(env, cli.options.kafkaSources(), cli.options.kafkaSinks(), cli.options.settings());
            JobClient job = env.executeAsync("poison-it");
            try {
                EventCodec codec = new EventCodec();
                try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(Map.of("bootstrap.servers",
                        kafka.bootstrapServers(), "key.serializer", StringSerializer.class.getName(),
                        "value.serializer", ByteArraySerializer.class.getName()))) {
                    for (String id : List.of("ok-0", "poison-1", "ok-2")) {
                        byte[] png = SampleStudies.encode(SyntheticChestXray.of(id.hashCode(), 96, false).gray8(), "png");
                        XrayAcquired e = new XrayAcquired(1, id, "P", Instant.now(), "PA", "it",
                                ImageReference.inline(ImageReference.PNG, png));
                        producer.send(new ProducerRecord<>("xray.acquired", id, codec.toJson(e))).get();
                    }
                }
                long t0 = System.nanoTime();
                List<DeadLetter> dead = TopicReader.readUntil(kafka.bootstrapServers(), "xray.dead-letter",
                        DeadLetter.class, 1, Duration.ofMinutes(3));
                List<Recommendation> recommendations = TopicReader.readUntil(kafka.bootstrapServers(),
                        "xray.recommendations", Recommendation.class, 2, Duration.ofMinutes(2));
                System.out.printf("poison record dead-lettered %.1f s after the last study was produced%n",
                        (System.nanoTime() - t0) / 1e9);
                assertThat(dead).hasSize(1);
                assertThat(dead.get(0).reason()).isEqualTo(DeadLetterReason.IMAGE_CRASHED_WORKER);
                assertThat(dead.get(0).offset()).isEqualTo(1);
                assertThat(dead.get(0).key()).isEqualTo("poison-1");
                // exactly once despite the two restarts
                assertThat(TopicReader.readAll(kafka.bootstrapServers(), "xray.recommendations", Recommendation.class,
                        Duration.ofSeconds(3))).extracting(Recommendation::studyId).containsExactlyInAnyOrder("ok-0", "ok-2");
                assertThat(recommendations).hasSize(2);
                assertThat(job.getJobStatus().get()).isEqualTo(JobStatus.RUNNING);
                // the two deaths are what the journal remembers
                try (Stream<Path> markers = Files.list(dir.resolve("journal").resolve("poison-it").resolve("intake"))) {
                    assertThat(markers.map(p -> p.getFileName().toString()))
                            .containsExactlyInAnyOrder("xray.acquired-0-1#1", "xray.acquired-0-1#2");
                }
            } finally {
                job.cancel().get();
            }
        }
    }
}
