package org.xrayscreening.models.preprocess;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ColorModel;
import java.awt.image.DataBuffer;
import java.awt.image.DirectColorModel;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;
import java.io.Serializable;
import java.util.Objects;
import org.xrayscreening.models.Architecture;

/**
 * Turns a decoded X-ray into the network input, identically for the stream job and the trainer (a model
 * only works on inputs prepared exactly as in training).
 *
 * <p>Steps: read the pixels on a 0..255 scale (gray is replicated to three channels; 16-bit and other
 * deep gray images are scaled by their own bit depth, so a 16-bit white is 255, not 65535/255; alpha is
 * dropped, as PIL's {@code convert("RGB")} in Keras' loader does); resize to a square {@code inputSize}
 * by <b>bilinear</b> interpolation with half-pixel centres and edge clamping (the sampling of
 * {@code tf.image.resize(method="bilinear")} and of PyTorch's {@code align_corners=False}; no
 * antialiasing, the aspect ratio is not kept, as in Keras' {@code target_size}); then the normalization
 * of the architecture's Keras original.
 *
 * <p>With {@link PreprocessingOptions} (a model's {@code preprocessing} metadata) the decoded image is first
 * read into one gray plane at its own resolution, masked and equalised there, in the order documented on
 * {@link PreprocessingOptions}; resizing and normalization follow as above. With {@link PreprocessingOptions#NONE}
 * nothing of that runs and the output is bit for bit what it was before these options existed.
 *
 * <p>Gray pixels are read from the raster, never through {@code getRGB()}: Java treats gray as linear
 * and would gamma-convert it to sRGB (a mid-gray 128 would become about 186).
 *
 * <p>Immutable, thread-safe and {@link Serializable}, so it can be shipped inside Flink operators.
 */
public final class Preprocessor implements Serializable {
    private static final long serialVersionUID = 1L;

    /** ImageNet channel means in BGR order, as in Keras' {@code imagenet_utils} "caffe" mode. */
    static final float MEAN_B = 103.939f;
    static final float MEAN_G = 116.779f;
    static final float MEAN_R = 123.68f;

    private final Normalization normalization;
    private final int inputSize;
    /** Null in instances serialized before this field existed: read as NONE ({@link #options()}). */
    private final PreprocessingOptions options;

    public Preprocessor(Normalization normalization, int inputSize) {
        this(normalization, inputSize, PreprocessingOptions.NONE);
    }

    public Preprocessor(Normalization normalization, int inputSize, PreprocessingOptions options) {
        this.normalization = Objects.requireNonNull(normalization, "normalization");
        if (inputSize < 1) {
            throw new IllegalArgumentException("inputSize must be positive: " + inputSize);
        }
        this.inputSize = inputSize;
        this.options = Objects.requireNonNull(options, "options");
    }

    /** The architecture's own normalization at a chosen input side (tests and fast experiments use less). */
    public static Preprocessor forArchitecture(Architecture architecture, int inputSize) {
        return new Preprocessor(architecture.normalization(), inputSize);
    }

    /** The architecture's own normalization at its native input side. */
    public static Preprocessor forArchitecture(Architecture architecture) {
        return forArchitecture(architecture, architecture.nativeInputSize());
    }

    public Normalization normalization() {
        return normalization;
    }

    public int inputSize() {
        return inputSize;
    }

    /** The conditioning steps (masks, intensity) applied before resizing. */
    public PreprocessingOptions options() {
        return options == null ? PreprocessingOptions.NONE : options;
    }

    /** Number of floats of one CHW output: 3 * inputSize * inputSize. */
    public int length() {
        return 3 * inputSize * inputSize;
    }

    /** Shape of one image: (3, inputSize, inputSize). */
    public Shape shape() {
        return new Shape(3, inputSize, inputSize);
    }

    /**
     * CHW floats (channel-major): RGB for MINUS_ONE_TO_ONE, BGR for CAFFE. A plain array because it
     * serializes cheaply between Flink operators and needs no native memory.
     */
    public float[] toChw(BufferedImage image) {
        Objects.requireNonNull(image, "image");
        int w = image.getWidth();
        int h = image.getHeight();
        int s = inputSize;
        PixelReader reader = readerFor(image);
        if (!options().isNone()) {
            reader = conditioned(reader, w, h, options());
        }

        // Per output column / row: the two source neighbours and the weight of the second.
        int[] x0 = new int[s];
        int[] x1 = new int[s];
        float[] fx = new float[s];
        sampling(w, s, x0, x1, fx);
        int[] y0 = new int[s];
        int[] y1 = new int[s];
        float[] fy = new float[s];
        sampling(h, s, y0, y1, fy);

        float[] out = new float[3 * s * s];
        int plane = s * s;
        float[] p00 = new float[3];
        float[] p10 = new float[3];
        float[] p01 = new float[3];
        float[] p11 = new float[3];
        for (int oy = 0; oy < s; oy++) {
            for (int ox = 0; ox < s; ox++) {
                reader.read(x0[ox], y0[oy], p00);
                reader.read(x1[ox], y0[oy], p10);
                reader.read(x0[ox], y1[oy], p01);
                reader.read(x1[ox], y1[oy], p11);
                int i = oy * s + ox;
                for (int c = 0; c < 3; c++) {
                    // a + f * (b - a) keeps a uniform image exactly uniform (no rounding drift).
                    float top = p00[c] + fx[ox] * (p10[c] - p00[c]);
                    float bottom = p01[c] + fx[ox] * (p11[c] - p01[c]);
                    float v = top + fy[oy] * (bottom - top);
                    normalizeInto(out, plane, i, c, v);
                }
            }
        }
        return out;
    }

