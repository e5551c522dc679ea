package org.xrayscreening.worklist;

import java.io.Console;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.xrayscreening.connectors.image.ImageLimits;
import org.xrayscreening.connectors.image.ImageLoader;
import org.xrayscreening.connectors.image.ImageSourcePolicy;
import org.xrayscreening.connectors.kafka.KafkaClientProperties;
import org.xrayscreening.connectors.kafka.KafkaTopics;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code worklist}: runs the radiologists' worklist; {@code worklist hash-password} makes a users-file entry. */
@Command(name = "worklist", mixinStandardHelpOptions = true, subcommands = WorklistServer.HashPassword.class,
        description = "The radiologists' worklist of flagged studies (reads xray.alerts/recommendations/acquired/"
                + "labelled; publishes radiologist labels to xray.labelled).")
public final class WorklistServer implements Callable<Integer> {

    @Option(names = "--bootstrap-servers", defaultValue = "localhost:9092", description = "Kafka bootstrap servers.")
    String bootstrapServers;

    @Option(names = "--kafka-properties", description = "Extra Kafka client settings (TLS, SASL), as the jobs take them.")
    Path kafkaProperties;

    @Option(names = "--topic-acquired", defaultValue = "xray.acquired", description = "Where the studies' images are referenced.")
    String topicAcquired;

    @Option(names = "--topic-recommendations", defaultValue = "xray.recommendations", description = "The job's recommendations.")
    String topicRecommendations;

    @Option(names = "--topic-alerts", defaultValue = "xray.alerts", description = "The job's alerts (flagged studies).")
    String topicAlerts;

    @Option(names = "--topic-labelled", defaultValue = "xray.labelled", description = "Confirmed labels (read and written).")
    String topicLabelled;

    @Option(names = "--host", defaultValue = "127.0.0.1", description = "Address to listen on.")
    String host;

    @Option(names = "--port", defaultValue = "8090", description = "Port to listen on (0: any free port).")
    int port;

    @Option(names = "--users", description = "Users file: name = role[,role] [: pbkdf2 hash]. Required unless --demo-user.")
    Path usersFile;

    @Option(names = "--demo-user", description = "Local runs only (loopback, HTTP basic): one radiologist of this "
            + "name with a random password, printed at start, instead of a users file.")
    String demoUser;

    @Option(names = "--auth", defaultValue = "basic", description = "basic (HTTP basic; needs TLS off loopback) or proxy (a trusted reverse proxy names the user).")
    String authMode;

    @Option(names = "--proxy-user-header", defaultValue = "X-Forwarded-User", description = "With --auth proxy: the header naming the user.")
    String proxyUserHeader;

    @Option(names = "--trusted-proxy", split = ",", description = "With --auth proxy: the proxy's address(es); requests from anywhere else are refused.")
    List<String> trustedProxies = new ArrayList<>();

    @Option(names = "--tls-keystore", description = "PKCS#12 key store with the server's key and certificate: serve https.")
    Path tlsKeyStore;

    @Option(names = "--tls-keystore-password-file", description = "File holding the key store's password.")
    Path tlsKeyStorePasswordFile;

    @Option(names = "--secret-file", description = "At least 32 bytes of secret for study links and CSRF tokens "
            + "(default: random, so links and open pages do not survive a restart).")
    Path secretFile;

    @Option(names = "--allow-file-root", split = ",", description = "Directories whose images (X-rays, heatmap store) may be read.")
    List<Path> allowFileRoots = new ArrayList<>();

    @Option(names = "--allow-url-prefix", split = ",", description = "http(s) URL prefixes images may be fetched from.")
    List<String> allowUrlPrefixes = new ArrayList<>();

    @Option(names = "--allow-private-addresses", description = "Allow URL prefixes that resolve to private or loopback addresses.")
    boolean allowPrivateAddresses;

    @Option(names = "--transactional-id", defaultValue = "xray-worklist", description = "Kafka transactional id of the label producer (one per replica).")
    String transactionalId;

    @Option(names = "--max-listed", defaultValue = "500", description = "Most studies shown in the list.")
    int maxListed;

    @Option(names = "--max-remembered-acquisitions", defaultValue = "200000",
            description = "Acquisition positions kept for studies that are not (yet) flagged.")
    int maxLocations;

