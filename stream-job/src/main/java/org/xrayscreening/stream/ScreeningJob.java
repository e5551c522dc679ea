package org.xrayscreening.stream;

import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Callable;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.core.execution.CheckpointingMode;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.xrayscreening.connectors.event.Alert;
import org.xrayscreening.connectors.event.DeadLetter;
import org.xrayscreening.connectors.event.ModelStatus;
import org.xrayscreening.connectors.event.Recommendation;
import org.xrayscreening.connectors.image.HttpCredentials;
import org.xrayscreening.connectors.image.ImageLimits;
import org.xrayscreening.connectors.image.ImageSourcePolicy;
import org.xrayscreening.connectors.kafka.KafkaClientProperties;
import org.xrayscreening.connectors.kafka.KafkaConnectionCheck;
import org.xrayscreening.connectors.kafka.KafkaSinks;
import org.xrayscreening.connectors.kafka.KafkaSources;
import org.xrayscreening.stream.ensemble.EnsemblePolicy;
import org.xrayscreening.stream.ensemble.EnsembleSettingsChoice;
import org.xrayscreening.stream.heatmap.HeatmapSettings;
import org.xrayscreening.stream.poison.AttemptJournal;
import org.xrayscreening.stream.local.LocalScreening;
import org.xrayscreening.stream.bench.ScreeningBenchmark;
import org.xrayscreening.stream.chaos.ChaosRun;
import org.xrayscreening.stream.gateway.DicomGateway;
import org.xrayscreening.models.inference.Precision;
import org.xrayscreening.stream.scoring.ScoringBatch;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.Model.CommandSpec;

/**
 * The stream job's entry point. Without a sub-command it submits the job to the Flink environment it runs in
 * (a Flink cluster via {@code flink run} or the Kubernetes operator); {@code local} runs everything on
 * embedded defaults; {@code benchmark} measures the embedded pipeline.
 *
 * <p>Every option can also come from a properties file given with {@code --config} (keys are the long option
 * names without dashes, e.g. {@code bootstrap-servers=kafka:9092}); the command line wins.
 */
@Command(name = "xray-screening", mixinStandardHelpOptions = true, version = "xray-screening 0.1.0",
        description = "Screens chest X-rays for COVID-19 as they are acquired (Kafka -> Flink -> 4 CNNs).",
        subcommands = {LocalScreening.class, ScreeningBenchmark.class, DicomGateway.class, ChaosRun.class})
public class ScreeningJob implements Callable<Integer> {

    @Mixin
    public Options options = new Options();

    /**
     * The options shared by the cluster job, the local run and the benchmark. They are inherited by the
     * sub-commands, so {@code local --registry DIR} and {@code --registry DIR local} both set them here.
     */
    /** fp32 or bf16; not "auto", which would decide by the CPU that starts the job, not the one that scores. */
    public static final class PrecisionConverter implements CommandLine.ITypeConverter<Precision> {
        @Override
        public Precision convert(String value) {
            if (value.trim().equalsIgnoreCase("auto")) {
                throw new CommandLine.TypeConversionException("--precision takes fp32 or bf16, not auto");
            }
            try {
                return Precision.parse(value);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.TypeConversionException("--precision takes fp32 or bf16, not '" + value + "'");
            }
        }
    }

    public static class Options {
        @Option(scope = ScopeType.INHERIT, names = "--config", description = "Properties file with defaults for any option.")
        public Path config;

        @Option(scope = ScopeType.INHERIT, names = "--bootstrap-servers", defaultValue = "localhost:9092", description = "Kafka bootstrap servers.")
        public String bootstrapServers;

        @Option(scope = ScopeType.INHERIT, names = "--kafka-properties", description = "Extra Kafka client properties (TLS, SASL, ...).")
        public Path kafkaProperties;

        @Option(scope = ScopeType.INHERIT, names = "--registry", defaultValue = "registry", description = "Model registry root directory.")
        public Path registry;

        @Option(scope = ScopeType.INHERIT, names = "--models", split = ",",
                defaultValue = "mobilenet@production,resnet50@production,inceptionv3@production,xception@production",
                description = "Models to serve, architecture@version-or-alias.")
        public List<String> models;

