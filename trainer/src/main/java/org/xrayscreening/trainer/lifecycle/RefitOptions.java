package org.xrayscreening.trainer.lifecycle;

import org.xrayscreening.connectors.kafka.KafkaClientProperties;
import org.xrayscreening.connectors.kafka.KafkaConnectionCheck;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Option;

/** The options {@code serve} and {@code refit} share: where things are, how to train, how to decide. */
public final class RefitOptions {
    @Option(names = "--store", required = true, description = "training store folder (images/ + manifest.csv)")
    Path store;

    @Option(names = "--registry", required = true, description = "model registry folder")
    Path registry;

    @Option(names = "--runs", defaultValue = "runs", description = "folder for refit folders (default: ${DEFAULT-VALUE})")
    Path runs;

    @Option(names = "--bootstrap-servers", required = true, description = "Kafka bootstrap servers")
    String bootstrapServers;

    @Option(names = "--kafka-property", description = "extra Kafka client setting key=value (repeatable; e.g. security)")
    Map<String, String> kafkaProperties = new LinkedHashMap<>();

    @Option(names = "--kafka-properties", description = "file of extra Kafka client properties (TLS, SASL; the Helm chart mounts one)")
    Path kafkaPropertiesFile;

    /** The file's properties, overridden by any --kafka-property. */
    Map<String, String> kafkaClientProperties() {
        return KafkaClientProperties.merge(kafkaPropertiesFile, kafkaProperties);
    }

    @Option(names = "--topic-prefix", defaultValue = "", description = "prefix of every topic name (default: none)")
    String topicPrefix;

    @Option(names = "--alias", defaultValue = "production", description = "the alias that names the champion (default: ${DEFAULT-VALUE})")
    String alias;

    @Option(names = "--eval-data", description = "fixed evaluation set (folder or manifest.csv; repeat to combine"
            + " collections); default: the store's held-out patients")
    List<Path> evalData;

    @Option(names = "--holdout-fraction", defaultValue = "0.2",
            description = "share of patients held out of training for evaluation (default: ${DEFAULT-VALUE})")
    double holdoutFraction;

    @Option(names = "--validation-fraction", defaultValue = "0.25",
            description = "share of the training snapshot used for validation / best epoch (default: ${DEFAULT-VALUE})")
    double validationFraction;

    @Option(names = "--epochs", defaultValue = "3", description = "fine-tuning epochs (default: ${DEFAULT-VALUE})")
    int epochs;

    @Option(names = "--batch-size", defaultValue = "16", description = "(default: ${DEFAULT-VALUE})")
    int batchSize;

    @Option(names = "--lr", defaultValue = "1e-4", description = "Adam learning rate (default: ${DEFAULT-VALUE})")
    float learningRate;

    @Option(names = "--bn-momentum", defaultValue = "0.9", description = "batch-norm momentum while fine-tuning (default: ${DEFAULT-VALUE})")
    float bnMomentum;

    @Option(names = "--seed", defaultValue = "42", description = "(default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--threads", defaultValue = "0", description = "PyTorch threads (default: all cores)")
    int threads;

    @Option(names = "--no-augment", description = "no augmentation while fine-tuning")
    boolean noAugment;

    @Option(names = "--time-budget", defaultValue = "0", description = "minutes of training per model; 0 = none")
    double timeBudget;

    @Option(names = "--min-studies", defaultValue = "20",
            description = "skip the refit with fewer training studies than this (default: ${DEFAULT-VALUE})")
    int minStudies;

    @Option(names = "--criteria", defaultValue = PromotionPolicy.DEFAULT_CRITERIA,
            description = "ordered promotion criteria from sensitivity, specificity, precision, f1, accuracy, auc"
                    + " (default: ${DEFAULT-VALUE})")
    String criteria;

    @Option(names = "--tolerance", defaultValue = "0.005",
            description = "how much worse than the champion a criterion may be (absolute; default: ${DEFAULT-VALUE})")
    double tolerance;

    Refitter.Settings settings() {
        return new Refitter.Settings(registry, runs, evalData, alias, holdoutFraction, epochs, batchSize, learningRate,
                bnMomentum, validationFraction, seed, threads, !noAugment, timeBudget, minStudies,
                PromotionPolicy.parse(criteria, tolerance));
    }

    String topic(String name) {
        return topicPrefix + name;
    }

    /**
     * Connects once with these client settings, so that wrong credentials or TLS settings end the command at once
     * with a message on stderr (see {@link KafkaConnectionCheck}) instead of a consumer that polls nothing.
     */
    static boolean kafkaUsable(String bootstrapServers, Map<String, String> clientSettings) {
        try {
            KafkaConnectionCheck.verify(bootstrapServers, clientSettings, KafkaConnectionCheck.DEFAULT_TIMEOUT);
            return true;
        } catch (KafkaConnectionCheck.KafkaConnectionException e) {
            System.err.println("trainer: " + e.getMessage());
            return false;
        }
    }
}
