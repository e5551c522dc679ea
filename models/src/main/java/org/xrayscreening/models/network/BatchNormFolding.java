package org.xrayscreening.models.network;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.BlockList;
import ai.djl.nn.Parameter;
import ai.djl.nn.ParameterList;
import ai.djl.nn.convolutional.Convolution;
import ai.djl.nn.norm.BatchNorm;
import ai.djl.util.Pair;
import java.lang.reflect.Field;

/**
 * Inference-time folding of every batch norm into the convolution right before it: one convolution with bias
 * computes what convolution + batch norm (eval mode, running statistics) computed, so a forward pass skips one
 * full read and write of each activation and ~4 parameter look-ups per batch norm.
 *
 * <p>For a convolution {@code y = w * x + b} ({@code b = 0} without bias) followed by batch norm with running
 * mean {@code m}, variance {@code v}, scale {@code g} (1 for {@link BatchNormNoScale}), shift {@code beta} and
 * epsilon {@code e}, per output channel {@code s = g / sqrt(v + e)}: {@code w' = w s}, {@code b' = beta + (b - m) s}.
 * Computed in float64 and rounded once to float32. A depthwise convolution folds the same way (one output
 * channel per group); a separable convolution ({@code KerasBackbone.separable}) folds into its pointwise half.
 *
 * <p>Only for inference: the folded network has no running statistics, so it neither trains nor updates them, and
 * its parameter layout is not the one registry files and the Keras importers use (batch-norm parameters are gone,
 * folded convolutions gain a {@code _bias}). Registry files are always written from and loaded into the unfolded
 * {@link Networks#classifier}; a loaded classifier is folded afterwards ({@code inference.CovidClassifier}).
 * Grad-CAM works on the folded network: it back-propagates through the head only (see {@code explain.GradCam}),
 * and the backbone's output is the same function of the input.
 *
 * <p>The rewrite replaces children of this package's sequential blocks in place: the folded convolution keeps
 * the child key of the convolution it replaces ({@code 02Conv2d}) and the batch norm's child is removed, so
 * {@link KerasBackbone#kerasLayerPaths()} no longer describes a folded backbone.
 */
public final class BatchNormFolding {
    private BatchNormFolding() {}

    /** Folds every convolution + batch-norm pair of an initialized network in place; returns how many. */
    public static int fold(Block network) {
        if (!network.isInitialized()) {
            throw new IllegalArgumentException("fold an initialized network (load its weights first)");
        }
        return rewrite(network, true);
    }

    /**
     * The same rewrite on an uninitialized network, without values: folded convolutions with bias parameters not
     * yet set, batch norms removed. Gives a block whose parameter names and order equal those of a folded one,
     * for copying a folded network's parameters into (as {@code inference.Bfloat16#copyToBfloat16} does).
     */
    public static int foldStructure(Block network) {
        return rewrite(network, false);
    }

    /** Number of batch norms left in {@code network} (0 after {@link #fold}). */
    public static int batchNormCount(Block network) {
        int n = isBatchNorm(network) ? 1 : 0;
        for (Block child : network.getChildren().values()) {
            n += batchNormCount(child);
        }
        return n;
    }

    private static int rewrite(Block block, boolean withValues) {
        int folded = 0;
        BlockList children = block.getChildren();
        for (Block child : children.values()) {
            folded += rewrite(child, withValues);
        }
        if (!(block instanceof ChildReplacing sequence)) {
            // a parallel block's branches are sequences themselves: their pairs were folded by the recursion
            return folded;
        }
        BlockList out = new BlockList(children.size());
        for (int i = 0; i < children.size(); i++) {
            Pair<String, Block> child = children.get(i);
            Block next = i + 1 < children.size() ? children.valueAt(i + 1) : null;
            if (next != null && isBatchNorm(next) && lastConvolution(child.getValue()) != null) {
                Block replacement = replaceLastConvolution(child.getValue(), next, withValues);
                out.add(child.getKey(), replacement);
                folded++;
                i++; // the batch norm is now part of the convolution
            } else {
                out.add(child);
            }
        }
        if (folded > 0) {
            sequence.replaceChildren(out);
        }
        return folded;
    }

    /** The block itself if it is a convolution, the last child of one of this package's sequences, or null. */
    private static Convolution lastConvolution(Block block) {
        if (block instanceof Convolution conv) {
            return conv;
        }
        if (block instanceof ChildReplacing) {
            BlockList children = block.getChildren();
            if (!children.isEmpty() && children.valueAt(children.size() - 1) instanceof Convolution conv) {
                return conv;
            }
        }
        return null;
    }

    private static Block replaceLastConvolution(Block block, Block batchNorm, boolean withValues) {
        if (block instanceof Convolution conv) {
            return foldedConvolution(conv, batchNorm, withValues);
        }
        BlockList children = block.getChildren();
        BlockList out = new BlockList(children.size());
        for (int i = 0; i < children.size() - 1; i++) {
            out.add(children.get(i));
        }
        Convolution last = (Convolution) children.valueAt(children.size() - 1);
        out.add(children.keyAt(children.size() - 1), foldedConvolution(last, batchNorm, withValues));
        ((ChildReplacing) block).replaceChildren(out);
        return block;
    }

