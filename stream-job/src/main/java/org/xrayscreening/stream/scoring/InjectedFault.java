package org.xrayscreening.stream.scoring;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A test-only switch for the chaos run ({@code xray-screening chaos}): makes a model operator throw, once, for
 * a study whose id starts with {@value #MARKER}, so that the job fails and restarts from its last checkpoint like
 * it would for a bug hit by one record. Off unless the TaskManager JVM has the system property
 * {@value #PROPERTY} naming a folder. "Once" has to hold across the restart (the record is replayed, and a
 * second throw would be a restart loop), and across TaskManagers, so it is a file created atomically in that
 * folder: whoever creates it throws, everyone after that scores the study normally.
 */
public final class InjectedFault extends RuntimeException {

    public static final String PROPERTY = "xray.testing.fail-once-dir";
    public static final String MARKER = "chaos-fail-once-";

    private InjectedFault(String model) {
        super("test-only fault injected once by " + PROPERTY + " in model operator " + model);
    }

    /** Throws the first time any operator sees a marked study while the switch is on; otherwise does nothing. */
    public static void maybeThrow(String studyId, String model) {
        String dir = System.getProperty(PROPERTY);
        if (dir == null || dir.isBlank() || studyId == null || !studyId.startsWith(MARKER)) {
            return;
        }
        try {
            Path folder = Files.createDirectories(Path.of(dir));
            Files.createFile(folder.resolve(studyId.replaceAll("[^A-Za-z0-9._-]", "_") + ".thrown"));
        } catch (FileAlreadyExistsException e) {
            return;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot record the injected fault in " + dir, e);
        }
        throw new InjectedFault(model);
    }
}
