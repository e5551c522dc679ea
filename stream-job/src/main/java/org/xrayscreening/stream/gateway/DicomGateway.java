package org.xrayscreening.stream.gateway;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicReference;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xrayscreening.connectors.orthanc.OrthancClient;
import org.xrayscreening.stream.ScreeningJob;
import org.xrayscreening.stream.metrics.ScreeningMetrics;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

/**
 * {@code xray-screening gateway}: the hospital-side DICOM entry. Modalities and PACS send images to an Orthanc
 * node with C-STORE; this command follows Orthanc's change feed, publishes one {@code xray.acquired} event per
 * new frontal chest X-ray (claim check to Orthanc, exactly once across restarts: {@link ChangeFeedGateway}) and
 * writes the recommendations back to the studies in Orthanc ({@link RecommendationWriteBack}).
 */
@Command(name = "gateway", mixinStandardHelpOptions = true,
        description = "Follows an Orthanc DICOM node: publishes its new chest X-rays to xray.acquired and writes "
                + "recommendations back to Orthanc.")
public class DicomGateway implements Callable<Integer> {

    private static final Logger LOG = LoggerFactory.getLogger(DicomGateway.class);

    @ParentCommand
    ScreeningJob parent;

    @Option(names = "--orthanc-url", required = true, paramLabel = "URL",
            description = "Orthanc's REST root, e.g. http://orthanc:8042. Its credentials come from --url-credentials.")
    String orthancUrl;

    @Option(names = "--claim-check-base-url", paramLabel = "URL",
            description = "Orthanc's REST root as the stream job reaches it, for the claim-check URIs (default: --orthanc-url).")
    String claimCheckBaseUrl;

    @Option(names = "--gateway-id", defaultValue = "orthanc",
            description = "Names this gateway's position in the feed (and its Kafka transactional id); one per Orthanc node.")
    String gatewayId;

    @Option(names = "--topic-gateway-position", defaultValue = "xray.gateway-position",
            description = "Compacted topic holding the gateway's change-feed position.")
    String topicPosition;

    @Option(names = "--page-size", defaultValue = "100", description = "Changes read (and published in one transaction) per request.")
    int pageSize;

    @Option(names = "--poll-interval", defaultValue = "1000", description = "ms between polls when the feed has nothing new.")
    long pollIntervalMs;

    @Option(names = "--source", defaultValue = "orthanc", description = "The events' source field.")
    String source;

    @Option(names = "--metadata-name", defaultValue = "XrayRecommendation",
            description = "Orthanc user-defined metadata the recommendations are written to (declare it in Orthanc's UserMetadata).")
    String metadataName;

