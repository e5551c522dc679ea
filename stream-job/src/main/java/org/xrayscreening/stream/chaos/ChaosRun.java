package org.xrayscreening.stream.chaos;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.xrayscreening.connectors.event.DeadLetter;
import org.xrayscreening.connectors.event.DeadLetterReason;
import org.xrayscreening.connectors.image.ImageLimits;
import org.xrayscreening.connectors.event.EventCodec;
import org.xrayscreening.connectors.event.ImageReference;
import org.xrayscreening.connectors.event.Recommendation;
import org.xrayscreening.connectors.event.XrayAcquired;
import org.xrayscreening.models.synthetic.SyntheticChestXray;
import org.xrayscreening.stream.ModelSpec;
import org.xrayscreening.stream.ScreeningJob;
import org.xrayscreening.stream.local.DemoModels;
import org.xrayscreening.stream.local.EmbeddedPipeline;
import org.xrayscreening.stream.local.SampleStudies;
import org.xrayscreening.stream.scoring.InjectedCrash;
import org.xrayscreening.stream.scoring.InjectedFault;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

/**
 * The chaos run: starts the standalone cluster of {@code scripts/cluster.sh} (1 JobManager + 2 TaskManagers + a
 * Kafka broker, separate JVMs), submits the cluster job jar with Flink's CLI, streams synthetic studies plus the
 * whole bad-input corpus (the checked-in folder, {@link BadInputFolder}), and injects one fault after another:
 * {@code kill -9} of a TaskManager (restarted at once), a study that makes a model operator throw once, an image
 * that halts the TaskManager JVM that scores it (until the attempt journal dead-letters it), {@code kill -9} of
 * the broker (restarted on the same log directory), and a stop-with-savepoint + resubmit. Then reads the output
 * topics read_committed and checks that every input has exactly one recommendation or one dead letter (a corpus
 * entry with its manifest's outcome and reason), and that the TaskManagers' Prometheus counters agree
 * (consumed = recommendations + dead letters) for the run after the last restart. Prints a table; exits 1 if
 * anything is off.
 */
@Command(name = "chaos", mixinStandardHelpOptions = true,
        description = "Run the job on a real standalone Flink cluster + Kafka broker under injected failures and "
                + "check exactly-once results (scripts/cluster.sh; docs/reliability.md).")
public class ChaosRun implements Callable<Integer> {

    static final List<String> FAULTS = List.of("none (before the first fault)",
            "kill -9 TaskManager 1, restarted", "model operator throws once (marked study)",
            "marked image halts its TaskManager JVM (x2)",
            "kill -9 Kafka broker, restarted on its log dir", "stop-with-savepoint + resubmit");
    private static final int HALT_FAULT = 3;
    /** Deaths of a worker on one record before the job dead-letters it (the job's --max-worker-crashes). */
    private static final int MAX_WORKER_CRASHES = 2;

    @ParentCommand
    ScreeningJob parent;

    @Option(names = "--work-dir", description = "Where the run keeps everything (cluster, logs, registry). Default: a new folder under the temp dir.")
    Path workDir;

    @Option(names = "--studies", defaultValue = "500", description = "Inputs to stream: synthetic studies plus every entry of the bad-input corpus.")
    int studies;

    @Option(names = "--corpus", defaultValue = "connectors/src/test/resources/bad-inputs/v1",
            description = "The bad-input corpus folder (manifest.tsv + files); the job gets the limits its manifest states.")
    Path corpusDir;

    @Option(names = "--rate", defaultValue = "4", description = "Inputs produced per second.")
    double rate;

    @Option(names = "--image-size", defaultValue = "256", description = "Side of the synthetic X-rays.")
    int imageSize;

    @Option(names = "--taskmanagers", defaultValue = "2", description = "TaskManagers (one slot each); the job runs with this parallelism.")
    int taskManagers;

    @Option(names = "--tm-memory", defaultValue = "2560m", description = "Flink process size of each TaskManager (PyTorch's native memory comes on top).")
    String tmMemory;

