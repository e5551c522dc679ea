package org.xrayscreening.trainer.imagenet;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * Where fetched pretrained weights live, shared by every package fetcher so that one setting moves them all:
 * {@code $XRAY_SCREENING_CACHE}, else {@code $XDG_CACHE_HOME/xray-screening}, else {@code ~/.cache/xray-screening}.
 */
final class PretrainedCache {
    private PretrainedCache() {}

    static Path root() {
        String explicit = System.getenv("XRAY_SCREENING_CACHE");
        if (explicit != null && !explicit.isBlank()) {
            return Path.of(explicit);
        }
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
        return base.resolve("xray-screening");
    }

    /** Removes a folder and everything under it (a half-unpacked package); nothing when it does not exist. */
    static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
