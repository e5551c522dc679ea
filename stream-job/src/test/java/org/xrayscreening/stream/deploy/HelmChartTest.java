package org.xrayscreening.stream.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.xrayscreening.stream.scoring.ScoringBatch;

/**
 * Renders the Helm chart in helm/xray-screening with the real helm binary and checks what Kubernetes would
 * receive: the FlinkDeployment of the stream job, the trainer, Kafka credentials, optional Strimzi topics and
 * monitoring. No cluster is needed; the test is skipped when no helm binary is found (.ci/install-helm.sh
 * installs one into .ci/bin/).
 *
 * <p>Three configurations: the shipped defaults, ci/all-on-values.yaml (every optional part on, SASL_SSL
 * Kafka) and defaults with a few values changed, to see that values flow into the manifests.
 */
class HelmChartTest {

    private static final String RELEASE = "xray";
    private static final String NAMESPACE = "xray-screening";
    private static final String MAIN_CONTAINER = "flink-main-container";
    private static final String GPU = "nvidia.com/gpu";
    private static final Pattern SECRET_REFERENCE = Pattern.compile("\\$\\{[A-Za-z0-9_]+:[^:}]+:[^}]+}");
    private static final List<String> TOPIC_KEYS = List.of(
            "acquired", "recommendations", "alerts", "deadLetter", "labelled", "modelUpdates", "modelStatus");

    @TempDir
    static Path helmHome;

    private static Path repoRoot;
    private static Path chart;
    private static String helm;
    private static Map<String, Object> values;
    private static Map<String, Object> allOnValues;
    private static List<Map<String, Object>> defaults;
    private static List<Map<String, Object>> allOn;
    private static List<Map<String, Object>> changed;

    @BeforeAll
    static void render() throws Exception {
        repoRoot = findRepoRoot();
        chart = repoRoot.resolve("helm/xray-screening");
        Optional<String> binary = findHelm(repoRoot);
        Assumptions.assumeTrue(binary.isPresent(),
                "no helm binary: set HELM_BIN, run .ci/install-helm.sh, or put helm on PATH");
        helm = binary.get();

        values = loadYaml(chart.resolve("values.yaml"));
        allOnValues = loadYaml(chart.resolve("ci/all-on-values.yaml"));
        defaults = template();
        allOn = template("-f", chart.resolve("ci/all-on-values.yaml").toString());
        changed = template("--set", "streamJob.parallelism=5", "--set", "trainer.schedule=15 3 * * 1",
                "--set", "streamJob.metricsPort=9555", "--set", "kafka.topics.acquired=site-a.xray.acquired",
                "--set", "streamJob.ensembleSettings=e-2026-12");
    }

    // ---------------------------------------------------------------------------------------------
    // Stream job
    // ---------------------------------------------------------------------------------------------

    @Test
    void flinkDeploymentRunsTheShadedJobInApplicationModeWithSavepointUpgrades() {
        Map<String, Object> spec = map(single(defaults, "FlinkDeployment"), "spec");
        Map<String, Object> job = map(spec, "job");
        Map<String, Object> streamJob = map(values, "streamJob");

        assertThat(job.get("jarURI")).isEqualTo(streamJob.get("jarURI"))
                .isEqualTo("local:///opt/flink/usrlib/stream-job.jar");
        assertThat(job.get("entryClass")).isEqualTo("org.xrayscreening.stream.ScreeningJob");
        assertThat(job.get("parallelism")).isEqualTo(streamJob.get("parallelism"));
        assertThat(job.get("upgradeMode")).isEqualTo("savepoint");
        assertThat(job.get("state")).isEqualTo("running");
        assertThat(spec.get("mode")).isEqualTo("native");
        assertThat(spec.get("image")).asString().startsWith("xray-screening/stream-job:");

        List<String> args = strings(job.get("args"));
        assertThat(flag(args, "--parallelism")).isEqualTo(String.valueOf(streamJob.get("parallelism")));
        assertThat(flag(args, "--registry")).isEqualTo(map(values, "registry").get("mountPath"));
        assertThat(flag(args, "--bootstrap-servers")).isEqualTo(map(values, "kafka").get("bootstrapServers"));
        assertThat(flag(args, "--checkpoint-interval")).isEqualTo(String.valueOf(streamJob.get("checkpointIntervalMs")));
        assertThat(flag(args, "--kafka-properties")).isEqualTo("/etc/xray/kafka/client.properties");
        Map<String, Object> topics = map(map(values, "kafka"), "topics");
        assertThat(flag(args, "--topic-acquired")).isEqualTo(topics.get("acquired"));
        assertThat(flag(args, "--topic-model-updates")).isEqualTo(topics.get("modelUpdates"));
        assertThat(args).filteredOn(a -> a.startsWith("--topic-")).hasSize(7);
        Map<String, Object> scoring = map(streamJob, "scoring");
        assertThat(flag(args, "--batch-size")).isEqualTo(String.valueOf(scoring.get("batchSize")));
        assertThat(flag(args, "--batch-wait")).isEqualTo(String.valueOf(scoring.get("batchWaitMs")));
        assertThat(flag(args, "--intra-op-threads"))
                .isEqualTo(String.valueOf(map(streamJob, "taskManager").get("ompNumThreads")));
        // the chart batches as the job does by default (threads differ on purpose: a pod knows its cores)
        assertThat(scoring.get("batchSize")).isEqualTo(ScoringBatch.DEFAULT_MAX_STUDIES);
        assertThat(((Number) scoring.get("batchWaitMs")).longValue()).isEqualTo(ScoringBatch.DEFAULT_MAX_WAIT_MS);
        // poison images: the attempt journal lies on the state PVC, which survives pod restarts and every
        // TaskManager mounts
        assertThat(flag(args, "--attempt-journal"))
                .startsWith(map(map(streamJob, "state"), "persistence").get("mountPath") + "/");
        assertThat(flag(args, "--max-worker-crashes")).isEqualTo("2");
        assertThat(flag(args, "--ensemble-settings")).isEqualTo(streamJob.get("ensembleSettings")).isEqualTo("latest");
    }

