package org.xrayscreening.trainer.imagenet;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Locates {@code ../shared/pretrained} (see its PROVENANCE.md): {@code $XRAY_PRETRAINED_DIR} if set, else a
 * {@code shared/pretrained} beside the repository (CI clones the repository next to a copy of shared/) or any
 * ancestor of the working directory, else {@code /work/shared/pretrained}. Tests that need it are skipped
 * (not failed) where it is absent.
 */
final class PretrainedFiles {
    static final String CLASSIFIER_075_192 = "mobilenet_v1_0.75_192_quant.tflite";
    static final String EXTRACTOR_100_224 = "mobilenet_v1_1.0_224_quant_embedding_extractor.tflite";
    static final String MOBILENET_V2 = "mobilenet_v2_1.0_224_quant.tflite";
    static final String LABELS = "imagenet_labels.txt";

    private PretrainedFiles() {}

    static Path dir() {
        String env = System.getenv("XRAY_PRETRAINED_DIR");
        if (env != null && !env.isBlank()) {
            return Path.of(env);
        }
        for (Path d = Path.of("").toAbsolutePath(); d != null; d = d.getParent()) {
            Path candidate = d.resolve("shared").resolve("pretrained");
            if (Files.isDirectory(candidate)) {
                return candidate;
            }
        }
        return Path.of("/work/shared/pretrained");
    }

    /** The file, or the test is skipped when the pretrained directory (or the file) is absent. */
    static Path require(String name) {
        Path dir = dir();
        assumeTrue(Files.isDirectory(dir), "no pretrained directory at " + dir + " (set XRAY_PRETRAINED_DIR)");
        Path file = dir.resolve(name);
        assumeTrue(Files.isRegularFile(file), "missing " + file);
        return file;
    }
}
