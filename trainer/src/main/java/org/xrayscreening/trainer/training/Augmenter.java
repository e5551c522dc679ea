package org.xrayscreening.trainer.training;

import java.util.Random;
import org.xrayscreening.models.preprocess.Normalization;

/**
 * Augmentation for frontal chest radiographs ({@code train --augment none|light|strong}), applied to an already
 * preprocessed CHW input (so the cache of decoded images is reused every epoch).
 *
 * <p>{@link Strength#LIGHT} (the default preset's): a random affine transform (rotation up to
 * {@link #MAX_ROTATION_DEG} degrees, shift up to {@link #MAX_SHIFT} of the side, zoom within
 * +-{@link #MAX_ZOOM}), bilinear, edges clamped; then brightness and contrast jitter (pixel' = a * pixel + b
 * on the 0..255 scale, a in 1 +- {@link #MAX_CONTRAST}, b within +-{@link #MAX_BRIGHTNESS}), done in the
 * pixel domain so it means the same for every normalization.
 *
 * <p>{@link Strength#STRONG} (against the source shortcut: archives differ in crop, exposure, film curve,
 * sharpness, JPEG history and burned-in text): the same transform with larger ranges (rotation
 * {@link #STRONG_ROTATION_DEG} degrees, shift {@link #STRONG_SHIFT}, zoom +-{@link #STRONG_ZOOM}, contrast
 * +-{@link #STRONG_CONTRAST}, brightness +-{@link #STRONG_BRIGHTNESS}), then, on the 0..255 scale, a gamma curve
 * (exponent log-uniform within [1/{@value #STRONG_GAMMA}, {@value #STRONG_GAMMA}]), with probability
 * {@value #BLUR_PROBABILITY} a Gaussian blur (sigma {@value #BLUR_MIN_SIGMA}-{@value #BLUR_MAX_SIGMA} of the
 * side), with probability {@value #NOISE_PROBABILITY} Gaussian noise (standard deviation up to
 * {@value #NOISE_MAX_STD} gray levels), and with probability {@value #ERASE_PROBABILITY} random erasing: one
 * rectangle of {@value #ERASE_MIN_AREA}-{@value #ERASE_MAX_AREA} of the image (aspect ratio log-uniform within
 * [1/3, 3]) filled with one random gray level, so a marker or caption in any place is sometimes hidden. Every
 * channel gets the same transform, noise and rectangle (gray inputs stay gray).
 *
 * <p>What both leave out, on purpose: horizontal flips (a flipped chest film shows dextrocardia and mirrored
 * L/R markers, which never occur at inference; laterality is real anatomy), vertical flips, large rotations and
 * elastic warps.
 */
public final class Augmenter {
    public static final double MAX_ROTATION_DEG = 7;
    public static final double MAX_SHIFT = 0.06;
    public static final double MAX_ZOOM = 0.08;
    public static final double MAX_CONTRAST = 0.12;
    public static final double MAX_BRIGHTNESS = 12;

    public static final double STRONG_ROTATION_DEG = 12;
    public static final double STRONG_SHIFT = 0.10;
    public static final double STRONG_ZOOM = 0.15;
    public static final double STRONG_CONTRAST = 0.25;
    public static final double STRONG_BRIGHTNESS = 20;
    public static final double STRONG_GAMMA = 1.4;
    public static final double BLUR_PROBABILITY = 0.3;
    public static final double BLUR_MIN_SIGMA = 0.003;
    public static final double BLUR_MAX_SIGMA = 0.010;
    public static final double NOISE_PROBABILITY = 0.5;
    public static final double NOISE_MAX_STD = 8;
    public static final double ERASE_PROBABILITY = 0.5;
    public static final double ERASE_MIN_AREA = 0.02;
    public static final double ERASE_MAX_AREA = 0.10;

    /** How much to augment. */
    public enum Strength {
        NONE("none"),
        LIGHT("light"),
        STRONG("strong");

        private final String id;

        Strength(String id) {
            this.id = id;
        }

        public String id() {
            return id;
        }

        public static Strength parse(String value) {
            String v = value.trim().toLowerCase(java.util.Locale.ROOT);
            for (Strength s : values()) {
                if (s.id.equals(v)) {
                    return s;
                }
            }
            throw new IllegalArgumentException("unknown augmentation '" + value + "'; expected none, light or strong");
        }
    }