    @Test
    void valuesFlowIntoTheFlinkDeployment() {
        Map<String, Object> job = map(map(single(changed, "FlinkDeployment"), "spec"), "job");
        List<String> args = strings(job.get("args"));

        assertThat(job.get("parallelism")).isEqualTo(5);
        assertThat(flag(args, "--parallelism")).isEqualTo("5");
        assertThat(flag(args, "--metrics-port")).isEqualTo("9555");
        assertThat(flag(args, "--topic-acquired")).isEqualTo("site-a.xray.acquired");
        assertThat(flag(args, "--ensemble-settings")).isEqualTo("e-2026-12");
    }

    @Test
    void flinkConfigurationLoadsDjlParentFirstAndStoresCheckpointsAndSavepoints() {
        for (List<Map<String, Object>> render : List.of(defaults, allOn)) {
            Map<String, Object> conf = map(map(single(render, "FlinkDeployment"), "spec"), "flinkConfiguration");
            conf.values().forEach(v -> assertThat(v).as("flinkConfiguration values are strings").isInstanceOf(String.class));

            List<String> parentFirst = Arrays.stream(
                    ((String) conf.get("classloader.parent-first-patterns.additional")).split(";"))
                    .map(String::trim).collect(Collectors.toList());
            assertThat(parentFirst).contains("ai.djl.");

            // Flink 2 keys and their Flink 1.x names, which the operator still reads for savepoint upgrades.
            assertThat(conf.get("execution.checkpointing.dir")).isNotNull()
                    .isEqualTo(conf.get("state.checkpoints.dir"));
            assertThat(conf.get("execution.checkpointing.savepoint-dir")).isNotNull()
                    .isEqualTo(conf.get("state.savepoints.dir"));
            assertThat(conf.get("high-availability.type")).isEqualTo("kubernetes");
            assertThat(conf.get("execution.checkpointing.mode")).isEqualTo("EXACTLY_ONCE");
            // room for PyTorch's native memory
            assertThat((String) conf.get("taskmanager.memory.task.off-heap.size")).matches("\\d+[mg]");
            assertThat(conf.get("env.java.opts.all")).asString().contains("-Dai.djl.offline=true");
        }
    }

    @Test
    void registryIsMountedReadOnlyInTheStreamJobAndWritableForTheTrainer() {
        for (List<Map<String, Object>> render : List.of(defaults, allOn)) {
            Map<String, Object> spec = map(single(render, "FlinkDeployment"), "spec");
            for (String role : List.of("jobManager", "taskManager")) {
                Map<String, Object> podSpec = map(map(map(spec, role), "podTemplate"), "spec");
                Map<String, Object> main = container(podSpec, MAIN_CONTAINER);
                Map<String, Object> mount = volumeMount(main, "/models");
                assertThat(mount.get("readOnly")).as(role + " registry mount").isEqualTo(true);
                Map<String, Object> volume = volume(podSpec, (String) mount.get("name"));
                assertThat(map(volume, "persistentVolumeClaim").get("claimName")).isEqualTo(RELEASE + "-xray-screening-registry");
            }
        }
        Map<String, Object> trainer = container(podSpecs(single(defaults, "CronJob")).get(0), "trainer");
        assertThat(volumeMount(trainer, "/models").get("readOnly")).isNotEqualTo(true);

        Map<String, Object> pvc = named(defaults, "PersistentVolumeClaim", RELEASE + "-xray-screening-registry");
        assertThat(strings(map(pvc, "spec").get("accessModes"))).containsExactly("ReadWriteMany");
    }

    // ---------------------------------------------------------------------------------------------
    // GPU
    // ---------------------------------------------------------------------------------------------

