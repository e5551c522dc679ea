package org.xrayscreening.stream.testing;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * A real Orthanc DICOM node (Debian package {@code orthanc}) started from its binary with a generated
 * configuration: a temporary storage directory, free HTTP and DICOM ports, one user, an AE title, and the
 * user-defined metadata the gateway writes recommendations to. No systemd.
 */
public final class OrthancNode implements AutoCloseable {

    public static final String BINARY = findBinary();

    private final Process process;
    private final int httpPort;
    private final int dicomPort;
    private final String aet;
    private final String user;
    private final String password;
    private final Path log;

    private OrthancNode(Process process, int httpPort, int dicomPort, String aet, String user, String password, Path log) {
        this.process = process;
        this.httpPort = httpPort;
        this.dicomPort = dicomPort;
        this.aet = aet;
        this.user = user;
        this.password = password;
        this.log = log;
    }

    /** True when the Orthanc binary is installed (.ci/run installs it). */
    public static boolean available() {
        return BINARY != null;
    }

    private static String findBinary() {
        for (String dir : List.of("/usr/sbin", "/usr/bin", "/usr/local/bin", "/usr/local/sbin")) {
            if (Files.isExecutable(Path.of(dir, "Orthanc"))) {
                return Path.of(dir, "Orthanc").toString();
            }
        }
        return null;
    }

    /** Starts Orthanc with its data under {@code dir} and waits until its REST API answers. */
    public static OrthancNode start(Path dir, String aet, String user, String password, String metadataName)
            throws IOException, InterruptedException {
        Files.createDirectories(dir.resolve("db"));
        int http = freePort();
        int dicom = freePort();
        Map<String, Object> config = Map.ofEntries(
                Map.entry("Name", "xray-it"),
                Map.entry("StorageDirectory", dir.resolve("db").toString()),
                Map.entry("IndexDirectory", dir.resolve("db").toString()),
                Map.entry("HttpPort", http),
                Map.entry("DicomPort", dicom),
                Map.entry("DicomAet", aet),
                Map.entry("RemoteAccessAllowed", false),
                Map.entry("AuthenticationEnabled", true),
                Map.entry("RegisteredUsers", Map.of(user, password)),
                Map.entry("Plugins", List.of()),
                Map.entry("UserMetadata", Map.of(metadataName, 1024)),
                Map.entry("ConcurrentJobs", 1));
        Path configFile = dir.resolve("orthanc.json");
        new ObjectMapper().writerWithDefaultPrettyPrinter().writeValue(configFile.toFile(), config);
        Path log = dir.resolve("orthanc.log");
        Process p = new ProcessBuilder(BINARY, configFile.toString()).redirectErrorStream(true)
                .redirectOutput(log.toFile()).start();
        OrthancNode node = new OrthancNode(p, http, dicom, aet, user, password, log);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (true) {
            try {
                if (node.get("/system").statusCode() == 200) {
                    return node;
                }
            } catch (IOException notYet) {
                // not listening yet
            }
            if (!p.isAlive() || System.nanoTime() > deadline) {
                node.close();
                throw new IOException("Orthanc did not start: " + Files.readString(log));
            }
            Thread.sleep(200);
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    public String url() {
        return "http://127.0.0.1:" + httpPort;
    }

    public int dicomPort() {
        return dicomPort;
    }

    public String aet() {
        return aet;
    }

    /** GET with the node's credentials. */
    public HttpResponse<String> get(String path) throws IOException, InterruptedException {
        HttpRequest request = HttpRequest.newBuilder(URI.create(url() + path)).timeout(Duration.ofSeconds(10))
                .header("Authorization", "Basic " + Base64.getEncoder().encodeToString(
                        (user + ":" + password).getBytes(StandardCharsets.UTF_8))).GET().build();
        return HttpClient.newHttpClient().send(request, HttpResponse.BodyHandlers.ofString());
    }

    /** Sends the files with dcmtk's storescu over the DICOM protocol (C-STORE), as a modality does. */
    public void storescu(List<Path> files) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("storescu", "-aet", "XRAY-IT-MODALITY", "-aec", aet,
                "127.0.0.1", Integer.toString(dicomPort)));
        files.forEach(f -> cmd.add(f.toString()));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException("storescu failed: " + out);
        }
    }

    public String log() throws IOException {
        return Files.readString(log);
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(20, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }
}
