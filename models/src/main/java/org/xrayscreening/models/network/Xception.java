package org.xrayscreening.models.network;

import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.Blocks;
import ai.djl.nn.ParallelBlock;
import ai.djl.nn.SequentialBlock;
import java.util.List;

/**
 * Xception (Chollet 2017) as Keras builds it ({@code keras/src/applications/xception.py}),
 * {@code include_top=False}, no pooling, NCHW. 20,861,480 parameters, BN moving statistics included (Keras'
 * total).
 *
 * <p>As Keras: no conv has a bias; BN eps 1e-3 (momentum 0.99); {@code block1_conv1} 3x3/2 and
 * {@code block1_conv2} 3x3 are "valid"; every SeparableConv2D is 3x3 "same" at stride 1 (symmetric padding 1 on
 * its depthwise half); the entry/exit blocks 2, 3, 4 and 13 end with MaxPooling2D(3, 2, padding="same"), done as
 * {@link Pad2d#tfSame(int, int, double)} with -inf (TF pads one more at the bottom/right on even sizes and never
 * picks a padded element) + a valid max-pool; their 1x1/2 "same" residual convs need no padding (TF SAME pads
 * nothing for a 1x1 kernel), so they are valid convs, built as {@link StrideFreePointwise} convolutions. Blocks 3, 4, 13 and 5..12 start with a ReLU on the
 * main path, not on the residual; the sum has no ReLU after it.
 *
 * <p>Block paths: {@code 01SequentialBlock} = block1 ({@code _01Conv2d} block1_conv1, {@code _02BatchNorm}
 * block1_conv1_bn, {@code _04Conv2d} block1_conv2, {@code _05BatchNorm} block1_conv2_bn). Block k = 2..14 is
 * child k: blocks 2..13 are {@code ParallelBlock}s of {@code 01} residual (entry/exit: {@code _01Conv2d}
 * Keras' auto-named {@code conv2d[_n]}, {@code _02BatchNorm} {@code batch_normalization[_n]}; middle: identity)
 * and {@code 02SequentialBlock} main path; block 14 is a {@code SequentialBlock}. A SeparableConv2D
 * {@code blockK_sepconvJ} is a {@code SequentialBlock} of depthwise {@code 01Conv2d} + pointwise
 * {@code 02Conv2d}. The residual branch comes first so that a depth-first walk follows Keras' creation order.
 * {@link #kerasLayerPaths()} lists every path.
 */
public final class Xception extends KerasBackbone {
    static final float BN_EPSILON = 1e-3f;

    private int residualIndex;

    public Xception() {
        add(Releasing.sequential()
                .add(keras("block1_conv1", conv(32, 3, 2, 0, false)))
                .add(keras("block1_conv1_bn", batchNorm(BN_EPSILON)))
                .add(Activation.reluBlock())
                .add(keras("block1_conv2", conv(64, 3, 1, 0, false)))
                .add(keras("block1_conv2_bn", batchNorm(BN_EPSILON)))
                .add(Activation.reluBlock()));

        add(entryBlock(2, 64, 128, 128, false));
        add(entryBlock(3, 128, 256, 256, true));
        add(entryBlock(4, 256, 728, 728, true));

        for (int k = 5; k <= 12; k++) {
            String prefix = "block" + k;
            SequentialBlock main = Releasing.sequential();
            for (int j = 1; j <= 3; j++) {
                main.add(Activation.reluBlock())
                        .add(keras(prefix + "_sepconv" + j, separable(728, 728, 3)))
                        .add(keras(prefix + "_sepconv" + j + "_bn", batchNorm(BN_EPSILON)));
            }
            add(Releasing.parallel(KerasBackbone::sum, List.of(Blocks.identityBlock(), main)));
        }

        add(entryBlock(13, 728, 728, 1024, true));

        add(Releasing.sequential()
                .add(keras("block14_sepconv1", separable(1024, 1536, 3)))
                .add(keras("block14_sepconv1_bn", batchNorm(BN_EPSILON)))
                .add(Activation.reluBlock())
                .add(keras("block14_sepconv2", separable(1536, 2048, 3)))
                .add(keras("block14_sepconv2_bn", batchNorm(BN_EPSILON)))
                .add(Activation.reluBlock()));
    }

    /**
     * Blocks 2, 3, 4, 13: residual = BN(conv1x1/2(x)); main = [relu] sep(f1) bn relu sep(f2) bn maxpool(3, 2,
     * same); out = main + residual.
     */
    private Block entryBlock(int k, int inChannels, int filters1, int filters2, boolean leadingRelu) {
        String suffix = residualIndex == 0 ? "" : "_" + residualIndex;
        residualIndex++;
        Block residual = Releasing.sequential()
                .add(keras("conv2d" + suffix, pointwise(filters2, 2, false)))
                .add(keras("batch_normalization" + suffix, batchNorm(BN_EPSILON)));

        String prefix = "block" + k;
        SequentialBlock main = Releasing.sequential();
        if (leadingRelu) {
            main.add(Activation.reluBlock());
        }
        main.add(keras(prefix + "_sepconv1", separable(inChannels, filters1, 3)))
                .add(keras(prefix + "_sepconv1_bn", batchNorm(BN_EPSILON)))
                .add(Activation.reluBlock())
                .add(keras(prefix + "_sepconv2", separable(filters1, filters2, 3)))
                .add(keras(prefix + "_sepconv2_bn", batchNorm(BN_EPSILON)))
                .add(Pad2d.tfSame(3, 2, Double.NEGATIVE_INFINITY))
                .add(maxPoolValid(3, 2));
        return Releasing.parallel(KerasBackbone::sum, List.of(residual, main));
    }

    @Override
    public int outputChannels() {
        return 2048;
    }

    @Override
    public int minInputSize() {
        return 71;
    }
}
