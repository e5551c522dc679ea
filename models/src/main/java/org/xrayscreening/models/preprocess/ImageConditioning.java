package org.xrayscreening.models.preprocess;

import java.util.Arrays;

/**
 * The conditioning steps of {@link PreprocessingOptions} on a gray plane (row-major floats on a 0..255 scale), in
 * the documented order. Pure functions of their input: deterministic and safe from any thread.
 */
final class ImageConditioning {
    /** The background is this quantile of the unmasked pixels: the air outside the body, robust to dead pixels. */
    static final double BACKGROUND_QUANTILE = 0.01;

    private ImageConditioning() {}

    /** Applies {@code options} to {@code plane} in place, in the order documented on {@link PreprocessingOptions}. */
    static void apply(float[] plane, int width, int height, PreprocessingOptions options) {
        if (options.maskText()) {
            BurnedInTextMask.remove(plane, width, height);
        }
        boolean[] border = options.maskBorder() > 0 ? borderMask(width, height, options.maskBorder()) : null;
        if (border != null) {
            fill(plane, border, percentile(plane, border, BACKGROUND_QUANTILE));
        }
        switch (options.intensity()) {
            case NONE -> { }
            case EQUALIZE -> HistogramEqualization.equalize(plane);
            case CLAHE -> HistogramEqualization.clahe(plane, width, height, options.claheClipLimit(),
                    options.claheTileGrid());
            default -> throw new IllegalStateException("unhandled intensity method " + options.intensity());
        }
        if (border != null && options.intensity() != IntensityMethod.NONE) {
            fill(plane, border, percentile(plane, border, BACKGROUND_QUANTILE));
        }
    }

    /** {@code round(fraction * width)} columns on the left and on the right, {@code round(fraction * height)} rows on top and bottom. */
    static boolean[] borderMask(int width, int height, double fraction) {
        int bx = (int) Math.round(fraction * width);
        int by = (int) Math.round(fraction * height);
        boolean[] mask = new boolean[width * height];
        for (int y = 0; y < height; y++) {
            boolean row = y < by || y >= height - by;
            for (int x = 0; x < width; x++) {
                mask[y * width + x] = row || x < bx || x >= width - bx;
            }
        }
        return mask;
    }

    private static void fill(float[] plane, boolean[] mask, float value) {
        for (int i = 0; i < plane.length; i++) {
            if (mask[i]) {
                plane[i] = value;
            }
        }
    }

    /**
     * The exact {@code q} quantile (the value of rank {@code floor(q * (count - 1))}) of the pixels not in
     * {@code mask} (all pixels if mask is null), found through a 256-bin histogram and one small sort. If every
     * pixel is masked, of all pixels.
     */
    static float percentile(float[] plane, boolean[] mask, double q) {
        int[] hist = new int[HistogramEqualization.BINS];
        int count = 0;
        for (int i = 0; i < plane.length; i++) {
            if (mask == null || !mask[i]) {
                hist[bin(plane[i])]++;
                count++;
            }
        }
        if (count == 0) {
            return percentile(plane, null, q);
        }
        int rank = (int) Math.floor(q * (count - 1));
        int b = 0;
        int below = 0;
        while (below + hist[b] <= rank) {
            below += hist[b];
            b++;
        }
        float[] inBin = new float[hist[b]];
        int j = 0;
        for (int i = 0; i < plane.length; i++) {
            if ((mask == null || !mask[i]) && bin(plane[i]) == b) {
                inBin[j++] = plane[i];
            }
        }
        Arrays.sort(inBin);
        return inBin[rank - below];
    }

    private static int bin(float v) {
        int b = (int) Math.floor(v);
        return b < 0 ? 0 : Math.min(b, HistogramEqualization.BINS - 1);
    }
}
