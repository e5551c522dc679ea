package org.xrayscreening.models.registry;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Versioned {@link EnsembleSettings} in the model registry: {@code <root>/ensemble/<version>/ensemble.json} and
 * {@code ensemble.json.sha256} (the file's sha256, in {@code sha256sum} format, so {@code sha256sum -c} checks it
 * too). Same rules as model versions: assembled in a {@code .tmp-*} directory and renamed into place in one atomic
 * step, never overwritten, and read only after the digest matches (the bytes that are hashed are the bytes that
 * are parsed). {@code latest} is the newest by {@code createdAt}.
 */
public final class EnsembleRegistry {
    public static final String DIR = "ensemble";
    public static final String FILE = "ensemble.json";
    public static final String CHECKSUM_FILE = FILE + ".sha256";
    private static final Logger LOG = LoggerFactory.getLogger(EnsembleRegistry.class);

    private final Path root;
    private final Clock clock;

    public EnsembleRegistry(Path registryRoot) {
        this(registryRoot, Clock.systemUTC());
    }

    public EnsembleRegistry(Path registryRoot, Clock clock) {
        this.root = Objects.requireNonNull(registryRoot, "registryRoot").toAbsolutePath().normalize();
        this.clock = Objects.requireNonNull(clock, "clock");
    }

    /** {@code <registry>/ensemble}. */
    public Path directory() {
        return root.resolve(DIR);
    }

