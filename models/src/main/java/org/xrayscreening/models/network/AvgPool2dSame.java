package org.xrayscreening.models.network;

import ai.djl.MalformedModelException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.pooling.Pool;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;

/**
 * Keras/TF {@code AveragePooling2D(kernel, strides, padding="same")} on NCHW: TF SAME padding (see {@link Pad2d})
 * and each output divided by the number of NON-padded elements in its window, as TF does.
 *
 * <p>Why not {@code Pool.avgPool2dBlock(kernel, stride, padding, false, false)}: with the PyTorch engine of DJL
 * 0.36 the {@code countIncludePad = false} flag has no effect (measured here: the corner of a 3x3/1 pad-1 average
 * of ones is 4/9, not 1), so padded zeros would be counted; on InceptionV3's branch pools that changed the
 * backbone output by ~30 % against Keras. This block computes the average including the zero padding and
 * divides by the same average of a ones mask, which gives sum / count of valid elements.
 */
public final class AvgPool2dSame extends AbstractBlock {
    private static final byte VERSION = 1;

    private final int kernel;
    private final int stride;

    public AvgPool2dSame(int kernel, int stride) {
        super(VERSION);
        if (kernel < 1 || stride < 1) {
            throw new IllegalArgumentException("kernel and stride must be positive");
        }
        this.kernel = kernel;
        this.stride = stride;
    }

    @Override
    protected NDList forwardInternal(
            ParameterStore parameterStore, NDList inputs, boolean training, PairList<String, Object> params) {
        NDArray x = inputs.singletonOrThrow();
        Shape s = x.getShape();
        long[] ph = Pad2d.tfSamePads(s.get(2), kernel, stride);
        long[] pw = Pad2d.tfSamePads(s.get(3), kernel, stride);
        Shape k = new Shape(kernel, kernel);
        Shape st = new Shape(stride, stride);
        // a bf16 input reports UNKNOWN and DJL cannot create arrays of it: derive the mask from x instead
        NDArray mask = x.getDataType() == DataType.UNKNOWN
                ? x.get("0:1, 0:1").mul(0).add(1)
                : x.getManager().ones(new Shape(1, 1, s.get(2), s.get(3)), x.getDataType(), x.getDevice());
        NDArray sum;
        NDArray count;
        if (ph[0] == ph[1] && pw[0] == pw[1]) {
            Shape pad = new Shape(ph[0], pw[0]);
            sum = Pool.avgPool2d(x, k, st, pad, false, true);
            count = Pool.avgPool2d(mask, k, st, pad, false, true);
        } else {
            Shape pad = new Shape(pw[0], pw[1], ph[0], ph[1]);
            Shape none = new Shape(0, 0);
            sum = Pool.avgPool2d(x.pad(pad, 0), k, st, none, false, true);
            count = Pool.avgPool2d(mask.pad(pad, 0), k, st, none, false, true);
        }
        return new NDList(sum.div(count));
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        Shape s = inputShapes[0];
        return new Shape[] {new Shape(s.get(0), s.get(1),
                Pad2d.tfSameOutputSize(s.get(2), stride), Pad2d.tfSameOutputSize(s.get(3), stride))};
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
        return "AvgPool2dSame(k=" + kernel + " s=" + stride + ")";
    }
}