        @Option(scope = ScopeType.INHERIT, names = "--parallelism", defaultValue = "1", description = "Flink parallelism.")
        public int parallelism;

        @Option(scope = ScopeType.INHERIT, names = "--checkpoint-interval", defaultValue = "10000",
                description = "Checkpoint interval in ms; output becomes visible to read_committed readers at each checkpoint.")
        public long checkpointIntervalMs;

        @Option(scope = ScopeType.INHERIT, names = "--ensemble-timeout", defaultValue = "60000",
                description = "ms to wait for all models before emitting a partial recommendation.")
        public long ensembleTimeoutMs;

        @Option(scope = ScopeType.INHERIT, names = "--batch-size", defaultValue = "" + ScoringBatch.DEFAULT_MAX_STUDIES,
                description = "Most studies a model scores in one forward pass (1: one at a time).")
        public int batchSize;

        @Option(scope = ScopeType.INHERIT, names = "--batch-wait", defaultValue = "" + ScoringBatch.DEFAULT_MAX_WAIT_MS,
                description = "ms a model waits after a study for more to batch with it (0: no waiting); "
                        + "must be below half the ensemble timeout.")
        public long batchWaitMs;

        @Option(scope = ScopeType.INHERIT, names = "--intra-op-threads",
                defaultValue = "" + ScoringBatch.DEFAULT_INTRA_OP_THREADS,
                description = "PyTorch intra-op threads of each model operator (0: one per core). All models "
                        + "share the cores: more than cores / (models x slots) only oversubscribes.")
        public int intraOpThreads;

        @Option(scope = ScopeType.INHERIT, names = "--precision", defaultValue = "fp32", paramLabel = "fp32|bf16",
                converter = PrecisionConverter.class,
                description = "Number format the models score in: fp32 (default) or bf16 (needs AVX512_BF16 or AMX;"
                        + " faster, but it failed the accuracy bar: docs/benchmarks.md). Heatmaps stay fp32.")
        public Precision precision;

        @Option(scope = ScopeType.INHERIT, names = "--threshold", defaultValue = "0.5", description = "Ensemble decision threshold.")
        public double threshold;

        @Option(scope = ScopeType.INHERIT, names = "--indeterminate-band", defaultValue = "0.1",
                description = "Probabilities within this distance of the threshold are INDETERMINATE.")
        public double indeterminateBand;

        @Option(scope = ScopeType.INHERIT, names = "--max-disagreement", defaultValue = "0.5",
                description = "Spread of model probabilities across the threshold above which the result is INDETERMINATE.")
        public double maxDisagreement;

        @Option(scope = ScopeType.INHERIT, names = "--min-models", defaultValue = "2", description = "Fewer answering models give INDETERMINATE.")
        public int minModels;

        @Option(scope = ScopeType.INHERIT, names = "--ensemble-settings", defaultValue = "latest",
                paramLabel = "latest|none|VERSION",
                description = "Ensemble settings from the registry (trainer fit-ensemble: per-model calibration,"
                        + " combination, validation band), read when the job starts: latest (if the registry has any,"
                        + " else the policy below), none, or a version. Studies scored by model versions they were not"
                        + " fit for are decided by --threshold/--indeterminate-band/--max-disagreement instead.")
        public String ensembleSettings;

        @Option(scope = ScopeType.INHERIT, names = "--max-image-bytes", defaultValue = "33554432", description = "Largest image accepted (bytes).")
        public long maxImageBytes;

        @Option(scope = ScopeType.INHERIT, names = "--max-image-pixels", defaultValue = "50000000", description = "Largest image accepted (pixels).")
        public long maxImagePixels;

        @Option(scope = ScopeType.INHERIT, names = "--allow-file-root", split = ",", paramLabel = "DIR",
                description = "Folder whose files xray.acquired events may name as file: claim checks (repeatable, or "
                        + "comma-separated). Real paths are compared: no .., no symbolic links out of it. Default: none.")
        public List<Path> allowFileRoots = new ArrayList<>();

        @Option(scope = ScopeType.INHERIT, names = "--allow-url-prefix", split = ",", paramLabel = "URL",
                description = "http(s) URL prefix that claim checks may start with, e.g. https://pacs.example/wado/ "
                        + "(repeatable, or comma-separated). Compared by scheme, host, port and path segments; "
                        + "redirects are checked again. Default: none.")
        public List<String> allowUrlPrefixes = new ArrayList<>();

