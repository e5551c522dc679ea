package org.xrayscreening.models.registry;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xrayscreening.models.Architecture;

/**
 * Versioned model artifacts on a directory (local disk or a shared volume):
 * {@code <root>/<architecture id>/<version>/} holds the weights and {@code metadata.json}, and
 * {@code <root>/<architecture id>/_aliases/<alias>} holds the version an alias points to.
 *
 * <p>Readers never see a half-written version: publish assembles the version in a {@code .tmp-*}
 * directory next to its final place and renames it in one atomic step; {@link #list} ignores anything
 * that is not a finished version. A version is never overwritten (rename onto a non-empty directory
 * fails), so a name always means the same bytes, and {@link #verify} proves it before loading.
 * Aliases are moved into place atomically, so a reader sees the old or the new target, never a torn one.
 */
public final class ModelRegistry {
    public static final String METADATA_FILE = "metadata.json";
    /** The ref that always means the newest version (by {@code createdAt}). */
    public static final String LATEST = "latest";
    static final String ALIASES_DIR = "_aliases";
    static final String TEMP_PREFIX = ".tmp-";
    static final DateTimeFormatter AUTO_VERSION_TIME =
            DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'").withZone(ZoneOffset.UTC);
    private static final int MAX_AUTO_VERSION_ATTEMPTS = 100;
    private static final Logger LOG = LoggerFactory.getLogger(ModelRegistry.class);

    private final Path root;
    private final Clock clock;

    public ModelRegistry(Path root) {
        this(root, Clock.systemUTC());
    }

    /** With a clock, so tests can pin auto-generated version names. */
    public ModelRegistry(Path root, Clock clock) {
        this.root = Objects.requireNonNull(root, "root").toAbsolutePath().normalize();
        this.clock = Objects.requireNonNull(clock, "clock");
    }

    public Path root() {
        return root;
    }

