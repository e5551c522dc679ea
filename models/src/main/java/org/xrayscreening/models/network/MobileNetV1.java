package org.xrayscreening.models.network;

import ai.djl.nn.SequentialBlock;

/**
 * MobileNet v1 (Howard et al. 2017) as Keras builds it ({@code keras/src/applications/mobilenet.py}),
 * {@code include_top=False}, no pooling, depth multiplier 1, NCHW.
 *
 * <p>Layer by layer, as Keras: {@code conv1} 3x3 stride 2 padding "same" (TF SAME: one extra row/column at the
 * bottom/right on even inputs), no bias, BN (eps 1e-3, momentum 0.99), ReLU6; then 13 depthwise-separable
 * blocks, each a 3x3 depthwise conv (no bias) + BN + ReLU6 + 1x1 pointwise conv (no bias) + BN + ReLU6. The
 * stride-2 blocks (2, 4, 6, 12) first apply Keras' {@code ZeroPadding2D(((0, 1), (0, 1)))} and a "valid" depthwise
 * conv (which differs from SAME on odd input sizes, as in Keras); the stride-1 blocks use "same" = padding 1.
 * With alpha = 1.0 the backbone has 3,228,864 parameters, BN moving statistics included (Keras' total).
 *
 * <p>Block paths (child keys from this block, joined by '_'; see {@link #kerasLayerPaths()}):
 * <pre>
 * Keras layer            DJL path                                  parameters
 * conv1                  01SequentialBlock_02Conv2d                _weight (32, 3, 3, 3)
 * conv1_bn               01SequentialBlock_03BatchNorm             _gamma _beta _runningMean _runningVar
 *   (01SequentialBlock_01Pad2d = TF SAME pad, 04LambdaBlock = conv1_relu)
 * block i = 1..13 is child (i+1): 02SequentialBlock .. 14SequentialBlock
 *  stride-1 blocks (i = 1, 3, 5, 7, 8, 9, 10, 11, 13):
 *   conv_dw_i            NNSequentialBlock_01Conv2d                _weight (C, 1, 3, 3), groups = C
 *   conv_dw_i_bn         NNSequentialBlock_02BatchNorm
 *   conv_pw_i            NNSequentialBlock_04Conv2d                _weight (F, C, 1, 1)
 *   conv_pw_i_bn         NNSequentialBlock_05BatchNorm
 *   (03LambdaBlock = conv_dw_i_relu, 06LambdaBlock = conv_pw_i_relu)
 *  stride-2 blocks (i = 2, 4, 6, 12): 01Pad2d = conv_pad_i, then every index above + 1:
 *   conv_dw_i -> NNSequentialBlock_02Conv2d, conv_dw_i_bn -> _03BatchNorm,
 *   conv_pw_i -> NNSequentialBlock_05Conv2d, conv_pw_i_bn -> _06BatchNorm
 * e.g. conv_dw_3 -> 04SequentialBlock_01Conv2d, conv_pw_12_bn -> 13SequentialBlock_06BatchNorm,
 *      conv_pw_13 -> 14SequentialBlock_04Conv2d
 * </pre>
 * In a classifier from {@link Networks#classifier} every path gets the prefix {@code 01MobileNetV1_}.
 */
public final class MobileNetV1 extends KerasBackbone {
    public static final double DEFAULT_ALPHA = 1.0;
    static final float BN_EPSILON = 1e-3f;

    private static final int[] POINTWISE_FILTERS = {64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024};
    private static final int[] STRIDES = {1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1};

    private final double alpha;
    private final int outputChannels;

    /** MobileNet with width multiplier 1.0. */
    public MobileNetV1() {
        this(DEFAULT_ALPHA);
    }

    /** MobileNet with width multiplier {@code alpha} (Keras' ImageNet weights exist for 0.25, 0.5, 0.75, 1.0). */
    public MobileNetV1(double alpha) {
        if (!(alpha > 0)) {
            throw new IllegalArgumentException("alpha must be positive: " + alpha);
        }
        this.alpha = alpha;

        int filters = scaled(32);
        add(Releasing.sequential()
                .add(Pad2d.tfSame(3, 2))
                .add(keras("conv1", conv(filters, 3, 2, 0, false)))
                .add(keras("conv1_bn", batchNorm(BN_EPSILON)))
                .add(relu6()));

        int channels = filters;
        for (int i = 0; i < POINTWISE_FILTERS.length; i++) {
            int id = i + 1;
            int stride = STRIDES[i];
            int pointwise = scaled(POINTWISE_FILTERS[i]);
            SequentialBlock block = Releasing.sequential();
            if (stride != 1) {
                block.add(Pad2d.zeros(0, 1, 0, 1));
            }
            block.add(keras("conv_dw_" + id, depthwise(channels, 3, stride, stride == 1 ? 1 : 0)))
                    .add(keras("conv_dw_" + id + "_bn", batchNorm(BN_EPSILON)))
                    .add(relu6())
                    .add(keras("conv_pw_" + id, conv(pointwise, 1, 1, 0, false)))
                    .add(keras("conv_pw_" + id + "_bn", batchNorm(BN_EPSILON)))
                    .add(relu6());
            add(block);
            channels = pointwise;
        }
        this.outputChannels = channels;
    }

    /** Keras' {@code int(filters * alpha)}. */
    private int scaled(int filters) {
        return (int) (filters * alpha);
    }

    public double alpha() {
        return alpha;
    }

    @Override
    public int outputChannels() {
        return outputChannels;
    }

    @Override
    public int minInputSize() {
        return 32;
    }
}
