package org.xrayscreening.stream.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.xrayscreening.connectors.event.DeadLetter;
import org.xrayscreening.connectors.event.ImageReference;
import org.xrayscreening.connectors.event.Recommendation;
import org.xrayscreening.connectors.event.XrayAcquired;
import org.xrayscreening.connectors.image.Dcmtk;
import org.xrayscreening.connectors.image.DicomWriter;
import org.xrayscreening.connectors.kafka.EmbeddedKafka;
import org.xrayscreening.connectors.kafka.KafkaTopics;
import org.xrayscreening.connectors.orthanc.OrthancClient;
import org.xrayscreening.models.Architecture;
import org.xrayscreening.models.registry.ModelRegistry;
import org.xrayscreening.models.synthetic.SyntheticChestXray;
import org.xrayscreening.stream.ScreeningJob;
import org.xrayscreening.stream.ScreeningTopology;
import org.xrayscreening.stream.testing.OrthancNode;
import org.xrayscreening.stream.testing.TestModels;
import org.xrayscreening.stream.testing.TopicReader;
import picocli.CommandLine;

/**
 * The hospital path end to end with real parts: DICOM files sent with dcmtk's storescu (C-STORE) to a real
 * Orthanc, the gateway publishing from Orthanc's change feed to an embedded Kafka broker, the screening job on
 * a Flink MiniCluster fetching the claim checks from Orthanc with credentials, and the recommendations written
 * back to Orthanc. Then a crash between publish and commit and a restart: no instance is published twice.
 */
class OrthancGatewayIT {

    private static final String USER = "xray-gateway";
    private static final String PASSWORD = "it-secret:with colon";
    private static final String METADATA = "XrayRecommendation";
    private static final ObjectMapper JSON = new ObjectMapper();

    @RegisterExtension
    static final MiniClusterExtension FLINK = new MiniClusterExtension(
            new MiniClusterResourceConfiguration.Builder().setNumberTaskManagers(1).setNumberSlotsPerTaskManager(2).build());

    @TempDir
    static Path dir;
    static EmbeddedKafka kafka;
    static OrthancNode orthanc;
    static ModelRegistry registry;

    @BeforeAll
    static void start() throws Exception {
        assumeTrue(OrthancNode.available(), "Orthanc is not installed (apt-get install orthanc); .ci/run installs it");
        Dcmtk.assumeAvailable();
        orthanc = OrthancNode.start(dir.resolve("orthanc"), "XRAYNODE", USER, PASSWORD, METADATA);
        kafka = new EmbeddedKafka().start();
        kafka.createTopics(2, KafkaTopics.DEFAULTS.allArray());
        registry = new ModelRegistry(dir.resolve("registry"));
        ai.djl.engine.Engine.getInstance().setRandomSeed(20261203);
        TestModels.publishUntrained(registry, Architecture.MOBILENET, 80, "production");
    }

    @AfterAll
    static void stop() throws Exception {
        if (kafka != null) {
            kafka.close();
        }
        if (orthanc != null) {
            orthanc.close();
        }
    }

