package org.xrayscreening.connectors.image;

import java.awt.image.BufferedImage;
import java.awt.image.DataBufferByte;
import java.util.Locale;

/**
 * The grayscale intensity pipeline of DICOM (PS3.3 C.11, PS3.4 N.2), from stored pixel values to the 8-bit
 * display values a model is trained on. The trainer and the stream job both decode through
 * {@link ImageDecoder}, so both see exactly these pixels:
 *
 * <ol>
 * <li><b>Stored values</b>: the bits of Bits Stored (below High Bit), as two's complement when Pixel
 * Representation is 1 ({@link #storedValue}).
 * <li><b>Modality LUT</b>: {@code m = stored * RescaleSlope + RescaleIntercept} (e.g. to Hounsfield or
 * optical density; a negative slope reverses the scale).
 * <li><b>VOI LUT</b>: the first Window Center / Width of the header with its VOI LUT Function ({@code LINEAR},
 * {@code LINEAR_EXACT}, {@code SIGMOID}), in modality units. When the header has no window: data of at most
 * 8 bits with an identity Modality LUT are already display values (as in a JPEG export) and are used as they
 * are; anything else gets a robust percentile window: the 0.5th and 99.5th percentiles of the modality values
 * map to black and white ({@link #LOW_PERCENTILE}, {@link #HIGH_PERCENTILE}).
 * <li><b>Presentation</b>: MONOCHROME1 (0 is white) is inverted, so that higher is brighter as in MONOCHROME2.
 * <li><b>Normalisation</b>: rounded to 8 bits, 0..255: the form of the training data (8-bit windowed JPEG/PNG
 * exports). The model's own input normalisation (e.g. x / 127.5 - 1) is applied later by the models'
 * {@code Preprocessor}, identically for every source.
 * </ol>
 * The maths is public and static so that it can be tested on its own.
 */
public final class DicomIntensity {

    /** Lower percentile of the window used when the header has none. */
    public static final double LOW_PERCENTILE = 0.005;
    /** Upper percentile of the window used when the header has none. */
    public static final double HIGH_PERCENTILE = 0.995;

    private DicomIntensity() {
    }

    /** The attributes of one monochrome image that the pipeline needs. */
    public record Params(int bitsStored, boolean signed, double rescaleSlope, double rescaleIntercept,
            double windowCenter, double windowWidth, String voiLutFunction, boolean monochrome1) {

        /** True if the header holds a usable window (a width below 1 is not: PS3.3 C.11.2.1.2). */
        public boolean hasWindow() {
            return Double.isFinite(windowCenter) && Double.isFinite(windowWidth)
                    && (windowWidth >= 1 || (windowWidth > 0 && isLinearExactOrSigmoid()));
        }

        private boolean isLinearExactOrSigmoid() {
            String f = function();
            return f.equals("LINEAR_EXACT") || f.equals("SIGMOID");
        }

        String function() {
            return voiLutFunction == null ? "" : voiLutFunction.trim().toUpperCase(Locale.ROOT);
        }

        boolean identityModality() {
            return rescaleSlope == 1.0 && rescaleIntercept == 0.0;
        }
    }

    /**
     * The value of a stored sample: bits {@code highBit-bitsStored+1 .. highBit} of {@code raw}, sign-extended
     * if {@code signed}.
     */
    public static int storedValue(int raw, int bitsStored, int highBit, boolean signed) {
        int shift = highBit - (bitsStored - 1);
        int v = shift > 0 ? raw >>> shift : raw;
        v &= bitsStored >= 32 ? -1 : (1 << bitsStored) - 1;
        if (signed && bitsStored < 32 && (v & (1 << (bitsStored - 1))) != 0) {
            v -= 1 << bitsStored;
        }
        return v;
    }

    /** Modality LUT (linear): {@code stored * slope + intercept}. */
    public static double modality(int stored, double slope, double intercept) {
        return stored * slope + intercept;
    }

    /**
     * VOI LUT function of PS3.3 C.11.2.1.2 with an output range of [0, 1]: {@code LINEAR} (the default, also
     * for an absent or unknown function), {@code LINEAR_EXACT} or {@code SIGMOID}.
     */
    public static double voi(double x, double center, double width, String function) {
        String f = function == null ? "" : function.trim().toUpperCase(Locale.ROOT);
        switch (f) {
            case "LINEAR_EXACT" -> {
                return clamp((x - center) / width + 0.5);
            }
            case "SIGMOID" -> {
                return 1.0 / (1.0 + Math.exp(-4.0 * (x - center) / width));
            }
            default -> {
                double lo = center - 0.5 - (width - 1) / 2;
                double hi = center - 0.5 + (width - 1) / 2;
                if (x <= lo) {
                    return 0.0;
                }
                if (x > hi) {
                    return 1.0;
                }
                return clamp((x - (center - 0.5)) / (width - 1) + 0.5);
            }
        }
    }