        @Option(scope = ScopeType.INHERIT, names = "--allow-private-addresses", defaultValue = "false",
                description = "Allow URL prefixes whose host resolves to a loopback or private address (10/8, "
                        + "172.16/12, 192.168/16, 100.64/10, fc00::/7). Link-local (cloud metadata), unspecified and "
                        + "multicast addresses stay refused.")
        public boolean allowPrivateAddresses;

        @Option(scope = ScopeType.INHERIT, names = "--url-credentials", paramLabel = "FILE",
                description = "File of basic-auth credentials per URL prefix, one 'URL-PREFIX USER:PASSWORD' a line "
                        + "(e.g. Orthanc's): sent with claim-check downloads under that prefix, never logged.")
        public Path urlCredentials;

        @Option(scope = ScopeType.INHERIT, names = "--canonical-max-side", defaultValue = "512",
                description = "Images are reduced to this longer side before they fan out to the models.")
        public int canonicalMaxSide;

        @Option(scope = ScopeType.INHERIT, names = "--metrics-host", defaultValue = "0.0.0.0", description = "Prometheus endpoint address.")
        public String metricsHost;

        @Option(scope = ScopeType.INHERIT, names = "--metrics-port", defaultValue = "9404", description = "Prometheus endpoint port (0: off).")
        public int metricsPort;

        @Option(scope = ScopeType.INHERIT, names = "--accuracy-window", defaultValue = "500",
                description = "Labelled studies per model version in the rolling live-accuracy window.")
        public int accuracyWindow;

        @Option(scope = ScopeType.INHERIT, names = "--sensitivity-floor", defaultValue = "0.85",
                description = "Live sensitivity below this raises a MODEL_SENSITIVITY_BELOW_FLOOR alert.")
        public double sensitivityFloor;

        @Option(scope = ScopeType.INHERIT, names = "--min-labelled-positives", defaultValue = "20",
                description = "COVID-19 cases needed in the window before the floor is enforced.")
        public int minLabelledPositives;

        @Option(scope = ScopeType.INHERIT, names = "--label-retention", defaultValue = "P30D",
                description = "How long a recommendation waits for its label (ISO-8601 duration).")
        public Duration labelRetention;

        @Option(scope = ScopeType.INHERIT, names = "--attempt-journal", paramLabel = "DIR",
                description = "Folder where the job notes, per record, that an image is being processed, so that an "
                        + "image that kills a TaskManager (OutOfMemoryError, native crash) is dead-lettered as "
                        + "IMAGE_CRASHED_WORKER after --max-worker-crashes deaths instead of restarting the job forever. "
                        + "Must survive a TaskManager restart and be shared by the TaskManagers. Default: none (off).")
        public Path attemptJournal;

        @Option(scope = ScopeType.INHERIT, names = "--max-worker-crashes", defaultValue = "2",
                description = "Deaths of a worker while processing one record before it is dead-lettered (with --attempt-journal).")
        public int maxWorkerCrashes;

        @Option(scope = ScopeType.INHERIT, names = "--group-id", defaultValue = "xray-screening", description = "Kafka consumer group.")
        public String groupId;

        @Option(scope = ScopeType.INHERIT, names = "--transactional-id-prefix", defaultValue = "xray-screening",
                description = "Prefix of the sinks' transactional ids; unique per job.")
        public String transactionalIdPrefix;

        @Option(scope = ScopeType.INHERIT, names = "--topic-acquired", defaultValue = "xray.acquired")
        public String topicAcquired;
        @Option(scope = ScopeType.INHERIT, names = "--topic-recommendations", defaultValue = "xray.recommendations")
        public String topicRecommendations;
        @Option(scope = ScopeType.INHERIT, names = "--topic-alerts", defaultValue = "xray.alerts")
        public String topicAlerts;
        @Option(scope = ScopeType.INHERIT, names = "--topic-dead-letter", defaultValue = "xray.dead-letter")
        public String topicDeadLetter;
        @Option(scope = ScopeType.INHERIT, names = "--topic-labelled", defaultValue = "xray.labelled")
        public String topicLabelled;
        @Option(scope = ScopeType.INHERIT, names = "--topic-model-updates", defaultValue = "xray.model-updates")
        public String topicModelUpdates;
        @Option(scope = ScopeType.INHERIT, names = "--topic-model-status", defaultValue = "xray.model-status")
        public String topicModelStatus;