    /** A DICOM file with the given header, made by the project's writer and completed with dcmtk's dcmodify. */
    static Path dicom(String name, long seed, boolean twelveBit, String modality, String bodyPart, String view,
                      String patientId) throws IOException, InterruptedException {
        SyntheticChestXray xray = SyntheticChestXray.of(seed, 160, seed % 2 == 0);
        DicomWriter writer = twelveBit ? DicomWriter.of(xray.gray16()).bitsStored(12) : DicomWriter.of(xray.gray8());
        Path file = writer.write(dir.resolve(name + ".dcm"));
        List<String> cmd = new ArrayList<>(List.of("dcmodify", "-nb", "-gst", "-gse",
                "-i", "(0008,0060)=" + modality,
                "-i", "(0010,0010)=Doe^Jane" + seed,
                "-i", "(0010,0020)=" + patientId,
                "-i", "(0008,0050)=ACC-" + patientId,
                "-i", "(0018,5101)=" + view));
        if (bodyPart != null) {
            cmd.addAll(List.of("-i", "(0018,0015)=" + bodyPart));
        }
        cmd.add(file.toString());
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException("dcmodify failed: " + out);
        }
        return file;
    }

    static String sopInstanceUid(Path file) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("dcmdump", "+P", "0008,0018", file.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor(30, TimeUnit.SECONDS);
        return out.substring(out.indexOf('[') + 1, out.indexOf(']'));
    }

    static DicomGateway gateway(String... extra) {
        List<String> args = new ArrayList<>(List.of("--bootstrap-servers", kafka.bootstrapServers(),
                "--url-credentials", dir.resolve("credentials").toString(), "--metrics-port", "0",
                "--transactional-id-prefix", "it-orthanc", "gateway", "--orthanc-url", orthanc.url(),
                "--poll-interval", "200"));
        args.addAll(List.of(extra));
        CommandLine.ParseResult parsed = new CommandLine(new ScreeningJob()).parseArgs(args.toArray(String[]::new));
        return (DicomGateway) parsed.subcommand().commandSpec().userObject();
    }

    static double skipped(String reason) {
        return GatewayMetrics.get().skipped.labelValues(reason).get();
    }

    @Test
    void chestXraysFromAModalityAreScreenedOnceAndTheRecommendationsGoBackToOrthanc() throws Exception {
        Files.writeString(dir.resolve("credentials"), orthanc.url() + "/  " + USER + ":" + PASSWORD + "\n");
        Map<String, Path> chest = new LinkedHashMap<>();
        chest.put("PAT-1001", dicom("dx-pa-12bit", 1, true, "DX", "CHEST", "PA", "PAT-1001"));
        chest.put("PAT-1002", dicom("cr-ap-8bit", 2, false, "CR", "CHEST", "AP", "PAT-1002"));
        List<Path> others = List.of(
                dicom("ct-chest", 3, false, "CT", "CHEST", "", "PAT-1003"),
                dicom("dx-hand", 4, false, "DX", "HAND", "PA", "PAT-1004"),
                dicom("dx-lateral", 5, false, "DX", "CHEST", "LL", "PAT-1005"));
        Map<String, String> patientByUid = new HashMap<>();
        for (var e : chest.entrySet()) {
            patientByUid.put(sopInstanceUid(e.getValue()), e.getKey());
        }
        double modalityBefore = skipped("modality");
        double bodyPartBefore = skipped("body_part");
        double viewBefore = skipped("view");
        List<Path> first = new ArrayList<>(chest.values());
        first.addAll(others);
        orthanc.storescu(first);

        // the screening job as main() builds it, reading claim checks from Orthanc only, with its credentials
        ScreeningJob job = new ScreeningJob();
        new CommandLine(job).parseArgs("--bootstrap-servers", kafka.bootstrapServers(),
                "--registry", registry.root().toString(), "--models", "mobilenet@production", "--min-models", "1",
                "--parallelism", "1", "--checkpoint-interval", "1000", "--metrics-port", "0",
                "--transactional-id-prefix", "it-orthanc-job-" + System.nanoTime(),
                "--allow-url-prefix", orthanc.url() + "/instances/", "--allow-private-addresses",
                "--url-credentials", dir.resolve("credentials").toString());
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        job.options.configure(env);
        ScreeningTopology.build(env, job.options.kafkaSources(), job.options.kafkaSinks(), job.options.settings());
        JobClient flink = env.executeAsync("orthanc-gateway-it");
        DicomGateway.Running running = gateway().start();
        try {
            List<Recommendation> recommendations = TopicReader.readUntil(kafka.bootstrapServers(),
                    "xray.recommendations", Recommendation.class, 2, Duration.ofMinutes(5));
            assertThat(recommendations).extracting(Recommendation::studyId)
                    .containsExactlyInAnyOrderElementsOf(patientByUid.keySet());
            for (Recommendation r : recommendations) {
                assertThat(r.patientRef()).isEqualTo(patientByUid.get(r.studyId()));
                assertThat(r.modelScores()).hasSize(1);
            }
            assertThat(skipped("modality") - modalityBefore).isEqualTo(1);
            assertThat(skipped("body_part") - bodyPartBefore).isEqualTo(1);
            assertThat(skipped("view") - viewBefore).isEqualTo(1);

            // back in Orthanc, on the instance and on its study, without the patient reference
            try (OrthancClient client = new OrthancClient(orthanc.url(), dir.resolve("credentials").toFile().exists()
                    ? org.xrayscreening.connectors.image.HttpCredentials.load(dir.resolve("credentials"))
                            .authorizationFor(orthanc.url() + "/") : null, Duration.ofSeconds(10))) {
                for (Recommendation r : recommendations) {
                    String instance = client.instanceBySopInstanceUid(r.studyId()).orElseThrow();
                    String study = client.studyOfInstance(instance);
                    JsonNode onStudy = awaitMetadata(client, "studies", study);
                    JsonNode onInstance = awaitMetadata(client, "instances", instance);
                    for (JsonNode written : List.of(onStudy, onInstance)) {
                        assertThat(written.path("decision").asText()).isEqualTo(r.decision().name());
                        assertThat(written.path("ensembleProbability").asDouble()).isEqualTo(r.ensembleProbability());
                        assertThat(written.path("studyId").asText()).isEqualTo(r.studyId());
                        assertThat(written.toString()).doesNotContain(patientByUid.get(r.studyId()));
                    }
                }
            }
            running.close();

            // a gateway that dies between publishing and committing: its events must never be seen
            Path third = dicom("dx-pa-third", 6, true, "DX", "CHEST", "PA", "PAT-1006");
            patientByUid.put(sopInstanceUid(third), "PAT-1006");
            orthanc.storescu(List.of(third));
            DicomGateway crashing = gateway();
            Map<String, Object> kafkaProps = Map.of("bootstrap.servers", kafka.bootstrapServers());
            OrthancClient crashClient = new OrthancClient(orthanc.url(),
                    crashing.parent.options.httpCredentials().authorizationFor(orthanc.url() + "/"), Duration.ofSeconds(10));
            ChangeFeedGateway dying = new ChangeFeedGateway(crashClient, kafkaProps, crashing.settings());
            try {
                dying.recover();
                int[] published = new int[1];
                dying.beforeCommit(n -> {
                    published[0] = n;
                    throw new IllegalStateException("simulated crash before commit");
                });
                assertThat(catchThrowable(dying::step)).hasMessageContaining("simulated crash");
                assertThat(published[0]).isEqualTo(1);
                // the dying producer is left as a crashed process leaves it: transaction open, never aborted

                DicomGateway.Running restarted = gateway().start();
                try {
                    List<Recommendation> all = TopicReader.readUntil(kafka.bootstrapServers(),
                            "xray.recommendations", Recommendation.class, 3, Duration.ofMinutes(3));
                    assertThat(all).extracting(Recommendation::studyId)
                            .containsExactlyInAnyOrderElementsOf(patientByUid.keySet());
                } finally {
                    restarted.close();
                }
            } finally {
                dying.close();
                crashClient.close();
            }

            // a further restart republishes nothing already published: a fourth image sent after it starts is
            // published (so the gateway was running and past its position) and everything else only once
            DicomGateway.Running again = gateway().start();
            Path fourth = dicom("cr-pa-fourth", 7, false, "CR", "CHEST", "PA", "PAT-1007");
            patientByUid.put(sopInstanceUid(fourth), "PAT-1007");
            orthanc.storescu(List.of(fourth));
            try {
                assertThat(TopicReader.readUntil(kafka.bootstrapServers(), "xray.recommendations",
                        Recommendation.class, 4, Duration.ofMinutes(3))).extracting(Recommendation::studyId)
                        .containsExactlyInAnyOrderElementsOf(patientByUid.keySet());
            } finally {
                again.close();
            }
            List<XrayAcquired> acquired = TopicReader.readAll(kafka.bootstrapServers(), "xray.acquired",
                    XrayAcquired.class, Duration.ofSeconds(5));
            assertThat(acquired).extracting(XrayAcquired::studyId)
                    .containsExactlyInAnyOrderElementsOf(patientByUid.keySet());
            for (XrayAcquired a : acquired) {
                assertThat(a.patientRef()).isEqualTo(patientByUid.get(a.studyId()));
                assertThat(a.image().data()).as("no pixels in Kafka").isNull();
                assertThat(a.image().contentType()).isEqualTo(ImageReference.DICOM);
                assertThat(a.image().uri()).startsWith(orthanc.url() + "/instances/").endsWith("/file");
            }
            assertThat(TopicReader.readAll(kafka.bootstrapServers(), "xray.dead-letter", DeadLetter.class,
                    Duration.ofSeconds(2))).isEmpty();
            List<Recommendation> finalRecommendations = TopicReader.readAll(kafka.bootstrapServers(),
                    "xray.recommendations", Recommendation.class, Duration.ofSeconds(3));
            assertThat(finalRecommendations.stream().collect(Collectors.groupingBy(Recommendation::studyId,
                    Collectors.counting()))).allSatisfy((id, n) -> assertThat(n).as(id).isEqualTo(1L));

            // no patient name, ID or accession number in any metric series
            List<String> labelValues = new ArrayList<>();
            for (var snapshot : PrometheusRegistry.defaultRegistry.scrape()) {
                for (var point : snapshot.getDataPoints()) {
                    point.getLabels().forEach(label -> labelValues.add(label.getValue()));
                }
            }
            assertThat(labelValues).contains("modality", "body_part", "view", "written")
                    .noneMatch(v -> v.contains("PAT-10") || v.contains("Doe") || v.contains("ACC-")
                            || patientByUid.containsKey(v));
        } finally {
            running.close();
            flink.cancel().get(30, TimeUnit.SECONDS);
        }
    }

    static JsonNode awaitMetadata(OrthancClient client, String level, String id) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            Optional<String> v = client.metadata(level, id, METADATA);
            if (v.isPresent()) {
                return JSON.readTree(v.get());
            }
            Thread.sleep(250);
        }
        throw new AssertionError("no " + METADATA + " metadata on the " + level + " resource after 60 s");
    }
}
