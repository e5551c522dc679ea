package org.xrayscreening.stream;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Future;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.StateRecoveryOptions;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.core.execution.SavepointFormatType;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.xrayscreening.connectors.event.EventCodec;
import org.xrayscreening.connectors.event.ImageReference;
import org.xrayscreening.connectors.event.ModelScore;
import org.xrayscreening.connectors.event.ModelStatus;
import org.xrayscreening.connectors.event.ModelUpdate;
import org.xrayscreening.connectors.event.Recommendation;
import org.xrayscreening.connectors.event.XrayAcquired;
import org.xrayscreening.connectors.kafka.EmbeddedKafka;
import org.xrayscreening.connectors.kafka.KafkaTopics;
import org.xrayscreening.models.Architecture;
import org.xrayscreening.models.inference.ModelExport;
import org.xrayscreening.models.registry.ModelRegistry;
import org.xrayscreening.models.registry.ModelVersion;
import org.xrayscreening.models.synthetic.SyntheticChestXray;
import org.xrayscreening.stream.local.SampleStudies;
import org.xrayscreening.stream.testing.TopicReader;
import org.xrayscreening.stream.testing.TestModels;
import picocli.CommandLine;

/**
 * Hot swap under load: 320 studies stream while updates are published mid-stream — two good ones (mobilenet,
 * resnet50) and one whose weights were corrupted after publishing (xception). Every study must get exactly one
 * recommendation; within each input partition (one operator subtask each) a swapped model's versions go from
 * old to new exactly once and never back; the corrupt version never serves and is reported as REJECTED. Then the
 * job is stopped with a savepoint and restarted from it with the same command line: it serves the new versions.
 */
class ModelHotSwapIT {

    private static final int STUDIES = 320;
    private static final int INPUT_SIZE = 80;

    @RegisterExtension
    static final MiniClusterExtension FLINK = new MiniClusterExtension(
            new MiniClusterResourceConfiguration.Builder().setNumberTaskManagers(1).setNumberSlotsPerTaskManager(2).build());

    @TempDir
    static Path dir;
    static EmbeddedKafka kafka;
    static final EventCodec codec = new EventCodec();

    @BeforeAll
    static void startKafka() throws Exception {
        kafka = new EmbeddedKafka().start();
        kafka.createTopics(2, KafkaTopics.DEFAULTS.allArray());
    }

    @AfterAll
    static void stopKafka() throws Exception {
        if (kafka != null) {
            kafka.close();
        }
    }

