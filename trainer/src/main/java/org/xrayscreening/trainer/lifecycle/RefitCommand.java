package org.xrayscreening.trainer.lifecycle;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.Callable;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.xrayscreening.connectors.event.EventCodec;
import org.xrayscreening.connectors.kafka.KafkaTopics;
import org.xrayscreening.models.Architecture;
import org.xrayscreening.trainer.TrainerCli;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code refit}: one champion/challenger refit from the store, now, in this process (while {@code serve} runs,
 * prefer a command event: one refit at a time).
 */
@Command(name = "refit", mixinStandardHelpOptions = true,
        description = "One champion/challenger refit from the training store; promotes and announces on"
                + " xray.model-updates when the challenger is not worse.")
public final class RefitCommand implements Callable<Integer> {
    @Mixin
    RefitOptions o;

    @Option(names = "--models", split = ",", description = "architecture ids (default: every model with a production alias)")
    List<String> models = List.of();

    @Override
    public Integer call() throws Exception {
        TrainerCli.configureThreads(o.threads);
        // before the refit: a refit of minutes that cannot announce its result is wasted
        if (!RefitOptions.kafkaUsable(o.bootstrapServers, o.kafkaClientProperties())) {
            return 2;
        }
        String topic = KafkaTopics.DEFAULTS.withPrefix(o.topicPrefix).modelUpdates();
        EventCodec codec = new EventCodec();
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(
                TrainerService.producerProperties(o.bootstrapServers, o.kafkaClientProperties()))) {
            Refitter refitter = new Refitter(o.settings(), u -> producer.send(new ProducerRecord<>(topic,
                    u.model().getBytes(StandardCharsets.UTF_8), codec.toJson(u))).get(), System.out);
            Refitter.Result r = refitter.refit(TrainingStore.open(o.store),
                    models.stream().map(Architecture::fromId).toList(), "cli: " + TrainerCli.commandLine());
            return r.outcomes().stream().anyMatch(m -> m.status() == Refitter.Status.FAILED) ? 1 : 0;
        }
    }
}