    private static final float[] CAFFE_MEAN_BGR = {103.939f, 116.779f, 123.68f};

    private final Normalization normalization;
    private final int size;
    private final Strength strength;

    /** Light augmentation. */
    public Augmenter(Normalization normalization, int size) {
        this(normalization, size, Strength.LIGHT);
    }

    public Augmenter(Normalization normalization, int size, Strength strength) {
        this.normalization = normalization;
        this.size = size;
        this.strength = strength;
    }

    public Strength strength() {
        return strength;
    }

    /** A new augmented copy of {@code chw} (with {@link Strength#NONE}: {@code chw} itself); the input is not modified. */
    public float[] apply(float[] chw, Random random) {
        if (strength == Strength.NONE) {
            return chw;
        }
        boolean strong = strength == Strength.STRONG;
        int s = size;
        double angle = Math.toRadians((random.nextDouble() * 2 - 1) * (strong ? STRONG_ROTATION_DEG : MAX_ROTATION_DEG));
        double zoom = 1 + (random.nextDouble() * 2 - 1) * (strong ? STRONG_ZOOM : MAX_ZOOM);
        double tx = (random.nextDouble() * 2 - 1) * (strong ? STRONG_SHIFT : MAX_SHIFT) * s;
        double ty = (random.nextDouble() * 2 - 1) * (strong ? STRONG_SHIFT : MAX_SHIFT) * s;
        double contrast = 1 + (random.nextDouble() * 2 - 1) * (strong ? STRONG_CONTRAST : MAX_CONTRAST);
        double brightness = (random.nextDouble() * 2 - 1) * (strong ? STRONG_BRIGHTNESS : MAX_BRIGHTNESS);
        double cos = Math.cos(angle) / zoom;
        double sin = Math.sin(angle) / zoom;
        double c = (s - 1) / 2.0;
        float[] out = new float[chw.length];
        int plane = s * s;
        for (int y = 0; y < s; y++) {
            for (int x = 0; x < s; x++) {
                // inverse map: output pixel -> source position
                double dx = x - c - tx;
                double dy = y - c - ty;
                double sx = cos * dx + sin * dy + c;
                double sy = -sin * dx + cos * dy + c;
                sx = Math.min(s - 1, Math.max(0, sx));
                sy = Math.min(s - 1, Math.max(0, sy));
                int x0 = (int) sx;
                int y0 = (int) sy;
                int x1 = Math.min(s - 1, x0 + 1);
                int y1 = Math.min(s - 1, y0 + 1);
                float fx = (float) (sx - x0);
                float fy = (float) (sy - y0);
                for (int ch = 0; ch < 3; ch++) {
                    int o = ch * plane;
                    float a = chw[o + y0 * s + x0];
                    float b = chw[o + y0 * s + x1];
                    float d = chw[o + y1 * s + x0];
                    float e = chw[o + y1 * s + x1];
                    float top = a + fx * (b - a);
                    float bottom = d + fx * (e - d);
                    float v = top + fy * (bottom - top);
                    out[o + y * s + x] = jitter(v, ch, contrast, brightness);
                }
            }
        }
        if (strong) {
            degrade(out, random);
        }
        return out;
    }

