package org.xrayscreening.connectors.image;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs Debian's dcmtk tools (dcmconv, dcmcjpeg, dcmcrle) to make test files in every transfer syntax from a
 * file {@link DicomWriter} wrote. {@code .ci/run} installs dcmtk; a test that needs it is skipped (an
 * assumption, reported as skipped) only where dcmtk is absent.
 */
public final class Dcmtk {

    private static final boolean AVAILABLE = probe();

    private Dcmtk() {
    }

    public static boolean available() {
        return AVAILABLE;
    }

    public static void assumeAvailable() {
        assumeTrue(AVAILABLE, "dcmtk is not installed (apt-get install dcmtk); .ci/run installs it");
    }

    /** Runs {@code tool args... in out} on {@code input} and returns the output file's bytes. */
    public static byte[] convert(byte[] input, String tool, String... args) throws IOException, InterruptedException {
        Path dir = Files.createTempDirectory("dcmtk");
        try {
            Path in = dir.resolve("in.dcm");
            Path out = dir.resolve("out.dcm");
            Files.write(in, input);
            List<String> cmd = new ArrayList<>();
            cmd.add(tool);
            cmd.addAll(List.of(args));
            cmd.add(in.toString());
            cmd.add(out.toString());
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0 || !Files.exists(out)) {
                throw new IOException(String.join(" ", cmd) + " failed: " + log);
            }
            return Files.readAllBytes(out);
        } finally {
            try (var files = Files.list(dir)) {
                for (Path f : (Iterable<Path>) files::iterator) {
                    Files.deleteIfExists(f);
                }
            }
            Files.deleteIfExists(dir);
        }
    }

    private static boolean probe() {
        try {
            Process p = new ProcessBuilder("dcmconv", "--version").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(20, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }
}
