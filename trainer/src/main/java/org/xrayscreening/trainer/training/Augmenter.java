package org.xrayscreening.trainer.training;

import java.util.Random;
import org.xrayscreening.models.preprocess.Normalization;

/**
 * Light augmentation for frontal chest radiographs, applied to an already preprocessed CHW input (so the
 * cache of decoded images is reused every epoch): a random affine transform (rotation up to
 * {@link #MAX_ROTATION_DEG} degrees, shift up to {@link #MAX_SHIFT} of the side, zoom within
 * +-{@link #MAX_ZOOM}), bilinear, edges clamped; then brightness and contrast jitter (pixel' = a * pixel + b
 * on the 0..255 scale, a in 1 +- {@link #MAX_CONTRAST}, b within +-{@link #MAX_BRIGHTNESS}), done in the
 * pixel domain so it means the same for both normalizations.
 *
 * <p>What it leaves out, on purpose: horizontal flips (a flipped chest film shows dextrocardia and mirrored
 * L/R markers, which never occur at inference; laterality is real anatomy), vertical flips, large rotations,
 * elastic warps and noise injection strong enough to hide the fine ground-glass texture the classifier
 * should learn.
 */
public final class Augmenter {
    public static final double MAX_ROTATION_DEG = 7;
    public static final double MAX_SHIFT = 0.06;
    public static final double MAX_ZOOM = 0.08;
    public static final double MAX_CONTRAST = 0.12;
    public static final double MAX_BRIGHTNESS = 12;

    private static final float[] CAFFE_MEAN_BGR = {103.939f, 116.779f, 123.68f};

    private final Normalization normalization;
    private final int size;

    public Augmenter(Normalization normalization, int size) {
        this.normalization = normalization;
        this.size = size;
    }

    /** A new augmented copy of {@code chw}; the input is not modified. */
    public float[] apply(float[] chw, Random random) {
        int s = size;
        double angle = Math.toRadians((random.nextDouble() * 2 - 1) * MAX_ROTATION_DEG);
        double zoom = 1 + (random.nextDouble() * 2 - 1) * MAX_ZOOM;
        double tx = (random.nextDouble() * 2 - 1) * MAX_SHIFT * s;
        double ty = (random.nextDouble() * 2 - 1) * MAX_SHIFT * s;
        double contrast = 1 + (random.nextDouble() * 2 - 1) * MAX_CONTRAST;
        double brightness = (random.nextDouble() * 2 - 1) * MAX_BRIGHTNESS;
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
        return out;
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
