package org.xrayscreening.connectors.kafka;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.apache.kafka.common.test.TestKitNodes;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A single-node Kafka (KRaft, combined broker and controller) in this JVM, for tests, local runs and the
 * demo. Configured for transactions on one node (replication factor 1 and min ISR 1 for the offsets and
 * transaction state topics; {@code transaction.max.timeout.ms} left at 15 minutes). Listens on a free port
 * of localhost, PLAINTEXT. Its data live in a temporary directory removed by {@link #close()}.
 *
 * <pre>
 * try (EmbeddedKafka kafka = new EmbeddedKafka().start()) {
 *     kafka.createTopics(2, KafkaTopics.DEFAULTS.allArray());
 *     String bootstrap = kafka.bootstrapServers();
 *     ...
 * }
 * </pre>
 */
public final class EmbeddedKafka implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(EmbeddedKafka.class);

    /** The broker settings applied unless overridden. */
    public static final Map<String, String> DEFAULT_BROKER_CONFIG = defaults();

    private final Map<String, String> brokerConfig;
    private Path baseDir;
    private KafkaClusterTestKit cluster;

    public EmbeddedKafka() {
        this(Map.of());
    }

    /** @param overrides broker settings applied over {@link #DEFAULT_BROKER_CONFIG} */
    public EmbeddedKafka(Map<String, String> overrides) {
        this.brokerConfig = new LinkedHashMap<>(DEFAULT_BROKER_CONFIG);
        this.brokerConfig.putAll(overrides);
    }

    private static Map<String, String> defaults() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("offsets.topic.replication.factor", "1");
        m.put("offsets.topic.num.partitions", "4");
        m.put("transaction.state.log.replication.factor", "1");
        m.put("transaction.state.log.min.isr", "1");
        m.put("transaction.state.log.num.partitions", "4");
        m.put("share.coordinator.state.topic.replication.factor", "1");
        m.put("share.coordinator.state.topic.min.isr", "1");
        m.put("default.replication.factor", "1");
        m.put("min.insync.replicas", "1");
        m.put("group.initial.rebalance.delay.ms", "0");
        m.put("transaction.max.timeout.ms", "900000");
        m.put("num.partitions", "1");
        m.put("auto.create.topics.enable", "true");
        // behave like a released broker, not like the test kit's default (unstable features on)
        m.put("unstable.api.versions.enable", "false");
        m.put("unstable.feature.versions.enable", "false");
        // room for inline images (the broker default is about 1 MB)
        m.put("message.max.bytes", Integer.toString(48 << 20));
        m.put("replica.fetch.max.bytes", Integer.toString(48 << 20));
        return Map.copyOf(m);
    }

    /** Formats storage and starts the node; returns when it accepts clients. */
    public synchronized EmbeddedKafka start() throws Exception {
        if (cluster != null) {
            throw new IllegalStateException("already started");
        }
        long t0 = System.nanoTime();
        baseDir = Files.createTempDirectory("embedded-kafka-");
        try {
            TestKitNodes.Builder nodesBuilder = new TestKitNodes.Builder()
                    .setCombined(true)
                    .setNumBrokerNodes(1)
                    .setNumControllerNodes(1)
                    .setBaseDirectory(baseDir);
            useLatestProductionMetadataVersion(nodesBuilder);
            TestKitNodes nodes = nodesBuilder.build();
            KafkaClusterTestKit.Builder builder = new KafkaClusterTestKit.Builder(nodes).setDeleteOnClose(true);
            brokerConfig.forEach(builder::setConfigProp);
            cluster = builder.build();
            cluster.format();
            cluster.startup();
            cluster.waitForReadyBrokers();
        } catch (Exception | Error e) {
            closeQuietly();
            throw e;
        }
        LOG.info("Embedded Kafka ready at {} in {} ms", bootstrapServers(),
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0));
        return this;
    }

    /**
     * The test kit otherwise bootstraps the latest <em>testing</em> (unstable) metadata version. Reflection:
     * MetadataVersion lives in kafka-server-common, which is only a runtime dependency here.
     */
    private static void useLatestProductionMetadataVersion(TestKitNodes.Builder builder) {
        try {
            Class<?> type = Class.forName("org.apache.kafka.server.common.MetadataVersion");
            Object latest = type.getMethod("latestProduction").invoke(null);
            TestKitNodes.Builder.class.getMethod("setBootstrapMetadataVersion", type).invoke(builder, latest);
        } catch (ReflectiveOperationException | RuntimeException e) {
            LOG.warn("keeping the test kit's default metadata version: {}", e.toString());
        }
    }

    /** host:port of the broker. */
    public synchronized String bootstrapServers() {
        if (cluster == null) {
            throw new IllegalStateException("not started");
        }
        return cluster.bootstrapServers();
    }

    /**
     * host:port of an extra listener configured through the overrides (e.g. a {@code SASL_SSL} one added to
     * {@code listeners} and {@code listener.security.protocol.map} beside the default PLAINTEXT listener).
     */
    public synchronized String bootstrapServers(String listenerName) {
        if (cluster == null) {
            throw new IllegalStateException("not started");
        }
        int port = cluster.brokers().values().iterator().next()
                .boundPort(new org.apache.kafka.common.network.ListenerName(listenerName));
        return "localhost:" + port;
    }

    /** Client properties with {@code bootstrap.servers} set, to add to. */
    public Properties clientProperties() {
        Properties p = new Properties();
        p.setProperty(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers());
        return p;
    }

    /** Creates the topics (replication factor 1); existing ones are left as they are. */
    public void createTopics(int partitions, String... names) throws InterruptedException, ExecutionException {
        List<NewTopic> topics = Arrays.stream(names).distinct()
                .map(n -> new NewTopic(n, partitions, (short) 1)).toList();
        try (Admin admin = Admin.create(clientProperties())) {
            for (var entry : admin.createTopics(topics).values().entrySet()) {
                try {
                    entry.getValue().get(60, TimeUnit.SECONDS);
                } catch (ExecutionException e) {
                    if (!(e.getCause() instanceof TopicExistsException)) {
                        throw e;
                    }
                } catch (java.util.concurrent.TimeoutException e) {
                    throw new ExecutionException("timed out creating topic " + entry.getKey(), e);
                }
            }
        }
    }

    /** Stops the node and removes its data. */
    @Override
    public synchronized void close() throws Exception {
        Exception failure = null;
        try {
            if (cluster != null) {
                cluster.close();
            }
        } catch (Exception e) {
            failure = e;
        } finally {
            cluster = null;
            try {
                deleteRecursively(baseDir);
            } catch (UncheckedIOException e) {
                if (failure == null) {
                    failure = e;
                }
            }
            baseDir = null;
        }
        if (failure != null) {
            throw failure;
        }
    }

    private void closeQuietly() {
        try {
            close();
        } catch (Exception e) {
            LOG.warn("cleaning up after a failed start: {}", e.toString());
        }
    }

    private static void deleteRecursively(Path dir) {
        if (dir == null || !Files.exists(dir)) {
            return;
        }
        try {
            Files.walkFileTree(dir, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                    Files.deleteIfExists(file);
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult postVisitDirectory(Path d, IOException exc) throws IOException {
                    Files.deleteIfExists(d);
                    return FileVisitResult.CONTINUE;
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
