package org.xrayscreening.worklist;

import java.awt.image.BufferedImage;
import java.awt.image.DataBufferUShort;
import java.awt.image.Raster;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.LinkedHashMap;
import java.util.Map;
import javax.imageio.ImageIO;
import org.xrayscreening.connectors.event.ImageReference;
import org.xrayscreening.connectors.event.InvalidEventException;
import org.xrayscreening.connectors.image.CanonicalImage;
import org.xrayscreening.connectors.image.ImageDecoder;
import org.xrayscreening.connectors.image.ImageLoader;

/**
 * The pixels the study page draws, all read through the project's allow-listed claim-check {@link ImageLoader}
 * (the same rules as the stream job: only configured file roots and URL prefixes):
 * <ul>
 * <li>the X-ray as 16-bit gray samples (longer side at most {@link #MAX_SIDE}), so the page can window/level it
 * on a canvas without the 8-bit rounding a PNG would impose;
 * <li>the heatmap as a transparent colour PNG made from the raw map the stream job stores beside the overlay
 * ({@code *.map.png}, 16-bit, heat x 65535): the page lays it over the X-ray at the opacity the user picks.
 * </ul>
 * A few recent results are cached (a radiologist switches back and forth between studies).
 */
public final class StudyImages {
    public static final int MAX_SIDE = 1024;
    private static final String OVERLAY_SUFFIX = ".overlay.png";
    private static final String MAP_SUFFIX = ".map.png";

    /** 16-bit gray samples, row by row, little-endian. */
    public record Pixels(int width, int height, byte[] littleEndianSamples) {
    }

    private final ImageLoader loader;
    private final ImageDecoder decoder;
    private final Map<String, Object> cache = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Object> eldest) {
            return size() > 16;
        }
    };

    public StudyImages(ImageLoader loader) {
        this.loader = loader;
        this.decoder = new ImageDecoder(loader.limits());
    }

    /** Where a study's image reference comes from (read only when the pixels are not cached). */
    @FunctionalInterface
    public interface ReferenceSource {
        ImageReference get() throws WorklistException;
    }

    public Pixels xray(String cacheKey, ReferenceSource source) throws WorklistException {
        Object cached = cached("x|" + cacheKey);
        if (cached instanceof Pixels p) {
            return p;
        }
        ImageReference ref = source.get();
        BufferedImage image;
        try {
            image = decoder.decode(loader.load(ref), ref.contentType());
        } catch (InvalidEventException e) {
            throw new WorklistException(502, "The X-ray could not be read: " + e.reason() + " (" + e.detail() + ").");
        }
        Pixels p = pixels(toGray16(image, MAX_SIDE));
        remember("x|" + cacheKey, p);
        return p;
    }

    /** The colour heatmap PNG for an alert's {@code heatmapUri} (the overlay's URI; the raw map lies beside it). */
    public byte[] heatmap(String overlayUri) throws WorklistException {
        Object cached = cached("h|" + overlayUri);
        if (cached instanceof byte[] b) {
            return b;
        }
        if (!overlayUri.endsWith(OVERLAY_SUFFIX)) {
            throw new WorklistException(502, "The heatmap reference is not an overlay of the heatmap store.");
        }
        String mapUri = overlayUri.substring(0, overlayUri.length() - OVERLAY_SUFFIX.length()) + MAP_SUFFIX;
        BufferedImage map;
        try {
            map = decoder.decode(loader.load(ImageReference.at(ImageReference.PNG, mapUri)), ImageReference.PNG);
        } catch (InvalidEventException e) {
            throw new WorklistException(502, "The heatmap could not be read: " + e.reason() + " (" + e.detail() + ").");
        }
        byte[] png = colour(map);
        remember("h|" + overlayUri, png);
        return png;
    }

    private synchronized Object cached(String key) {
        return cache.get(key);
    }

    private synchronized void remember(String key, Object value) {
        cache.put(key, value);
    }

    static Pixels pixels(BufferedImage gray16) {
        short[] samples = ((DataBufferUShort) gray16.getRaster().getDataBuffer()).getData();
        ByteBuffer out = ByteBuffer.allocate(samples.length * 2).order(ByteOrder.LITTLE_ENDIAN);
        out.asShortBuffer().put(samples);
        return new Pixels(gray16.getWidth(), gray16.getHeight(), out.array());
    }

    /**
     * Any decoded image as 16-bit gray, longer side at most {@code maxSide}: the stream job's own canonical form,
     * so the radiologist sees the pixels the models scored.
     */
    static BufferedImage toGray16(BufferedImage source, int maxSide) {
        return CanonicalImage.toGray16(source, maxSide);
    }

    /**
     * The raw map in the usual "jet" colours, transparent where cold: alpha grows with heat, so the X-ray stays
     * visible outside the regions the models looked at. The page's opacity slider scales it further.
     */
    static byte[] colour(BufferedImage map) throws WorklistException {
        int w = map.getWidth();
        int h = map.getHeight();
        int bits = map.getColorModel().getComponentSize(0);
        double max = (1L << bits) - 1;
        BufferedImage out = new BufferedImage(w, h, BufferedImage.TYPE_INT_ARGB);
        Raster raster = map.getRaster();
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                double heat = raster.getSample(x, y, 0) / max;
                out.setRGB(x, y, argb(heat));
            }
        }
        try {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            ImageIO.write(out, "png", bytes);
            return bytes.toByteArray();
        } catch (IOException e) {
            throw new WorklistException(500, "The heatmap could not be rendered.");
        }
    }

    static int argb(double heat) {
        double t = Math.max(0, Math.min(1, heat));
        double r = clamp(1.5 - Math.abs(4 * t - 3));
        double g = clamp(1.5 - Math.abs(4 * t - 2));
        double b = clamp(1.5 - Math.abs(4 * t - 1));
        double a = clamp((t - 0.1) / 0.5); // cold regions fully transparent, from 0.6 on fully opaque
        return ((int) Math.round(a * 255) << 24) | ((int) Math.round(r * 255) << 16)
                | ((int) Math.round(g * 255) << 8) | (int) Math.round(b * 255);
    }

    private static double clamp(double v) {
        return Math.max(0, Math.min(1, v));
    }
}