    /** Strong augmentation's pixel-domain steps (gamma, blur, noise, erasing), in place, the same on every channel. */
    private void degrade(float[] out, Random random) {
        int s = size;
        int plane = s * s;
        double gamma = Math.exp((random.nextDouble() * 2 - 1) * Math.log(STRONG_GAMMA));
        double sigma = random.nextDouble() < BLUR_PROBABILITY
                ? s * (BLUR_MIN_SIGMA + random.nextDouble() * (BLUR_MAX_SIGMA - BLUR_MIN_SIGMA)) : 0;
        float[] noise = null;
        if (random.nextDouble() < NOISE_PROBABILITY) {
            double std = random.nextDouble() * NOISE_MAX_STD;
            noise = new float[plane];
            for (int i = 0; i < plane; i++) {
                noise[i] = (float) (random.nextGaussian() * std);
            }
        }
        int ex0 = 0;
        int ey0 = 0;
        int ex1 = 0;
        int ey1 = 0;
        double fill = 0;
        if (random.nextDouble() < ERASE_PROBABILITY) {
            double area = (ERASE_MIN_AREA + random.nextDouble() * (ERASE_MAX_AREA - ERASE_MIN_AREA)) * plane;
            double aspect = Math.exp((random.nextDouble() * 2 - 1) * Math.log(3));
            int w = (int) Math.max(1, Math.min(s, Math.round(Math.sqrt(area * aspect))));
            int h = (int) Math.max(1, Math.min(s, Math.round(Math.sqrt(area / aspect))));
            ex0 = random.nextInt(s - w + 1);
            ey0 = random.nextInt(s - h + 1);
            ex1 = ex0 + w;
            ey1 = ey0 + h;
            fill = random.nextDouble() * 255;
        }
        double[] pixels = new double[plane];
        for (int ch = 0; ch < 3; ch++) {
            int o = ch * plane;
            for (int i = 0; i < plane; i++) {
                double p = toPixel(out[o + i], ch) / 255.0;
                pixels[i] = 255.0 * Math.pow(Math.max(0, p), gamma);
            }
            if (sigma > 0) {
                gaussianBlur(pixels, s, sigma);
            }
            for (int y = 0; y < s; y++) {
                for (int x = 0; x < s; x++) {
                    int i = y * s + x;
                    double p = pixels[i] + (noise == null ? 0 : noise[i]);
                    if (x >= ex0 && x < ex1 && y >= ey0 && y < ey1) {
                        p = fill;
                    }
                    out[o + i] = fromPixel(clamp(p), ch);
                }
            }
        }
    }

    /** Separable Gaussian blur of a square plane, edges clamped. */
    static void gaussianBlur(double[] plane, int s, double sigma) {
        int radius = Math.max(1, (int) Math.ceil(3 * sigma));
        double[] kernel = new double[2 * radius + 1];
        double sum = 0;
        for (int k = -radius; k <= radius; k++) {
            kernel[k + radius] = Math.exp(-k * k / (2 * sigma * sigma));
            sum += kernel[k + radius];
        }
        for (int k = 0; k < kernel.length; k++) {
            kernel[k] /= sum;
        }
        double[] tmp = new double[plane.length];
        for (int y = 0; y < s; y++) {
            for (int x = 0; x < s; x++) {
                double v = 0;
                for (int k = -radius; k <= radius; k++) {
                    v += kernel[k + radius] * plane[y * s + Math.min(s - 1, Math.max(0, x + k))];
                }
                tmp[y * s + x] = v;
            }
        }
        for (int y = 0; y < s; y++) {
            for (int x = 0; x < s; x++) {
                double v = 0;
                for (int k = -radius; k <= radius; k++) {
                    v += kernel[k + radius] * tmp[Math.min(s - 1, Math.max(0, y + k)) * s + x];
                }
                plane[y * s + x] = v;
            }
        }
    }

    /** A normalized value back on the 0..255 pixel scale. */
    private double toPixel(float v, int ch) {
        return switch (normalization) {
            case MINUS_ONE_TO_ONE -> (v + 1) * 127.5;
            case ZERO_TO_ONE -> v * 255.0;
            case CAFFE -> v + CAFFE_MEAN_BGR[ch];
        };
    }

    private float fromPixel(double pixel, int ch) {
        return switch (normalization) {
            case MINUS_ONE_TO_ONE -> (float) (pixel / 127.5 - 1);
            case ZERO_TO_ONE -> (float) (pixel / 255.0);
            case CAFFE -> (float) (pixel - CAFFE_MEAN_BGR[ch]);
        };
    }

    private float jitter(float v, int ch, double contrast, double brightness) {
        double pixel;
        switch (normalization) {
            case MINUS_ONE_TO_ONE -> {
                pixel = (v + 1) * 127.5;
                pixel = clamp(contrast * (pixel - 127.5) + 127.5 + brightness);
                return (float) (pixel / 127.5 - 1);
            }
            case ZERO_TO_ONE -> {
                pixel = clamp(contrast * (v * 255.0 - 127.5) + 127.5 + brightness);
                return (float) (pixel / 255.0);
            }
            case CAFFE -> {
                pixel = v + CAFFE_MEAN_BGR[ch];
                pixel = clamp(contrast * (pixel - 127.5) + 127.5 + brightness);
                return (float) (pixel - CAFFE_MEAN_BGR[ch]);
            }
            default -> throw new IllegalStateException("unhandled normalization " + normalization);
        }
    }

    private static double clamp(double p) {
        return p < 0 ? 0 : p > 255 ? 255 : p;
    }
}
