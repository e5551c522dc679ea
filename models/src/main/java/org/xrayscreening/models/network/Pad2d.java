package org.xrayscreening.models.network;

import ai.djl.MalformedModelException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;

/**
 * Pads the two spatial axes of an NCHW tensor, either by fixed amounts (Keras {@code ZeroPadding2D}) or the
 * way TensorFlow's {@code padding="SAME"} does for a given kernel and stride.
 *
 * <p>TF SAME: {@code out = ceil(in / stride)}, {@code total = max((out - 1) * stride + kernel - in, 0)},
 * {@code before = total / 2}, {@code after = total - before}; so when the total is odd TF pads one more at the
 * bottom/right than at the top/left, which PyTorch's symmetric conv/pool padding cannot express. The amounts are
 * computed from the actual input shape on every forward pass, so one block works at any input size. A SAME
 * padding followed by a convolution or pooling with padding 0 ("valid") reproduces TF's SAME exactly. For a
 * max-pool use {@link #tfSame(int, int, double)} with {@link Double#NEGATIVE_INFINITY}: TF's SAME max-pool never
 * picks a padded element.
 *
 * <p>The block has no parameters; its structure does not depend on the input size.
 */
public final class Pad2d extends AbstractBlock {
    private static final byte VERSION = 1;

    private final boolean tfSame;
    private final int kernelH;
    private final int kernelW;
    private final int strideH;
    private final int strideW;
    private final int top;
    private final int bottom;
    private final int left;
    private final int right;
    private final double value;

    private Pad2d(boolean tfSame, int kernelH, int kernelW, int strideH, int strideW,
                  int top, int bottom, int left, int right, double value) {
        super(VERSION);
        this.tfSame = tfSame;
        this.kernelH = kernelH;
        this.kernelW = kernelW;
        this.strideH = strideH;
        this.strideW = strideW;
        this.top = top;
        this.bottom = bottom;
        this.left = left;
        this.right = right;
        this.value = value;
    }

    /** TF SAME padding with zeros for a square kernel and stride (what a conv with padding="same" does). */
    public static Pad2d tfSame(int kernel, int stride) {
        return tfSame(kernel, stride, 0.0);
    }

    /** TF SAME padding for a square kernel and stride, padding with {@code value}. */
    public static Pad2d tfSame(int kernel, int stride, double value) {
        return tfSame(kernel, kernel, stride, stride, value);
    }

    /** TF SAME padding for a (kernelH, kernelW) kernel and (strideH, strideW) stride, padding with {@code value}. */
    public static Pad2d tfSame(int kernelH, int kernelW, int strideH, int strideW, double value) {
        if (kernelH < 1 || kernelW < 1 || strideH < 1 || strideW < 1) {
            throw new IllegalArgumentException("kernel and stride must be positive");
        }
        return new Pad2d(true, kernelH, kernelW, strideH, strideW, 0, 0, 0, 0, value);
    }

    /** Keras {@code ZeroPadding2D(((top, bottom), (left, right)))}. */
    public static Pad2d zeros(int top, int bottom, int left, int right) {
        if (top < 0 || bottom < 0 || left < 0 || right < 0) {
            throw new IllegalArgumentException("padding must not be negative");
        }
        return new Pad2d(false, 0, 0, 0, 0, top, bottom, left, right, 0.0);
    }

    /** TF SAME output length along one axis: {@code ceil(in / stride)}. */
    public static long tfSameOutputSize(long in, int stride) {
        return (in + stride - 1) / stride;
    }

    /** TF SAME padding along one axis as {before, after}. */
    public static long[] tfSamePads(long in, int kernel, int stride) {
        long out = tfSameOutputSize(in, stride);
        long total = Math.max((out - 1) * stride + kernel - in, 0);
        long before = total / 2;
        return new long[] {before, total - before};
    }

    /** {top, bottom, left, right} for an input of the given height and width. */
    public long[] padsFor(long height, long width) {
        if (!tfSame) {
            return new long[] {top, bottom, left, right};
        }
        long[] h = tfSamePads(height, kernelH, strideH);
        long[] w = tfSamePads(width, kernelW, strideW);
        return new long[] {h[0], h[1], w[0], w[1]};
    }

    @Override
    protected NDList forwardInternal(
            ParameterStore parameterStore, NDList inputs, boolean training, PairList<String, Object> params) {
        NDArray x = inputs.singletonOrThrow();
        Shape s = x.getShape();
        if (s.dimension() != 4) {
            throw new IllegalArgumentException("Pad2d expects NCHW input, got " + s);
        }
        long[] p = padsFor(s.get(2), s.get(3));
        if (p[0] == 0 && p[1] == 0 && p[2] == 0 && p[3] == 0) {
            return inputs;
        }
        // NDArray.pad takes (before, after) pairs starting from the LAST axis, as torch.nn.functional.pad
        return new NDList(x.pad(new Shape(p[2], p[3], p[0], p[1]), value));
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        Shape s = inputShapes[0];
        long[] p = padsFor(s.get(2), s.get(3));
        return new Shape[] {new Shape(s.get(0), s.get(1), s.get(2) + p[0] + p[1], s.get(3) + p[2] + p[3])};
    }

    @Override
    protected void saveMetadata(DataOutputStream os) throws IOException {
        saveInputShapes(os);
    }

    @Override
    public void loadMetadata(byte loadVersion, DataInputStream is) throws IOException, MalformedModelException {
        if (loadVersion != VERSION) {
            throw new MalformedModelException("Unsupported encoding version: " + loadVersion);
        }
        readInputShapes(is);
    }

    @Override
    public String toString() {
        return tfSame
                ? "Pad2d(tfSame k=" + kernelH + "x" + kernelW + " s=" + strideH + "x" + strideW + " value=" + value + ")"
                : "Pad2d(top=" + top + " bottom=" + bottom + " left=" + left + " right=" + right + ")";
    }
}