    @Option(names = "--broker-down", defaultValue = "PT5S", description = "How long the killed broker stays down.")
    Duration brokerDown;

    @Option(names = "--recovery-timeout", defaultValue = "PT5M", description = "Fail if the job has not recovered from a fault in this time.")
    Duration recoveryTimeout;

    @Option(names = "--result-timeout", defaultValue = "PT5M", description = "Fail if results are still missing this long after the last input.")
    Duration resultTimeout;

    @Option(names = "--cluster-script", defaultValue = "scripts/cluster.sh", description = "The cluster script.")
    Path clusterScript;

    @Option(names = "--demo-input-size", defaultValue = "" + DemoModels.DEFAULT_INPUT_SIZE, description = "Input size of the demo models trained for the run.")
    int demoInputSize;

    @Option(names = "--demo-images", defaultValue = "" + DemoModels.DEFAULT_IMAGES, description = "Synthetic training images per demo model.")
    int demoImages;

    @Option(names = "--demo-epochs", defaultValue = "" + DemoModels.DEFAULT_EPOCHS, description = "Epochs per demo model.")
    int demoEpochs;

    private final ChaosLedger ledger = new ChaosLedger();
    private final AtomicLong produced = new AtomicLong();
    /** Index of the stream's next input; the producer waits while it is at {@link #allowed}. */
    private final AtomicLong nextIndex = new AtomicLong();
    /** Every fault window gets its share of the inputs: the producer pauses at a window's end until its fault. */
    private volatile long allowed;
    private volatile int segment;
    private volatile String producerError;
    private volatile boolean producerDone;
    private final long started = System.nanoTime();
    private final EventCodec codec = new EventCodec();
    private BadInputFolder corpus;
    private volatile String poisonKey;
    private volatile long lastHaltAt;

    @Override
    public Integer call() throws Exception {
        ScreeningJob.Options options = parent.options;
        if (workDir == null) {
            workDir = Files.createTempDirectory("xray-chaos-");
        }
        workDir = workDir.toAbsolutePath();
        Path registry = workDir.resolve("registry");
        Path spool = workDir.resolve("spool");
        Path faults = workDir.resolve("injected-faults");
        Path halts = workDir.resolve("injected-halts");
        Files.createDirectories(spool);
        log("work dir %s", workDir);
        corpus = BadInputFolder.read(corpusDir);
        if (studies <= corpus.entries().size()) {
            throw new IllegalArgumentException("--studies " + studies + " must be more than the corpus's "
                    + corpus.entries().size() + " entries");
        }
        corpus.writeImages(spool);
        log("bad-input corpus %s: %d entries among %d inputs (%s)", corpusDir, corpus.entries().size(), studies,
                corpus.limits());

        List<ModelSpec> specs = new ArrayList<>();
        for (String m : options.models) {
            specs.add(ModelSpec.parse(m.trim()));
        }
        EmbeddedPipeline.demoModels(registry, demoInputSize, demoImages, demoEpochs).ensureProduction(specs);

        StandaloneCluster cluster = new StandaloneCluster(clusterScript, workDir.resolve("cluster"),
                Map.of("XRAY_TM_JAVA_OPTS", "-D" + InjectedFault.PROPERTY + "=" + faults
                        + " -D" + InjectedCrash.PROPERTY + "=" + halts));
        Thread stopOnExit = new Thread(() -> {
            try {
                cluster.close();
            } catch (Exception e) {
                System.err.println("stopping the cluster failed: " + e);
            }
        }, "chaos-cluster-stop");
        Runtime.getRuntime().addShutdownHook(stopOnExit);
        try {
            return run(options, cluster, registry, spool, faults, halts);
        } finally {
            cluster.close();
            Runtime.getRuntime().removeShutdownHook(stopOnExit);
            log("cluster stopped; logs in %s", cluster.dir().resolve("log"));
        }
    }

