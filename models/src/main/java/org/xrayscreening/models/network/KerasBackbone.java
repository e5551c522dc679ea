package org.xrayscreening.models.network;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.LambdaBlock;
import ai.djl.nn.ParameterList;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.norm.BatchNorm;
import ai.djl.nn.pooling.Pool;
import ai.djl.training.ParameterStore;
import ai.djl.util.Pair;
import ai.djl.util.PairList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A Keras-applications backbone ({@code include_top=False}, no pooling) rebuilt as a DJL block, NCHW in and
 * out, that remembers which Keras layer each of its weight-bearing blocks stands for.
 *
 * <p>{@link #kerasLayerPaths()} maps every Keras layer that has weights (Conv2D, DepthwiseConv2D,
 * SeparableConv2D, BatchNormalization) to its DJL block path: the child keys from this
 * block down, joined by {@code '_'}, exactly as DJL prefixes parameter names in {@link Block#getParameters()}.
 * So Keras {@code "conv_dw_3"}'s kernel is {@code getParameters().get(path + "_weight")} and a BN layer's
 * gamma/beta/moving_mean/moving_variance are {@code path + "_gamma"|"_beta"|"_runningMean"|"_runningVar"}. Inside a
 * classifier from {@link Networks#classifier} prefix the path with the backbone's child key there,
 * {@link Networks#classifierBackboneKey(org.xrayscreening.models.Architecture)}. The map's iteration order is a depth-first walk
 * of the block tree, which every subclass arranges to equal Keras' layer creation order, so a file whose layer
 * names differ (Keras auto-names, TFLite tensor names) can be mapped by order.
 *
 * <p>Layout conventions (mind them when importing Keras/TF weights, which are NHWC / HWIO):
 * DJL conv weights are (out, in/groups, kH, kW); a depthwise conv is a {@link Conv2d} with groups = channels and
 * weight (C, 1, kH, kW) (Keras depthwise_kernel (kH, kW, C, 1)); a SeparableConv2D is a {@link SequentialBlock}
 * whose children are the depthwise conv ({@code path + "_01Conv2d_weight"} = depthwise_kernel) and the 1x1
 * pointwise conv ({@code path + "_02Conv2d_weight"} = pointwise_kernel), neither with bias. A conv with bias has
 * {@code path + "_bias"}. A BN without scale ({@link BatchNormNoScale}) has no {@code _gamma}.
 */
public abstract class KerasBackbone extends SequentialBlock implements BatchNormFolding.ChildReplacing {
    /** Keras' BatchNormalization default momentum (DJL uses the same convention; its own default is 0.9). */
    public static final float KERAS_BN_MOMENTUM = 0.99f;

    /**
     * Batch-norm momentum for blocks built on this thread. Keras' 0.99 needs hundreds of steps before the
     * running statistics match the data, so a short training run (the demo models, a few CPU epochs) gives a
     * model that is right in training mode and wrong in eval mode; such runs build with a lower momentum via
     * {@link Networks#classifier(org.xrayscreening.models.Architecture, int, float)}. Not a parameter: saved
     * weights load into a block of any momentum.
     */
    private static final ThreadLocal<Float> BN_MOMENTUM = ThreadLocal.withInitial(() -> KERAS_BN_MOMENTUM);

    static float bnMomentum() {
        return BN_MOMENTUM.get();
    }

    static <T> T withBatchNormMomentum(float momentum, java.util.function.Supplier<T> build) {
        if (!(momentum > 0f && momentum < 1f)) {
            throw new IllegalArgumentException("batch-norm momentum must be in (0, 1), was " + momentum);
        }
        float previous = BN_MOMENTUM.get();
        BN_MOMENTUM.set(momentum);
        try {
            return build.get();
        } finally {
            BN_MOMENTUM.set(previous);
        }
    }

    private final IdentityHashMap<Block, String> kerasNames = new IdentityHashMap<>();

    /** Channels of the backbone's output feature map. */
    public abstract int outputChannels();

    /** Smallest square input side Keras accepts for this network. */
    public abstract int minInputSize();

    /** Records that {@code block} is Keras layer {@code name}; returns the block. */
    /** Frees each stage's activations once the next stage has consumed them (see {@link Releasing}). */
    @Override
    protected NDList forwardInternal(ParameterStore parameterStore, NDList inputs, boolean training,
                                     PairList<String, Object> params) {
        return Releasing.forwardInOrder(getChildren().values(), parameterStore, inputs, training, params);
    }

    /** For {@link BatchNormFolding} only: an inference-time rewrite of this block's children. */
    @Override
    public void replaceChildren(ai.djl.nn.BlockList replacement) {
        children.clear();
        children.addAll(replacement);
    }

    protected final <B extends Block> B keras(String name, B block) {
        if (kerasNames.containsValue(name)) {
            throw new IllegalStateException("duplicate Keras layer name " + name);
        }
        kerasNames.put(block, name);
        return block;
    }

    /** Keras layer name -> DJL block path relative to this block, in Keras creation order. */
    public Map<String, String> kerasLayerPaths() {
        Map<String, String> out = new LinkedHashMap<>();
        walk(this, "", out);
        if (out.size() != kerasNames.size()) {
            throw new IllegalStateException("recorded Keras layers not all attached to the block tree");
        }
        return Collections.unmodifiableMap(out);
    }

    private void walk(Block block, String prefix, Map<String, String> out) {
        for (Pair<String, Block> child : block.getChildren()) {
            String path = prefix.isEmpty() ? child.getKey() : prefix + "_" + child.getKey();
            String name = kerasNames.get(child.getValue());
            if (name != null) {
                out.put(name, path);
            }
            walk(child.getValue(), path, out);
        }
    }

    /** Sum of the sizes of all parameters (trainable or not, batch-norm moving statistics included). */
    public static long parameterCount(Block block) {
        long total = 0;
        ParameterList params = block.getParameters();
        for (Pair<String, ai.djl.nn.Parameter> p : params) {
            Shape shape = p.getValue().getShape();
            if (shape == null) {
                throw new IllegalStateException("parameter " + p.getKey() + " has no shape: initialize the block first");
            }
            total += shape.size();
        }
        return total;
    }

    // ---- building helpers shared by the four networks -------------------------------------------------------

    /** Conv2d without bias, square kernel/stride, symmetric padding (0 = valid). */
    static Conv2d conv(int filters, int kernel, int stride, int padding, boolean bias) {
        return conv(filters, kernel, kernel, stride, padding, padding, bias, 1);
    }

    static Conv2d conv(int filters, int kernelH, int kernelW, int stride, int padH, int padW, boolean bias,
                       int groups) {
        return Conv2d.builder()
                .setFilters(filters)
                .setKernelShape(new Shape(kernelH, kernelW))
                .optStride(new Shape(stride, stride))
                .optPadding(new Shape(padH, padW))
                .optGroups(groups)
                .optBias(bias)
                .build();
    }

    /**
     * Builds strided 1x1 convolutions as DJL's plain strided {@link Conv2d} instead of {@link StrideFreePointwise}:
     * the layout before the Zen 5 fix, kept only so that a benchmark can compare the two in one run. Not a
     * parameter: weights move freely between the two layouts.
     */
    private static final ThreadLocal<Boolean> STRIDED_POINTWISE = ThreadLocal.withInitial(() -> false);

    static <T> T withStridedPointwise(java.util.function.Supplier<T> build) {
        boolean previous = STRIDED_POINTWISE.get();
        STRIDED_POINTWISE.set(true);
        try {
            return build.get();
        } finally {
            STRIDED_POINTWISE.set(previous);
        }
    }

    /**
     * Keras Conv2D(filters, 1, strides=stride) without padding (a 1x1 kernel never needs any, even for "same").
     * A strided one is a {@link StrideFreePointwise.Conv2d}: see there why.
     */
    static Conv2d pointwise(int filters, int stride, boolean bias) {
        if (stride == 1 || STRIDED_POINTWISE.get()) {
            return conv(filters, 1, stride, 0, bias);
        }
        return new StrideFreePointwise.Conv2d(filters, stride, bias);
    }

    /** Depthwise 3x3-style conv (depth multiplier 1) over {@code channels} channels, no bias. */
    static Conv2d depthwise(int channels, int kernel, int stride, int padding) {
        return conv(channels, kernel, kernel, stride, padding, padding, false, channels);
    }

    /**
     * Keras ReLU(max_value=6) as one op: DJL's relu6Block computes minimum(6, relu(x)), which leaves the relu
     * output and a scalar array behind on every call (intermediates {@link Releasing} cannot reach).
     */
    static Block relu6() {
        return new LambdaBlock(x -> new NDList(x.singletonOrThrow().clip(0, 6)), "ReLU6");
    }

    /** Keras BatchNormalization(axis=1, epsilon) with gamma and beta. */
    static BatchNorm batchNorm(float epsilon) {
        return BatchNorm.builder().optAxis(1).optEpsilon(epsilon).optMomentum(bnMomentum()).build();
    }

    /** Keras SeparableConv2D(filters, kernel, padding="same", use_bias=False), stride 1: depthwise then 1x1. */
    static SequentialBlock separable(int inChannels, int filters, int kernel) {
        return Releasing.sequential()
                .add(depthwise(inChannels, kernel, 1, sameStride1(kernel)))
                .add(conv(filters, 1, 1, 0, false));
    }

    /** Keras AveragePooling2D(k, strides=1, padding="same"): TF averages over the non-padded elements only. */
    static Block avgPoolSameStride1(int kernel) {
        return new AvgPool2dSame(kernel, 1);
    }

    /** Keras MaxPooling2D(k, strides=s) with padding="valid". */
    static Block maxPoolValid(int kernel, int stride) {
        return Pool.maxPool2dBlock(new Shape(kernel, kernel), new Shape(stride, stride), new Shape(0, 0));
    }

    /** Join for a ParallelBlock: element-wise sum of the branches (Keras Add). */
    static NDList sum(List<NDList> branches) {
        NDArray out = branches.get(0).singletonOrThrow();
        for (int i = 1; i < branches.size(); i++) {
            out = out.add(branches.get(i).singletonOrThrow());
        }
        return new NDList(out);
    }

    /** Join for a ParallelBlock: concatenation of the branches along the channel axis (Keras concatenate). */
    static NDList concatChannels(List<NDList> branches) {
        NDList all = new NDList(branches.size());
        for (NDList b : branches) {
            all.add(b.singletonOrThrow());
        }
        return new NDList(NDArrays.concat(all, 1));
    }

    /**
     * Padding for a stride-1 conv with Keras padding="same" and an odd kernel: TF SAME is then symmetric,
     * (k - 1) / 2 on each side, at any input size, so the conv's own padding reproduces it exactly.
     */
    static int sameStride1(int kernel) {
        if (kernel % 2 == 0) {
            throw new IllegalArgumentException("even kernel: TF SAME is asymmetric, use Pad2d.tfSame");
        }
        return (kernel - 1) / 2;
    }
}
