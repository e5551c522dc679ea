package org.xrayscreening.models.network;

import ai.djl.nn.Block;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.Dropout;
import ai.djl.nn.pooling.Pool;
import org.xrayscreening.models.Architecture;

/**
 * Builds the project's networks; the one place that maps an {@link Architecture} to a DJL block.
 *
 * <p>All blocks take NCHW float input (N, 3, H, W), already normalized as {@link Architecture#normalization()}
 * says, at any square or non-square size from the architecture's Keras minimum up; they are built
 * uninitialized (call {@code initialize(manager, FLOAT32, new Shape(1, 3, s, s))} or let a Model/Trainer do it).
 * The parameter shapes do not depend on the input size, so one initialized block runs at any size.
 *
 * <p>Classifier layout (child keys): {@code 01<Backbone class>} (e.g. {@code 01MobileNetV1}),
 * {@code 02LambdaBlock} global average pooling to (N, C), {@code 03Dropout} (rate {@link #DROPOUT_RATE}, active
 * only when forward is called with training = true), {@code 04Linear} logits (N, numClasses), parameters
 * {@code 04Linear_weight} (numClasses, C) and {@code 04Linear_bias}.
 */
public final class Networks {
    /** Dropout rate between pooling and the dense layer of {@link #classifier}. */
    public static final float DROPOUT_RATE = 0.2f;

    private Networks() {}

    /** Backbone without its ImageNet top, as Keras' {@code include_top=False} (no pooling). */
    public static Block backbone(Architecture architecture) {
        return kerasBackbone(architecture);
    }

    /** Same as {@link #backbone(Architecture)}, typed, for callers that need the Keras layer mapping. */
    public static KerasBackbone kerasBackbone(Architecture architecture) {
        switch (architecture) {
            case MOBILENET:
                return new MobileNetV1();
            case RESNET50:
                return new ResNet50();
            case INCEPTION_V3:
                return new InceptionV3();
            case XCEPTION:
                return new Xception();
            default:
                throw new IllegalArgumentException("unknown architecture " + architecture);
        }
    }

    /**
     * Backbone + global average pooling + a dense layer of {@code numClasses} logits. Input NCHW float,
     * output (N, numClasses) logits; softmax gives probabilities.
     */
    public static Block classifier(Architecture architecture, int numClasses) {
        if (numClasses < 1) {
            throw new IllegalArgumentException("numClasses must be positive: " + numClasses);
        }
        return Releasing.sequential()
                .add(kerasBackbone(architecture))
                .add(Pool.globalAvgPool2dBlock())
                .add(Dropout.builder().optRate(DROPOUT_RATE).build())
                .add(Linear.builder().setUnits(numClasses).build());
    }

    /**
     * As {@link #classifier(Architecture, int)}, with every batch norm using {@code batchNormMomentum} instead
     * of Keras' 0.99: for training runs too short for 0.99 to settle the running statistics (0.9 is
     * PyTorch's default). The parameters are the same, so weights move freely between the two.
     */
    public static Block classifier(Architecture architecture, int numClasses, float batchNormMomentum) {
        return KerasBackbone.withBatchNormMomentum(batchNormMomentum, () -> classifier(architecture, numClasses));
    }

    /**
     * As {@link #classifier(Architecture, int)} but with ResNet50's and Xception's strided 1x1 convolutions as
     * plain strided convolutions, as before the Zen 5 fix ({@link StrideFreePointwise}). For benchmarks that
     * measure what the fix costs; never for training (the strided backward pass crashes on some CPUs).
     */
    public static Block classifierWithStridedPointwise(Architecture architecture, int numClasses) {
        return KerasBackbone.withStridedPointwise(() -> classifier(architecture, numClasses));
    }

    /** Child key of the backbone inside {@link #classifier}: the prefix of its parameter names there. */
    public static String classifierBackboneKey(Architecture architecture) {
        return "01" + backboneClass(architecture).getSimpleName();
    }

    /** The class implementing an architecture's backbone. */
    public static Class<? extends KerasBackbone> backboneClass(Architecture architecture) {
        switch (architecture) {
            case MOBILENET:
                return MobileNetV1.class;
            case RESNET50:
                return ResNet50.class;
            case INCEPTION_V3:
                return InceptionV3.class;
            case XCEPTION:
                return Xception.class;
            default:
                throw new IllegalArgumentException("unknown architecture " + architecture);
        }
    }

    /** Sum of all parameter sizes of an initialized block (batch-norm moving statistics included). */
    public static long parameterCount(Block block) {
        return KerasBackbone.parameterCount(block);
    }
}