        @Option(scope = ScopeType.INHERIT, names = "--heatmap-root", paramLabel = "DIR",
                description = "Heatmap store: write Grad-CAM heatmaps of flagged studies here and put their URI in the alert (default: off; the local run uses <work-dir>/heatmaps).")
        public Path heatmapRoot;

        @Option(scope = ScopeType.INHERIT, names = "--heatmap-image-ttl", defaultValue = "PT15M",
                description = "How long a study's image is held for its heatmap at most (ISO-8601 duration).")
        public Duration heatmapImageTtl;

        public JobSettings settings() {
            List<ModelSpec> specs = new ArrayList<>();
            for (String m : models) {
                specs.add(ModelSpec.parse(m.trim()));
            }
            return new JobSettings(registry.toAbsolutePath().toString(), specs,
                    new EnsemblePolicy(threshold, indeterminateBand, maxDisagreement, minModels),
                    Duration.ofMillis(ensembleTimeoutMs),
                    new ImageLimits(maxImageBytes, maxImagePixels, ImageLimits.DEFAULTS.maxSide()),
                    imageSources(), canonicalMaxSide, metricsHost, metricsPort, labelRetention, accuracyWindow, sensitivityFloor,
                    minLabelledPositives, batching()).withHeatmaps(heatmapRoot == null ? HeatmapSettings.OFF
                    : new HeatmapSettings(heatmapRoot.toAbsolutePath().toString(), heatmapImageTtl,
                            HeatmapSettings.OFF.imageWait(), HeatmapSettings.OFF.cachedModels()))
                    .withAttemptJournal(attemptJournalConfig())
                    .withEnsembleSettings(EnsembleSettingsChoice.resolve(ensembleSettings, registry, specs));
        }

        public ScoringBatch batching() {
            return new ScoringBatch(batchSize, Duration.ofMillis(batchWaitMs), intraOpThreads, precision);
        }

        /** Off without --attempt-journal; the folder is made absolute here, where the command was started. */
        public AttemptJournal.Config attemptJournalConfig() {
            return attemptJournal == null ? AttemptJournal.Config.off()
                    : new AttemptJournal.Config(attemptJournal.toAbsolutePath().resolve(groupId).toString(), maxWorkerCrashes);
        }

        /**
         * Where claim-check images may be read from: {@code --allow-file-root}, {@code --allow-url-prefix},
         * {@code --allow-private-addresses}. Nothing by default (inline images only).
         */
        public ImageSourcePolicy imageSources() {
            return ImageSourcePolicy.of(allowFileRoots == null ? List.of() : allowFileRoots,
                    allowUrlPrefixes == null ? List.of() : allowUrlPrefixes, allowPrivateAddresses)
                    .withCredentials(httpCredentials());
        }

        /** The {@code --url-credentials} file, read now (none without the option). */
        public HttpCredentials httpCredentials() {
            if (urlCredentials == null) {
                return HttpCredentials.NONE;
            }
            try {
                return HttpCredentials.load(urlCredentials);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException("cannot read --url-credentials " + urlCredentials, e);
            }
        }

        public Map<String, String> kafkaClientProperties() {
            return KafkaClientProperties.merge(kafkaProperties, Map.of());
        }

        /** Exactly-once sinks for the outputs; the status topic is an audit log, so at-least-once suffices. */
        public ScreeningTopology.Sinks kafkaSinks() throws IOException {
            Map<String, String> props = kafkaClientProperties();
            return new ScreeningTopology.Sinks(
                    KafkaSinks.<Recommendation>json(bootstrapServers, topicRecommendations, Recommendation::studyId,
                            DeliveryGuarantee.EXACTLY_ONCE, transactionalIdPrefix + "-recommendations", props),
                    KafkaSinks.<Alert>json(bootstrapServers, topicAlerts, ScreeningJob::alertKey,
                            DeliveryGuarantee.EXACTLY_ONCE, transactionalIdPrefix + "-alerts", props),
                    KafkaSinks.<DeadLetter>json(bootstrapServers, topicDeadLetter, DeadLetter::key,
                            DeliveryGuarantee.EXACTLY_ONCE, transactionalIdPrefix + "-dead-letters", props),
                    KafkaSinks.<ModelStatus>json(bootstrapServers, topicModelStatus, ModelStatus::model,
                            DeliveryGuarantee.AT_LEAST_ONCE, null, props));
        }

