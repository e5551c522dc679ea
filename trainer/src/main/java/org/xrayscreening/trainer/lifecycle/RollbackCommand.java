package org.xrayscreening.trainer.lifecycle;

import org.xrayscreening.connectors.kafka.KafkaClientProperties;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.xrayscreening.connectors.event.EventCodec;
import org.xrayscreening.connectors.event.ModelUpdate;
import org.xrayscreening.connectors.kafka.KafkaTopics;
import org.xrayscreening.models.Architecture;
import org.xrayscreening.models.registry.ModelRegistry;
import org.xrayscreening.models.registry.ModelVersion;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code rollback}: serve a named (older) version again: verifies it, points the production alias at it and
 * sends the {@link ModelUpdate} (with the sha256 of its metadata.json) that makes the stream job swap to it.
 * Also re-sends the update of a promotion whose announcement failed.
 */
@Command(name = "rollback", mixinStandardHelpOptions = true,
        description = "Point the production alias at a named version and announce it on xray.model-updates.")
public final class RollbackCommand implements Callable<Integer> {
    @Option(names = "--registry", required = true, description = "model registry folder")
    Path registry;

    @Option(names = "--model", required = true, description = "architecture id, e.g. mobilenet")
    String model;

    @Option(names = "--to", required = true, description = "the version to serve (a version name or an alias)")
    String to;

    @Option(names = "--bootstrap-servers", required = true, description = "Kafka bootstrap servers")
    String bootstrapServers;

    @Option(names = "--kafka-property", description = "extra Kafka client setting key=value (repeatable)")
    Map<String, String> kafkaProperties = new LinkedHashMap<>();

    @Option(names = "--kafka-properties", description = "file of extra Kafka client properties (TLS, SASL)")
    java.nio.file.Path kafkaPropertiesFile;

    @Option(names = "--topic-prefix", defaultValue = "", description = "prefix of every topic name (default: none)")
    String topicPrefix;

    @Option(names = "--alias", defaultValue = "production", description = "(default: ${DEFAULT-VALUE})")
    String alias;

    @Option(names = "--reason", defaultValue = "rollback", description = "for the audit trail (default: ${DEFAULT-VALUE})")
    String reason;

    @Override
    public Integer call() throws Exception {
        Map<String, String> clientSettings = KafkaClientProperties.merge(kafkaPropertiesFile, kafkaProperties);
        // before the alias moves: a rollback that cannot be announced must not half happen
        if (!RefitOptions.kafkaUsable(bootstrapServers, clientSettings)) {
            return 2;
        }
        Architecture arch = Architecture.fromId(model);
        ModelRegistry reg = new ModelRegistry(registry);
        ModelVersion target = reg.resolve(arch, to);
        reg.verify(target); // never announce a version the stream job would refuse
        String previous = reg.aliases(arch).get(alias);
        reg.setAlias(arch, alias, target.version());
        String sha = ModelRegistry.sha256(target.directory().resolve(ModelRegistry.METADATA_FILE));
        ModelUpdate update = ModelUpdate.of(arch.id(), target.version(), target.directory().toString(), sha,
                reason + " (" + alias + " was " + previous + ")");
        String topic = KafkaTopics.DEFAULTS.withPrefix(topicPrefix).modelUpdates();
        EventCodec codec = new EventCodec();
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(
                TrainerService.producerProperties(bootstrapServers, clientSettings))) {
            producer.send(new ProducerRecord<>(topic, arch.id().getBytes(StandardCharsets.UTF_8), codec.toJson(update)))
                    .get();
        }
        System.out.println(alias + " " + arch.id() + ": " + previous + " -> " + target.version() + "; sent to " + topic
                + ": " + codec.toJsonString(update));
        return 0;
    }
}
