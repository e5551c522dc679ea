package org.xrayscreening.stream.chaos;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.xrayscreening.connectors.event.DeadLetterReason;

/**
 * The bad-input corpus as it is checked in ({@code connectors/src/test/resources/bad-inputs/v1/}: one file per
 * entry and {@code manifest.tsv}), read by path for the chaos run. The corpus is built by the test class
 * {@code BadInputCorpus} (connectors), which writes this folder; the chaos command runs from a checkout (it needs
 * {@code scripts/cluster.sh}), so it reads the folder instead of carrying 1.7 MB of test inputs in the job's jar.
 * {@code BadInputFolderTest} checks that every record built here is byte for byte the one the corpus class builds.
 *
 * <p>The manifest's first line states the limits and the allowed URL prefix under which the expected outcomes
 * hold; {@link #limits()} reads them from there, and the chaos run configures the job with them.
 */
final class BadInputFolder {

    /** The manifest's stand-in for the allowed file root in URI entries. */
    static final String ROOT = "${root}";
    private static final Pattern HEADER = Pattern.compile(
            "limits: (\\d+) bytes, (\\d+) pixels, (\\d+) a side; allowed: the file root and (\\S+)");

    /** What the expected outcomes assume of the job's configuration. */
    record Limits(long maxBytes, long maxPixels, int maxSide, String allowedUrlPrefix) {}

    /**
     * One corpus entry. {@code expected} is a {@link DeadLetterReason} name or {@code RECOMMENDATION} (a valid,
     * if unusual, image).
     */
    record Entry(String file, String delivery, String contentType, String expected, byte[] bytes) {

        String name() {
            int dot = file.lastIndexOf('.');
            return dot > 0 ? file.substring(0, dot) : file;
        }

        /** Also the record's Kafka key, so a dead letter (keyed by the record's key) and a recommendation match. */
        String studyId() {
            return "corpus-" + name();
        }

        boolean valid() {
            return ChaosLedger.RECOMMENDATION.equals(expected);
        }

        /** The {@code xray.acquired} record value; {@code FILE} entries must be under {@code root} (see {@link #writeImages}). */
        byte[] record(Path root) {
            return switch (delivery) {
                case "EVENT" -> bytes;
                case "INLINE" -> event("\"data\":\"" + Base64.getEncoder().encodeToString(bytes) + "\"");
                case "FILE" -> event("\"uri\":\"" + root.resolve(file).toUri() + "\"");
                case "URI" -> event("\"uri\":\"" + new String(bytes, StandardCharsets.UTF_8).replace(ROOT, rootUri(root)) + "\"");
                default -> throw new IllegalStateException("unknown delivery " + delivery + " of " + file);
            };
        }

        private byte[] event(String imageSource) {
            return ("{\"schemaVersion\":1,\"studyId\":\"" + studyId() + "\",\"patientRef\":\"PATIENT-CORPUS\","
                    + "\"acquiredAt\":\"2026-12-03T10:00:00Z\",\"view\":\"PA\",\"source\":\"corpus\","
                    + "\"image\":{\"contentType\":\"" + contentType + "\"," + imageSource + "}}")
                    .getBytes(StandardCharsets.UTF_8);
        }
    }

    private final Path dir;
    private final Limits limits;
    private final List<Entry> entries;

    private BadInputFolder(Path dir, Limits limits, List<Entry> entries) {
        this.dir = dir;
        this.limits = limits;
        this.entries = entries;
    }

    /** Reads {@code dir/manifest.tsv} and every file it names; a clear error when the folder is not a corpus. */
    static BadInputFolder read(Path dir) throws IOException {
        Path manifest = dir.resolve("manifest.tsv");
        if (!Files.isRegularFile(manifest)) {
            throw new IOException("no bad-input corpus at " + dir.toAbsolutePath() + " (no manifest.tsv): run from a "
                    + "checkout of the project or pass --corpus connectors/src/test/resources/bad-inputs/v1");
        }
        List<String> lines = Files.readAllLines(manifest, StandardCharsets.UTF_8);
        Matcher m = HEADER.matcher(lines.isEmpty() ? "" : lines.get(0));
        if (!m.find()) {
            throw new IOException(manifest + ": first line does not state the corpus limits (\"limits: N bytes, N pixels, "
                    + "N a side; allowed: the file root and URL\")");
        }
        Limits limits = new Limits(Long.parseLong(m.group(1)), Long.parseLong(m.group(2)), Integer.parseInt(m.group(3)),
                m.group(4));
        List<Entry> entries = new ArrayList<>();
        for (String line : lines.subList(1, lines.size())) {
            if (line.isBlank() || line.startsWith("#") || line.startsWith("file\t")) {
                continue;
            }
            String[] f = line.split("\t", -1);
            if (f.length < 5) {
                throw new IOException(manifest + ": not file, kind, delivery, content type, expected: " + line);
            }
            String expected = f[4];
            if (!ChaosLedger.RECOMMENDATION.equals(expected)) {
                DeadLetterReason.valueOf(expected); // an unknown reason is a broken manifest, not a test failure later
            }
            entries.add(new Entry(f[0], f[2], "-".equals(f[3]) ? null : f[3], expected, Files.readAllBytes(dir.resolve(f[0]))));
        }
        return new BadInputFolder(dir, limits, List.copyOf(entries));
    }

    Path dir() {
        return dir;
    }

    Limits limits() {
        return limits;
    }

    List<Entry> entries() {
        return entries;
    }

    /** Writes the {@code FILE} entries under {@code root}, where their {@code file:} URIs point. */
    void writeImages(Path root) throws IOException {
        Files.createDirectories(root);
        for (Entry e : entries) {
            if (e.delivery().equals("FILE")) {
                Files.write(root.resolve(e.file()), e.bytes());
            }
        }
    }

    static String rootUri(Path root) {
        String u = root.toUri().toString();
        return u.endsWith("/") ? u : u + "/";
    }
}
