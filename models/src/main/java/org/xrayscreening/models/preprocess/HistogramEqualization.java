package org.xrayscreening.models.preprocess;

/**
 * Global histogram equalisation and CLAHE on a gray plane (row-major floats on a 0..255 scale), following
 * OpenCV's {@code equalizeHist} and {@code CLAHE} for 8-bit images: 256 bins (a value falls in bin
 * {@code floor(v)}), the same clip and redistribution rule, the same bilinear blend between tile mappings.
 * Results are floats, not rounded to 8 bits; deeper images are binned to 256 levels too. Checked against
 * OpenCV 4.6.0 ({@code OpenCvAgreementTest}): equalisation identical, CLAHE within one gray level after rounding.
 *
 * <p>Written here because no maintained pure-Java library on Maven Central offers CLAHE with OpenCV's
 * parameters: OpenCV's Java bindings ship native libraries (the class-loader trouble DJL already has in Flink),
 * BoofCV has global and local equalisation without a clip limit, ImageJ's CLAHE is a GPL Fiji plugin outside
 * Maven Central.
 */
final class HistogramEqualization {
    static final int BINS = 256;

    private HistogramEqualization() {}

    private static int bin(float v) {
        int b = (int) Math.floor(v);
        return b < 0 ? 0 : Math.min(b, BINS - 1);
    }

    /**
     * OpenCV's {@code equalizeHist}: the lowest occupied level maps to 0, the highest to 255, each level in
     * between to its share of the cumulative count. A plane with one level only is returned unchanged.
     */
    static void equalize(float[] plane) {
        int[] hist = new int[BINS];
        for (float v : plane) {
            hist[bin(v)]++;
        }
        int first = 0;
        while (first < BINS - 1 && hist[first] == 0) {
            first++;
        }
        if (hist[first] == plane.length) {
            return;
        }
        float scale = (BINS - 1f) / (plane.length - hist[first]);
        float[] lut = new float[BINS];
        long sum = 0;
        for (int i = first + 1; i < BINS; i++) {
            sum += hist[i];
            lut[i] = sum * scale;
        }
        for (int i = 0; i < plane.length; i++) {
            plane[i] = lut[bin(plane[i])];
        }
    }

    /**
     * OpenCV's CLAHE. The plane is virtually padded to a multiple of the grid by mirroring (OpenCV's
     * BORDER_REFLECT_101), so all tiles have the same area and a uniform plane stays exactly uniform.
     *
     * @param clipLimit multiples of a tile's mean bin count above which a bin is clipped and its excess
     *     spread over all bins
     * @param grid tiles per side (reduced to the plane's side if that is smaller)
     */
    static void clahe(float[] plane, int width, int height, double clipLimit, int grid) {
        int tilesX = Math.min(grid, width);
        int tilesY = Math.min(grid, height);
        int tileW = (width + tilesX - 1) / tilesX;
        int tileH = (height + tilesY - 1) / tilesY;
        int area = tileW * tileH;
        int limit = Math.max(1, (int) (clipLimit * area / BINS));
        float lutScale = (BINS - 1f) / area;
        float[][] luts = new float[tilesX * tilesY][];
        int[] hist = new int[BINS];
        for (int ty = 0; ty < tilesY; ty++) {
            for (int tx = 0; tx < tilesX; tx++) {
                java.util.Arrays.fill(hist, 0);
                for (int y = ty * tileH; y < (ty + 1) * tileH; y++) {
                    int row = reflect101(y, height) * width;
                    for (int x = tx * tileW; x < (tx + 1) * tileW; x++) {
                        hist[bin(plane[row + reflect101(x, width)])]++;
                    }
                }
                clip(hist, limit);
                float[] lut = new float[BINS];
                long sum = 0;
                for (int i = 0; i < BINS; i++) {
                    sum += hist[i];
                    lut[i] = Math.min(BINS - 1f, sum * lutScale);
                }
                luts[ty * tilesX + tx] = lut;
            }
        }
        float[] out = new float[plane.length];
        float invTw = 1f / tileW;
        float invTh = 1f / tileH;
        for (int y = 0; y < height; y++) {
            float tyf = y * invTh - 0.5f;
            int ty1 = (int) Math.floor(tyf);
            float ya = tyf - ty1;
            int ty2 = Math.min(ty1 + 1, tilesY - 1);
            ty1 = Math.max(ty1, 0);
            for (int x = 0; x < width; x++) {
                float txf = x * invTw - 0.5f;
                int tx1 = (int) Math.floor(txf);
                float xa = txf - tx1;
                int tx2 = Math.min(tx1 + 1, tilesX - 1);
                tx1 = Math.max(tx1, 0);
                int b = bin(plane[y * width + x]);
                float a00 = luts[ty1 * tilesX + tx1][b];
                float a01 = luts[ty1 * tilesX + tx2][b];
                float a10 = luts[ty2 * tilesX + tx1][b];
                float a11 = luts[ty2 * tilesX + tx2][b];
                // a + f * (b - a): equal mappings give exactly that value (a uniform plane stays uniform)
                float top = a00 + xa * (a01 - a00);
                float bottom = a10 + xa * (a11 - a10);
                out[y * width + x] = top + ya * (bottom - top);
            }
        }
        System.arraycopy(out, 0, plane, 0, plane.length);
    }

    /** OpenCV's clip: excess above the limit spread evenly, the remainder one by one at a regular step. */
    private static void clip(int[] hist, int limit) {
        int clipped = 0;
        for (int i = 0; i < BINS; i++) {
            if (hist[i] > limit) {
                clipped += hist[i] - limit;
                hist[i] = limit;
            }
        }
        int batch = clipped / BINS;
        int residual = clipped - batch * BINS;
        for (int i = 0; i < BINS; i++) {
            hist[i] += batch;
        }
        if (residual != 0) {
            int step = Math.max(BINS / residual, 1);
            for (int i = 0; i < BINS && residual > 0; i += step, residual--) {
                hist[i]++;
            }
        }
    }

    /** Mirror index without repeating the edge sample (…, 2, 1, 0, 1, 2, …, n-2, n-1, n-2, …). */
    static int reflect101(int i, int n) {
        if (n == 1) {
            return 0;
        }
        int period = 2 * (n - 1);
        int m = Math.floorMod(i, period);
        return m < n ? m : period - m;
    }
}
