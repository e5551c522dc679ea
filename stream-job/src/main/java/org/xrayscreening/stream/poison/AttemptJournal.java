package org.xrayscreening.stream.poison;

import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * Remembers, outside Flink's state, which records were being processed when a worker died, so that one image that
 * kills a TaskManager (an {@code OutOfMemoryError}, a crash in native code) cannot put the job into a restart loop.
 *
 * <p>Why not operator state: when a TaskManager dies, the job restarts from the last checkpoint, so a counter kept
 * in checkpointed state is rolled back exactly when it is needed. Instead, before a record is handed to code that
 * can kill the process, {@link #begin} creates an empty marker file {@code <key>#<n>} in the journal directory
 * ({@code CREATE_NEW}: atomic, one system call); {@link #end} deletes it when processing returned. A marker that is
 * still there when the record comes round again is an attempt that never returned: the process died, or the
 * operator threw an {@code Error} out of it. With {@code limit} such markers, {@link #begin} refuses and the caller
 * dead-letters the record without touching it.
 *
 * <p>Markers survive a crash of the process (the kernel keeps what was written; no fsync, so a power cut of the
 * node may lose the newest markers, which costs one more attempt, not correctness). The directory must outlive the
 * TaskManager: a volume that survives a pod restart and that every TaskManager which may run the operator sees.
 * Markers of records that were dead-lettered stay (they keep a replay from trying again) and are removed after
 * {@link #RETENTION}.
 */
public final class AttemptJournal {

    /** Markers older than this are removed when a journal opens. */
    public static final Duration RETENTION = Duration.ofDays(7);
    private static final Pattern SAFE = Pattern.compile("[A-Za-z0-9._-]+");

    /** What an operator carries to the TaskManager to open its journal there. */
    public record Config(String directory, int limit) implements Serializable {
        public Config {
            if (limit < 1) {
                throw new IllegalArgumentException("the crash limit must be at least 1, got " + limit);
            }
        }

        /** No journal: nothing is recorded, nothing is refused. */
        public static Config off() {
            return new Config(null, Integer.MAX_VALUE);
        }

        public boolean enabled() {
            return directory != null;
        }
    }

    private final Path dir;
    private final int limit;
    private String currentKey;
    private int currentAttempt;

    private AttemptJournal(Path dir, int limit) {
        this.dir = dir;
        this.limit = limit;
    }

    /**
     * Opens the journal of {@code operator} (a sub-directory of the configured one) and removes markers older than
     * {@link #RETENTION}; null when the config is {@link Config#off()}.
     */
    public static AttemptJournal open(Config config, String operator) {
        if (config == null || !config.enabled()) {
            return null;
        }
        if (!SAFE.matcher(operator).matches()) {
            throw new IllegalArgumentException("operator name not usable as a folder: " + operator);
        }
        Path dir = Path.of(config.directory()).resolve(operator);
        try {
            Files.createDirectories(dir);
            FileTime cutoff = FileTime.from(Instant.now().minus(RETENTION));
            try (DirectoryStream<Path> markers = Files.newDirectoryStream(dir)) {
                for (Path marker : markers) {
                    if (Files.getLastModifiedTime(marker).compareTo(cutoff) < 0) {
                        Files.deleteIfExists(marker);
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot use the attempt journal " + dir, e);
        }
        return new AttemptJournal(dir, config.limit());
    }

    /** A record's journal key: where it came from (never what it contains). */
    public static String key(String topic, int partition, long offset) {
        String key = topic + "-" + partition + "-" + offset;
        if (!SAFE.matcher(key).matches()) {
            throw new IllegalArgumentException("not a Kafka topic name: " + topic);
        }
        return key;
    }

    /**
     * Notes the start of an attempt on {@code key}: true if it may run, false if earlier attempts ended the
     * worker {@link #limit()} times (then nothing is noted). Pair with {@link #end()}.
     */
    public boolean begin(String key) {
        int attempt = beginAttempt(key);
        if (attempt == 0) {
            currentKey = null;
            return false;
        }
        currentKey = key;
        currentAttempt = attempt;
        return true;
    }

    /** The attempt begun by {@link #begin} returned (normally or with an exception): clears its markers. */
    public void end() {
        if (currentKey == null) {
            return;
        }
        try {
            endAttempt(currentKey, currentAttempt);
        } finally {
            currentKey = null;
        }
    }

    /**
     * {@link #begin} for several records in flight at once (a batch): the number of this attempt (1 for the
     * first), or 0 if earlier attempts ended the worker {@link #limit()} times. Pair with {@link #endAttempt}.
     */
    public int beginAttempt(String key) {
        Objects.requireNonNull(key, "key");
        for (int n = 1; n <= limit; n++) {
            Path marker = dir.resolve(key + "#" + n);
            try {
                Files.createFile(marker);
                return n;
            } catch (FileAlreadyExistsException e) {
                // attempt n started earlier and never returned: try the next number
            } catch (IOException e) {
                throw new UncheckedIOException("cannot write the attempt journal " + dir, e);
            }
        }
        return 0;
    }

    /** Attempt {@code attempt} on {@code key} returned: clears its marker and those of the deaths before it. */
    public void endAttempt(String key, int attempt) {
        try {
            for (int n = attempt; n >= 1; n--) {
                Files.deleteIfExists(dir.resolve(key + "#" + n));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the attempt journal " + dir, e);
        }
    }

    /** How many earlier attempts on {@code key} ended the worker (markers left open); nothing is noted. */
    public int previousAttempts(String key) {
        int n = 0;
        while (n < limit && Files.exists(dir.resolve(key + "#" + (n + 1)))) {
            n++;
        }
        return n;
    }

    public Path directory() {
        return dir;
    }

    public int limit() {
        return limit;
    }
}
