package org.xrayscreening.trainer.cli;

import java.nio.file.Path;
import org.xrayscreening.trainer.TrainerCli;
import picocli.CommandLine.Option;

/**
 * The flags of every command that scores registry models on a dataset (evaluate, choose-threshold, fit-ensemble):
 * PyTorch threads and the shared score cache, so that the three read and write the same cached scores.
 */
public final class ScoringFlags {
    @Option(names = "--threads", defaultValue = "0", description = "PyTorch threads (default: all cores)")
    int threads;

    @Option(names = "--score-cache", defaultValue = "runs/.score-cache",
            description = "folder of cached scores per (model version and its file checksums, split digest, split);"
                    + " 'none' to always recompute (default: ${DEFAULT-VALUE})")
    String scoreCache;

    /** Sets the engine's threads; call before any model is loaded. */
    void configureThreads() {
        TrainerCli.configureThreads(threads);
    }

    /** The cache folder, or null for {@code none}. */
    Path scoreCache() {
        return "none".equalsIgnoreCase(scoreCache) ? null : Path.of(scoreCache);
    }
}