    @Test
    void gpusOnlyOnTheTaskManagersAndOnlyWhenSwitchedOn() {
        for (Map<String, Object> podSpec : allPodSpecs(defaults)) {
            for (Map<String, Object> c : containers(podSpec)) {
                assertThat(resourceKeys(c)).as("no GPU by default: " + c.get("name")).doesNotContain(GPU);
                assertThat(envNames(c)).doesNotContain("PYTORCH_FLAVOR");
            }
        }

        Map<String, Object> spec = map(single(allOn, "FlinkDeployment"), "spec");
        Map<String, Object> tmPod = map(map(map(spec, "taskManager"), "podTemplate"), "spec");
        Map<String, Object> tm = container(tmPod, MAIN_CONTAINER);
        assertThat(map(map(tm, "resources"), "limits").get(GPU)).isEqualTo(1);
        assertThat(env(tm, "PYTORCH_FLAVOR")).isEqualTo("cu128");
        assertThat(env(tm, "PYTORCH_LIBRARY_PATH")).isEqualTo("/opt/libtorch/lib");
        assertThat(map(tmPod, "nodeSelector")).containsKey("nvidia.com/gpu.present");
        assertThat(listOfMaps(tmPod.get("tolerations"))).anySatisfy(t -> assertThat(t.get("key")).isEqualTo(GPU));

        Map<String, Object> jmPod = map(map(map(spec, "jobManager"), "podTemplate"), "spec");
        Map<String, Object> jm = container(jmPod, MAIN_CONTAINER);
        assertThat(resourceKeys(jm)).as("the JobManager never gets a GPU").doesNotContain(GPU);
        assertThat(envNames(jm)).doesNotContain("PYTORCH_FLAVOR");
        assertThat(jmPod).doesNotContainKey("tolerations");
    }

    // ---------------------------------------------------------------------------------------------
    // Native allocator
    // ---------------------------------------------------------------------------------------------

