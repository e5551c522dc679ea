package org.xrayscreening.models.network;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.Blocks;
import ai.djl.nn.ParallelBlock;
import ai.djl.nn.SequentialBlock;
import java.util.List;

/**
 * ResNet50 v1 (He et al. 2015) as Keras builds it ({@code keras/src/applications/resnet.py},
 * {@code ResNet50}: {@code stack_residual_blocks_v1} / {@code residual_block_v1}), {@code include_top=False},
 * no pooling, NCHW. 23,587,712 parameters, BN moving statistics included (Keras' total).
 *
 * <p>As Keras: every conv HAS a bias; BN eps 1.001e-5 (momentum 0.99); {@code conv1_pad} ZeroPadding2D(3) +
 * 7x7/2 {@code conv1_conv} (here the conv's own symmetric padding 3, which is the same computation);
 * {@code pool1_pad} ZeroPadding2D(1) + 3x3/2 max-pool; then stages conv2..conv5 of 3, 4, 6, 3 bottleneck blocks
 * (64, 128, 256, 512 filters; x4 out). In each block the stride sits on the first 1x1 conv ({@code _1_conv}) and
 * on the 1x1 projection shortcut ({@code _0_conv}, first block of a stage only), the 3x3 {@code _2_conv} is
 * "same" (symmetric padding 1 at stride 1), and the output is relu(shortcut + main). The strided 1x1 convs are
 * {@link StrideFreePointwise} convolutions (same function, no strided backward kernel: see there).
 *
 * <p>Block paths: {@code 01SequentialBlock} stem ({@code _01Conv2d} conv1_conv, {@code _02BatchNorm} conv1_bn,
 * {@code _03LambdaBlock} relu, {@code _04Pad2d} pool1_pad, {@code _05LambdaBlock} max-pool); stage conv{s}
 * (s = 2..5) is child {@code 0(s)SequentialBlock}; its block b is {@code 0(b)ParallelBlock} with children
 * {@code 01SequentialBlock} = shortcut ({@code _01Conv2d} _0_conv, {@code _02BatchNorm} _0_bn; in blocks 2+ an
 * identity {@code 01LambdaBlock}) and {@code 02SequentialBlock} = main ({@code _01Conv2d} _1_conv,
 * {@code _02BatchNorm} _1_bn, {@code _04Conv2d} _2_conv, {@code _05BatchNorm} _2_bn, {@code _07Conv2d} _3_conv,
 * {@code _08BatchNorm} _3_bn). E.g. {@code conv4_block3_2_conv} ->
 * {@code 04SequentialBlock_03ParallelBlock_02SequentialBlock_04Conv2d}. {@link #kerasLayerPaths()} lists all.
 */
public final class ResNet50 extends KerasBackbone {
    /** Keras-applications ResNet50's batch-norm epsilon (importers of older Keras files, eps 1e-3, adjust for it). */
    public static final float BN_EPSILON = 1.001e-5f;

    public ResNet50() {
        add(Releasing.sequential()
                .add(keras("conv1_conv", conv(64, 7, 2, 3, true)))
                .add(keras("conv1_bn", batchNorm(BN_EPSILON)))
                .add(Activation.reluBlock())
                .add(Pad2d.zeros(1, 1, 1, 1))
                .add(maxPoolValid(3, 2)));
        stage("conv2", 64, 3, 1);
        stage("conv3", 128, 4, 2);
        stage("conv4", 256, 6, 2);
        stage("conv5", 512, 3, 2);
    }

    private void stage(String name, int filters, int blocks, int stride) {
        SequentialBlock stage = Releasing.sequential();
        stage.add(block(name + "_block1", filters, stride, true));
        for (int i = 2; i <= blocks; i++) {
            stage.add(block(name + "_block" + i, filters, 1, false));
        }
        add(stage);
    }

    private Block block(String name, int filters, int stride, boolean convShortcut) {
        Block shortcut = convShortcut
                ? Releasing.sequential()
                        .add(keras(name + "_0_conv", pointwise(4 * filters, stride, true)))
                        .add(keras(name + "_0_bn", batchNorm(BN_EPSILON)))
                : Blocks.identityBlock();
        SequentialBlock main = Releasing.sequential()
                .add(keras(name + "_1_conv", pointwise(filters, stride, true)))
                .add(keras(name + "_1_bn", batchNorm(BN_EPSILON)))
                .add(Activation.reluBlock())
                .add(keras(name + "_2_conv", conv(filters, 3, 1, sameStride1(3), true)))
                .add(keras(name + "_2_bn", batchNorm(BN_EPSILON)))
                .add(Activation.reluBlock())
                .add(keras(name + "_3_conv", conv(4 * filters, 1, 1, 0, true)))
                .add(keras(name + "_3_bn", batchNorm(BN_EPSILON)));
        return Releasing.parallel(ResNet50::addRelu, List.of(shortcut, main));
    }

    private static NDList addRelu(List<NDList> branches) {
        NDArray sum = sum(branches).singletonOrThrow();
        NDArray out = Activation.relu(sum);
        if (branches.size() > 1) {
            sum.close(); // made here, consumed by relu (with one branch it would be that branch's own output)
        }
        return new NDList(out);
    }

    @Override
    public int outputChannels() {
        return 2048;
    }

    @Override
    public int minInputSize() {
        return 32;
    }
}
