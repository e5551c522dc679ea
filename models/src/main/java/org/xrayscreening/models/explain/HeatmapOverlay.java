package org.xrayscreening.models.explain;

import java.awt.image.BufferedImage;
import java.awt.image.Raster;

/**
 * The X-ray in gray with the heatmap in colour over it (blue-cyan-yellow-red, the usual "jet"), more opaque where
 * the heat is higher, so that cold regions show the plain image. One rendering for the stream job's stored overlays
 * and the evaluation report's heatmap gallery, so a radiologist and a reviewer see the same picture.
 */
public final class HeatmapOverlay {
    /** Opacity of the colour at heat 1. */
    public static final double MAX_ALPHA = 0.6;

    private HeatmapOverlay() {}

    /** The X-ray (any gray or RGB image; its first band is read as gray) with the map over it, same size. */
    public static BufferedImage render(BufferedImage xray, Heatmap heatmap) {
        int w = xray.getWidth();
        int h = xray.getHeight();
        if (heatmap.width() != w || heatmap.height() != h) {
            throw new IllegalArgumentException("heatmap " + heatmap.width() + "x" + heatmap.height()
                    + " does not match the image " + w + "x" + h);
        }
        Raster raster = xray.getRaster();
        double max = (1L << xray.getColorModel().getComponentSize(0)) - 1;
        BufferedImage out = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        int[] row = new int[w];
        int[] rgb = new int[w];
        for (int y = 0; y < h; y++) {
            raster.getSamples(0, y, w, 1, 0, row);
            for (int x = 0; x < w; x++) {
                double gray = row[x] / max * 255.0;
                double heat = heatmap.at(x, y);
                double alpha = MAX_ALPHA * heat;
                int colour = jet(heat);
                int r = blend(gray, (colour >> 16) & 0xff, alpha);
                int g = blend(gray, (colour >> 8) & 0xff, alpha);
                int b = blend(gray, colour & 0xff, alpha);
                rgb[x] = (r << 16) | (g << 8) | b;
            }
            out.setRGB(0, y, w, 1, rgb, 0, w);
        }
        return out;
    }

    private static int blend(double gray, int colour, double alpha) {
        return (int) Math.round(Math.max(0, Math.min(255, gray * (1 - alpha) + colour * alpha)));
    }

    /** The jet colour map: 0 blue, 0.35 cyan, 0.5 green, 0.65 yellow, 1 dark red. */
    public static int jet(double v) {
        double t = Math.max(0, Math.min(1, v));
        double r = clamp(1.5 - Math.abs(4 * t - 3));
        double g = clamp(1.5 - Math.abs(4 * t - 2));
        double b = clamp(1.5 - Math.abs(4 * t - 1));
        return ((int) Math.round(r * 255) << 16) | ((int) Math.round(g * 255) << 8) | (int) Math.round(b * 255);
    }

    private static double clamp(double v) {
        return Math.max(0, Math.min(1, v));
    }
}