    /**
     * The window used when the header has none, as {@code {low, high}} modality values: the
     * {@link #LOW_PERCENTILE} and {@link #HIGH_PERCENTILE} percentiles of the modality values of
     * {@code stored} (falling back to the minimum and maximum if they coincide).
     */
    public static double[] percentileWindow(int[] stored, double slope, double intercept) {
        int min = Integer.MAX_VALUE;
        int max = Integer.MIN_VALUE;
        for (int v : stored) {
            min = Math.min(min, v);
            max = Math.max(max, v);
        }
        if (stored.length == 0) {
            return new double[] {0, 0};
        }
        long[] hist = new long[max - min + 1];
        for (int v : stored) {
            hist[v - min]++;
        }
        long n = stored.length;
        // percentiles of the stored values; the linear modality LUT keeps (or, slope < 0, reverses) their order
        int lowStored = quantile(hist, min, n, LOW_PERCENTILE, false);
        int highStored = quantile(hist, min, n, HIGH_PERCENTILE, true);
        if (highStored <= lowStored) {
            lowStored = min;
            highStored = max;
        }
        double a = modality(lowStored, slope, intercept);
        double b = modality(highStored, slope, intercept);
        return new double[] {Math.min(a, b), Math.max(a, b)};
    }

    /** The smallest value whose cumulative share reaches {@code q} ({@code upper}: from the top instead). */
    private static int quantile(long[] hist, int min, long n, double q, boolean upper) {
        long target = (long) Math.floor(n * (upper ? 1 - q : q));
        long seen = 0;
        if (!upper) {
            for (int i = 0; i < hist.length; i++) {
                seen += hist[i];
                if (seen > target) {
                    return min + i;
                }
            }
            return min + hist.length - 1;
        }
        for (int i = hist.length - 1; i >= 0; i--) {
            seen += hist[i];
            if (seen > target) {
                return min + i;
            }
        }
        return min;
    }

    /**
     * Display value in [0, 1] of every stored value between {@code minStored} and {@code maxStored}
     * (the whole pipeline but the final rounding), indexed by {@code stored - minStored}.
     */
    static double[] displayLut(Params p, int minStored, int maxStored, int[] storedForPercentiles) {
        double center;
        double width;
        String function;
        if (p.hasWindow()) {
            center = p.windowCenter();
            width = p.windowWidth();
            function = p.function();
        } else if (p.bitsStored() <= 8 && !p.signed() && p.identityModality()) {
            center = ((1 << p.bitsStored()) - 1) / 2.0;
            width = (1 << p.bitsStored()) - 1;
            function = "LINEAR_EXACT";
        } else {
            double[] lh = percentileWindow(storedForPercentiles, p.rescaleSlope(), p.rescaleIntercept());
            center = (lh[0] + lh[1]) / 2;
            width = lh[1] - lh[0];
            function = "LINEAR_EXACT";
        }
        double[] lut = new double[maxStored - minStored + 1];
        for (int i = 0; i < lut.length; i++) {
            double m = modality(minStored + i, p.rescaleSlope(), p.rescaleIntercept());
            double y = width > 0 ? voi(m, center, width, function) : 0.5;
            lut[i] = p.monochrome1() ? 1.0 - y : y;
        }
        return lut;
    }

    /**
     * The whole pipeline: stored values (already {@linkplain #storedValue extracted}) of a
     * {@code width x height} image to an 8-bit {@link BufferedImage#TYPE_BYTE_GRAY} image.
     */
    public static BufferedImage toGray8(int[] stored, int width, int height, Params p) {
        if (stored.length != width * height) {
            throw new IllegalArgumentException("expected " + width * height + " values, got " + stored.length);
        }
        int min = Integer.MAX_VALUE;
        int max = Integer.MIN_VALUE;
        for (int v : stored) {
            min = Math.min(min, v);
            max = Math.max(max, v);
        }
        BufferedImage out = new BufferedImage(width, height, BufferedImage.TYPE_BYTE_GRAY);
        if (stored.length == 0) {
            return out;
        }
        double[] lut = displayLut(p, min, max, stored);
        byte[] lut8 = new byte[lut.length];
        for (int i = 0; i < lut.length; i++) {
            lut8[i] = (byte) Math.round(clamp(lut[i]) * 255.0);
        }
        byte[] dst = ((DataBufferByte) out.getRaster().getDataBuffer()).getData();
        for (int i = 0; i < dst.length; i++) {
            dst[i] = lut8[stored[i] - min];
        }
        return out;
    }

    private static double clamp(double v) {
        return v < 0 ? 0 : (v > 1 ? 1 : v);
    }
}
