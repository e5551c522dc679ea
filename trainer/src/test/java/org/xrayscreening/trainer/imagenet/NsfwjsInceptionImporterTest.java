package org.xrayscreening.trainer.imagenet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.convolutional.Convolution;
import ai.djl.training.ParameterStore;
import ai.djl.util.Pair;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.xrayscreening.models.Architecture;
import org.xrayscreening.models.inference.ModelExport;
import org.xrayscreening.models.network.InceptionV3;
import org.xrayscreening.trainer.imagenet.NsfwjsInceptionImporter.ConvBn;
import org.xrayscreening.trainer.imagenet.NsfwjsInceptionImporter.Dense;
import org.xrayscreening.trainer.imagenet.NsfwjsInceptionImporter.InceptionWeights;

/**
 * The mapping onto {@link InceptionV3}, on weights made up in the file's (Keras) layout, so that it runs anywhere;
 * {@link NsfwjsInceptionImportIT} checks the real file against TensorFlow.js.
 */
class NsfwjsInceptionImporterTest {
    private static final int SIZE = 75;

    @Test
    void hwioKernelsBecomeOihw() {
        int h = 2;
        int w = 3;
        int in = 4;
        int out = 5;
        float[] hwio = new float[h * w * in * out];
        for (int i = 0; i < hwio.length; i++) {
            hwio[i] = i;
        }
        float[] oihw = NsfwjsInceptionImporter.hwioToOihw(hwio, h, w, in, out);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                for (int i = 0; i < in; i++) {
                    for (int o = 0; o < out; o++) {
                        assertThat(oihw[((o * in + i) * h + y) * w + x]).isEqualTo(hwio[((y * w + x) * in + i) * out + o]);
                    }
                }
            }
        }
        assertThat(NsfwjsInceptionImporter.transpose(new float[] {1, 2, 3, 4, 5, 6}, 2, 3))
                .containsExactly(1, 4, 2, 5, 3, 6);
    }

    @Test
    void everyConvAndBatchNormLandsInTheTwoClassModelAndTheHeadStaysAsItWas() {
        try (Model model = ModelExport.newModel(Architecture.INCEPTION_V3, SIZE)) {
            Block block = model.getBlock();
            InceptionWeights weights = madeUp(block, 1);
            float[] headBefore = param(block, "04Linear_weight").toFloatArray();
            NsfwjsInceptionImporter.ImportSummary summary = NsfwjsInceptionImporter.importInto(block, weights, false);
            assertThat(summary.convolutions()).isEqualTo(94);
            assertThat(summary.head()).isFalse();
            assertThat(param(block, "04Linear_weight").toFloatArray()).isEqualTo(headBefore);

            InceptionV3 inception = (InceptionV3) block.getChildren().get(0).getValue();
            Map<String, String> paths = inception.kerasLayerPaths();
            for (int k : new int[] {0, 1, 40, 93}) {
                ConvBn unit = weights.convolutions().get(k);
                String suffix = k == 0 ? "" : "_" + k;
                String conv = "01InceptionV3_" + paths.get("conv2d" + suffix);
                String bn = "01InceptionV3_" + paths.get("batch_normalization" + suffix);
                assertThat(param(block, conv + "_weight").toFloatArray()).isEqualTo(unit.kernel());
                assertThat(param(block, bn + "_beta").toFloatArray()).isEqualTo(unit.beta());
                assertThat(param(block, bn + "_runningMean").toFloatArray()).isEqualTo(unit.movingMean());
                assertThat(param(block, bn + "_runningVar").toFloatArray()).isEqualTo(unit.movingVariance());
            }
        }
    }

    @Test
    void batchNormWithoutScaleComputesKerasInferenceFormula() {
        try (Model model = ModelExport.newModel(Architecture.INCEPTION_V3, SIZE);
             NDManager manager = model.getNDManager().newSubManager()) {
            Block block = model.getBlock();
            NsfwjsInceptionImporter.importInto(block, madeUp(block, 2), false);
            InceptionV3 inception = (InceptionV3) block.getChildren().get(0).getValue();
            Block first = inception.getChildren().get(0).getValue(); // conv2d_bn: conv, BN, relu
            ParameterStore ps = new ParameterStore(manager, false);
            NDArray x = manager.randomUniform(0f, 1f, new Shape(2, 3, 31, 31));
            NDArray conv = first.getChildren().get(0).getValue().forward(ps, new NDList(x), false).singletonOrThrow();
            NDArray out = first.forward(ps, new NDList(x), false).singletonOrThrow();
            String bn = "01InceptionV3_" + inception.kerasLayerPaths().get("batch_normalization");
            NDArray beta = param(block, bn + "_beta").reshape(1, 32, 1, 1);
            NDArray mean = param(block, bn + "_runningMean").reshape(1, 32, 1, 1);
            NDArray var = param(block, bn + "_runningVar").reshape(1, 32, 1, 1);
            // Keras BatchNormalization(scale=False) at inference, then relu
            NDArray expected = conv.sub(mean).div(var.add(1e-3f).sqrt()).add(beta).maximum(0f);
            assertThat(out.sub(expected).abs().max().getFloat()).isLessThan(1e-4f);
        }
    }

    @Test
    void theNsfwjsHeadGoesIntoTheThreeLinears() {
        try (Model model = Model.newInstance("nsfwjs")) {
            Block block = NsfwjsInceptionImporter.nsfwjsClassifier();
            model.setBlock(block);
            block.initialize(model.getNDManager(), ai.djl.ndarray.types.DataType.FLOAT32, new Shape(1, 3, SIZE, SIZE));
            InceptionWeights weights = madeUp(block, 3);
            NsfwjsInceptionImporter.importInto(block, weights, true);
            String[] linears = {"03Linear", "05Linear", "07Linear"};
            for (int i = 0; i < 3; i++) {
                Dense d = weights.head().get(i);
                assertThat(param(block, linears[i] + "_weight").toFloatArray()).isEqualTo(d.weight());
                assertThat(param(block, linears[i] + "_bias").toFloatArray()).isEqualTo(d.bias());
            }
            // the 2-class model has one Linear: a 3-layer head does not fit
            try (Model twoClass = ModelExport.newModel(Architecture.INCEPTION_V3, SIZE)) {
                assertThatThrownBy(() -> NsfwjsInceptionImporter.importInto(twoClass.getBlock(), weights, true))
                        .hasMessageContaining("1 Linear layers after its InceptionV3, the file's head 3");
            }
        }
    }

    @Test
    void mismatchesAreRefusedBeforeAnythingIsWritten() {
        try (Model model = ModelExport.newModel(Architecture.INCEPTION_V3, SIZE)) {
            Block block = model.getBlock();
            InceptionWeights good = madeUp(block, 4);
            String firstConv = "01InceptionV3_" + ((InceptionV3) block.getChildren().get(0).getValue())
                    .kerasLayerPaths().get("conv2d") + "_weight";
            float[] before = param(block, firstConv).toFloatArray();

            // mixed3's last 3x3 96->96 conv is stride 2 valid; the one before it has the same shape, stride 1 same
            int mixed3Strided = good.convolutions().stream()
                    .filter(u -> u.stride() == 2 && u.kernelShape().equals(new Shape(96, 96, 3, 3)))
                    .mapToInt(ConvBn::index).findFirst().orElse(-1);
            assertThat(mixed3Strided).isPositive();
            assertThatThrownBy(() -> NsfwjsInceptionImporter.importInto(block,
                    replace(good, mixed3Strided, u -> withStride(u, 1, true)), false))
                    .hasMessageContaining("conv2d_" + (mixed3Strided + 1) + " (stride 1, same)")
                    .hasMessageContaining("does not match");
            assertThatThrownBy(() -> NsfwjsInceptionImporter.importInto(block, replace(good, 93, u -> new ConvBn(
                    u.index(), u.conv(), u.batchNorm(), u.kernelShape(), u.kernel(), u.stride(), u.same(), u.beta(),
                    u.movingMean(), u.movingVariance(), 1e-5, u.frozen())), false))
                    .hasMessageContaining("batch_normalization_94 has epsilon 1.0E-5");
            assertThatThrownBy(() -> NsfwjsInceptionImporter.importInto(block, replace(good, 93, u -> new ConvBn(
                    u.index(), u.conv(), u.batchNorm(), new Shape(193, 2048, 1, 1), new float[193 * 2048], u.stride(),
                    u.same(), u.beta(), u.movingMean(), u.movingVariance(), u.epsilon(), u.frozen())), false))
                    .hasMessageContaining("shape mismatch").hasMessageContaining("conv2d_94");
            assertThat(param(block, firstConv).toFloatArray()).isEqualTo(before);
        }
    }

    @Test
    void initializingFromAMissingPackageSaysWhatWasLookedFor() {
        try (Model model = ModelExport.newModel(Architecture.INCEPTION_V3, SIZE)) {
            assertThatThrownBy(() -> NsfwjsInceptionImporter.initialize(model, Path.of("/nonexistent/nsfwjs"), SIZE))
                    .hasMessageContaining("no such file or folder: /nonexistent/nsfwjs");
        }
    }

    // ------------------------------------------------------------------------------------------- helpers

    /**
     * Weights in the file's layout (HWIO kernels, Keras names from 1) with the shapes, strides and paddings of the
     * block's InceptionV3, and random values; a head of nsfwjs' shape.
     */
    private static InceptionWeights madeUp(Block block, long seed) {
        Random random = new Random(seed);
        InceptionV3 inception = (InceptionV3) block.getChildren().get(0).getValue();
        Map<String, Block> byPath = new LinkedHashMap<>();
        collect(inception, "", byPath);
        Map<String, String> paths = inception.kerasLayerPaths();
        List<ConvBn> units = new ArrayList<>();
        for (int k = 0; k < NsfwjsInceptionImporter.CONVOLUTIONS; k++) {
            Convolution conv = (Convolution) byPath.get(paths.get(k == 0 ? "conv2d" : "conv2d_" + k));
            Shape oihw = conv.getParameters().get("weight").getArray().getShape();
            int o = (int) oihw.get(0);
            float[] kernel = randoms(random, (int) oihw.size());
            boolean same = conv.getPadding().get(0) > 0 || conv.getPadding().get(1) > 0
                    || (conv.getKernelShape().get(0) == 1 && conv.getKernelShape().get(1) == 1
                    && conv.getStride().get(0) == 1);
            float[] var = randoms(random, o);
            for (int i = 0; i < o; i++) {
                var[i] = Math.abs(var[i]) + 0.1f;
            }
            units.add(new ConvBn(k, "conv2d_" + (k + 1), "batch_normalization_" + (k + 1), oihw, kernel,
                    (int) conv.getStride().get(0), same, randoms(random, o), randoms(random, o), var, 1e-3, k < 51));
        }
        List<Dense> head = List.of(
                new Dense("dense_1", new Shape(256, 2048), randoms(random, 256 * 2048), randoms(random, 256)),
                new Dense("dense_2", new Shape(128, 256), randoms(random, 128 * 256), randoms(random, 128)),
                new Dense("dense_3", new Shape(5, 128), randoms(random, 5 * 128), randoms(random, 5)));
        return new InceptionWeights(Path.of("made-up/model.min.js"), "2.2.4", units, head);
    }

    private static InceptionWeights replace(InceptionWeights w, int index, java.util.function.UnaryOperator<ConvBn> f) {
        List<ConvBn> units = new ArrayList<>(w.convolutions());
        units.set(index, f.apply(units.get(index)));
        return new InceptionWeights(w.file(), w.kerasVersion(), units, w.head());
    }

    private static ConvBn withStride(ConvBn u, int stride, boolean same) {
        return new ConvBn(u.index(), u.conv(), u.batchNorm(), u.kernelShape(), u.kernel(), stride, same, u.beta(),
                u.movingMean(), u.movingVariance(), u.epsilon(), u.frozen());
    }

    private static void collect(Block block, String prefix, Map<String, Block> out) {
        for (Pair<String, Block> child : block.getChildren()) {
            String path = prefix.isEmpty() ? child.getKey() : prefix + "_" + child.getKey();
            out.put(path, child.getValue());
            collect(child.getValue(), path, out);
        }
    }

    private static float[] randoms(Random random, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) random.nextGaussian();
        }
        return a;
    }

    private static NDArray param(Block block, String key) {
        for (Pair<String, Parameter> p : block.getParameters()) {
            if (p.getKey().equals(key)) {
                return p.getValue().getArray();
            }
        }
        throw new AssertionError("no parameter " + key);
    }
}
