package org.xrayscreening.stream.local;

import java.nio.file.Path;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.xrayscreening.connectors.kafka.EmbeddedKafka;
import org.xrayscreening.models.registry.ModelRegistry;
import org.xrayscreening.stream.ScreeningJob;
import org.xrayscreening.stream.ScreeningTopology;

/**
 * The whole system in this JVM: an embedded broker with the job's topics and the screening job running in a
 * local Flink environment against it. Used by the local run and the benchmark; closing it cancels the job
 * and stops the broker.
 */
public final class EmbeddedPipeline implements AutoCloseable {

    private final EmbeddedKafka kafka;
    private final JobClient job;

    private EmbeddedPipeline(EmbeddedKafka kafka, JobClient job) {
        this.kafka = kafka;
        this.job = job;
    }

    /**
     * Trains demo models where the registry lacks them, starts the broker, points {@code options} at it and
     * submits the job.
     */
    public static EmbeddedPipeline start(ScreeningJob.Options options, DemoModels demoModels) throws Exception {
        demoModels.ensureProduction(options.settings().models());
        EmbeddedKafka kafka = new EmbeddedKafka();
        try {
            kafka.start();
            options.bootstrapServers = kafka.bootstrapServers();
            kafka.createTopics(2, options.topicAcquired, options.topicRecommendations, options.topicAlerts,
                    options.topicDeadLetter, options.topicLabelled, options.topicModelUpdates,
                    options.topicModelStatus);
            StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(new Configuration());
            options.configure(env);
            ScreeningTopology.build(env, options.kafkaSources(), options.kafkaSinks(), options.settings());
            return new EmbeddedPipeline(kafka, env.executeAsync("xray-screening (embedded)"));
        } catch (Exception e) {
            kafka.close();
            throw e;
        }
    }

    public static DemoModels demoModels(Path registryRoot, int inputSize, int images, int epochs) {
        return new DemoModels(new ModelRegistry(registryRoot), inputSize, images, epochs, System.out);
    }

    public String bootstrapServers() {
        return kafka.bootstrapServers();
    }

    public JobClient job() {
        return job;
    }

    @Override
    public void close() throws Exception {
        try {
            job.cancel().get();
        } finally {
            kafka.close();
        }
    }
}
