package org.xrayscreening.stream.scoring;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A test-only switch for the chaos run ({@code xray-screening chaos}): the TaskManager JVM dies on the spot when a
 * model operator is about to run native inference on a study whose id starts with {@value #MARKER} followed by
 * that operator's model id and {@code -} (e.g. {@code chaos-halt-mobilenet-run1}). {@link Runtime#halt} ends the
 * process without shutdown hooks, finally blocks or Flink's failover handshake, as a crash inside PyTorch's native
 * code or the kernel's OOM killer would; the exit status is {@value #EXIT_STATUS}, as after SIGABRT.
 *
 * <p>Unlike {@link InjectedFault} it fires on every attempt: stopping a poison image from killing worker after
 * worker is the attempt journal's job ({@code --attempt-journal}), and this switch is what shows it does. Off
 * unless the TaskManager JVM has the system property {@value #PROPERTY} naming a folder; each halt first creates
 * {@code <studyId>.halt-<n>} there (atomically), so the chaos run can count the deaths and time the recovery.
 */
public final class InjectedCrash {

    public static final String PROPERTY = "xray.testing.halt-dir";
    public static final String MARKER = "chaos-halt-";
    public static final int EXIT_STATUS = 134;

    private InjectedCrash() {
    }

    /** The study id prefix that makes {@code model}'s operator halt the JVM while the switch is on. */
    public static String markerFor(String model) {
        return MARKER + model + "-";
    }

    /** Halts this JVM if the switch is on and the study is marked for {@code model}; otherwise does nothing. */
    public static void maybeHalt(String studyId, String model) {
        Path recorded = recordHalt(studyId, model);
        if (recorded != null) {
            System.err.println("test switch " + PROPERTY + ": halting this JVM in model operator " + model
                    + " (recorded as " + recorded.getFileName() + ")");
            System.err.flush();
            Runtime.getRuntime().halt(EXIT_STATUS);
        }
    }

    /**
     * Notes a halt about to happen and returns its marker file, or null when nothing must happen (switch off, or
     * the study is not marked for this model).
     */
    static Path recordHalt(String studyId, String model) {
        String dir = System.getProperty(PROPERTY);
        if (dir == null || dir.isBlank() || studyId == null || model == null || !studyId.startsWith(markerFor(model))) {
            return null;
        }
        String base = studyId.replaceAll("[^A-Za-z0-9._-]", "_") + ".halt-";
        try {
            Path folder = Files.createDirectories(Path.of(dir));
            for (int n = 1; ; n++) {
                try {
                    return Files.createFile(folder.resolve(base + n));
                } catch (FileAlreadyExistsException e) {
                    // halt n happened before: this is the next one
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot record the injected halt in " + dir, e);
        }
    }
}