    private int run(ScreeningJob.Options options, StandaloneCluster cluster, Path registry, Path spool, Path faults,
                    Path halts) throws Exception {
        long t0 = System.nanoTime();
        cluster.start(taskManagers, tmMemory);
        log("cluster up in %.1f s: Flink %s, Kafka %s", seconds(t0), cluster.restUrl(), cluster.bootstrapServers());
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", cluster.bootstrapServers()))) {
            List<NewTopic> topics = new ArrayList<>();
            for (String t : List.of(options.topicAcquired, options.topicRecommendations, options.topicAlerts,
                    options.topicDeadLetter, options.topicLabelled, options.topicModelUpdates, options.topicModelStatus)) {
                topics.add(new NewTopic(t, taskManagers, (short) 1));
            }
            admin.createTopics(topics).all().get();
        }
        String runId = Long.toString(System.currentTimeMillis(), 36);
        List<String> jobArgs = List.of("--registry", registry.toString(), "--models", String.join(",", options.models),
                "--min-models", Integer.toString(Math.min(options.minModels, options.models.size())),
                "--parallelism", Integer.toString(taskManagers), "--checkpoint-interval", "2000",
                "--metrics-host", "127.0.0.1", "--allow-file-root", spool.toString(),
                // the limits and URL prefix the corpus's expected reasons were made for (its manifest's first line)
                "--max-image-bytes", Long.toString(corpus.limits().maxBytes()),
                "--max-image-pixels", Long.toString(corpus.limits().maxPixels()),
                "--allow-url-prefix", corpus.limits().allowedUrlPrefix(),
                "--attempt-journal", workDir.resolve("attempt-journal").toString(),
                "--max-worker-crashes", Integer.toString(MAX_WORKER_CRASHES),
                "--group-id", "chaos-" + runId, "--transactional-id-prefix", "chaos-" + runId);
        if (corpus.limits().maxSide() != ImageLimits.DEFAULTS.maxSide()) {
            throw new IllegalStateException("the corpus assumes " + corpus.limits().maxSide() + " pixels a side, the job "
                    + "has " + ImageLimits.DEFAULTS.maxSide() + " (not configurable)");
        }
        String jobId = cluster.submit(jobArgs, null);
        log("job %s submitted with the CLI; waiting for it to run and complete a checkpoint", jobId);
        log("job running %s after the submission", format(awaitRecovery(cluster, jobId, System.currentTimeMillis())));

        List<String> recoveries = new ArrayList<>(List.of("-"));
        AtomicBoolean reading = new AtomicBoolean(true);
        Thread reader = new Thread(() -> readResults(cluster.bootstrapServers(), options, reading), "chaos-reader");
        reader.setDaemon(true);
        reader.start();
        allowed = due(1);
        Thread producer = new Thread(() -> produce(cluster.bootstrapServers(), options.topicAcquired, spool), "chaos-producer");
        producer.setDaemon(true);
        producer.start();

