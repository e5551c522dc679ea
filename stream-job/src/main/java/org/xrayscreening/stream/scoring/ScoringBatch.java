package org.xrayscreening.stream.scoring;

import java.io.Serializable;
import java.time.Duration;
import org.xrayscreening.models.inference.Precision;

/**
 * How a model operator groups studies into one forward pass: up to {@code maxStudies} studies, or whatever
 * arrived within {@code maxWait} of the first one, whichever comes first. One study per batch is unbatched
 * scoring. {@code intraOpThreads} is the number of PyTorch intra-op threads each model operator's thread
 * uses (0: PyTorch's default, one per core). {@code precision} is the number format the models score in (fp32
 * by default: bf16 failed the accuracy bar, docs/benchmarks.md "bf16"); heatmaps are always made in fp32.
 */
public record ScoringBatch(int maxStudies, Duration maxWait, int intraOpThreads, Precision precision)
        implements Serializable {

    /** Scoring in fp32. */
    public ScoringBatch(int maxStudies, Duration maxWait, int intraOpThreads) {
        this(maxStudies, maxWait, intraOpThreads, Precision.FP32);
    }

    // Unbatched, PyTorch's thread default: today's behaviour, until scripts/batching-benchmark.sh has been run on
    // a machine quiet enough to choose by (docs/benchmarks.md, "Micro-batching and threads ...": the only runs
    // so far were on a machine at load average 25-70, and one with batches of 4 was killed for memory).
    public static final int DEFAULT_MAX_STUDIES = 1;
    public static final long DEFAULT_MAX_WAIT_MS = 100;
    public static final int DEFAULT_INTRA_OP_THREADS = 0;
    public static final ScoringBatch DEFAULT = new ScoringBatch(DEFAULT_MAX_STUDIES,
            Duration.ofMillis(DEFAULT_MAX_WAIT_MS), DEFAULT_INTRA_OP_THREADS);

    public ScoringBatch {
        if (maxStudies < 1) {
            throw new IllegalArgumentException("batch size must be at least 1, got " + maxStudies);
        }
        if (maxWait == null || maxWait.isNegative()) {
            throw new IllegalArgumentException("batch wait must be zero or positive, got " + maxWait);
        }
        java.util.Objects.requireNonNull(precision, "precision");
        if (intraOpThreads < 0) {
            throw new IllegalArgumentException("intra-op threads must be 0 (PyTorch default) or more, got "
                    + intraOpThreads);
        }
    }

    /** Whether studies are scored one at a time as they arrive. */
    public boolean unbatched() {
        return maxStudies == 1 || maxWait.isZero();
    }
}