    @Test
    void everyPyTorchContainerGetsTheConfiguredAllocator() throws Exception {
        Map<String, Object> native_ = map(values, "nativeRuntime");
        assertThat(native_.get("allocator")).isEqualTo("jemalloc");
        List<Map<String, Object>> glibc = template("--set", "nativeRuntime.allocator=glibc");
        for (List<Map<String, Object>> render : List.of(defaults, glibc)) {
            boolean jemalloc = render == defaults;
            Map<String, Object> spec = map(single(render, "FlinkDeployment"), "spec");
            for (String role : List.of("jobManager", "taskManager")) {
                Map<String, Object> c = container(map(map(map(spec, role), "podTemplate"), "spec"), MAIN_CONTAINER);
                if (jemalloc) {
                    // Flink's image entrypoint preloads jemalloc unless DISABLE_JEMALLOC=true
                    assertThat(envNames(c)).as(role).doesNotContain("DISABLE_JEMALLOC");
                    assertThat(env(c, "MALLOC_CONF")).as(role).isEqualTo(native_.get("mallocConf"));
                } else {
                    assertThat(env(c, "DISABLE_JEMALLOC")).as(role).isEqualTo("true");
                    assertThat(envNames(c)).as(role).doesNotContain("MALLOC_CONF");
                }
            }
            Map<String, Object> trainer = containers(podSpecs(single(render, "CronJob")).get(0)).get(0);
            assertThat(env(trainer, "XRAY_ALLOCATOR")).isEqualTo(jemalloc ? "jemalloc" : "glibc");
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Trainer
    // ---------------------------------------------------------------------------------------------

    @Test
    void trainerCronJobRunsRefitOnTheConfiguredScheduleWithoutOverlap() {
        Map<String, Object> cronJob = single(defaults, "CronJob");
        Map<String, Object> spec = map(cronJob, "spec");
        assertThat(spec.get("schedule")).isEqualTo(map(values, "trainer").get("schedule"));
        assertThat(spec.get("concurrencyPolicy")).isEqualTo("Forbid");
        Map<String, Object> trainer = container(podSpecs(cronJob).get(0), "trainer");
        List<String> args = strings(trainer.get("args"));
        assertThat(args.get(0)).isEqualTo("refit");
        assertThat(flag(args, "--registry")).isEqualTo("/models");
        assertThat(flag(args, "--store")).isEqualTo("/data/training-store");
        assertThat(flag(args, "--kafka-properties")).isEqualTo("/etc/xray/kafka/client.properties");
        assertThat(ofKind(defaults, "Deployment")).isEmpty();

        assertThat(map(single(changed, "CronJob"), "spec").get("schedule")).isEqualTo("15 3 * * 1");
    }

    @Test
    void serveModeIsASingleWriterDeploymentInsteadOfTheCronJob() {
        assertThat(ofKind(allOn, "CronJob")).isEmpty();
        Map<String, Object> deployment = deployment(allOn, "-trainer");
        Map<String, Object> spec = map(deployment, "spec");
        assertThat(spec.get("replicas")).isEqualTo(1);
        assertThat(map(spec, "strategy").get("type")).isEqualTo("Recreate");
        List<String> args = strings(container(podSpecs(deployment).get(0), "trainer").get("args"));
        assertThat(args.get(0)).isEqualTo("serve");
        assertThat(flag(args, "--schedule")).isEqualTo(map(values, "trainer").get("schedule"));
    }

    @Test
    void claimCheckAllowListIsEmptyByDefaultAndReachesTheJobAndTheServingTrainer() {
        // defaults: no --allow-* flag anywhere, i.e. inline images only
        for (Map<String, Object> kind : List.of(single(defaults, "FlinkDeployment"), single(defaults, "CronJob"))) {
            List<String> args = kind.get("kind").equals("FlinkDeployment")
                    ? strings(map(map(kind, "spec"), "job").get("args"))
                    : strings(container(podSpecs(kind).get(0), "trainer").get("args"));
            assertThat(args).noneMatch(a -> a.startsWith("--allow-"));
        }
        org.xrayscreening.stream.ScreeningJob job = new org.xrayscreening.stream.ScreeningJob();
        new picocli.CommandLine(job).parseArgs(strings(map(map(single(defaults, "FlinkDeployment"), "spec"), "job")
                .get("args")).toArray(String[]::new));
        assertThat(job.options.imageSources().fileRoots()).isEmpty();
        assertThat(job.options.imageSources().allowsPrivateAddresses()).isFalse();

        // all-on: the values become repeated flags that the job's own command line accepts
        List<String> args = strings(map(map(single(allOn, "FlinkDeployment"), "spec"), "job").get("args"));
        Map<String, Object> sources = map(map(allOnValues, "streamJob"), "imageSources");
        assertThat(flag(args, "--allow-file-root")).isEqualTo(strings(sources.get("fileRoots")).get(0));
        assertThat(args).filteredOn(a -> a.equals("--allow-url-prefix")).hasSize(strings(sources.get("urlPrefixes")).size());
        assertThat(args).contains("--allow-private-addresses");
        org.xrayscreening.stream.ScreeningJob allOnJob = new org.xrayscreening.stream.ScreeningJob();
        new picocli.CommandLine(allOnJob).parseArgs(args.toArray(String[]::new));
        // the credentials file exists only in the pod (a mounted Secret): see dicomGatewayIsAnOptionalDeployment...
        assertThat(allOnJob.options.urlCredentials).isNotNull();
        allOnJob.options.urlCredentials = null;
        assertThat(allOnJob.options.imageSources().fileRoots()).containsExactly(java.nio.file.Path.of("/mnt/modality-spool"));
        assertThat(allOnJob.options.allowUrlPrefixes).containsExactlyElementsOf(strings(sources.get("urlPrefixes")));
        assertThat(allOnJob.options.imageSources().allowsPrivateAddresses()).isTrue();

        List<String> serve = strings(container(podSpecs(deployment(allOn, "-trainer")).get(0), "trainer").get("args"));
        assertThat(flag(serve, "--allow-url-prefix")).isEqualTo(
                strings(map(map(allOnValues, "trainer"), "imageSources").get("urlPrefixes")).get(0));
        assertThat(serve).contains("--allow-private-addresses");
    }

    // ---------------------------------------------------------------------------------------------
    // Kafka credentials
    // ---------------------------------------------------------------------------------------------

    @Test
    void kafkaCredentialsReachThePodsOnlyThroughSecretReferences() throws IOException {
        for (List<Map<String, Object>> render : List.of(defaults, allOn, changed)) {
            assertThat(ofKind(render, "Secret")).as("the chart never renders a Secret").isEmpty();

            for (Map<String, Object> cm : ofKind(render, "ConfigMap")) {
                for (Map.Entry<String, Object> e : map(cm, "data").entrySet()) {
                    String text = String.valueOf(e.getValue());
                    assertThat(text).as("ConfigMap %s/%s", name(cm), e.getKey())
                            .doesNotContainIgnoringCase("LoginModule")
                            .doesNotContainPattern("(?i)password\\s*=\\s*\"");
                    if (e.getKey().endsWith(".properties")) {
                        Properties p = new Properties();
                        p.load(new java.io.StringReader(text));
                        for (String key : p.stringPropertyNames()) {
                            String k = key.toLowerCase();
                            if (k.equals("sasl.jaas.config") || k.contains("password") || k.endsWith(".key")) {
                                assertThat(p.getProperty(key)).as("%s in %s must reference a Secret file", key, name(cm))
                                        .matches(SECRET_REFERENCE);
                            }
                        }
                    }
                }
            }

            for (Map<String, Object> podSpec : allPodSpecs(render)) {
                for (Map<String, Object> c : containers(podSpec)) {
                    for (Map<String, Object> env : listOfMaps(c.get("env"))) {
                        String envName = String.valueOf(env.get("name")).toUpperCase();
                        Object literal = env.get("value");
                        if (literal != null) {
                            assertThat(String.valueOf(literal)).as("env %s", envName)
                                    .doesNotContainIgnoringCase("LoginModule")
                                    .doesNotContainPattern("(?i)password\\s*=");
                        }
                        if (envName.matches(".*(PASSWORD|JAAS|SECRET|TOKEN|CREDENTIAL).*")) {
                            assertThat(literal).as("env %s must come from a Secret", envName).isNull();
                            assertThat(map(env, "valueFrom")).containsKey("secretKeyRef");
                        }
                    }
                }
            }
        }
    }

    @Test
    void saslAndTlsSecretsAreMountedAndReferencedByTheClientProperties() throws IOException {
        Map<String, Object> kafka = map(allOnValues, "kafka");
        String authSecret = (String) map(kafka, "auth").get("existingSecret");
        String tlsSecret = (String) map(kafka, "tls").get("existingSecret");

        Properties client = clientProperties(allOn);
        assertThat(client.getProperty("security.protocol")).isEqualTo("SASL_SSL");
        assertThat(client.getProperty("sasl.mechanism")).isEqualTo("SCRAM-SHA-512");
        assertThat(client.getProperty("config.providers.xraysecret.class"))
                .isEqualTo("org.apache.kafka.common.config.provider.DirectoryConfigProvider");
        assertThat(client.getProperty("sasl.jaas.config")).isEqualTo("${xraysecret:/etc/xray/kafka-auth:sasl.jaas.config}");
        assertThat(client.getProperty("ssl.truststore.location")).isEqualTo("/etc/xray/kafka-tls/truststore");

        for (Map<String, Object> podSpec : allPodSpecs(allOn)) {
            Map<String, Object> main = containers(podSpec).get(0);
            Map<String, Object> auth = volume(podSpec, (String) volumeMount(main, "/etc/xray/kafka-auth").get("name"));
            assertThat(map(auth, "secret").get("secretName")).isEqualTo(authSecret);
            assertThat(listOfMaps(map(auth, "secret").get("items")))
                    .anySatisfy(i -> assertThat(i.get("path")).isEqualTo("sasl.jaas.config"));
            Map<String, Object> tls = volume(podSpec, (String) volumeMount(main, "/etc/xray/kafka-tls").get("name"));
            assertThat(map(tls, "secret").get("secretName")).isEqualTo(tlsSecret);
            assertThat(volumeMount(main, "/etc/xray/kafka-auth").get("readOnly")).isEqualTo(true);
        }

        Properties plain = clientProperties(defaults);
        assertThat(plain.getProperty("security.protocol")).isEqualTo("PLAINTEXT");
        assertThat(plain.stringPropertyNames()).noneMatch(k -> k.startsWith("sasl.") || k.startsWith("config.providers"));
    }

    // ---------------------------------------------------------------------------------------------
    // Optional resources and monitoring
    // ---------------------------------------------------------------------------------------------

    @Test
    void strimziTopicsOnlyWhenSwitchedOn() {
        assertThat(ofKind(defaults, "KafkaTopic")).isEmpty();

        List<Map<String, Object>> topics = ofKind(allOn, "KafkaTopic");
        Map<String, Object> names = map(map(values, "kafka"), "topics");
        // the seven topics, and the DICOM gateway's position topic (gateway enabled in all-on), compacted
        String position = (String) map(values, "gateway").get("positionTopic");
        List<Object> expected = TOPIC_KEYS.stream().map(names::get).collect(Collectors.toList());
        expected.add(position);
        assertThat(topics).extracting(t -> map(t, "spec").get("topicName")).containsExactlyInAnyOrderElementsOf(expected);
        String cluster = (String) map(allOnValues, "strimzi").get("clusterName");
        for (Map<String, Object> topic : topics) {
            assertThat(topic.get("apiVersion")).isEqualTo("kafka.strimzi.io/v1beta2");
            assertThat(map(map(topic, "metadata"), "labels").get("strimzi.io/cluster")).isEqualTo(cluster);
            assertThat((Integer) map(topic, "spec").get("partitions")).isPositive();
            assertThat((Integer) map(topic, "spec").get("replicas")).isPositive();
            if (position.equals(map(topic, "spec").get("topicName"))) {
                assertThat(map(map(topic, "spec"), "config").get("cleanup.policy")).isEqualTo("compact");
            } else {
                assertThat(map(map(topic, "spec"), "config").get("retention.ms")).isInstanceOf(String.class);
            }
        }
        Map<String, Object> acquired = topics.stream()
                .filter(t -> "xray.acquired".equals(map(t, "spec").get("topicName"))).findFirst().orElseThrow();
        assertThat(map(acquired, "spec").get("partitions")).isEqualTo(12);
    }

    @Test
    void podMonitorAndAlertsOnlyWhenSwitchedOn() {
        assertThat(ofKind(defaults, "PodMonitor")).isEmpty();
        assertThat(ofKind(defaults, "PrometheusRule")).isEmpty();

        Map<String, Object> podMonitor = single(allOn, "PodMonitor");
        assertThat(podMonitor.get("apiVersion")).isEqualTo("monitoring.coreos.com/v1");
        List<Map<String, Object>> endpoints = listOfMaps(map(podMonitor, "spec").get("podMetricsEndpoints"));
        assertThat(endpoints).extracting(e -> e.get("port")).contains("metrics");
        assertThat(endpoints).allSatisfy(e -> assertThat(e.get("path")).isEqualTo("/metrics"));

        // The PodMonitor selects the JobManager and TaskManager pods, and each has every scraped port.
        Map<String, Object> selector = map(map(map(podMonitor, "spec"), "selector"), "matchLabels");
        Map<String, Object> spec = map(single(allOn, "FlinkDeployment"), "spec");
        for (String role : List.of("jobManager", "taskManager")) {
            Map<String, Object> template = map(map(spec, role), "podTemplate");
            assertThat(map(map(template, "metadata"), "labels")).containsAllEntriesOf(selector);
            Set<Object> ports = listOfMaps(container(map(template, "spec"), MAIN_CONTAINER).get("ports")).stream()
                    .map(p -> p.get("name")).collect(Collectors.toSet());
            endpoints.forEach(e -> assertThat(ports).as(role).contains(e.get("port")));
        }

        String rules = String.valueOf(map(single(allOn, "PrometheusRule"), "spec"));
        assertThat(rules).contains("xray_dead_letters_total", "xray_live_sensitivity", "xray_recommendations_total",
                "XrayDeadLettersRising", "XraySensitivityBelowFloor", "XrayNoRecommendations");
    }

    @Test
    void everyContainerServingMetricsNamesItsPortMetrics() {
        for (List<Map<String, Object>> render : List.of(defaults, allOn, changed)) {
            Map<String, Object> spec = map(single(render, "FlinkDeployment"), "spec");
            String metricsPort = flag(strings(map(spec, "job").get("args")), "--metrics-port");
            for (String role : List.of("jobManager", "taskManager")) {
                Map<String, Object> main = container(map(map(map(spec, role), "podTemplate"), "spec"), MAIN_CONTAINER);
                assertThat(listOfMaps(main.get("ports"))).as(role)
                        .anySatisfy(p -> {
                            assertThat(p.get("name")).isEqualTo("metrics");
                            assertThat(String.valueOf(p.get("containerPort"))).isEqualTo(metricsPort);
                        });
            }
            // any other container started with --metrics-port must name its port too
            for (Map<String, Object> podSpec : allPodSpecs(render)) {
                for (Map<String, Object> c : containers(podSpec)) {
                    List<String> args = strings(c.getOrDefault("args", List.of()));
                    if (args.contains("--metrics-port")) {
                        String port = flag(args, "--metrics-port");
                        assertThat(listOfMaps(c.get("ports"))).as(String.valueOf(c.get("name")))
                                .anySatisfy(p -> {
                                    assertThat(p.get("name")).isEqualTo("metrics");
                                    assertThat(String.valueOf(p.get("containerPort"))).isEqualTo(port);
                                });
                    }
                }
            }
        }
    }

    @Test
    void dicomGatewayIsAnOptionalDeploymentWithOrthancCredentialsFromASecret() throws Exception {
        assertThat(ofKind(defaults, "Deployment")).noneMatch(d -> name(d).endsWith("-gateway"));
        Map<String, Object> gateway = deployment(allOn, "-gateway");
        assertThat(map(gateway, "spec").get("replicas")).isEqualTo(1);
        assertThat(map(map(gateway, "spec"), "strategy").get("type")).isEqualTo("Recreate");
        Map<String, Object> podSpec = podSpecs(gateway).get(0);
        Map<String, Object> c = container(podSpec, "gateway");
        List<String> args = strings(c.get("args"));
        Map<String, Object> g = map(allOnValues, "gateway");
        // the arguments after the main class are the product's own command line: they must parse
        List<String> cli = args.subList(args.indexOf("org.xrayscreening.stream.ScreeningJob") + 1, args.size());
        org.xrayscreening.stream.ScreeningJob job = new org.xrayscreening.stream.ScreeningJob();
        picocli.CommandLine.ParseResult parsed = new picocli.CommandLine(job).parseArgs(cli.toArray(String[]::new));
        assertThat(parsed.subcommand().commandSpec().name()).isEqualTo("gateway");
        assertThat(flag(cli, "--orthanc-url")).isEqualTo(g.get("orthancUrl"));
        assertThat(flag(cli, "--bootstrap-servers")).isEqualTo(map(allOnValues, "kafka").get("bootstrapServers"));
        String credentialsFile = flag(cli, "--url-credentials");
        // the credentials come from the Secret, mounted where --url-credentials points; never in args or env
        Map<String, Object> volume = listOfMaps(podSpec.get("volumes")).stream()
                .filter(v -> "url-credentials".equals(v.get("name"))).findFirst().orElseThrow();
        assertThat(map(volume, "secret").get("secretName")).isEqualTo(g.get("credentialsSecret"));
        Map<String, Object> mount = listOfMaps(c.get("volumeMounts")).stream()
                .filter(m -> "url-credentials".equals(m.get("name"))).findFirst().orElseThrow();
        assertThat(credentialsFile).startsWith(mount.get("mountPath") + "/");
        // the stream job reads the claim checks with the same kind of Secret
        List<String> jobArgs = strings(map(map(single(allOn, "FlinkDeployment"), "spec"), "job").get("args"));
        assertThat(flag(jobArgs, "--url-credentials")).isEqualTo(credentialsFile);
        assertThat(flag(template("--set", "gateway.enabled=true", "--set", "gateway.credentialsSecret=s").stream()
                .filter(d -> "Deployment".equals(d.get("kind")) && name(d).endsWith("-gateway"))
                .map(d -> strings(container(podSpecs(d).get(0), "gateway").get("args"))).findFirst().orElseThrow(),
                "--gateway-id")).isEqualTo(map(values, "gateway").get("gatewayId"));
    }

    @Test
    void everyResourceCarriesTheStandardLabels() {
        for (List<Map<String, Object>> render : List.of(defaults, allOn)) {
            for (Map<String, Object> doc : render) {
                Map<String, Object> labels = map(map(doc, "metadata"), "labels");
                assertThat(labels).as("%s %s", doc.get("kind"), name(doc))
                        .containsEntry("app.kubernetes.io/instance", RELEASE)
                        .containsEntry("app.kubernetes.io/name", "xray-screening")
                        .containsEntry("app.kubernetes.io/managed-by", "Helm")
                        .containsKey("helm.sh/chart");
                assertThat(map(doc, "metadata").get("namespace")).isEqualTo(NAMESPACE);
            }
        }
    }

    // ---------------------------------------------------------------------------------------------
    // helm and YAML plumbing
    // ---------------------------------------------------------------------------------------------

    private static List<Map<String, Object>> template(String... extraArgs) throws Exception {
        List<String> command = new ArrayList<>(List.of(helm, "template", RELEASE, chart.toString(), "--namespace", NAMESPACE));
        command.addAll(List.of(extraArgs));
        ProcessBuilder pb = new ProcessBuilder(command).directory(repoRoot.toFile());
        pb.environment().put("HELM_CACHE_HOME", helmHome.resolve("cache").toString());
        pb.environment().put("HELM_CONFIG_HOME", helmHome.resolve("config").toString());
        pb.environment().put("HELM_DATA_HOME", helmHome.resolve("data").toString());
        Path stderr = Files.createTempFile(helmHome, "helm", ".err");
        pb.redirectError(stderr.toFile());
        Process process = pb.start();
        String out;
        try (InputStream in = process.getInputStream()) {
            out = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        if (!process.waitFor(120, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            fail("helm template timed out: " + command);
        }
        if (process.exitValue() != 0) {
            fail("helm template failed (" + process.exitValue() + "): " + command + "\n" + Files.readString(stderr));
        }
        List<Map<String, Object>> docs = new ArrayList<>();
        for (Object doc : yaml().loadAll(out)) {
            if (doc != null) {
                docs.add(asMap(doc, "document"));
            }
        }
        assertThat(docs).as("rendered documents of " + command).isNotEmpty();
        return docs;
    }

    private static Yaml yaml() {
        return new Yaml(new SafeConstructor(new LoaderOptions()));
    }

    private static Map<String, Object> loadYaml(Path file) throws IOException {
        return asMap(yaml().load(Files.readString(file)), file.toString());
    }

    private static Path findRepoRoot() {
        Path dir = Path.of("").toAbsolutePath();
        while (dir != null) {
            if (Files.isRegularFile(dir.resolve("helm/xray-screening/Chart.yaml"))) {
                return dir;
            }
            dir = dir.getParent();
        }
        throw new IllegalStateException("helm/xray-screening/Chart.yaml not found above " + Path.of("").toAbsolutePath());
    }

    /** HELM_BIN, else .ci/bin/helm in the repository, else helm on the PATH. */
    private static Optional<String> findHelm(Path root) {
        String fromEnv = System.getenv("HELM_BIN");
        if (fromEnv != null && !fromEnv.isBlank() && Files.isExecutable(Path.of(fromEnv))) {
            return Optional.of(fromEnv);
        }
        Path local = root.resolve(".ci/bin/helm");
        if (Files.isExecutable(local)) {
            return Optional.of(local.toString());
        }
        String path = Objects.requireNonNullElse(System.getenv("PATH"), "");
        return Arrays.stream(path.split(java.io.File.pathSeparator))
                .filter(p -> !p.isBlank())
                .map(p -> Path.of(p, "helm"))
                .filter(Files::isExecutable)
                .map(Path::toString)
                .findFirst();
    }

    private static List<Map<String, Object>> ofKind(List<Map<String, Object>> docs, String kind) {
        return docs.stream().filter(d -> kind.equals(d.get("kind"))).collect(Collectors.toList());
    }

    private static Map<String, Object> single(List<Map<String, Object>> docs, String kind) {
        List<Map<String, Object>> found = ofKind(docs, kind);
        assertThat(found).as("exactly one " + kind).hasSize(1);
        return found.get(0);
    }

    /** The one Deployment whose name ends with {@code suffix} (-trainer, -gateway). */
    private static Map<String, Object> deployment(List<Map<String, Object>> docs, String suffix) {
        List<Map<String, Object>> found = ofKind(docs, "Deployment").stream().filter(d -> name(d).endsWith(suffix)).toList();
        assertThat(found).as("exactly one Deployment *" + suffix).hasSize(1);
        return found.get(0);
    }

    private static Map<String, Object> named(List<Map<String, Object>> docs, String kind, String name) {
        return ofKind(docs, kind).stream().filter(d -> name.equals(name(d))).findFirst()
                .orElseThrow(() -> new AssertionError("no " + kind + " named " + name));
    }

    private static String name(Map<String, Object> doc) {
        return String.valueOf(map(doc, "metadata").get("name"));
    }

    /** Pod specs of a workload: FlinkDeployment (both roles), Deployment, CronJob. */
    private static List<Map<String, Object>> podSpecs(Map<String, Object> doc) {
        Map<String, Object> spec = map(doc, "spec");
        switch (String.valueOf(doc.get("kind"))) {
            case "FlinkDeployment":
                return List.of(map(map(map(spec, "jobManager"), "podTemplate"), "spec"),
                        map(map(map(spec, "taskManager"), "podTemplate"), "spec"));
            case "Deployment":
                return List.of(map(map(spec, "template"), "spec"));
            case "CronJob":
                return List.of(map(map(map(map(spec, "jobTemplate"), "spec"), "template"), "spec"));
            default:
                return List.of();
        }
    }

    private static List<Map<String, Object>> allPodSpecs(List<Map<String, Object>> docs) {
        List<Map<String, Object>> result = new ArrayList<>();
        docs.forEach(d -> result.addAll(podSpecs(d)));
        assertThat(result).isNotEmpty();
        return result;
    }

    private static List<Map<String, Object>> containers(Map<String, Object> podSpec) {
        List<Map<String, Object>> result = listOfMaps(podSpec.get("containers"));
        assertThat(result).isNotEmpty();
        return result;
    }

    private static Map<String, Object> container(Map<String, Object> podSpec, String name) {
        return containers(podSpec).stream().filter(c -> name.equals(c.get("name"))).findFirst()
                .orElseThrow(() -> new AssertionError("no container " + name));
    }

    private static Map<String, Object> volumeMount(Map<String, Object> container, String mountPath) {
        return listOfMaps(container.get("volumeMounts")).stream().filter(m -> mountPath.equals(m.get("mountPath")))
                .findFirst().orElseThrow(() -> new AssertionError(container.get("name") + " mounts nothing at " + mountPath));
    }

    private static Map<String, Object> volume(Map<String, Object> podSpec, String name) {
        return listOfMaps(podSpec.get("volumes")).stream().filter(v -> name.equals(v.get("name"))).findFirst()
                .orElseThrow(() -> new AssertionError("no volume " + name));
    }

    private static Set<String> resourceKeys(Map<String, Object> container) {
        Map<String, Object> resources = map(container, "resources");
        Set<String> keys = new java.util.HashSet<>();
        keys.addAll(map(resources, "limits").keySet());
        keys.addAll(map(resources, "requests").keySet());
        return keys;
    }

    private static List<String> envNames(Map<String, Object> container) {
        return listOfMaps(container.get("env")).stream().map(e -> String.valueOf(e.get("name"))).collect(Collectors.toList());
    }

    private static Object env(Map<String, Object> container, String name) {
        return listOfMaps(container.get("env")).stream().filter(e -> name.equals(e.get("name"))).findFirst()
                .map(e -> e.get("value")).orElse(null);
    }

    private static Properties clientProperties(List<Map<String, Object>> render) throws IOException {
        Map<String, Object> cm = named(render, "ConfigMap", RELEASE + "-xray-screening-kafka-client");
        Properties p = new Properties();
        p.load(new java.io.StringReader(String.valueOf(map(cm, "data").get("client.properties"))));
        return p;
    }

    /** The value after a flag in an argument list. */
    private static String flag(List<String> args, String name) {
        int i = args.indexOf(name);
        assertThat(i).as("flag " + name + " in " + args).isNotNegative().isLessThan(args.size() - 1);
        return args.get(i + 1);
    }

    /** A nested map, or an empty map when the key is absent. */
    private static Map<String, Object> map(Map<String, Object> parent, String key) {
        Object value = parent == null ? null : parent.get(key);
        return value == null ? new LinkedHashMap<>() : asMap(value, key);
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> asMap(Object value, String what) {
        assertThat(value).as(what).isInstanceOf(Map.class);
        return (Map<String, Object>) value;
    }

    @SuppressWarnings("unchecked")
    private static List<Map<String, Object>> listOfMaps(Object value) {
        if (value == null) {
            return List.of();
        }
        assertThat(value).isInstanceOf(List.class);
        return (List<Map<String, Object>>) value;
    }

    private static List<String> strings(Object value) {
        if (value == null) {
            return List.of();
        }
        assertThat(value).isInstanceOf(List.class);
        return ((List<?>) value).stream().map(String::valueOf).collect(Collectors.toList());
    }
}