        Map<String, Double> beforeLastRestart = null;
        Map<String, Double> firstJob = null;
        for (int fault = 1; fault < FAULTS.size(); fault++) {
            while (nextIndex.get() < due(fault) && !producerDone) {
                Thread.sleep(200);
            }
            if (producerError != null) {
                log("FAILED: the producer stopped: %s", producerError);
                return 1;
            }
            segment = fault;
            if (fault < FAULTS.size() - 1 && fault != HALT_FAULT) {
                allowed = due(fault + 1);
            }
            log("fault %d: %s (after %d inputs)", fault, FAULTS.get(fault), produced.get());
            long faultAt = System.currentTimeMillis();
            switch (fault) {
                case 1 -> {
                    cluster.killTaskManager(1);
                    cluster.startTaskManager(1);
                }
                case 2 -> {
                    try (KafkaProducer<String, byte[]> one = producer(cluster.bootstrapServers())) {
                        String key = InjectedFault.MARKER + runId;
                        send(one, options.topicAcquired, key, inlinePng(key, 4242), ChaosLedger.RECOMMENDATION);
                    }
                    faultAt = awaitInjectedFault(faults);
                }
                case HALT_FAULT -> {
                    String key = InjectedCrash.markerFor(ModelSpec.parse(options.models.get(0).trim()).architecture().id())
                            + runId;
                    faultAt = haltTwice(cluster, options, key, halts);
                }
                case 4 -> {
                    cluster.killKafka();
                    Thread.sleep(brokerDown.toMillis());
                    cluster.startKafka();
                }
                default -> {
                    firstJob = PrometheusTotals.scrape(cluster);
                    String savepoint = cluster.stopWithSavepoint(jobId);
                    log("savepoint %s taken, job stopped", savepoint);
                    // the stopped job's endpoints close when the TaskManagers release its classloader (a moment
                    // after the stop); if they still answer after that, the new job's counters go on from there
                    beforeLastRestart = PrometheusTotals.awaitClosed(cluster, Duration.ofSeconds(60));
                    // the last window's inputs arrive while no job runs: the resubmitted job must pick them up
                    allowed = studies;
                    jobId = cluster.submit(jobArgs, savepoint);
                    log("resubmitted from the savepoint as job %s", jobId);
                }
            }
            Duration recovery;
            if (fault == HALT_FAULT) {
                // from the first halt until running again with a checkpoint after the last one
                recovery = awaitRecovery(cluster, jobId, lastHaltAt).plusMillis(lastHaltAt - faultAt);
                allowed = due(fault + 1);
            } else {
                recovery = awaitRecovery(cluster, jobId, faultAt);
            }
            recoveries.add(format(recovery));
            log("recovered in %s (job running, checkpoint completed)", format(recovery));
        }
        producer.join();
        if (producerError != null) {
            log("FAILED: the producer stopped: %s", producerError);
            return 1;
        }
        long lastInput = System.nanoTime();
        log("all %d inputs produced; waiting for their results (read_committed)", ledger.inputs());
        while (ledger.missing() > 0 && System.nanoTime() - lastInput < resultTimeout.toNanos()) {
            Thread.sleep(1000);
        }
        // keep reading a few checkpoints longer: a duplicate would show up after the last expected result
        Thread.sleep(10_000);
        reading.set(false);
        reader.join(10_000);
        // the verdict comes from one fresh read_committed pass over both topics, start to end
        ledger.clearResults();
        long read = readAllResults(cluster.bootstrapServers(), options);
        log("verification read: %d committed results from %s and %s", read, options.topicRecommendations,
                options.topicDeadLetter);