    @Test
    void updatesSwitchOnceWithoutLosingOrDuplicatingStudies() throws Exception {
        ModelRegistry registry = new ModelRegistry(dir.resolve("registry"));
        Map<Architecture, ModelVersion> initial = new HashMap<>();
        for (Architecture a : Architecture.values()) {
            initial.put(a, TestModels.publishUntrained(registry, a, INPUT_SIZE, "production"));
        }
        ModelVersion newMobilenet = TestModels.publishUntrained(registry, Architecture.MOBILENET, INPUT_SIZE, null);
        ModelVersion newResnet = TestModels.publishUntrained(registry, Architecture.RESNET50, INPUT_SIZE, null);
        ModelVersion corruptXception = TestModels.publishUntrained(registry, Architecture.XCEPTION, INPUT_SIZE, null);
        Path weights = corruptXception.directory().resolve(ModelExport.WEIGHTS_FILE);
        byte[] bytes = Files.readAllBytes(weights);
        bytes[bytes.length / 3] ^= 0x7F;
        weights.toFile().setWritable(true);
        Files.write(weights, bytes);

        ScreeningJob cli = new ScreeningJob();
        new CommandLine(cli).parseArgs("--bootstrap-servers", kafka.bootstrapServers(),
                "--registry", registry.root().toString(), "--parallelism", "2", "--checkpoint-interval", "1000",
                "--ensemble-timeout", "300000", "--metrics-port", "0",
                "--transactional-id-prefix", "swap-it-" + System.nanoTime());
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        cli.options.configure(env);
        ScreeningTopology.build(env, cli.options.kafkaSources(), cli.options.kafkaSinks(), cli.options.settings());
        JobClient job = env.executeAsync("hot-swap-it");
        try (KafkaProducer<String, byte[]> producer = producer()) {
            List<String> imagesB64 = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                imagesB64.add(java.util.Base64.getEncoder().encodeToString(
                        SampleStudies.encode(SyntheticChestXray.of(i, 160, i % 2 == 0).gray8(), "png")));
            }
            Map<String, RecordMetadata> coordinates = new HashMap<>();
            List<Future<RecordMetadata>> sent = new ArrayList<>();
            List<String> ids = new ArrayList<>();
            Instant published = null;
            for (int i = 0; i < STUDIES; i++) {
                String id = "swap-" + i;
                ids.add(id);
                XrayAcquired event = new XrayAcquired(1, id, "p" + i, Instant.now(), "PA", "it",
                        new ImageReference(ImageReference.PNG, imagesB64.get(i % imagesB64.size()), null));
                sent.add(producer.send(new ProducerRecord<>("xray.acquired", id, codec.toJson(event))));
                if (i == STUDIES / 2) {
                    producer.flush();
                    // let the stream get going, then publish mid-stream
                    TopicReader.readUntil(kafka.bootstrapServers(), "xray.recommendations", Recommendation.class, 40, Duration.ofMinutes(3));
                    published = Instant.now();
                    send(producer, newMobilenet, sha(newMobilenet));
                    send(producer, newResnet, sha(newResnet));
                    send(producer, corruptXception, sha(corruptXception));
                }
            }
            producer.flush();
            for (int i = 0; i < STUDIES; i++) {
                coordinates.put(ids.get(i), sent.get(i).get());
            }

            List<Recommendation> recommendations = TopicReader.readUntil(kafka.bootstrapServers(), "xray.recommendations", Recommendation.class, STUDIES, Duration.ofMinutes(8));
            Thread.sleep(2000);
            List<Recommendation> all = TopicReader.readAll(kafka.bootstrapServers(), "xray.recommendations", Recommendation.class, Duration.ofSeconds(4));

            // exactly one recommendation per study, none missing a model
            Map<String, Long> counts = new HashMap<>();
            all.forEach(r -> counts.merge(r.studyId(), 1L, Long::sum));
            assertThat(counts.keySet()).containsExactlyInAnyOrderElementsOf(ids);
            assertThat(counts.values()).allMatch(n -> n == 1L);
            assertThat(recommendations).allSatisfy(r -> assertThat(r.missingModels()).isEmpty());

            // per input partition (= one model subtask), in offset order: old* new*, switching exactly once
            Map<String, Recommendation> byStudy = new HashMap<>();
            all.forEach(r -> byStudy.put(r.studyId(), r));
            assertSwitchesOnce(byStudy, coordinates, "mobilenet", initial.get(Architecture.MOBILENET).version(), newMobilenet.version());
            assertSwitchesOnce(byStudy, coordinates, "resnet50", initial.get(Architecture.RESNET50).version(), newResnet.version());
            for (Recommendation r : all) {
                assertThat(version(r, "xception")).isEqualTo(initial.get(Architecture.XCEPTION).version());
                assertThat(version(r, "inceptionv3")).isEqualTo(initial.get(Architecture.INCEPTION_V3).version());
            }

            // every subtask reported: two SERVING per swapped model, two REJECTED for the corrupt one
            List<ModelStatus> statuses = TopicReader.readUntil(kafka.bootstrapServers(), "xray.model-status", ModelStatus.class, 6, Duration.ofMinutes(1));
            assertThat(statuses).filteredOn(s -> s.model().equals("xception"))
                    .hasSize(2).allSatisfy(s -> {
                        assertThat(s.status()).isEqualTo(ModelStatus.Status.REJECTED);
                        assertThat(s.version()).isEqualTo(corruptXception.version());
                    });
            assertThat(statuses).filteredOn(s -> !s.model().equals("xception"))
                    .hasSize(4).allSatisfy(s -> assertThat(s.status()).isEqualTo(ModelStatus.Status.SERVING));

            // figures for the docs: publish -> first new-version recommendation, and the load (stall) time
            long maxLoad = statuses.stream().mapToLong(ModelStatus::loadMillis).max().orElse(0);
            Instant updatesAt = statuses.stream().map(ModelStatus::at).min(Instant::compareTo).orElseThrow();
            Instant firstNew = all.stream().filter(r -> newMobilenet.version().equals(version(r, "mobilenet")))
                    .map(Recommendation::recommendedAt).min(Instant::compareTo).orElseThrow();
            System.out.printf("hot swap: slowest load (stall of one model operator) %d ms; first mobilenet "
                    + "recommendation with the new version %d ms after the update was published (%d ms after the "
                    + "first status event)%n", maxLoad, Duration.between(published, firstNew).toMillis(),
                    Duration.between(updatesAt, firstNew).toMillis());

            // restart the job from a savepoint taken after the swap, with the same command line (whose
            // "production" aliases still name the old versions): it must serve the swapped-in versions
            String savepoint = job.stopWithSavepoint(false, dir.resolve("savepoints").toUri().toString(),
                    SavepointFormatType.CANONICAL).get();
            job = null;
            Configuration restore = new Configuration();
            restore.set(StateRecoveryOptions.SAVEPOINT_PATH, savepoint);
            StreamExecutionEnvironment restarted = StreamExecutionEnvironment.getExecutionEnvironment(restore);
            cli.options.configure(restarted);
            ScreeningTopology.build(restarted, cli.options.kafkaSources(), cli.options.kafkaSinks(), cli.options.settings());
            job = restarted.executeAsync("hot-swap-it-restarted");
            for (int i = 0; i < 10; i++) {
                String id = "after-restart-" + i;
                producer.send(new ProducerRecord<>("xray.acquired", id, codec.toJson(new XrayAcquired(1, id, "q" + i,
                        Instant.now(), "PA", "it", new ImageReference(ImageReference.PNG, imagesB64.get(i % 8), null)))));
            }
            producer.flush();
            List<Recommendation> afterRestart = TopicReader.readUntil(kafka.bootstrapServers(), "xray.recommendations", Recommendation.class, STUDIES + 10,
                    Duration.ofMinutes(5)).stream().filter(r -> r.studyId().startsWith("after-restart-")).toList();
            assertThat(afterRestart).hasSize(10).allSatisfy(r -> {
                assertThat(version(r, "mobilenet")).isEqualTo(newMobilenet.version());
                assertThat(version(r, "resnet50")).isEqualTo(newResnet.version());
                assertThat(version(r, "xception")).isEqualTo(initial.get(Architecture.XCEPTION).version());
            });
        } finally {
            if (job != null) {
                job.cancel().get();
            }
        }
    }

    private static void assertSwitchesOnce(Map<String, Recommendation> byStudy, Map<String, RecordMetadata> coordinates,
                                           String model, String oldVersion, String newVersion) {
        Map<Integer, TreeMap<Long, String>> perPartition = new HashMap<>();
        coordinates.forEach((study, md) -> perPartition.computeIfAbsent(md.partition(), p -> new TreeMap<>())
                .put(md.offset(), version(byStudy.get(study), model)));
        int switched = 0;
        for (TreeMap<Long, String> versions : perPartition.values()) {
            List<String> sequence = new ArrayList<>(versions.values());
            int firstNew = sequence.indexOf(newVersion);
            assertThat(firstNew).as(model + " switched in every subtask").isGreaterThanOrEqualTo(0);
            assertThat(sequence.subList(0, firstNew)).as(model + " before the switch").containsOnly(oldVersion);
            assertThat(sequence.subList(firstNew, sequence.size())).as(model + " never back").containsOnly(newVersion);
            if (firstNew > 0) {
                switched++;
            }
        }
        assertThat(switched).as(model + ": the update arrived mid-stream in some subtask").isPositive();
    }

    private static String version(Recommendation r, String model) {
        return r.modelScores().stream().filter(s -> s.model().equals(model)).map(ModelScore::version).findFirst().orElse(null);
    }

    private static String sha(ModelVersion v) throws Exception {
        return ModelRegistry.sha256(v.directory().resolve(ModelRegistry.METADATA_FILE));
    }

    private static void send(KafkaProducer<String, byte[]> producer, ModelVersion v, String sha) {
        producer.send(new ProducerRecord<>("xray.model-updates", v.architecture().id(),
                codec.toJson(ModelUpdate.of(v.architecture().id(), v.version(), null, sha, "it"))));
        producer.flush();
    }

    private static KafkaProducer<String, byte[]> producer() {
        return new KafkaProducer<>(Map.of("bootstrap.servers", kafka.bootstrapServers(),
                "key.serializer", StringSerializer.class.getName(), "value.serializer", ByteArraySerializer.class.getName(),
                "max.request.size", "4194304"));
    }

}