    @Option(names = "--write-back", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Write recommendations back to Orthanc (--no-write-back: publish only).")
    boolean writeBack;

    /** The running gateway: two threads, stopped by {@link #close()}. */
    public static final class Running implements AutoCloseable {
        private final Thread feed;
        private final Thread writer;
        private final ChangeFeedGateway gateway;
        private final RecommendationWriteBack writeBack;
        private final AtomicReference<Throwable> failure;

        private Running(Thread feed, Thread writer, ChangeFeedGateway gateway, RecommendationWriteBack writeBack,
                        AtomicReference<Throwable> failure) {
            this.feed = feed;
            this.writer = writer;
            this.gateway = gateway;
            this.writeBack = writeBack;
            this.failure = failure;
        }

        /** Waits until a thread ends (only on failure or interruption); the first failure, or null. */
        public Throwable await() throws InterruptedException {
            while (feed.isAlive() && (writer == null || writer.isAlive())) {
                feed.join(1000);
            }
            return failure.get();
        }

        /** Stops both loops after the page or batch in progress and waits for them (at most 30 s each). */
        @Override
        public void close() throws InterruptedException {
            gateway.stop();
            if (writeBack != null) {
                writeBack.stop();
            }
            feed.join(30_000);
            if (writer != null) {
                writer.join(30_000);
            }
            if (feed.isAlive()) { // still starting (a Kafka client waiting for the broker): interrupt it
                feed.interrupt();
                feed.join(10_000);
            }
        }
    }

    /** The feed's settings from the options. */
    ChangeFeedGateway.Settings settings() {
        ScreeningJob.Options o = parent.options;
        String base = orthancUrl.replaceAll("/+$", "");
        return new ChangeFeedGateway.Settings(gatewayId, o.transactionalIdPrefix + "-gateway-" + gatewayId,
                o.topicAcquired, topicPosition,
                claimCheckBaseUrl != null ? claimCheckBaseUrl.replaceAll("/+$", "") : base, source, pageSize,
                Duration.ofMillis(pollIntervalMs));
    }

    /** Starts the feed (and the write-back) on their own threads. */
    public Running start() {
        ScreeningJob.Options o = parent.options;
        Map<String, Object> kafka = new HashMap<>(o.kafkaClientProperties());
        kafka.put("bootstrap.servers", o.bootstrapServers);
        String base = orthancUrl.replaceAll("/+$", "");
        String authorization = o.httpCredentials().authorizationFor(base + "/");
        if (authorization == null) {
            LOG.warn("no --url-credentials entry covers the Orthanc URL: calling it without credentials");
        }
        ChangeFeedGateway.Settings settings = settings();
        GatewayPosition.ensureTopic(kafka, topicPosition);
        ScreeningMetrics.serve(o.metricsHost, o.metricsPort);

        AtomicReference<Throwable> failure = new AtomicReference<>();
        // made here, not in the threads, so that close() can always reach them to stop them
        OrthancClient feedClient = new OrthancClient(base, authorization, Duration.ofSeconds(30));
        ChangeFeedGateway gateway = new ChangeFeedGateway(feedClient, kafka, settings);
        Thread feed = new Thread(() -> {
            try (feedClient; gateway) {
                gateway.run();
            } catch (InterruptedException | org.apache.kafka.common.errors.InterruptException e) {
                Thread.currentThread().interrupt();
            } catch (RuntimeException e) {
                failure.compareAndSet(null, e);
                LOG.error("the change feed stopped", e);
            }
        }, "gateway-feed-" + gatewayId);
        RecommendationWriteBack writeBackLoop = null;
        Thread writer = null;
        if (writeBack) {
            OrthancClient writerClient = new OrthancClient(base, authorization, Duration.ofSeconds(30));
            RecommendationWriteBack w = new RecommendationWriteBack(writerClient, kafka,
                    o.groupId + "-gateway-" + gatewayId, o.topicRecommendations, metadataName);
            writeBackLoop = w;
            writer = new Thread(() -> {
                try (writerClient; w) {
                    w.run();
                } catch (InterruptedException | org.apache.kafka.common.errors.InterruptException e) {
                    Thread.currentThread().interrupt();
                } catch (RuntimeException e) {
                    failure.compareAndSet(null, e);
                    LOG.error("the recommendation write-back stopped", e);
                }
            }, "gateway-writeback-" + gatewayId);
        }
        Running running = new Running(feed, writer, gateway, writeBackLoop, failure);
        feed.setUncaughtExceptionHandler((t, e) -> failure.compareAndSet(null, e));
        feed.start();
        if (writer != null) {
            writer.start();
        }
        LOG.info("gateway '{}' follows Orthanc's change feed; events to {}, position in {}{}", gatewayId,
                o.topicAcquired, topicPosition, writeBack ? ", recommendations written back as metadata " + metadataName : "");
        return running;
    }

    @Override
    public Integer call() throws Exception {
        Running running = start();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                running.close();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "gateway-shutdown"));
        Throwable failure = running.await();
        if (failure != null) {
            LOG.error("gateway stopped: {}", failure.toString());
            return 1;
        }
        return 0;
    }
}
