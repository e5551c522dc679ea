package org.xrayscreening.stream.local;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The worklist web application beside the local run, as a child process of its own (the worklist is a separate
 * module with its own runnable jar; the stream job does not depend on it). The launcher passes the jar's path in
 * the {@value #JAR_PROPERTY} system property. The worklist signs in one demo radiologist with a random password,
 * listens on 127.0.0.1 only, reads images from the run's work folder (spool, heatmap store) and the --data folder,
 * and prints its address and the sign-in itself; its labels go to xray.labelled, where the job's live-accuracy
 * join counts them.
 */
final class LocalWorklist implements AutoCloseable {
    static final String JAR_PROPERTY = "xray.worklist.jar";
    private final Process process;

    private LocalWorklist(Process process) {
        this.process = process;
    }

    /** Starts the worklist, or returns null (saying why) when there is no jar or the port is -1. */
    static LocalWorklist start(String bootstrapServers, org.xrayscreening.stream.ScreeningJob.Options topics, int port,
                               Path workDir, Path data) throws IOException {
        if (port < 0) {
            return null;
        }
        port = freePort(port);
        String jar = System.getProperty(JAR_PROPERTY);
        if (jar == null || !Files.isRegularFile(Path.of(jar))) {
            System.out.println("worklist not started: no worklist jar (./xray-screening builds it; or pass -D"
                    + JAR_PROPERTY + "=worklist/target/worklist-*.jar)");
            return null;
        }
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> roots = new ArrayList<>(List.of(workDir.toAbsolutePath().toString()));
        if (data != null) {
            roots.add(data.toAbsolutePath().toString());
        }
        List<String> command = List.of(java, "-Xmx384m", "-jar", jar, "--bootstrap-servers", bootstrapServers,
                "--host", "127.0.0.1", "--port", Integer.toString(port), "--demo-user", "radiologist",
                "--allow-file-root", String.join(",", roots), "--transactional-id", "xray-worklist-local",
                "--topic-acquired", topics.topicAcquired, "--topic-recommendations", topics.topicRecommendations,
                "--topic-alerts", topics.topicAlerts, "--topic-labelled", topics.topicLabelled);
        System.out.println("starting the worklist (it prints its address and a sign-in) ...");
        LocalWorklist worklist = new LocalWorklist(new ProcessBuilder(command).inheritIO().start());
        worklist.awaitListening(port, Duration.ofSeconds(90));
        return worklist;
    }

    /** Port 0 picks a free port here, so that the run knows where to find it. */
    static int freePort(int port) throws IOException {
        if (port != 0) {
            return port;
        }
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    /** Waits until the worklist answers (so its address is printed before the studies start), or says why not. */
    private void awaitListening(int port, Duration timeout) {
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        HttpRequest health = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/healthz"))
                .timeout(Duration.ofSeconds(2)).build();
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                System.out.println("the worklist stopped (exit code " + process.exitValue() + "); the run goes on without it");
                return;
            }
            try {
                if (http.send(health, HttpResponse.BodyHandlers.discarding()).statusCode() == 200) {
                    return;
                }
            } catch (IOException e) {
                // not listening yet
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
            try {
                Thread.sleep(500);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
        System.out.println("the worklist did not answer within " + timeout.toSeconds() + " s; the run goes on");
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            process.destroyForcibly();
        }
    }
}