        Map<String, Double> after = PrometheusTotals.scrape(cluster);
        List<ChaosLedger.Row> rows = ledger.rows(FAULTS);
        System.out.println();
        System.out.print(ChaosLedger.table(rows, recoveries));
        System.out.println();
        String metricsVerdict = PrometheusTotals.compare(firstJob, beforeLastRestart, after);
        System.out.println(metricsVerdict);
        long corpusAsExpected = corpus.entries().stream()
                .filter(e -> ledger.outcomes(e.studyId()).equals(List.of(e.expected()))).count();
        long corpusBad = corpus.entries().stream().filter(e -> !e.valid()).count();
        System.out.printf(Locale.ROOT, "bad-input corpus: %d of %d entries as the manifest expects (%d dead letters "
                + "with their reason, %d valid-but-unusual images recommended on)%n", corpusAsExpected,
                corpus.entries().size(), corpusBad, corpus.entries().size() - corpusBad);
        int haltCount = haltsRecorded(halts);
        List<String> poisonReasons = ledger.deadLetterReasons(poisonKey);
        boolean poisonContained = haltCount == MAX_WORKER_CRASHES
                && poisonReasons.equals(List.of(DeadLetterReason.IMAGE_CRASHED_WORKER.name()));
        System.out.printf(Locale.ROOT, "poison image: halted a TaskManager %d time(s) (the job allows %d), then %s%n",
                haltCount, MAX_WORKER_CRASHES, poisonReasons.isEmpty() ? "NO dead letter" : "dead-lettered " + poisonReasons);
        for (String wrong : ledger.wrongOutcomes()) {
            System.out.println("wrong outcome: " + wrong);
        }
        boolean exactlyOnce = ledger.exactlyOnce();
        boolean metricsAgree = metricsVerdict.startsWith("metrics agree");
        System.out.printf(Locale.ROOT, "chaos: %s; results for unknown keys %d; metrics %s; poison image %s; %.0f s in all%n",
                exactlyOnce ? "every input has exactly one result" : "EXACTLY-ONCE VIOLATED",
                ledger.unknownOutputs(), metricsAgree ? "agree" : "DISAGREE",
                poisonContained ? "contained" : "NOT CONTAINED", seconds(started));
        return exactlyOnce && metricsAgree && poisonContained ? 0 : 1;
    }

    /**
     * The poison-image fault: once every earlier input has its committed result (so no other record is in flight
     * in the TaskManager that dies; see docs/reliability.md), sends a study that halts the JVM of the first
     * model's operator that scores it ({@link InjectedCrash}), and restarts each TaskManager that died, as the
     * {@code kill -9} fault does, until the study's dead letter is read. Returns when the first halt happened.
     */
    private long haltTwice(StandaloneCluster cluster, ScreeningJob.Options options, String key, Path halts)
            throws Exception {
        long deadline = System.nanoTime() + resultTimeout.toNanos();
        while (ledger.missing() > 0 && System.nanoTime() < deadline) {
            Thread.sleep(250);
        }
        log("%s", ledger.missing() == 0 ? "every earlier input has its result; sending the poison image"
                : "still " + ledger.missing() + " results missing; sending the poison image anyway");
        poisonKey = key;
        try (KafkaProducer<String, byte[]> one = producer(cluster.bootstrapServers())) {
            send(one, options.topicAcquired, key, inlinePng(key, 4343), DeadLetterReason.IMAGE_CRASHED_WORKER.name());
        }
        long firstHalt = -1;
        int handled = 0;
        deadline = System.nanoTime() + recoveryTimeout.toNanos() * (MAX_WORKER_CRASHES + 1);
        while (ledger.deadLetterReasons(key).isEmpty()) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("the poison image was not dead-lettered within "
                        + recoveryTimeout.multipliedBy(MAX_WORKER_CRASHES + 1) + " (" + handled + " halts)");
            }
            List<Long> times = haltTimes(halts);
            if (times.size() > handled) {
                long at = times.get(times.size() - 1);
                firstHalt = firstHalt < 0 ? times.get(0) : firstHalt;
                lastHaltAt = at;
                handled = times.size();
                List<Integer> dead = List.of();
                for (int i = 0; i < 200 && dead.isEmpty(); i++) { // the halt follows its record at once
                    dead = cluster.deadTaskManagers();
                    if (dead.isEmpty()) {
                        Thread.sleep(100);
                    }
                }
                log("halt %d: TaskManager %s died; restarting it", handled, dead);
                for (int tm : dead) {
                    cluster.startTaskManager(tm);
                }
            }
            Thread.sleep(200);
        }
        log("poison image dead-lettered %s after %d halt(s)", ledger.deadLetterReasons(key), handled);
        if (firstHalt < 0) {
            throw new IllegalStateException("the poison image was dead-lettered without halting a TaskManager "
                    + "(is the test switch " + InjectedCrash.PROPERTY + " reaching the TaskManagers?)");
        }
        return firstHalt;
    }

    /** When each recorded halt happened (its marker file's time), in order. */
    private static List<Long> haltTimes(Path halts) throws IOException {
        if (!Files.isDirectory(halts)) {
            return List.of();
        }
        List<Long> times = new ArrayList<>();
        try (var files = Files.list(halts)) {
            for (Path f : files.toList()) {
                times.add(Files.getLastModifiedTime(f).toMillis());
            }
        }
        times.sort(null);
        return times;
    }

    private static int haltsRecorded(Path halts) throws IOException {
        return haltTimes(halts).size();
    }

    /** The marked study was produced; its fault happened when the model operator created the marker file. */
    private long awaitInjectedFault(Path faults) throws InterruptedException, IOException {
        long deadline = System.nanoTime() + recoveryTimeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (Files.isDirectory(faults)) {
                try (var files = Files.list(faults)) {
                    var marker = files.findFirst();
                    if (marker.isPresent()) {
                        return Files.getLastModifiedTime(marker.get()).toMillis();
                    }
                }
            }
            Thread.sleep(100);
        }
        throw new IllegalStateException("the marked study did not reach a model operator within " + recoveryTimeout);
    }

    /**
     * Recovered = the job RUNNING with every operator running and a checkpoint completed that was triggered after
     * the fault (so output is being committed again). Returns the time since the fault.
     */
    private Duration awaitRecovery(StandaloneCluster cluster, String jobId, long faultAtMillis) throws Exception {
        long deadline = System.nanoTime() + recoveryTimeout.toNanos();
        String last = "";
        while (System.nanoTime() < deadline) {
            try {
                StandaloneCluster.JobView job = cluster.job(jobId);
                last = job.state();
                if (job.state().equals("FAILED") || job.state().equals("CANCELED") || job.state().equals("FINISHED")) {
                    throw new IllegalStateException("job " + jobId + " ended " + job.state());
                }
                if (job.state().equals("RUNNING") && job.allRunning() && job.lastCheckpointTriggeredAt() > faultAtMillis) {
                    return Duration.ofMillis(System.currentTimeMillis() - faultAtMillis);
                }
            } catch (IOException e) {
                last = e.getMessage(); // REST briefly unavailable
            }
            Thread.sleep(250);
        }
        throw new IllegalStateException("job " + jobId + " did not recover within " + recoveryTimeout + " (last: " + last + ")");
    }

    private void produce(String bootstrap, String topic, Path spool) {
        Random random = new Random(11);
        long sleepMillis = Math.max(1, (long) (1000 / rate));
        List<BadInputFolder.Entry> entries = corpus.entries();
        try (KafkaProducer<String, byte[]> producer = producer(bootstrap)) {
            for (int i = 0; i < studies; i++) {
                while (i >= allowed) {
                    Thread.sleep(50);
                }
                // the corpus spread evenly over the run: input i is entry k when i crosses k's share
                long k = (long) i * entries.size() / studies;
                boolean corpusEntry = (long) (i + 1) * entries.size() / studies > k;
                if (corpusEntry) {
                    BadInputFolder.Entry e = entries.get((int) k);
                    send(producer, topic, e.studyId(), e.record(spool), e.expected());
                } else {
                    SampleStudies.Sample s = SampleStudies.synthetic(i, imageSize, spool, random);
                    send(producer, topic, s.studyId(), s.json(), ChaosLedger.RECOMMENDATION);
                }
                nextIndex.set(i + 1);
                Thread.sleep(sleepMillis);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception | Error e) {
            producerError = e.toString();
        } finally {
            producerDone = true;
        }
    }

    /** Inputs before fault {@code k} (the last window runs to the end). */
    private long due(int k) {
        return k >= FAULTS.size() ? studies : (long) studies * k / FAULTS.size();
    }

    /** A broker that is down makes send() wait (up to 5 minutes) instead of failing; idempotence keeps it once. */
    private static KafkaProducer<String, byte[]> producer(String bootstrap) {
        return new KafkaProducer<>(Map.of(
                "bootstrap.servers", bootstrap, "key.serializer", StringSerializer.class.getName(),
                "value.serializer", ByteArraySerializer.class.getName(), "enable.idempotence", "true", "acks", "all",
                "delivery.timeout.ms", "300000", "request.timeout.ms", "30000", "max.block.ms", "300000",
                "max.request.size", Integer.toString(8 << 20)));
    }

    /** {@code expected}: {@link ChaosLedger#RECOMMENDATION} or the dead-letter reason the input must get. */
    private void send(KafkaProducer<String, byte[]> producer, String topic, String key, byte[] value, String expected)
            throws Exception {
        int seg = segment;
        producer.send(new ProducerRecord<>(topic, key, value)).get(); // an input only once the broker has it
        ledger.produced(key, expected, seg);
        long n = produced.incrementAndGet();
        if (n % 50 == 0) {
            log("produced %d of %d inputs; results so far %d missing", n, studies, ledger.missing());
        }
    }

    private byte[] inlinePng(String studyId, long seed) throws IOException {
        SyntheticChestXray xray = SyntheticChestXray.of(seed, imageSize, false);
        return new EventCodec().toJson(new XrayAcquired(EventCodec.SCHEMA_VERSION, studyId, "chaos-patient-" + seed,
                Instant.now(), "PA", "chaos", ImageReference.inline(ImageReference.PNG, SampleStudies.encode(xray.gray8(), "png"))));
    }

    /**
     * Follows the output topics while the run goes on (progress only). Partitions are assigned, not subscribed:
     * a consumer group would lose its uncommitted position when the broker restarts and read everything again.
     */
    private void readResults(String bootstrap, ScreeningJob.Options options, AtomicBoolean reading) {
        try (KafkaConsumer<String, byte[]> consumer = resultConsumer(bootstrap, options)) {
            while (reading.get()) {
                record(consumer.poll(Duration.ofMillis(500)), options);
            }
        } catch (Exception e) {
            log("result reader stopped: %s", e);
        }
    }

    /** Reads both output topics from the start to their last committed offset; returns the records read. */
    private long readAllResults(String bootstrap, ScreeningJob.Options options) {
        long n = 0;
        try (KafkaConsumer<String, byte[]> consumer = resultConsumer(bootstrap, options)) {
            Map<TopicPartition, Long> end = consumer.endOffsets(consumer.assignment()); // read_committed: the LSO
            long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
            while (System.nanoTime() < deadline && end.entrySet().stream()
                    .anyMatch(e -> consumer.position(e.getKey()) < e.getValue())) {
                n += record(consumer.poll(Duration.ofMillis(500)), options);
            }
        }
        return n;
    }

    private int record(ConsumerRecords<String, byte[]> records, ScreeningJob.Options options) {
        for (ConsumerRecord<String, byte[]> r : records) {
            if (r.topic().equals(options.topicDeadLetter)) {
                DeadLetter d = codec.fromJson(r.value(), DeadLetter.class);
                ledger.deadLetter(d.key(), d.reason() == null ? null : d.reason().name());
            } else {
                ledger.recommendation(codec.fromJson(r.value(), Recommendation.class).studyId());
            }
        }
        return records.count();
    }

    private static KafkaConsumer<String, byte[]> resultConsumer(String bootstrap, ScreeningJob.Options options) {
        KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(Map.of(
                "bootstrap.servers", bootstrap, "isolation.level", "read_committed", "enable.auto.commit", "false",
                "key.deserializer", StringDeserializer.class.getName(),
                "value.deserializer", ByteArrayDeserializer.class.getName()));
        List<TopicPartition> partitions = new ArrayList<>();
        for (String topic : List.of(options.topicRecommendations, options.topicDeadLetter)) {
            for (PartitionInfo p : consumer.partitionsFor(topic)) {
                partitions.add(new TopicPartition(topic, p.partition()));
            }
        }
        consumer.assign(partitions);
        consumer.seekToBeginning(partitions);
        return consumer;
    }

    private static String format(Duration d) {
        return String.format(Locale.ROOT, "%.1f s", d.toMillis() / 1000.0);
    }

    private static double seconds(long sinceNanos) {
        return (System.nanoTime() - sinceNanos) / 1e9;
    }

    private void log(String format, Object... args) {
        System.out.printf(Locale.ROOT, "[%6.1fs] %s%n", seconds(started), String.format(Locale.ROOT, format, args));
    }
}
