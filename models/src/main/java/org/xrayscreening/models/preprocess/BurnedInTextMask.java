package org.xrayscreening.models.preprocess;

/**
 * Finds burned-in text near the edges of an X-ray: side markers ("L", "R"), technologist annotations, dates.
 * Such marks differ by hospital and by device, so a network can learn the hospital from them instead of the lungs.
 *
 * <p>The detector, in three rules a reader can check on a picture (S = the shorter side of the image):
 * <ol>
 *   <li><b>thin</b>: a white top-hat (the image minus its morphological opening with a square of side
 *       {@value #STROKE_FRACTION} x S, at least 5 px) keeps only bright structures narrower than that square;
 *       ribs, clavicles, the spine, the heart and the body outline are mostly wider and vanish from it;</li>
 *   <li><b>high contrast</b>: the top-hat is at least {@value #CONTRAST} of the image's range (1st percentile to
 *       maximum) and the pixel itself lies in the top {@code 1 - }{@value #BRIGHTNESS} of that range: lung
 *       vessels and film noise are thin too, but far fainter;</li>
 *   <li><b>near the edges</b>: only the outer {@value #EDGE_BAND} of each side is searched, where markers and
 *       annotations are placed; the lung fields are never touched by this mask.</li>
 * </ol>
 * The marks found are grown by {@value #HALO} x S (at least 1 px) to cover their anti-aliased rims, and
 * {@link #remove} replaces them by the morphological opening there: the image as it looks with every structure
 * thinner than the square taken out, i.e. the local surroundings of the mark. (Filling with one background value
 * instead would punch dark holes, a new artefact a network could learn from.)
 *
 * <p>Limits (by design, measure before relying on it): text in the middle of the image is not found; text that
 * is dark on a bright label, or written on a bright region (a shoulder, a white label box) so that it barely
 * stands out, is not found; a white label box wider than the square is not removed (the border mask covers
 * many); thin, very bright medical devices near the edges (wires, ECG leads, clips) are masked like text, and so
 * are the sharp lateral rib edges of high-contrast (e.g. paediatric) images where they are thin and bright enough.
 * It works on one image, with fixed thresholds: deterministic, no learning.
 */
final class BurnedInTextMask {
    static final double STROKE_FRACTION = 0.025;
    static final double CONTRAST = 0.3;
    static final double BRIGHTNESS = 0.7;
    static final double EDGE_BAND = 0.2;
    static final double HALO = 0.005;
    private static final int MIN_SQUARE = 5;

    private BurnedInTextMask() {}

    /**
     * Detects burned-in text in a row-major gray plane (0..255 scale) and replaces it, in place, by its
     * surroundings (the opening). Returns the mask (true = replaced).
     */
    static boolean[] remove(float[] plane, int width, int height) {
        float[][] opened = new float[1][];
        boolean[] mask = detect(plane, width, height, opened);
        for (int i = 0; i < plane.length; i++) {
            if (mask[i]) {
                plane[i] = opened[0][i];
            }
        }
        return mask;
    }

    /** The mask of burned-in text (true = text) of a row-major gray plane on a 0..255 scale. */
    static boolean[] detect(float[] plane, int width, int height) {
        return detect(plane, width, height, new float[1][]);
    }

    private static boolean[] detect(float[] plane, int width, int height, float[][] openedOut) {
        int n = plane.length;
        boolean[] mask = new boolean[n];
        int shorter = Math.min(width, height);
        int square = Math.max(MIN_SQUARE, (int) Math.round(STROKE_FRACTION * shorter)) | 1;
        float low = ImageConditioning.percentile(plane, null, 0.01);
        float high = Float.NEGATIVE_INFINITY;
        for (float v : plane) {
            high = Math.max(high, v);
        }
        float range = high - low;
        if (!(range > 0) || square >= shorter) {
            return mask;
        }
        float[] opened = filter2d(filter2d(plane, width, height, square, false), width, height, square, true);
        openedOut[0] = opened;
        float minContrast = (float) (CONTRAST * range);
        float minValue = (float) (low + BRIGHTNESS * range);
        int bandX = (int) Math.round(EDGE_BAND * width);
        int bandY = (int) Math.round(EDGE_BAND * height);
        boolean any = false;
        for (int y = 0; y < height; y++) {
            boolean rowInBand = y < bandY || y >= height - bandY;
            for (int x = 0; x < width; x++) {
                if (!rowInBand && x >= bandX && x < width - bandX) {
                    continue;
                }
                int i = y * width + x;
                if (plane[i] >= minValue && plane[i] - opened[i] >= minContrast) {
                    mask[i] = true;
                    any = true;
                }
            }
        }
        if (!any) {
            return mask;
        }
        int halo = 2 * Math.max(1, (int) Math.round(HALO * shorter)) + 1;
        float[] marks = new float[n];
        for (int i = 0; i < n; i++) {
            marks[i] = mask[i] ? 1f : 0f;
        }
        float[] grown = filter2d(marks, width, height, halo, true);
        for (int i = 0; i < n; i++) {
            mask[i] = grown[i] > 0f;
        }
        return mask;
    }

    /** Square min ({@code max = false}) or max filter of odd side {@code k}; outside the image does not count. */
    static float[] filter2d(float[] src, int width, int height, int k, boolean max) {
        int r = k / 2;
        int longest = Math.max(width, height) + 2 * r;
        float[] line = new float[Math.max(width, height)];
        float[] result = new float[Math.max(width, height)];
        float[] padded = new float[longest];
        float[] forward = new float[longest];
        float[] backward = new float[longest];
        float[] rows = new float[src.length];
        for (int y = 0; y < height; y++) {
            System.arraycopy(src, y * width, line, 0, width);
            filter1d(line, result, width, k, max, padded, forward, backward);
            System.arraycopy(result, 0, rows, y * width, width);
        }
        float[] out = new float[src.length];
        for (int x = 0; x < width; x++) {
            for (int y = 0; y < height; y++) {
                line[y] = rows[y * width + x];
            }
            filter1d(line, result, height, k, max, padded, forward, backward);
            for (int y = 0; y < height; y++) {
                out[y * width + x] = result[y];
            }
        }
        return out;
    }

    /**
     * Running min/max over a window of odd length {@code k} centred on each sample, in O(n) whatever k (van
     * Herk / Gil-Werman: block-wise prefix and suffix extremes; the window meets at most two blocks).
     */
    private static void filter1d(float[] src, float[] dst, int n, int k, boolean max, float[] padded,
                                 float[] forward, float[] backward) {
        int r = k / 2;
        int m = n + 2 * r;
        float outside = max ? Float.NEGATIVE_INFINITY : Float.POSITIVE_INFINITY;
        for (int i = 0; i < m; i++) {
            padded[i] = i < r || i >= r + n ? outside : src[i - r];
        }
        for (int i = 0; i < m; i++) {
            forward[i] = i % k == 0 ? padded[i] : pick(forward[i - 1], padded[i], max);
        }
        for (int i = m - 1; i >= 0; i--) {
            backward[i] = i == m - 1 || (i + 1) % k == 0 ? padded[i] : pick(backward[i + 1], padded[i], max);
        }
        for (int i = 0; i < n; i++) {
            dst[i] = pick(backward[i], forward[i + k - 1], max);
        }
    }

    private static float pick(float a, float b, boolean max) {
        return max ? Math.max(a, b) : Math.min(a, b);
    }
}
