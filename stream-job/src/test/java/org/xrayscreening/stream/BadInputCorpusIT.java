package org.xrayscreening.stream;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.apache.flink.api.common.JobStatus;
import org.apache.flink.client.program.ClusterClient;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.InjectClusterClient;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.xrayscreening.connectors.event.DeadLetter;
import org.xrayscreening.connectors.event.Recommendation;
import org.xrayscreening.connectors.image.BadInputCorpus;
import org.xrayscreening.connectors.image.BadInputCorpus.Entry;
import org.xrayscreening.connectors.kafka.EmbeddedKafka;
import org.xrayscreening.connectors.kafka.KafkaTopics;
import org.xrayscreening.models.Architecture;
import org.xrayscreening.models.registry.ModelRegistry;
import org.xrayscreening.stream.testing.TestModels;
import org.xrayscreening.stream.testing.TopicReader;
import picocli.CommandLine;

/**
 * The whole bad-input corpus streamed through the job as {@code main} builds it (MiniCluster, embedded Kafka,
 * one real model): every bad entry reaches {@code xray.dead-letter} with its manifest's reason and original
 * bytes, every valid-but-unusual entry gets a recommendation, and the job never restarted. Restarts are
 * switched off (restart strategy "none"), so a single failure would fail the job; Flink's {@code numRestarts}
 * is read from the REST API as well.
 */
class BadInputCorpusIT {

    @RegisterExtension
    static final MiniClusterExtension FLINK = new MiniClusterExtension(
            new MiniClusterResourceConfiguration.Builder().setNumberTaskManagers(1).setNumberSlotsPerTaskManager(2).build());

    @TempDir
    Path dir;

    @Test
    void everyCorpusEntryReachesItsTopicWithItsReasonAndTheJobNeverRestarts(@InjectClusterClient ClusterClient<?> cluster)
            throws Exception {
        List<Entry> entries = BadInputCorpus.entries();
        Path root = dir.resolve("images");
        BadInputCorpus.writeImages(entries, root);
        ModelRegistry registry = new ModelRegistry(dir.resolve("registry"));
        TestModels.publishUntrained(registry, Architecture.MOBILENET, 80, "production");

        try (EmbeddedKafka kafka = new EmbeddedKafka().start()) {
            kafka.createTopics(2, KafkaTopics.DEFAULTS.allArray());
            ScreeningJob cli = new ScreeningJob();
            new CommandLine(cli).parseArgs("--bootstrap-servers", kafka.bootstrapServers(),
                    "--registry", registry.root().toString(), "--models", "mobilenet@production", "--min-models", "1",
                    "--parallelism", "2", "--checkpoint-interval", "1000", "--metrics-port", "0",
                    "--max-image-bytes", Long.toString(BadInputCorpus.LIMITS.maxBytes()),
                    "--max-image-pixels", Long.toString(BadInputCorpus.LIMITS.maxPixels()),
                    "--allow-file-root", root.toString(), "--allow-url-prefix", BadInputCorpus.ALLOWED_URL_PREFIX,
                    "--transactional-id-prefix", "corpus-it-" + System.nanoTime());
            Configuration conf = new Configuration();
            conf.set(RestartStrategyOptions.RESTART_STRATEGY, "none");
            StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(conf);
            cli.options.configure(env);
            ScreeningTopology.build(env, cli.options.kafkaSources(), cli.options.kafkaSinks(), cli.options.settings());
            JobClient job = env.executeAsync("bad-input-corpus-it");
            try {
                try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(Map.of("bootstrap.servers",
                        kafka.bootstrapServers(), "key.serializer", StringSerializer.class.getName(),
                        "value.serializer", ByteArraySerializer.class.getName()))) {
                    for (Entry e : entries) {
                        producer.send(new ProducerRecord<>("xray.acquired", e.name(), e.record(root))).get();
                    }
                }
                List<Entry> bad = entries.stream().filter(e -> !e.valid()).toList();
                List<Entry> valid = entries.stream().filter(Entry::valid).toList();
                List<DeadLetter> deadLetters = TopicReader.readUntil(kafka.bootstrapServers(), "xray.dead-letter",
                        DeadLetter.class, bad.size(), Duration.ofMinutes(3));
                List<Recommendation> recommendations = TopicReader.readUntil(kafka.bootstrapServers(),
                        "xray.recommendations", Recommendation.class, valid.size(), Duration.ofMinutes(3));

                Map<String, DeadLetter> byKey = new HashMap<>();
                deadLetters.forEach(d -> assertThat(byKey.put(d.key(), d)).as("duplicate " + d.key()).isNull());
                for (Entry e : bad) {
                    assertThat(byKey).as(e.name()).containsKey(e.name());
                    DeadLetter d = byKey.get(e.name());
                    assertThat(d.reason()).as(e.name() + " (" + d.detail() + ")").isEqualTo(e.expected());
                    org.xrayscreening.stream.intake.StudyIntakeCorpusTest.assertOriginal(d, e.record(root));
                    assertThat(d.detail()).as(e.name()).doesNotContain("PATIENT", "passwd", "127.0.0.1", "169.254",
                            "unreachable.invalid", root.toString());
                }
                assertThat(byKey.keySet()).as("no valid entry dead-lettered")
                        .containsExactlyInAnyOrderElementsOf(bad.stream().map(Entry::name).toList());
                Set<String> recommended = recommendations.stream().map(Recommendation::studyId).collect(Collectors.toSet());
                assertThat(recommended).containsExactlyInAnyOrderElementsOf(valid.stream().map(Entry::studyId).toList());
                assertThat(recommendations).hasSize(valid.size());

                assertThat(job.getJobStatus().get()).as("restarts are off: any failure would have failed the job")
                        .isEqualTo(JobStatus.RUNNING);
                assertThat(numRestarts(cluster.getWebInterfaceURL(), job)).isZero();
                System.out.printf("bad-input corpus %s: %d entries, %d dead letters with the expected reason,"
                        + " %d recommendations, 0 restarts%n", BadInputCorpus.VERSION, entries.size(), bad.size(), valid.size());
            } finally {
                job.cancel().get();
            }
        }
    }

    /** Flink's own restart counter for the job, from the MiniCluster's REST API. */
    private static long numRestarts(String restUrl, JobClient job) throws Exception {
        OkHttpClient http = new OkHttpClient();
        String url = restUrl + "/jobs/" + job.getJobID() + "/metrics?get=numRestarts";
        for (int attempt = 0; attempt < 20; attempt++) {
            try (Response r = http.newCall(new Request.Builder().url(url).build()).execute()) {
                String body = r.body().string();
                // [{"id":"numRestarts","value":"0"}]; the metric fetcher may answer [] until it has fetched
                java.util.regex.Matcher m = java.util.regex.Pattern.compile("\"value\"\\s*:\\s*\"(\\d+)\"").matcher(body);
                if (m.find()) {
                    return Long.parseLong(m.group(1));
                }
            }
            Thread.sleep(500);
        }
        throw new AssertionError("numRestarts not reported by " + url);
    }
}