    public static void main(String[] args) {
        System.exit(new CommandLine(new WorklistServer()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        Users users;
        if (demoUser != null) {
            if (usersFile != null || !authMode.equals("basic") || !InetAddress.getByName(host).isLoopbackAddress()) {
                throw new CommandLine.ParameterException(new CommandLine(this),
                        "--demo-user is for local runs: HTTP basic on a loopback address, without --users");
            }
            String password = demoPassword();
            users = Users.of(Map.of(demoUser, "radiologist : " + Users.hash(password.toCharArray(), 50_000)));
            System.out.println("worklist sign-in: user " + demoUser + ", password " + password + " (this run only)");
        } else if (usersFile == null) {
            throw new CommandLine.ParameterException(new CommandLine(this), "--users is required (or --demo-user)");
        } else {
            users = Users.read(usersFile);
        }
        Secrets secrets = secretFile == null ? Secrets.random() : new Secrets(Files.readAllBytes(secretFile));
        WorklistApp.Tls tls = null;
        if (tlsKeyStore != null) {
            if (tlsKeyStorePasswordFile == null) {
                throw new CommandLine.ParameterException(new CommandLine(this), "--tls-keystore needs --tls-keystore-password-file");
            }
            tls = new WorklistApp.Tls(tlsKeyStore, Files.readString(tlsKeyStorePasswordFile, StandardCharsets.UTF_8).strip());
        }
        Authenticator auth = switch (authMode) {
            case "basic" -> {
                if (tls == null && !InetAddress.getByName(host).isLoopbackAddress()) {
                    throw new CommandLine.ParameterException(new CommandLine(this), "--auth basic sends passwords: "
                            + "serve TLS (--tls-keystore) or listen on a loopback address only (--host 127.0.0.1)");
                }
                yield Authenticator.basic(users, secrets, Duration.ofMinutes(5));
            }
            case "proxy" -> Authenticator.proxy(users, proxyUserHeader, new HashSet<>(trustedProxies));
            default -> throw new CommandLine.ParameterException(new CommandLine(this), "--auth must be basic or proxy");
        };
        Map<String, Object> kafka = new HashMap<>(KafkaClientProperties.merge(kafkaProperties, Map.of()));
        kafka.put("bootstrap.servers", bootstrapServers);
        KafkaTopics d = KafkaTopics.DEFAULTS;
        KafkaTopics topics = new KafkaTopics(topicAcquired, topicRecommendations, topicAlerts, d.deadLetter(),
                topicLabelled, d.modelUpdates(), d.modelStatus());
        ImageSourcePolicy policy = ImageSourcePolicy.of(allowFileRoots, allowUrlPrefixes, allowPrivateAddresses);

        Running running = start(kafka, topics, users, auth, secrets, policy,
                new WorklistApp.Settings(host, port, tls, maxListed), transactionalId, maxLocations);
        System.out.println("worklist at " + running.app().address());
        CountDownLatch stop = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            running.close();
            stop.countDown();
        }, "worklist-shutdown"));
        stop.await();
        return 0;
    }

    private static String demoPassword() {
        String alphabet = "abcdefghijkmnpqrstuvwxyz23456789";
        java.security.SecureRandom random = new java.security.SecureRandom();
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < 12; i++) {
            b.append(alphabet.charAt(random.nextInt(alphabet.length())));
        }
        return b.toString();
    }

    /** A started worklist and what it holds open. */
    public record Running(WorklistApp app, TopicFollower follower, LabelPublisher publisher, AcquiredRecords acquired,
                          ImageLoader loader) implements AutoCloseable {
        @Override
        public void close() {
            app.close();
            publisher.close();
            acquired.close();
            loader.close();
            try {
                follower.close();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Wires and starts a worklist (also used by tests and the local run). */
    public static Running start(Map<String, Object> kafka, KafkaTopics topics, Users users, Authenticator auth,
                                Secrets secrets, ImageSourcePolicy policy, WorklistApp.Settings settings,
                                String transactionalId, int maxLocations) {
        WorklistState state = new WorklistState(secrets, maxLocations);
        TopicFollower follower = new TopicFollower(kafka, topics, state).start();
        AcquiredRecords acquired = new AcquiredRecords(kafka);
        LabelPublisher publisher = new LabelPublisher(kafka, topics.labelled(), transactionalId, state, follower,
                acquired, Clock.systemUTC());
        ImageLoader loader = new ImageLoader(ImageLimits.DEFAULTS, policy);
        WorklistApp app = new WorklistApp(state, follower, publisher, acquired, new StudyImages(loader), auth,
                secrets, settings).start();
        return new Running(app, follower, publisher, acquired, loader);
    }

    @Command(name = "hash-password", mixinStandardHelpOptions = true,
            description = "Reads a password (console, or one line on stdin) and prints its hash for the users file.")
    static final class HashPassword implements Callable<Integer> {
        @Option(names = "--iterations", defaultValue = "" + Users.DEFAULT_ITERATIONS)
        int iterations;

        @Override
        public Integer call() throws IOException {
            Console console = System.console();
            char[] password = console != null ? console.readPassword("password: ")
                    : new java.io.BufferedReader(new java.io.InputStreamReader(System.in, StandardCharsets.UTF_8))
                            .readLine().toCharArray();
            if (password == null || password.length < 8) {
                System.err.println("a password needs at least 8 characters");
                return 2;
            }
            System.out.println(Users.hash(password, iterations));
            return 0;
        }
    }
}
