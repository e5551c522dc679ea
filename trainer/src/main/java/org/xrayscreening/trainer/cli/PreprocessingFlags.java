package org.xrayscreening.trainer.cli;

import org.xrayscreening.models.preprocess.IntensityMethod;
import org.xrayscreening.models.preprocess.PreprocessingOptions;
import picocli.CommandLine.Option;

/**
 * {@code train}'s image conditioning flags (masks, intensity equalisation). They become part of the model: the
 * published metadata records them, and evaluation and the stream job apply the same steps.
 */
public final class PreprocessingFlags {
    @Option(names = "--intensity", paramLabel = "METHOD", defaultValue = "none",
            description = "intensity normalisation before resizing: none, equalize (global histogram equalisation)"
                    + " or clahe (default: ${DEFAULT-VALUE})")
    String intensity;

    @Option(names = "--clahe-clip", paramLabel = "LIMIT", defaultValue = "2.0",
            description = "CLAHE clip limit, OpenCV's clipLimit (default: ${DEFAULT-VALUE})")
    double claheClip;

    @Option(names = "--clahe-tiles", paramLabel = "N", defaultValue = "8",
            description = "CLAHE tile grid, N x N tiles (default: ${DEFAULT-VALUE})")
    int claheTiles;

    @Option(names = "--mask-border", paramLabel = "FRACTION", defaultValue = "0",
            description = "set this fraction of each side (e.g. 0.05) to the image's background (default: ${DEFAULT-VALUE})")
    double maskBorder;

    @Option(names = "--mask-text",
            description = "detect bright, thin burned-in text and markers (\"L\", \"R\", annotations) near the edges"
                    + " and replace them by their surroundings")
    boolean maskText;

    /** The options, or an IllegalArgumentException saying which flag is wrong. */
    public PreprocessingOptions options() {
        return new PreprocessingOptions(IntensityMethod.fromId(intensity), claheClip, claheTiles, maskBorder, maskText);
    }
}