        /** The job's three Kafka inputs; model updates are read from the start so a fresh job ends on the last one. */
        public ScreeningTopology.Sources kafkaSources() throws IOException {
            Map<String, String> props = kafkaClientProperties();
            return new ScreeningTopology.Sources(
                    KafkaSources.raw(bootstrapServers, topicAcquired, groupId, props),
                    KafkaSources.raw(bootstrapServers, topicModelUpdates, groupId + "-model-updates", props),
                    KafkaSources.raw(bootstrapServers, topicLabelled, groupId + "-labelled", props));
        }

        /** Checkpointing drives the transactional sinks: output is committed at each checkpoint. */
        public void configure(StreamExecutionEnvironment env) {
            env.setParallelism(parallelism);
            env.enableCheckpointing(checkpointIntervalMs, CheckpointingMode.EXACTLY_ONCE);
        }
    }

    /**
     * Whether the option was given on the command line of this command or of any command above it: an inherited
     * option given after a sub-command is matched in the sub-command's parse result, not the parent's.
     */
    public static boolean given(ParseResult result, String option) {
        if (result.hasMatchedOption(option)) {
            return true;
        }
        for (CommandSpec p = result.commandSpec().parent(); p != null; p = p.parent()) {
            ParseResult r = p.commandLine().getParseResult();
            if (r != null && r.hasMatchedOption(option)) {
                return true;
            }
        }
        return false;
    }

    /** {@link #given(ParseResult, String)} for the command whose spec this is. */
    public static boolean given(CommandSpec spec, String option) {
        return given(spec.commandLine().getParseResult(), option);
    }

    static String alertKey(Alert alert) {
        return alert.studyId() != null ? alert.studyId() : alert.type().name();
    }

    @Override
    public Integer call() throws Exception {
        // Before submitting: a job with wrong Kafka credentials would otherwise restart forever on the cluster.
        try {
            KafkaConnectionCheck.verify(options.bootstrapServers, options.kafkaClientProperties(),
                    KafkaConnectionCheck.DEFAULT_TIMEOUT);
        } catch (KafkaConnectionCheck.KafkaConnectionException e) {
            System.err.println("xray-screening: " + e.getMessage());
            return 2;
        }
        Configuration conf = new Configuration();
        conf.set(RestartStrategyOptions.RESTART_STRATEGY, "exponential-delay");
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(conf);
        options.configure(env);
        JobSettings settings;
        try {
            settings = options.settings();
        } catch (IllegalArgumentException e) {
            System.err.println("xray-screening: " + e.getMessage());
            return 2;
        }
        ScreeningTopology.build(env, options.kafkaSources(), options.kafkaSinks(), settings);
        env.execute("xray-screening " + String.join(",", options.models));
        return 0;
    }

    public static void main(String[] args) {
        System.exit(commandLine(new ScreeningJob(), args).execute(args));
    }

    /**
     * Builds the command line. Defaults come from the file named by --config, found by scanning the raw
     * arguments because picocli needs default values before it has parsed them.
     */
    public static CommandLine commandLine(Object command, String[] args) {
        CommandLine cmd = new CommandLine(command);
        Path config = null;
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--config") && i + 1 < args.length) {
                config = Path.of(args[i + 1]);
            } else if (args[i].startsWith("--config=")) {
                config = Path.of(args[i].substring("--config=".length()));
            }
        }
        if (config != null) {
            Properties defaults = new Properties();
            try (Reader r = Files.newBufferedReader(config)) {
                defaults.load(r);
            } catch (IOException e) {
                throw new CommandLine.ParameterException(cmd, "cannot read --config " + config + ": " + e.getMessage());
            }
            cmd.setDefaultValueProvider(new CommandLine.PropertiesDefaultProvider(defaults));
        }
        return cmd;
    }
}
