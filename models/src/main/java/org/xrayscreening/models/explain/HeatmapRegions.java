package org.xrayscreening.models.explain;

import java.awt.image.BufferedImage;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;

/**
 * Where a heatmap's evidence lies, as shares of its total mass (the sum of its values): inside a lung mask, in
 * the image's outer border band, in its four corners. A model that reads the lungs puts most of its mass inside
 * the lung fields; one that has learnt the hospital from burned-in text markers, collimation edges or corner
 * labels puts it in the border and corners, which lung tissue barely reaches on a frontal chest film.
 *
 * <p>Shares are taken on the map as it lies over the image (the preprocessing stretches the whole image to the
 * network's square input and the map stretches back the same way), so a band of 12.5% is 12.5% of the image's
 * width on the left and right and of its height at the top and bottom. A map without evidence (all zero) has no
 * mass to share: every share is NaN, and callers leave such maps out of their means.
 */
public final class HeatmapRegions {
    /** The border band and corner squares used in reports: the outer eighth of each side. */
    public static final double DEFAULT_BAND = 0.125;

    private HeatmapRegions() {}

    /** The share of the map's mass where {@code inside} is true; {@code inside} is row-major at the map's size. */
    public static double shareInside(Heatmap map, boolean[] inside) {
        if (inside.length != map.values().length) {
            throw new IllegalArgumentException("mask has " + inside.length + " pixels, the heatmap "
                    + map.width() + "x" + map.height());
        }
        double total = 0;
        double in = 0;
        float[] v = map.values();
        for (int i = 0; i < v.length; i++) {
            total += v[i];
            if (inside[i]) {
                in += v[i];
            }
        }
        return total > 0 ? in / total : Double.NaN;
    }

    /**
     * The share in the outer band: pixels within {@code band} (a fraction of the width, resp. height) of any
     * edge. For a uniform map it equals the band's area, {@code 1 - (1 - 2 band)^2} (0.4375 at 12.5%).
     */
    public static double borderShare(Heatmap map, double band) {
        return shareInside(map, border(map.width(), map.height(), band));
    }

    /**
     * The share in the four corner squares of side {@code band} (fraction of width and height): where text
     * markers (side letters, hospital names, dates) usually sit. Uniform map: {@code 4 band^2} (0.0625 at 12.5%).
     */
    public static double cornerShare(Heatmap map, double band) {
        return shareInside(map, corners(map.width(), map.height(), band));
    }

    /** Row-major: true in the outer band of {@code band} of each side. */
    public static boolean[] border(int width, int height, double band) {
        checkBand(band);
        int bx = edge(width, band);
        int by = edge(height, band);
        boolean[] out = new boolean[width * height];
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                out[y * width + x] = x < bx || x >= width - bx || y < by || y >= height - by;
            }
        }
        return out;
    }

    /** Row-major: true in the four corner squares of {@code band} of each side. */
    public static boolean[] corners(int width, int height, double band) {
        checkBand(band);
        int bx = edge(width, band);
        int by = edge(height, band);
        boolean[] out = new boolean[width * height];
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                out[y * width + x] = (x < bx || x >= width - bx) && (y < by || y >= height - by);
            }
        }
        return out;
    }

    /**
     * A binary mask image of any size brought to {@code width x height}: nearest neighbour (a mask stays binary;
     * stretched the way the preprocessing stretches the X-ray), inside where the first band is above half its
     * range, so 0/1, 0/255, 16-bit and palette masks all read the same.
     */
    public static boolean[] maskAt(BufferedImage mask, int width, int height) {
        if (width <= 0 || height <= 0) {
            throw new IllegalArgumentException("size must be positive: " + width + "x" + height);
        }
        Raster raster = mask.getRaster();
        // a palette image's samples are indices (TYPE_BYTE_BINARY's too): read the colour they stand for
        IndexColorModel palette = mask.getColorModel() instanceof IndexColorModel icm ? icm : null;
        double half = palette != null ? 127.5 : ((1L << raster.getSampleModel().getSampleSize(0)) - 1) / 2.0;
        int mw = mask.getWidth();
        int mh = mask.getHeight();
        boolean[] out = new boolean[width * height];
        for (int y = 0; y < height; y++) {
            int sy = Math.min(mh - 1, (int) ((y + 0.5) * mh / height));
            for (int x = 0; x < width; x++) {
                int sx = Math.min(mw - 1, (int) ((x + 0.5) * mw / width));
                int sample = raster.getSample(sx, sy, 0);
                double value = palette == null ? sample
                        : (palette.getRed(sample) + palette.getGreen(sample) + palette.getBlue(sample)) / 3.0;
                out[y * width + x] = value > half;
            }
        }
        return out;
    }

    private static int edge(int length, double band) {
        return (int) Math.round(length * band);
    }

    private static void checkBand(double band) {
        if (!(band > 0 && band < 0.5)) {
            throw new IllegalArgumentException("band must be in (0, 0.5): " + band);
        }
    }
}
