package org.xrayscreening.stream.chaos;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The standalone cluster of {@code scripts/cluster.sh} (1 JobManager, N TaskManagers, one Kafka broker, each a JVM)
 * driven from Java: every action is that script, so what the chaos run does a user can repeat by hand. Job state
 * and checkpoints come from the JobManager's REST API, metrics from each TaskManager's Prometheus endpoint.
 */
final class StandaloneCluster implements AutoCloseable {

    private static final Pattern JOB_ID = Pattern.compile("JobID ([0-9a-f]{32})");
    private static final Pattern SAVEPOINT = Pattern.compile("Savepoint completed\\. Path: (\\S+)");
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path script;
    private final Path dir;
    private final Map<String, String> extraEnv;
    private final Path commandLog;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private Map<String, String> env = Map.of();
    private boolean started;

    StandaloneCluster(Path script, Path dir, Map<String, String> extraEnv) {
        this.script = script.toAbsolutePath();
        this.dir = dir.toAbsolutePath();
        this.extraEnv = extraEnv;
        this.commandLog = this.dir.resolve("chaos-commands.log");
    }

    void start(int taskManagers, String tmMemory) throws IOException, InterruptedException {
        Files.createDirectories(dir);
        started = true; // from here on close() stops whatever part of it came up
        run("start", "--taskmanagers", Integer.toString(taskManagers), "--tm-memory", tmMemory);
        Map<String, String> values = new LinkedHashMap<>();
        for (String line : Files.readAllLines(dir.resolve("cluster.env"))) {
            int eq = line.indexOf('=');
            if (eq > 0) {
                values.put(line.substring(0, eq), line.substring(eq + 1).replace("\"", "").trim());
            }
        }
        env = values;
    }

    String bootstrapServers() {
        return "127.0.0.1:" + env.get("KAFKA_PORT");
    }

    String restUrl() {
        return "http://127.0.0.1:" + env.get("REST_PORT");
    }

    Path dir() {
        return dir;
    }

    List<Integer> metricsPorts() {
        List<Integer> ports = new ArrayList<>();
        for (String p : env.getOrDefault("TM_METRICS_PORTS", "").trim().split("\\s+")) {
            if (!p.isBlank()) {
                ports.add(Integer.parseInt(p));
            }
        }
        return ports;
    }

    /** {@code flink run -d} of the cluster job jar; returns the job id. */
    String submit(List<String> jobArgs, String fromSavepoint) throws IOException, InterruptedException {
        List<String> args = new ArrayList<>();
        args.add("submit");
        if (fromSavepoint != null) {
            args.add("--from-savepoint");
            args.add(fromSavepoint);
        }
        args.addAll(jobArgs);
        return match(JOB_ID, run(args.toArray(String[]::new)), "job id");
    }

    /** {@code flink stop --savepointPath}: a savepoint, then the job finishes; returns the savepoint's path. */
    String stopWithSavepoint(String jobId) throws IOException, InterruptedException {
        String out = run("flink", "stop", "--savepointPath", dir.resolve("savepoints").toUri().toString(), jobId);
        return match(SAVEPOINT, out, "savepoint path");
    }

    void killTaskManager(int n) throws IOException, InterruptedException {
        run("kill-taskmanager", Integer.toString(n));
    }

    void startTaskManager(int n) throws IOException, InterruptedException {
        run("start-taskmanager", Integer.toString(n));
    }

    /**
     * TaskManagers (1-based) whose process is gone, from the script's pid files. A process that ended is a zombie
     * until its parent reaps it, so the state in {@code /proc} counts, not only whether the pid exists.
     */
    List<Integer> deadTaskManagers() throws IOException {
        List<Integer> dead = new ArrayList<>();
        int n = Integer.parseInt(env.getOrDefault("TASKMANAGERS", "0"));
        for (int i = 1; i <= n; i++) {
            Path pidFile = dir.resolve("pids").resolve("taskmanager-" + i + ".pid");
            String pid = Files.isRegularFile(pidFile) ? Files.readString(pidFile).trim() : "";
            if (pid.isEmpty() || !running(Path.of("/proc", pid, "stat"))) {
                dead.add(i);
            }
        }
        return dead;
    }

    private static boolean running(Path procStat) {
        try {
            String stat = Files.readString(procStat);
            char state = stat.substring(stat.lastIndexOf(')') + 2).charAt(0); // after "pid (comm) "
            return state != 'Z' && state != 'X';
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    void killKafka() throws IOException, InterruptedException {
        run("kill-kafka");
    }

    void startKafka() throws IOException, InterruptedException {
        run("start-kafka");
    }

    /** The job's state and whether every vertex (operator chain) is RUNNING, plus its latest completed checkpoint. */
    record JobView(String state, boolean allRunning, long lastCheckpointTriggeredAt, long restarts) {}

    JobView job(String jobId) throws IOException, InterruptedException {
        JsonNode job = get("/jobs/" + jobId);
        boolean allRunning = job.path("vertices").size() > 0;
        for (JsonNode v : job.path("vertices")) {
            allRunning &= "RUNNING".equals(v.path("status").asText());
        }
        JsonNode checkpoints = get("/jobs/" + jobId + "/checkpoints");
        long triggered = checkpoints.path("latest").path("completed").path("trigger_timestamp").asLong(-1);
        long restarts = checkpoints.path("counts").path("restored").asLong(0);
        return new JobView(job.path("state").asText(), allRunning, triggered, restarts);
    }

    private JsonNode get(String path) throws IOException, InterruptedException {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(restUrl() + path))
                .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) {
            throw new IOException("GET " + path + ": HTTP " + r.statusCode() + " " + r.body());
        }
        return JSON.readTree(r.body());
    }

    /** The text of one TaskManager's Prometheus endpoint, or null when it does not answer. */
    String scrape(int port) {
        try {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics"))
                    .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
            return r.statusCode() == 200 ? r.body() : null;
        } catch (IOException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    /** Runs {@code scripts/cluster.sh ARGS}; its output goes to chaos-commands.log and is returned. */
    String run(String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("bash", script.toString()));
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.environment().put("XRAY_CLUSTER_DIR", dir.toString());
        pb.environment().putAll(extraEnv);
        Process p = pb.start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        int code = p.waitFor();
        Files.writeString(commandLog, "$ cluster.sh " + String.join(" ", args) + "\n" + out + "(exit " + code + ")\n",
                StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        if (code != 0) {
            throw new IOException("scripts/cluster.sh " + String.join(" ", args) + " failed (exit " + code + "): "
                    + tail(out));
        }
        return out;
    }

    private static String match(Pattern pattern, String text, String what) throws IOException {
        Matcher m = pattern.matcher(text);
        if (!m.find()) {
            throw new IOException("no " + what + " in the Flink CLI's output: " + tail(text));
        }
        return m.group(1);
    }

    private static String tail(String text) {
        return text.length() <= 2000 ? text : "..." + text.substring(text.length() - 2000);
    }

    @Override
    public void close() throws IOException, InterruptedException {
        if (started) {
            started = false;
            run("stop");
        }
    }
}