    /** A new convolution of the same kind and geometry with a bias, holding the folded values if asked. */
    private static Block foldedConvolution(Convolution conv, Block batchNorm, boolean withValues) {
        Convolution folded = withBias(conv);
        if (!withValues) {
            return folded;
        }
        BatchNormValues bn = BatchNormValues.of(batchNorm);
        ParameterList convParameters = conv.getDirectParameters();
        NDArray weight = convParameters.get("weight").getArray();
        NDArray bias = conv.isIncludeBias() ? convParameters.get("bias").getArray() : null;
        if (bn.shift.getShape().get(0) != conv.getFilters()) {
            throw new IllegalArgumentException("batch norm over " + bn.shift.getShape() + " channels follows a"
                    + " convolution with " + conv.getFilters() + " filters");
        }
        NDManager owner = weight.getManager();
        NDArray newWeight;
        NDArray newBias;
        try (NDManager scope = owner.newSubManager()) {
            // s = g / sqrt(v + e), per output channel
            NDArray scale = float64(bn.variance, scope).add(bn.epsilon).sqrt().pow(-1);
            if (bn.scale != null) {
                scale = scale.mul(float64(bn.scale, scope));
            }
            NDArray b = bias == null ? scale.zerosLike() : float64(bias, scope);
            newWeight = float64(weight, scope).mul(scale.reshape(new Shape(conv.getFilters(), 1, 1, 1)))
                    .toType(DataType.FLOAT32, false);
            newBias = float64(bn.shift, scope).add(b.sub(float64(bn.mean, scope)).mul(scale))
                    .toType(DataType.FLOAT32, false);
            newWeight.attach(owner);
            newBias.attach(owner);
        }
        ParameterList foldedParameters = folded.getDirectParameters();
        set(foldedParameters.get("weight"), newWeight);
        set(foldedParameters.get("bias"), newBias);
        // the unfolded values are no longer part of any block: free them now, not when the model closes
        convParameters.values().forEach(Parameter::close);
        batchNorm.getDirectParameters().values().forEach(Parameter::close);
        return folded;
    }

    /** A float64 copy of {@code x}, detached from autograd, in {@code scope}. */
    private static NDArray float64(NDArray x, NDManager scope) {
        try (NDArray detached = x.stopGradient()) {
            NDArray copy = detached.toType(DataType.FLOAT64, true);
            copy.attach(scope);
            return copy;
        }
    }

    private static void set(Parameter parameter, NDArray value) {
        parameter.setArray(value);
        // an inference-only block: nothing may train it
        parameter.freeze(true);
    }

    private static Convolution withBias(Convolution conv) {
        if (conv instanceof StrideFreePointwise.Conv2d pointwise) {
            return new StrideFreePointwise.Conv2d(pointwise.getFilters(), pointwise.subsampling(), true);
        }
        if (conv.getClass() == ai.djl.nn.convolutional.Conv2d.class) {
            return ai.djl.nn.convolutional.Conv2d.builder()
                    .setFilters(conv.getFilters())
                    .setKernelShape(conv.getKernelShape())
                    .optStride(conv.getStride())
                    .optPadding(conv.getPadding())
                    .optDilation(conv.getDilation())
                    .optGroups(conv.getGroups())
                    .optBias(true)
                    .build();
        }
        throw new IllegalArgumentException("cannot fold a batch norm into a " + conv.getClass().getName());
    }

    private static boolean isBatchNorm(Block block) {
        return block instanceof BatchNorm || block instanceof BatchNormNoScale;
    }

    /** A batch norm's running statistics and affine parameters (scale null: none) and epsilon. */
    private record BatchNormValues(NDArray mean, NDArray variance, NDArray scale, NDArray shift, float epsilon) {
        static BatchNormValues of(Block block) {
            ParameterList p = block.getDirectParameters();
            if (block instanceof BatchNormNoScale noScale) {
                return new BatchNormValues(p.get("runningMean").getArray(), p.get("runningVar").getArray(), null,
                        p.get("beta").getArray(), noScale.epsilon());
            }
            BatchNorm bn = (BatchNorm) block;
            if (privateField(bn, "axis", Integer.class) != 1) {
                throw new IllegalArgumentException("only channel-axis (NCHW) batch norms fold into a convolution");
            }
            return new BatchNormValues(p.get("runningMean").getArray(), p.get("runningVar").getArray(),
                    p.get("gamma").getArray(), p.get("beta").getArray(), privateField(bn, "epsilon", Float.class));
        }
    }

    /**
     * DJL 0.36's BatchNorm keeps epsilon and axis private with no getter and does not save them; the DJL version
     * is pinned, and {@code BatchNormFoldingTest} fails if the folded outputs stop matching.
     */
    private static <T> T privateField(BatchNorm bn, String name, Class<T> type) {
        try {
            Field field = BatchNorm.class.getDeclaredField(name);
            field.setAccessible(true);
            return type.cast(field.get(bn));
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new IllegalStateException("cannot read BatchNorm." + name + " (DJL version changed?)", e);
        }
    }

    /** A sequential block of this package whose children the fold may replace. */
    interface ChildReplacing {
        void replaceChildren(BlockList replacement);
    }
}
