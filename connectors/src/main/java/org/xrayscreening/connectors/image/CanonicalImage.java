package org.xrayscreening.connectors.image;

import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.awt.image.DataBufferUShort;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;

/**
 * Turns any decoded image into the job's canonical form: 16-bit grayscale, longer side at most
 * {@code maxSide}. Colour images (some gateways export RGB) are reduced to luminance, since a radiograph has
 * one channel of information. The stream job feeds this to the models and the worklist shows the same pixels.
 */
public final class CanonicalImage {
    private CanonicalImage() {}

    public static BufferedImage toGray16(BufferedImage source, int maxSide) {
        BufferedImage gray = toGray16(source);
        int w = gray.getWidth();
        int h = gray.getHeight();
        int longer = Math.max(w, h);
        if (longer <= maxSide) {
            return gray;
        }
        double scale = (double) maxSide / longer;
        int nw = Math.max(1, (int) Math.round(w * scale));
        int nh = Math.max(1, (int) Math.round(h * scale));
        BufferedImage resized = new BufferedImage(nw, nh, BufferedImage.TYPE_USHORT_GRAY);
        Graphics2D g = resized.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BILINEAR);
            g.drawImage(gray, 0, 0, nw, nh, null);
        } finally {
            g.dispose();
        }
        return resized;
    }

    private static BufferedImage toGray16(BufferedImage source) {
        if (source.getType() == BufferedImage.TYPE_USHORT_GRAY) {
            return source;
        }
        if (source.getColorModel() instanceof IndexColorModel icm) {
            // palette and 1/2/4-bit PNGs: the raster holds palette indices, not intensities (a 1-bit image
            // would come out black and near-black, a reordered palette scrambled)
            source = icm.convertToIntDiscrete(source.getRaster(), false);
        }
        int w = source.getWidth();
        int h = source.getHeight();
        BufferedImage out = new BufferedImage(w, h, BufferedImage.TYPE_USHORT_GRAY);
        short[] dst = ((DataBufferUShort) out.getRaster().getDataBuffer()).getData();
        Raster raster = source.getRaster();
        int bands = raster.getNumBands();
        int bits = source.getColorModel().getComponentSize(0);
        double max = (1L << bits) - 1;
        int[] row = new int[w * bands];
        for (int y = 0; y < h; y++) {
            raster.getPixels(0, y, w, 1, row);
            for (int x = 0; x < w; x++) {
                double v;
                if (bands >= 3) {
                    int base = x * bands;
                    v = 0.299 * row[base] + 0.587 * row[base + 1] + 0.114 * row[base + 2];
                } else {
                    v = row[x * bands];
                }
                dst[y * w + x] = (short) Math.round(Math.min(1.0, v / max) * 65535.0);
            }
        }
        return out;
    }

    public static short[] pixels(BufferedImage gray16) {
        return ((DataBufferUShort) gray16.getRaster().getDataBuffer()).getData();
    }

    /** Rebuilds a BufferedImage from the shipped pixels (a copy: the operator may reuse its input). */
    public static BufferedImage fromPixels(int width, int height, short[] pixels) {
        if (width <= 0 || height <= 0 || pixels == null || pixels.length != (long) width * height) {
            throw new IllegalArgumentException("pixel buffer does not match " + width + "x" + height);
        }
        BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_USHORT_GRAY);
        short[] dst = ((DataBufferUShort) image.getRaster().getDataBuffer()).getData();
        System.arraycopy(pixels, 0, dst, 0, pixels.length);
        return image;
    }
}
