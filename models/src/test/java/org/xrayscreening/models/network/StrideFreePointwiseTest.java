package org.xrayscreening.models.network;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.convolutional.Convolution;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.util.Pair;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.xrayscreening.models.Architecture;

/**
 * The Zen 5 fix: a strided 1x1 convolution computed as a stride-1 convolution of the subsampled input must be
 * the same function, forward and backward, and no network may keep a strided 1x1 kernel.
 */
class StrideFreePointwiseTest {
    private NDManager manager;

    @BeforeEach
    void setUp() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void tearDown() {
        manager.close();
    }

    @ParameterizedTest(name = "{0}x{0} input, stride {1}, bias {2}")
    @CsvSource({"7, 2, true", "8, 2, false", "14, 2, true", "15, 2, false", "147, 2, false", "9, 3, true"})
    void sameOutputAndGradientsAsTheStridedConvolution(int size, int stride, boolean bias) {
        Shape inShape = new Shape(2, 16, size, size);
        Block strided = KerasBackbone.conv(8, 1, stride, 0, bias);
        Block subsampled = new StrideFreePointwise.Conv2d(8, stride, bias);
        strided.initialize(manager, DataType.FLOAT32, inShape);
        subsampled.initialize(manager, DataType.FLOAT32, inShape);
        copyParameters(strided, subsampled);

        NDArray x1 = manager.randomNormal(inShape);
        NDArray x2 = x1.duplicate();
        NDArray upstream = manager.randomNormal(strided.getOutputShapes(new Shape[] {inShape})[0]);
        NDArray y1 = forwardBackward(strided, x1, upstream);
        NDArray y2 = forwardBackward(subsampled, x2, upstream);

        long out = (size + stride - 1) / stride;
        assertThat(y2.getShape()).isEqualTo(new Shape(2, 8, out, out)).isEqualTo(y1.getShape());
        assertThat(subsampled.getOutputShapes(new Shape[] {inShape})[0]).isEqualTo(y1.getShape());
        assertClose(y2, y1, "output");
        assertClose(x2.getGradient(), x1.getGradient(), "input gradient");
        assertThat(x1.getGradient().abs().sum().getFloat()).as("the gradient reaches the input").isPositive();
        ai.djl.nn.ParameterList p1 = strided.getParameters();
        ai.djl.nn.ParameterList p2 = subsampled.getParameters();
        for (int i = 0; i < p1.size(); i++) {
            assertClose(p2.get(i).getValue().getArray().getGradient(), p1.get(i).getValue().getArray().getGradient(),
                    p1.get(i).getKey() + " gradient");
        }
    }

    @ParameterizedTest
    @CsvSource({"MOBILENET, 0", "RESNET50, 6", "INCEPTION_V3, 0", "XCEPTION, 4"})
    void noNetworkKeepsAStridedPointwiseKernel(Architecture architecture, int replaced) {
        Block classifier = Networks.classifier(architecture, 2);
        int s = architecture.nativeInputSize();
        classifier.initialize(manager, DataType.FLOAT32, new Shape(1, 3, s, s));
        List<Convolution> convs = new ArrayList<>();
        collectConvolutions(classifier, convs);
        assertThat(convs).isNotEmpty();
        for (Convolution c : convs) {
            if (c.getKernelShape().equals(new Shape(1, 1))) {
                assertThat(c.getStride()).as("a 1x1 convolution's kernel stride").isEqualTo(new Shape(1, 1));
            }
        }
        assertThat(convs.stream().filter(c -> c instanceof StrideFreePointwise.Conv2d)).hasSize(replaced);

        Block before = Networks.classifierWithStridedPointwise(architecture, 2);
        before.initialize(manager, DataType.FLOAT32, new Shape(1, 3, s, s));
        List<Convolution> old = new ArrayList<>();
        collectConvolutions(before, old);
        assertThat(old.stream().filter(c -> c.getKernelShape().equals(new Shape(1, 1))
                && !c.getStride().equals(new Shape(1, 1)))).hasSize(replaced);
    }

    @Test
    void parameterPathsAndOutputsEqualTheStridedLayout() {
        // Same paths mean models saved before the fix load unchanged; same outputs mean they score the same.
        for (Architecture a : new Architecture[] {Architecture.RESNET50, Architecture.XCEPTION}) {
            Shape in = new Shape(2, 3, 96, 96);
            Block now = Networks.classifier(a, 2);
            Block before = Networks.classifierWithStridedPointwise(a, 2);
            now.initialize(manager, DataType.FLOAT32, in);
            before.initialize(manager, DataType.FLOAT32, in);
            assertThat(now.getParameters().keys()).isEqualTo(before.getParameters().keys());
            copyParameters(before, now);
            NDArray x = manager.randomUniform(-1f, 1f, in);
            NDArray y1 = before.forward(new ParameterStore(manager, false), new NDList(x), false).singletonOrThrow();
            NDArray y2 = now.forward(new ParameterStore(manager, false), new NDList(x), false).singletonOrThrow();
            assertClose(y2, y1, a + " logits");
        }
    }

    private NDArray forwardBackward(Block block, NDArray x, NDArray upstream) {
        x.setRequiresGradient(true);
        for (Pair<String, Parameter> p : block.getParameters()) {
            p.getValue().getArray().setRequiresGradient(true);
        }
        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            NDArray y = block.forward(new ParameterStore(manager, false), new NDList(x), true).singletonOrThrow();
            gc.backward(y.mul(upstream).sum());
            return y.stopGradient();
        }
    }

    private static void copyParameters(Block from, Block to) {
        ai.djl.nn.ParameterList src = from.getParameters();
        ai.djl.nn.ParameterList dst = to.getParameters();
        assertThat(dst).hasSameSizeAs(src);
        for (int i = 0; i < src.size(); i++) {
            dst.get(i).getValue().getArray().set(src.get(i).getValue().getArray().toFloatArray());
        }
    }

    private static void collectConvolutions(Block block, List<Convolution> out) {
        if (block instanceof Convolution c) {
            out.add(c);
        }
        for (Pair<String, Block> child : block.getChildren()) {
            collectConvolutions(child.getValue(), out);
        }
    }

    private static void assertClose(NDArray actual, NDArray expected, String what) {
        float[] a = actual.toFloatArray();
        float[] e = expected.toFloatArray();
        assertThat(a).as(what).hasSameSizeAs(e);
        float scale = 0f;
        for (float v : e) {
            scale = Math.max(scale, Math.abs(v));
        }
        float tolerance = 1e-5f * Math.max(1f, scale);
        for (int i = 0; i < a.length; i++) {
            assertThat(Math.abs(a[i] - e[i])).as("%s[%d]: %s vs %s", what, i, a[i], e[i]).isLessThanOrEqualTo(tolerance);
        }
    }
}