    /**
     * Publishes the files of {@code stagingDir} (weights, possibly in subdirectories; no
     * {@code metadata.json}) as a new immutable version.
     *
     * @param version the name, or null for {@code <UTC yyyyMMdd'T'HHmmss'Z'>-<8 hex of the content hash>}
     *     (a suffix {@code -2}, {@code -3}... is added if two publishes of the same content collide)
     * @param metadata everything but {@code version} and {@code files}, which are filled in here;
     *     a null {@code createdAt} becomes now
     * @throws FileAlreadyExistsException if an explicit version already exists (versions are immutable)
     */
    public ModelVersion publish(Architecture architecture, String version, Path stagingDir, ModelMetadata metadata)
            throws IOException {
        Objects.requireNonNull(architecture, "architecture");
        Objects.requireNonNull(metadata, "metadata");
        if (metadata.architecture() != architecture) {
            throw new IllegalArgumentException("metadata is for " + metadata.architecture().id()
                    + " but is published as " + architecture.id());
        }
        if (version != null) {
            checkNewVersionName(architecture, version);
        }
        if (!Files.isDirectory(stagingDir)) {
            throw new IllegalArgumentException("staging directory does not exist: " + stagingDir);
        }
        if (Files.exists(stagingDir.resolve(METADATA_FILE))) {
            throw new IllegalArgumentException("staging directory must not contain " + METADATA_FILE
                    + " (the registry writes it): " + stagingDir);
        }
        Path archDir = Files.createDirectories(archDir(architecture));
        Path temp = Files.createTempDirectory(archDir, TEMP_PREFIX + "publish-");
        try {
            Map<String, String> files = copyAndHash(stagingDir, temp);
            if (files.isEmpty()) {
                throw new IllegalArgumentException("staging directory holds no files: " + stagingDir);
            }
            Instant createdAt = metadata.createdAt() != null ? metadata.createdAt() : clock.instant();
            ModelMetadata base = metadata.withFiles(files).withCreatedAt(createdAt);
            String autoBase = version == null
                    ? AUTO_VERSION_TIME.format(clock.instant()) + "-" + contentHash(files).substring(0, 8)
                    : null;
            for (int attempt = 1; ; attempt++) {
                String name = version != null ? version : attempt == 1 ? autoBase : autoBase + "-" + attempt;
                ModelMetadata finalMetadata = base.withVersion(name);
                writeAtomically(temp.resolve(METADATA_FILE), finalMetadata.toJson());
                fsyncDirectory(temp);
                Path target = archDir.resolve(name);
                try {
                    if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
                        // rename(2) would replace an *empty* directory; never let it
                        throw new FileAlreadyExistsException(target.toString());
                    }
                    Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE);
                    fsyncDirectory(archDir);
                    LOG.info("published model {}@{} ({} files)", architecture.id(), name, files.size());
                    return new ModelVersion(architecture, name, target, finalMetadata);
                } catch (AtomicMoveNotSupportedException e) {
                    throw new IOException("the registry root must allow atomic renames: " + root, e);
                } catch (FileSystemException e) {
                    // Linux reports a rename onto a non-empty directory as a plain "Directory not empty"
                    if (!Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
                        throw e;
                    }
                    if (version != null) {
                        throw new FileAlreadyExistsException(target.toString(), null,
                                "model " + architecture.id() + "@" + version
                                        + " already exists; published versions are immutable");
                    }
                    if (attempt >= MAX_AUTO_VERSION_ATTEMPTS) {
                        throw new IOException("could not find a free version name after " + attempt
                                + " attempts starting at " + autoBase, e);
                    }
                }
            }
        } finally {
            if (Files.exists(temp, LinkOption.NOFOLLOW_LINKS)) {
                deleteRecursively(temp);
            }
        }
    }

    /** Finished versions of one architecture, oldest first (by {@code createdAt}, then name). */
    public List<ModelVersion> list(Architecture architecture) throws IOException {
        Path archDir = archDir(architecture);
        if (!Files.isDirectory(archDir)) {
            return List.of();
        }
        List<ModelVersion> versions = new ArrayList<>();
        try (DirectoryStream<Path> dirs = Files.newDirectoryStream(archDir)) {
            for (Path dir : dirs) {
                String name = dir.getFileName().toString();
                // skips .tmp-* (in progress or abandoned by a crash) and _aliases
                if (!ModelRef.NAME.matcher(name).matches() || !Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)
                        || !Files.isRegularFile(dir.resolve(METADATA_FILE))) {
                    continue;
                }
                try {
                    versions.add(read(architecture, name));
                } catch (IOException | RuntimeException e) {
                    LOG.warn("skipping unreadable model version {}@{}: {}", architecture.id(), name, e.toString());
                }
            }
        }
        versions.sort(Comparator.comparing((ModelVersion v) -> v.metadata().createdAt())
                .thenComparing(ModelVersion::version));
        return List.copyOf(versions);
    }

    /** Resolves a version name, an alias, or {@code latest}; an existing version name wins over an alias. */
    public ModelVersion resolve(Architecture architecture, String ref) throws IOException {
        ModelRef.checkName(ref, "ref");
        if (LATEST.equals(ref)) {
            List<ModelVersion> versions = list(architecture);
            if (versions.isEmpty()) {
                throw new ModelNotFoundException("no published versions of " + architecture.id() + " in " + root);
            }
            return versions.get(versions.size() - 1);
        }
        if (isVersion(architecture, ref)) {
            return read(architecture, ref);
        }
        Path aliasFile = aliasFile(architecture, ref);
        if (Files.isRegularFile(aliasFile)) {
            String target = Files.readString(aliasFile, StandardCharsets.UTF_8).trim();
            if (!isVersion(architecture, target)) {
                throw new ModelNotFoundException("alias " + architecture.id() + "@" + ref + " points to version "
                        + target + ", which does not exist in " + root);
            }
            return read(architecture, target);
        }
        throw new ModelNotFoundException("no version or alias " + architecture.id() + "@" + ref + " in " + root);
    }

    public ModelVersion resolve(ModelRef ref) throws IOException {
        return resolve(ref.architecture(), ref.ref());
    }

    /**
     * Points {@code alias} at the version {@code ref} resolves to now (a version, another alias or
     * {@code latest}: the alias stores the concrete version, so it does not move on later publishes).
     */
    public ModelVersion setAlias(Architecture architecture, String alias, String ref) throws IOException {
        ModelRef.checkName(alias, "alias");
        if (LATEST.equals(alias)) {
            throw new IllegalArgumentException("'" + LATEST + "' is reserved and cannot be an alias");
        }
        if (isVersion(architecture, alias)) {
            throw new IllegalArgumentException("'" + alias + "' is already a version of " + architecture.id()
                    + "; an alias must not shadow a version");
        }
        ModelVersion target = resolve(architecture, ref);
        Path aliasesDir = Files.createDirectories(archDir(architecture).resolve(ALIASES_DIR));
        writeAtomically(aliasesDir.resolve(alias), target.version() + "\n");
        LOG.info("alias {}@{} -> {}", architecture.id(), alias, target.version());
        return target;
    }

    /** Alias name -> version, sorted by alias. */
    public Map<String, String> aliases(Architecture architecture) throws IOException {
        Path aliasesDir = archDir(architecture).resolve(ALIASES_DIR);
        Map<String, String> aliases = new TreeMap<>();
        if (!Files.isDirectory(aliasesDir)) {
            return aliases;
        }
        try (DirectoryStream<Path> files = Files.newDirectoryStream(aliasesDir)) {
            for (Path file : files) {
                String name = file.getFileName().toString();
                if (ModelRef.NAME.matcher(name).matches() && Files.isRegularFile(file)) {
                    aliases.put(name, Files.readString(file, StandardCharsets.UTF_8).trim());
                }
            }
        }
        return aliases;
    }

    /**
     * Recomputes the sha256 of every file of the version and compares with its metadata: a changed,
     * missing or unlisted file, or a {@code metadata.json} changed since {@code version} was read, throws.
     */
    public void verify(ModelVersion version) throws IOException {
        String model = version.toString();
        Path dir = version.directory();
        if (!Files.isDirectory(dir)) {
            throw new ModelIntegrityException(model, null, null, null, "version directory is missing: " + dir);
        }
        Path metadataFile = dir.resolve(METADATA_FILE);
        ModelMetadata onDisk;
        try {
            onDisk = ModelMetadata.read(metadataFile);
        } catch (IOException e) {
            throw new ModelIntegrityException(model, METADATA_FILE, null, null, "cannot read " + METADATA_FILE
                    + ": " + e.getMessage());
        }
        if (!onDisk.equals(version.metadata())) {
            throw new ModelIntegrityException(model, METADATA_FILE, null, null,
                    METADATA_FILE + " differs from the one read when the version was resolved");
        }
        Map<String, String> expected = version.metadata().files();
        if (expected.isEmpty()) {
            throw new ModelIntegrityException(model, null, null, null, METADATA_FILE + " lists no files");
        }
        Map<String, Path> present = listFiles(dir, model);
        present.remove(METADATA_FILE);
        for (Map.Entry<String, String> e : expected.entrySet()) {
            Path file = present.remove(e.getKey());
            if (file == null) {
                throw new ModelIntegrityException(model, e.getKey(), e.getValue(), null,
                        "file " + e.getKey() + " is missing (expected sha256 " + e.getValue() + ")");
            }
            String actual = sha256(file);
            if (!actual.equals(e.getValue())) {
                throw new ModelIntegrityException(model, e.getKey(), e.getValue(), actual,
                        "sha256 mismatch for " + e.getKey() + ": expected " + e.getValue() + ", actual " + actual);
            }
        }
        if (!present.isEmpty()) {
            String extra = present.keySet().iterator().next();
            String actual = sha256(present.get(extra));
            throw new ModelIntegrityException(model, extra, null, actual,
                    "unexpected file " + extra + " (sha256 " + actual + ") is not listed in " + METADATA_FILE
                            + (present.size() > 1 ? " (and " + (present.size() - 1) + " more)" : ""));
        }
    }

    /** Lowercase hex sha256 of a file's bytes. */
    public static String sha256(Path file) throws IOException {
        MessageDigest digest = newSha256();
        byte[] buffer = new byte[1 << 16];
        try (InputStream in = Files.newInputStream(file)) {
            for (int n; (n = in.read(buffer)) > 0; ) {
                digest.update(buffer, 0, n);
            }
        }
        return HexFormat.of().formatHex(digest.digest());
    }

    private Path archDir(Architecture architecture) {
        return root.resolve(architecture.id());
    }

    private Path aliasFile(Architecture architecture, String alias) {
        return archDir(architecture).resolve(ALIASES_DIR).resolve(alias);
    }

    private boolean isVersion(Architecture architecture, String name) {
        return ModelRef.NAME.matcher(name).matches()
                && Files.isRegularFile(archDir(architecture).resolve(name).resolve(METADATA_FILE));
    }

    private void checkNewVersionName(Architecture architecture, String version) throws IOException {
        ModelRef.checkName(version, "version");
        if (LATEST.equals(version)) {
            throw new IllegalArgumentException("'" + LATEST + "' is reserved and cannot be a version");
        }
        if (Files.exists(aliasFile(architecture, version))) {
            throw new IllegalArgumentException("'" + version + "' is an alias of " + architecture.id()
                    + "; a version must not shadow an alias");
        }
        if (Files.exists(archDir(architecture).resolve(version), LinkOption.NOFOLLOW_LINKS)) {
            throw new FileAlreadyExistsException(archDir(architecture).resolve(version).toString(), null,
                    "model " + architecture.id() + "@" + version + " already exists; published versions are immutable");
        }
    }

    private ModelVersion read(Architecture architecture, String name) throws IOException {
        Path dir = archDir(architecture).resolve(name);
        ModelMetadata metadata = ModelMetadata.read(dir.resolve(METADATA_FILE));
        if (metadata.architecture() != architecture || !name.equals(metadata.version())) {
            throw new IOException(dir + "/" + METADATA_FILE + " describes " + metadata.architecture().id() + "@"
                    + metadata.version() + ", not " + architecture.id() + "@" + name);
        }
        return new ModelVersion(architecture, name, dir, metadata);
    }

    /** Copies every regular file, keeping relative paths, and returns relative path -> sha256 of the copy. */
    private static Map<String, String> copyAndHash(Path from, Path to) throws IOException {
        Map<String, Path> sources = listFiles(from, from.toString());
        Map<String, String> digests = new TreeMap<>();
        for (Map.Entry<String, Path> e : sources.entrySet()) {
            Path target = to.resolve(e.getKey());
            Files.createDirectories(target.getParent());
            Files.copy(e.getValue(), target);
            try (FileChannel channel = FileChannel.open(target, StandardOpenOption.WRITE)) {
                channel.force(true);
            }
            digests.put(e.getKey(), sha256(target));
        }
        return digests;
    }

    /** Relative path ('/'-separated) -> file; anything but regular files and directories is refused. */
    private static Map<String, Path> listFiles(Path dir, String what) throws IOException {
        Map<String, Path> files = new TreeMap<>();
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) walk::iterator) {
                BasicFileAttributes attrs = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                if (attrs.isDirectory()) {
                    continue;
                }
                String rel = dir.relativize(p).toString().replace(p.getFileSystem().getSeparator(), "/");
                if (!attrs.isRegularFile()) {
                    throw new IOException(what + ": " + rel + " is not a regular file (symlinks are not allowed)");
                }
                files.put(rel, p);
            }
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
        return files;
    }

    private static String contentHash(Map<String, String> files) {
        MessageDigest digest = newSha256();
        files.forEach((path, sha) -> digest.update((path + " " + sha + "\n").getBytes(StandardCharsets.UTF_8)));
        return HexFormat.of().formatHex(digest.digest());
    }

    /** Writes a sibling temp file, forces it to disk, then renames it over {@code file}. */
    static void writeAtomically(Path file, String content) throws IOException {
        Path temp = Files.createTempFile(file.getParent(), TEMP_PREFIX, ".part");
        try {
            Files.writeString(temp, content, StandardCharsets.UTF_8);
            try (FileChannel channel = FileChannel.open(temp, StandardOpenOption.WRITE)) {
                channel.force(true);
            }
            Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(temp);
        }
    }

    /** Makes a rename durable across a crash; best effort (not every file system allows it). */
    static void fsyncDirectory(Path dir) {
        try (FileChannel channel = FileChannel.open(dir, StandardOpenOption.READ)) {
            channel.force(true);
        } catch (IOException e) {
            LOG.debug("cannot fsync directory {}: {}", dir, e.toString());
        }
    }

    static void deleteRecursively(Path dir) {
        try (Stream<Path> walk = Files.walk(dir)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException e) {
                    LOG.warn("cannot delete {}: {}", p, e.toString());
                }
            });
        } catch (IOException e) {
            LOG.warn("cannot clean up {}: {}", dir, e.toString());
        }
    }

    private static MessageDigest newSha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required by every JRE", e);
        }
    }
}
