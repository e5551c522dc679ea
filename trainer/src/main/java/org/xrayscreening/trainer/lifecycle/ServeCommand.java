package org.xrayscreening.trainer.lifecycle;

import java.util.TimeZone;
import java.util.concurrent.Callable;
import org.xrayscreening.connectors.event.TrainerCommand;
import org.xrayscreening.connectors.kafka.KafkaTopics;
import org.xrayscreening.trainer.TrainerCli;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code serve}: consume xray.labelled into the store, refit on a schedule and on command events, until stopped. */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = "Long-running: store confirmed studies from xray.labelled; champion/challenger refits on"
                + " --schedule and on refit commands (xray.trainer-commands).")
public final class ServeCommand implements Callable<Integer> {
    @Mixin
    RefitOptions o;

    @Mixin
    ImageSourceOptions imageSources;

    @Option(names = "--schedule", description = "cron expression: Unix 5 fields ('0 2 * * *', as the Helm chart's CronJob)"
            + " or Quartz with seconds ('0 0 2 ? * SUN' = Sundays 02:00); default: refit on command only")
    String schedule;

    @Option(names = "--schedule-zone", defaultValue = "UTC", description = "time zone of --schedule (default: ${DEFAULT-VALUE})")
    String scheduleZone;

    @Option(names = "--commands-topic", defaultValue = TrainerCommand.TOPIC, description = "(default: ${DEFAULT-VALUE})")
    String commandsTopic;

    @Option(names = "--group-id", defaultValue = "xray-trainer", description = "consumer group (default: ${DEFAULT-VALUE})")
    String groupId;

    @Override
    public Integer call() throws Exception {
        TrainerCli.configureThreads(o.threads);
        if (!RefitOptions.kafkaUsable(o.bootstrapServers, o.kafkaClientProperties())) {
            return 2;
        }
        KafkaTopics topics = KafkaTopics.DEFAULTS.withPrefix(o.topicPrefix);
        TrainerService.Config config = new TrainerService.Config(o.bootstrapServers, topics.labelled(),
                o.topic(commandsTopic), topics.deadLetter(), topics.modelUpdates(), groupId,
                schedule == null ? null : CronSchedules.toQuartz(schedule),
                TimeZone.getTimeZone(scheduleZone), o.kafkaClientProperties(), imageSources.policy());
        TrainingStore store = TrainingStore.open(o.store);
        System.out.println("store " + store.root() + ": " + store.size() + " studies");
        TrainerService service = new TrainerService(config, store, o.settings(), System.out);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                service.close();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "trainer-shutdown"));
        service.start().await();
        return service.failure() == null ? 0 : 1;
    }
}