    /** One image as a (3, inputSize, inputSize) array owned by {@code manager}. */
    public NDArray toNDArray(BufferedImage image, NDManager manager) {
        return manager.create(toChw(image), shape());
    }

    /** An already preprocessed CHW array (e.g. received from another operator) as an NDArray. */
    public NDArray toNDArray(float[] chw, NDManager manager) {
        checkLength(chw);
        return manager.create(chw, shape());
    }

    /** Rejects an input prepared for another input size (it would silently be misread otherwise). */
    public void checkLength(float[] chw) {
        if (chw.length != length()) {
            throw new IllegalArgumentException("preprocessed input has " + chw.length + " floats, expected "
                    + length() + " (3x" + inputSize + "x" + inputSize + ")");
        }
    }

    private void normalizeInto(float[] out, int plane, int i, int c, float v) {
        switch (normalization) {
            case MINUS_ONE_TO_ONE -> out[c * plane + i] = v / 127.5f - 1f;
            case ZERO_TO_ONE -> out[c * plane + i] = v / 255f;
            case CAFFE -> {
                // c is the RGB index of v; caffe wants BGR planes with the BGR means subtracted.
                switch (c) {
                    case 0 -> out[2 * plane + i] = v - MEAN_R;
                    case 1 -> out[plane + i] = v - MEAN_G;
                    default -> out[i] = v - MEAN_B;
                }
            }
            default -> throw new IllegalStateException("unhandled normalization " + normalization);
        }
    }

    /** Half-pixel-centre bilinear source positions, clamped to the image, for one axis. */
    private static void sampling(int in, int out, int[] lo, int[] hi, float[] frac) {
        double scale = (double) in / out;
        for (int o = 0; o < out; o++) {
            double src = (o + 0.5) * scale - 0.5;
            if (src < 0) {
                src = 0;
            }
            int l = (int) Math.floor(src);
            if (l >= in - 1) {
                lo[o] = in - 1;
                hi[o] = in - 1;
                frac[o] = 0f;
            } else {
                lo[o] = l;
                hi[o] = l + 1;
                frac[o] = (float) (src - l);
            }
        }
    }

    /** Reads one pixel as R, G, B on a 0..255 float scale. */
    private interface PixelReader {
        void read(int x, int y, float[] rgb);
    }

    private static PixelReader readerFor(BufferedImage image) {
        ColorModel cm = image.getColorModel();
        Raster raster = image.getRaster();
        int dataType = raster.getDataBuffer().getDataType();
        boolean integerSamples = dataType == DataBuffer.TYPE_BYTE || dataType == DataBuffer.TYPE_USHORT;
        boolean direct = !(cm instanceof IndexColorModel) && !(cm instanceof DirectColorModel)
                && integerSamples && !cm.isAlphaPremultiplied();
        int colorSpace = cm.getColorSpace().getType();
        if (direct && colorSpace == ColorSpace.TYPE_GRAY && cm.getNumColorComponents() == 1) {
            double max = maxValue(cm.getComponentSize(0));
            return (x, y, rgb) -> {
                // sample * 255 is exact in double and the one division is correctly rounded, so the
                // brightest code maps to exactly 255 (and so to exactly 1.0 after normalization).
                float v = (float) (raster.getSample(x, y, 0) * 255.0 / max);
                rgb[0] = v;
                rgb[1] = v;
                rgb[2] = v;
            };
        }
        if (direct && cm.getColorSpace().isCS_sRGB() && cm.getNumColorComponents() == 3) {
            // e.g. 48-bit RGB PNGs: read each band at its own depth instead of getRGB's 8 bits.
            double mr = maxValue(cm.getComponentSize(0));
            double mg = maxValue(cm.getComponentSize(1));
            double mb = maxValue(cm.getComponentSize(2));
            return (x, y, rgb) -> {
                rgb[0] = (float) (raster.getSample(x, y, 0) * 255.0 / mr);
                rgb[1] = (float) (raster.getSample(x, y, 1) * 255.0 / mg);
                rgb[2] = (float) (raster.getSample(x, y, 2) * 255.0 / mb);
            };
        }
        // Packed RGB/ARGB, indexed, and anything exotic: let Java convert to 8-bit sRGB.
        return (x, y, rgb) -> {
            int argb = image.getRGB(x, y);
            rgb[0] = (argb >> 16) & 0xff;
            rgb[1] = (argb >> 8) & 0xff;
            rgb[2] = argb & 0xff;
        };
    }

    /**
     * Reads the image once into a gray plane (a colour pixel becomes the mean of R, G and B: a radiograph has one
     * channel of information, and coloured annotations become gray marks the text mask can find), conditions it,
     * and reads the result as gray.
     */
    private static PixelReader conditioned(PixelReader source, int w, int h, PreprocessingOptions options) {
        float[] plane = new float[w * h];
        float[] rgb = new float[3];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                source.read(x, y, rgb);
                // gray is exact: (v + v + v) / 3 need not round back to v
                plane[y * w + x] = rgb[0] == rgb[1] && rgb[1] == rgb[2] ? rgb[0] : (rgb[0] + rgb[1] + rgb[2]) / 3f;
            }
        }
        ImageConditioning.apply(plane, w, h, options);
        return (x, y, out) -> {
            float v = plane[y * w + x];
            out[0] = v;
            out[1] = v;
            out[2] = v;
        };
    }

    private static double maxValue(int bits) {
        return (double) ((1L << bits) - 1);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Preprocessor p && p.normalization == normalization && p.inputSize == inputSize
                && p.options().equals(options());
    }

    @Override
    public int hashCode() {
        return Objects.hash(normalization, inputSize, options());
    }

    @Override
    public String toString() {
        return "Preprocessor[" + normalization + ", " + inputSize + "x" + inputSize
                + (options().isNone() ? "" : ", " + options().describe()) + "]";
    }
}
