package org.xrayscreening.stream.local;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
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
        return new LocalWorklist(new ProcessBuilder(command).inheritIO().start());
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            process.destroyForcibly();
        }
    }
}
