package org.xrayscreening.trainer.training;

import java.time.Instant;
import java.util.List;

/**
 * {@code run.json}: what a run was started with and on which data (written once, when the run starts).
 *
 * @param datasetDigest {@link org.xrayscreening.trainer.dataset.DatasetSplit#digest()} of the split used
 * @param skipped images that could not be read or decoded (name: reason)
 */
public record RunInfo(TrainOptions options, Instant createdAt, String datasetOrigin, String datasetDigest,
        String splitSummary, List<String> skipped) {}
