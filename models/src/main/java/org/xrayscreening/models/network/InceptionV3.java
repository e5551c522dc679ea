package org.xrayscreening.models.network;

import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.ParallelBlock;
import ai.djl.nn.SequentialBlock;
import java.util.List;

/**
 * Inception v3 (Szegedy et al. 2015) as Keras builds it ({@code keras/src/applications/inception_v3.py}),
 * {@code include_top=False}, no pooling, NCHW. 21,802,784 parameters, BN moving statistics included (Keras'
 * total), and no BN gamma since Keras' {@code scale=False} has none.
 *
 * <p>Every {@code conv2d_bn} is Conv2D (no bias) + BatchNormalization({@code scale=False}, eps 1e-3, momentum
 * 0.99: {@link BatchNormNoScale}) + ReLU. "same" convs here are all stride 1 with odd kernels (1x7, 7x1, 3x3,
 * 5x5, ...), where TF SAME is symmetric, so they use the conv's own padding; every stride-2 conv and max-pool is
 * "valid", as in Keras. The branch average pools are AveragePooling2D(3, 1, "same"), which in TF divide by the
 * number of non-padded elements ({@link AvgPool2dSame}; DJL's own count_include_pad = false is ignored by the
 * PyTorch engine).
 *
 * <p>Keras names these layers automatically in creation order: {@code conv2d, conv2d_1, ..., conv2d_93} and
 * {@code batch_normalization, ..., batch_normalization_93} in a fresh Keras 3 session (Keras 2 files may number
 * them from 1, so match by order). This block keeps that order in a depth-first walk: a {@code conv2d_bn} is a
 * {@code SequentialBlock} of {@code 01Conv2d}, {@code 02BatchNormNoScale}, {@code 03LambdaBlock} (relu); each
 * mixed block is a {@code ParallelBlock} concatenating its branches in Keras' order. Top-level children:
 * {@code 01..03} stem convs, {@code 04} max-pool, {@code 05..06} convs, {@code 07} max-pool, {@code 08..18} =
 * mixed0..mixed10. {@link #kerasLayerPaths()} lists every path.
 */
public final class InceptionV3 extends KerasBackbone {
    static final float BN_EPSILON = 1e-3f;

    private int convIndex;

    public InceptionV3() {
        add(convBn(32, 3, 3, 2, false));
        add(convBn(32, 3, 3, 1, false));
        add(convBn(64, 3, 3, 1, true));
        add(maxPoolValid(3, 2));
        add(convBn(80, 1, 1, 1, false));
        add(convBn(192, 3, 3, 1, false));
        add(maxPoolValid(3, 2));

        // mixed 0, 1, 2: 35 x 35 x 256 / 288 / 288
        for (int poolFeatures : new int[] {32, 64, 64}) {
            Block b1 = convBn(64, 1, 1);
            Block b5 = seq(convBn(48, 1, 1), convBn(64, 5, 5));
            Block b3dbl = seq(convBn(64, 1, 1), convBn(96, 3, 3), convBn(96, 3, 3));
            Block pool = seq(avgPoolSameStride1(3), convBn(poolFeatures, 1, 1));
            add(concat(b1, b5, b3dbl, pool));
        }

        // mixed 3: 17 x 17 x 768
        Block b3 = convBn(384, 3, 3, 2, false);
        Block b3dbl = seq(convBn(64, 1, 1), convBn(96, 3, 3), convBn(96, 3, 3, 2, false));
        add(concat(b3, b3dbl, maxPoolValid(3, 2)));

        // mixed 4, 5, 6, 7: 17 x 17 x 768
        for (int c : new int[] {128, 160, 160, 192}) {
            Block b1 = convBn(192, 1, 1);
            Block b7 = seq(convBn(c, 1, 1), convBn(c, 1, 7), convBn(192, 7, 1));
            Block b7dbl = seq(convBn(c, 1, 1), convBn(c, 7, 1), convBn(c, 1, 7), convBn(c, 7, 1), convBn(192, 1, 7));
            Block pool = seq(avgPoolSameStride1(3), convBn(192, 1, 1));
            add(concat(b1, b7, b7dbl, pool));
        }

        // mixed 8: 8 x 8 x 1280
        Block b3x3 = seq(convBn(192, 1, 1), convBn(320, 3, 3, 2, false));
        Block b7x3 = seq(convBn(192, 1, 1), convBn(192, 1, 7), convBn(192, 7, 1), convBn(192, 3, 3, 2, false));
        add(concat(b3x3, b7x3, maxPoolValid(3, 2)));

        // mixed 9, 10: 8 x 8 x 2048
        for (int i = 0; i < 2; i++) {
            Block b1 = convBn(320, 1, 1);
            Block b3split = seq(convBn(384, 1, 1), concat(convBn(384, 1, 3), convBn(384, 3, 1)));
            Block b3dblSplit = seq(convBn(448, 1, 1), convBn(384, 3, 3),
                    concat(convBn(384, 1, 3), convBn(384, 3, 1)));
            Block pool = seq(avgPoolSameStride1(3), convBn(192, 1, 1));
            add(concat(b1, b3split, b3dblSplit, pool));
        }
    }

    /** conv2d_bn with padding "same", stride 1. */
    private SequentialBlock convBn(int filters, int kernelH, int kernelW) {
        return convBn(filters, kernelH, kernelW, 1, true);
    }

    /** Keras' {@code conv2d_bn(x, filters, num_row, num_col, padding, strides)}. */
    private SequentialBlock convBn(int filters, int kernelH, int kernelW, int stride, boolean same) {
        if (same && stride != 1) {
            throw new IllegalArgumentException("InceptionV3 has no strided 'same' conv");
        }
        String suffix = convIndex == 0 ? "" : "_" + convIndex;
        convIndex++;
        int padH = same ? sameStride1(kernelH) : 0;
        int padW = same ? sameStride1(kernelW) : 0;
        return Releasing.sequential()
                .add(keras("conv2d" + suffix, conv(filters, kernelH, kernelW, stride, padH, padW, false, 1)))
                .add(keras("batch_normalization" + suffix, new BatchNormNoScale(BN_EPSILON, bnMomentum())))
                .add(Activation.reluBlock());
    }

    private static SequentialBlock seq(Block... blocks) {
        return Releasing.sequential().addAll(blocks);
    }

    private static ParallelBlock concat(Block... branches) {
        return Releasing.parallel(KerasBackbone::concatChannels, List.of(branches));
    }

    @Override
    public int outputChannels() {
        return 2048;
    }

    @Override
    public int minInputSize() {
        return 75;
    }
}