    /**
     * Publishes {@code settings} as a new immutable version.
     *
     * @param version the name, or null for {@code <UTC yyyyMMdd'T'HHmmss'Z'>-<8 hex of the content's sha256>}
     * @throws FileAlreadyExistsException if an explicit version exists already
     */
    public EnsembleSettings publish(EnsembleSettings settings, String version) throws IOException {
        Objects.requireNonNull(settings, "settings");
        if (version != null) {
            ModelRef.checkName(version, "version");
            if (ModelRegistry.LATEST.equals(version)) {
                throw new IllegalArgumentException("'" + ModelRegistry.LATEST + "' is reserved and cannot be a version");
            }
            if (Files.exists(directory().resolve(version), LinkOption.NOFOLLOW_LINKS)) {
                throw new FileAlreadyExistsException(directory().resolve(version).toString(), null,
                        "ensemble settings " + version + " already exist; published versions are immutable");
            }
        }
        Instant createdAt = settings.createdAt() != null ? settings.createdAt() : clock.instant();
        String autoBase = version == null ? ModelRegistry.AUTO_VERSION_TIME.format(clock.instant()) + "-"
                + sha256(settings.withVersion(null, createdAt).toJson().getBytes(StandardCharsets.UTF_8))
                        .substring(0, 8) : null;
        Path dir = Files.createDirectories(directory());
        Path temp = Files.createTempDirectory(dir, ModelRegistry.TEMP_PREFIX + "publish-");
        try {
            for (int attempt = 1; ; attempt++) {
                String name = version != null ? version : attempt == 1 ? autoBase : autoBase + "-" + attempt;
                EnsembleSettings published = settings.withVersion(name, createdAt);
                byte[] json = published.toJson().getBytes(StandardCharsets.UTF_8);
                ModelRegistry.writeAtomically(temp.resolve(FILE), new String(json, StandardCharsets.UTF_8));
                ModelRegistry.writeAtomically(temp.resolve(CHECKSUM_FILE), sha256(json) + "  " + FILE + "\n");
                ModelRegistry.fsyncDirectory(temp);
                Path target = dir.resolve(name);
                try {
                    if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
                        throw new FileAlreadyExistsException(target.toString());
                    }
                    Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE);
                    ModelRegistry.fsyncDirectory(dir);
                    LOG.info("published {}", published.describe());
                    return published;
                } catch (AtomicMoveNotSupportedException e) {
                    throw new IOException("the registry root must allow atomic renames: " + root, e);
                } catch (FileSystemException e) {
                    if (!Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
                        throw e;
                    }
                    if (version != null || attempt >= 100) {
                        throw new FileAlreadyExistsException(target.toString(), null,
                                "ensemble settings " + name + " already exist; published versions are immutable");
                    }
                }
            }
        } finally {
            if (Files.exists(temp, LinkOption.NOFOLLOW_LINKS)) {
                ModelRegistry.deleteRecursively(temp);
            }
        }
    }

    /**
     * Every published version, verified, oldest first (by {@code createdAt}, then name). A version that cannot be
     * read or verified makes this throw: {@code latest} could otherwise fall back to an older version silently.
     */
    public List<EnsembleSettings> list() throws IOException {
        Path dir = directory();
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        List<EnsembleSettings> out = new ArrayList<>();
        try (DirectoryStream<Path> dirs = Files.newDirectoryStream(dir)) {
            for (Path d : dirs) {
                String name = d.getFileName().toString();
                // skips .tmp-* (in progress or abandoned by a crash)
                if (ModelRef.NAME.matcher(name).matches() && Files.isDirectory(d, LinkOption.NOFOLLOW_LINKS)
                        && Files.exists(d.resolve(FILE), LinkOption.NOFOLLOW_LINKS)) {
                    out.add(read(name));
                }
            }
        }
        out.sort(Comparator.comparing(EnsembleSettings::createdAt).thenComparing(EnsembleSettings::version));
        return List.copyOf(out);
    }

    /** True when at least one version is published (whether or not it verifies). */
    public boolean hasAny() throws IOException {
        Path dir = directory();
        if (!Files.isDirectory(dir)) {
            return false;
        }
        try (DirectoryStream<Path> dirs = Files.newDirectoryStream(dir)) {
            for (Path d : dirs) {
                if (ModelRef.NAME.matcher(d.getFileName().toString()).matches()
                        && Files.exists(d.resolve(FILE), LinkOption.NOFOLLOW_LINKS)) {
                    return true;
                }
            }
        }
        return false;
    }

    /** A version name or {@code latest}, read and verified. */
    public EnsembleSettings resolve(String ref) throws IOException {
        ModelRef.checkName(ref, "ensemble settings ref");
        if (ModelRegistry.LATEST.equals(ref)) {
            List<EnsembleSettings> all = list();
            if (all.isEmpty()) {
                throw new ModelNotFoundException("no ensemble settings published in " + directory());
            }
            return all.get(all.size() - 1);
        }
        if (!Files.isDirectory(directory().resolve(ref), LinkOption.NOFOLLOW_LINKS)) {
            throw new ModelNotFoundException("no ensemble settings " + ref + " in " + directory());
        }
        return read(ref);
    }

    /** Reads one version: the checksum is checked on the exact bytes that are then parsed. */
    EnsembleSettings read(String version) throws IOException {
        String what = "ensemble@" + version;
        Path d = directory().resolve(version);
        Path file = d.resolve(FILE);
        Path checksumFile = d.resolve(CHECKSUM_FILE);
        if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
            throw new ModelIntegrityException(what, FILE, null, null, FILE + " is missing or not a regular file");
        }
        if (!Files.isRegularFile(checksumFile, LinkOption.NOFOLLOW_LINKS)) {
            throw new ModelIntegrityException(what, CHECKSUM_FILE, null, null, CHECKSUM_FILE + " is missing");
        }
        byte[] json = Files.readAllBytes(file);
        String line = Files.readString(checksumFile, StandardCharsets.UTF_8).trim();
        String expected = line.split("\\s+")[0];
        String actual = sha256(json);
        if (!expected.equals(actual)) {
            throw new ModelIntegrityException(what, FILE, expected, actual,
                    "sha256 mismatch for " + FILE + ": expected " + expected + ", actual " + actual);
        }
        EnsembleSettings settings;
        try {
            settings = EnsembleSettings.fromJson(json);
        } catch (IOException | RuntimeException e) {
            throw new IOException("cannot read " + file + ": " + e.getMessage(), e);
        }
        if (!version.equals(settings.version())) {
            throw new ModelIntegrityException(what, FILE, null, null,
                    FILE + " describes version " + settings.version() + ", not " + version);
        }
        return settings;
    }

    static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required by every JRE", e);
        }
    }
}
