package org.xrayscreening.models.network;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.ParameterStore;
import ai.djl.util.Pair;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.xrayscreening.models.Architecture;
import org.xrayscreening.models.explain.GradCam;
import org.xrayscreening.models.inference.Bfloat16;
import org.xrayscreening.models.preprocess.Preprocessor;
import org.xrayscreening.models.synthetic.SyntheticChestXray;

/**
 * Folded and unfolded networks compute the same probabilities, on every architecture, with batch-norm statistics
 * and affine parameters far from their initial values (random weights, 96 px).
 */
class BatchNormFoldingTest {
    private static final int SIZE = 96;
    private static final int IMAGES = 4;

    @BeforeAll
    static void gradModeOff() {
        // the statistics are edited in place below, which autograd forbids on leaves that require gradients
        Engine.getEngine("PyTorch");
        JniUtils.setGradMode(false);
    }

    @ParameterizedTest
    @EnumSource(Architecture.class)
    void foldedNetworkGivesTheSameProbabilitiesAndHeatmap(Architecture arch) {
        try (NDManager manager = NDManager.newBaseManager()) {
            Block network = trainedLookingClassifier(arch, manager);
            NDArray x = images(arch, manager);
            ParameterStore store = new ParameterStore(manager, false);
            float[] before = network.forward(store, new NDList(x), false).head().toFloatArray();
            float[] chw = Preprocessor.forArchitecture(arch, SIZE).toChw(SyntheticChestXray.positive(11, 120).gray8());
            GradCam.FeatureCam camBefore = GradCam.featureCam(network, chw, SIZE, 0, manager);
            int batchNorms = BatchNormFolding.batchNormCount(network);
            long convolutionsWithBias = countConvolutionsWithBias(network);

            int folded = BatchNormFolding.fold(network);

            assertThat(batchNorms).isEqualTo(switch (arch) {
                case MOBILENET -> 27;
                case RESNET50 -> 53;
                case INCEPTION_V3 -> 94;
                case XCEPTION -> 40;
            });
            assertThat(folded).isEqualTo(batchNorms);
            assertThat(BatchNormFolding.batchNormCount(network)).isZero();
            // ResNet50's convolutions had a bias already; every folded one has one now
            assertThat(countConvolutionsWithBias(network) - convolutionsWithBias)
                    .isEqualTo(arch == Architecture.RESNET50 ? 0 : folded);

            float[] after = network.forward(store, new NDList(x), false).head().toFloatArray();
            double[] pBefore = covidProbabilities(before);
            double[] pAfter = covidProbabilities(after);
            System.out.printf("%s: %d batch norms folded; logits before %s after %s%n", arch, folded,
                    java.util.Arrays.toString(before), java.util.Arrays.toString(after));
            double maxLogit = 0;
            double maxLogitDiff = 0;
            for (int i = 0; i < before.length; i++) {
                maxLogit = Math.max(maxLogit, Math.abs(before[i]));
                maxLogitDiff = Math.max(maxLogitDiff, Math.abs(before[i] - after[i]));
            }
            assertThat(maxLogitDiff / Math.max(1, maxLogit)).isLessThan(1e-4);
            double spread = 0;
            for (int i = 0; i < IMAGES; i++) {
                assertThat(Math.abs(pBefore[i] - pAfter[i])).as("probability of image %d", i).isLessThan(1e-4);
                spread = Math.max(spread, Math.abs(pBefore[i] - pBefore[0]));
            }
            // a network whose outputs saturate at 0 or 1 would pass the comparison whatever the fold did
            assertThat(spread).as("spread of the probabilities over the images").isGreaterThan(1e-3);

            GradCam.FeatureCam camAfter = GradCam.featureCam(network, chw, SIZE, 0, manager);
            assertThat(camAfter.max()).isGreaterThan(0);
            assertThat(camBefore.values()).hasSameSizeAs(camAfter.values());
            for (int i = 0; i < camBefore.values().length; i++) {
                assertThat((double) Math.abs(camBefore.values()[i] - camAfter.values()[i]))
                        .isLessThan(1e-3 * camBefore.max());
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Architecture.class)
    void aFoldedNetworkRunsInBf16(Architecture arch) throws Exception {
        try (NDManager manager = NDManager.newBaseManager(); Bfloat16 bf16 = Bfloat16.open(manager)) {
            Block network = trainedLookingClassifier(arch, manager);
            Shape input = new Shape(1, 3, SIZE, SIZE);
            Block unfoldedBf16 = bf16.copyToBfloat16(network, Networks.classifier(arch, 2), manager, input);
            NDArray x = images(arch, manager);
            ParameterStore store = new ParameterStore(manager, false);
            double[] p32 = covidProbabilities(network.forward(store, new NDList(x), false).head().toFloatArray());
            double[] p16 = covidProbabilities(unfoldedBf16.forward(store, new NDList(x), false).head().toFloatArray());

            BatchNormFolding.fold(network);
            Block structure = Networks.classifier(arch, 2);
            BatchNormFolding.foldStructure(structure);
            assertThat(structure.getParameters().keys()).isEqualTo(network.getParameters().keys());
            assertThat(structure.isInitialized()).isFalse();
            Block foldedBf16 = bf16.copyToBfloat16(network, structure, manager, input);
            NDArray out = foldedBf16.forward(store, new NDList(x), false).head();
            assertThat(out.getDataType()).isEqualTo(DataType.FLOAT32);
            double[] p16Folded = covidProbabilities(out.toFloatArray());

            double unfoldedError = 0;
            double foldedError = 0;
            for (int i = 0; i < IMAGES; i++) {
                unfoldedError = Math.max(unfoldedError, Math.abs(p16[i] - p32[i]));
                foldedError = Math.max(foldedError, Math.abs(p16Folded[i] - p32[i]));
            }
            System.out.printf("%s: fp32 %s, bf16 %s, bf16 folded %s%n", arch, java.util.Arrays.toString(p32),
                    java.util.Arrays.toString(p16), java.util.Arrays.toString(p16Folded));
            // still computed in bf16 (identical to fp32 would mean the copy did not cast) ...
            assertThat(foldedError).isGreaterThan(0);
            // ... and a working classifier. Not as close as the unfolded one everywhere: on InceptionV3 here the
            // folded bf16 network moved probabilities by up to 0.18 against 0.11 unfolded (a folded bias rounded
            // to 8 bits cancels against the convolution's output; PyTorch's bf16 batch norm computes in fp32),
            // which is why CovidClassifier does not fold a bf16 classifier unless asked to.
            assertThat(foldedError).isLessThan(0.25);
        }
    }

    @Test
    void anUninitializedNetworkIsRefusedAndTrainingLayoutIsUntouched() {
        Block network = Networks.classifier(Architecture.MOBILENET, 2);
        assertThatThrownBy(() -> BatchNormFolding.fold(network))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("initialized");
        // folding works on its own copy: a network built for training still has every batch norm
        assertThat(BatchNormFolding.batchNormCount(Networks.classifier(Architecture.MOBILENET, 2))).isEqualTo(27);
    }

    /**
     * A classifier whose batch norms hold the statistics of real activations, then moved away from them: the
     * running statistics are set by one training-mode pass with momentum 0.01 (so they are the batch's, layer by
     * layer, and the eval-mode activations stay in a sane range), after scale, shift and any convolution bias
     * were drawn at random; then means and variances are perturbed, so eval mode differs from that batch.
     */
    private static Block trainedLookingClassifier(Architecture arch, NDManager manager) {
        // the same random weights on every run: a failure here must be reproducible
        Engine.getEngine("PyTorch").setRandomSeed(arch.ordinal() + 17);
        Block network = Networks.classifier(arch, 2, 0.01f);
        network.initialize(manager, DataType.FLOAT32, new Shape(1, 3, SIZE, SIZE));
        Random random = new Random(arch.ordinal() + 17L);
        for (Pair<String, Parameter> p : network.getParameters()) {
            String name = p.getKey();
            if (name.endsWith("_gamma")) {
                fill(p.getValue(), random, 0.5, 1.5);
            } else if (name.endsWith("_beta") || (name.endsWith("_bias") && !name.contains("Linear"))) {
                fill(p.getValue(), random, -0.2, 0.2);
            }
        }
        network.forward(new ParameterStore(manager, false), new NDList(images(arch, manager)), true);
        // a smaller head keeps the probabilities away from 0 and 1, where any two networks would agree
        network.getParameters().get("04Linear_weight").getArray().muli(0.05);
        for (Pair<String, Parameter> p : network.getParameters()) {
            if (p.getKey().endsWith("_runningVar")) {
                NDArray var = p.getValue().getArray();
                float[] v = var.toFloatArray();
                for (int i = 0; i < v.length; i++) {
                    v[i] = (float) (v[i] * (0.7 + 0.6 * random.nextDouble()) + 1e-3);
                }
                var.set(FloatBuffer.wrap(v));
            } else if (p.getKey().endsWith("_runningMean")) {
                NDArray mean = p.getValue().getArray();
                float[] m = mean.toFloatArray();
                for (int i = 0; i < m.length; i++) {
                    m[i] = (float) (m[i] + 0.1 * (random.nextDouble() - 0.5));
                }
                mean.set(FloatBuffer.wrap(m));
            }
        }
        return network;
    }

    private static void fill(Parameter parameter, Random random, double from, double to) {
        NDArray array = parameter.getArray();
        float[] values = new float[(int) array.size()];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) (from + (to - from) * random.nextDouble());
        }
        array.set(FloatBuffer.wrap(values));
    }

    private static NDArray images(Architecture arch, NDManager manager) {
        Preprocessor p = Preprocessor.forArchitecture(arch, SIZE);
        List<NDArray> xs = new ArrayList<>();
        for (int i = 0; i < IMAGES; i++) {
            xs.add(p.toNDArray(SyntheticChestXray.of(i, 128, i % 2 == 0).gray8(), manager));
        }
        return NDArrays.stack(new NDList(xs));
    }

    private static double[] covidProbabilities(float[] logits) {
        double[] p = new double[logits.length / 2];
        for (int i = 0; i < p.length; i++) {
            p[i] = 1 / (1 + Math.exp(logits[2 * i + 1] - logits[2 * i]));
        }
        return p;
    }

    private static long countConvolutionsWithBias(Block block) {
        long n = block instanceof Conv2d conv && conv.isIncludeBias() ? 1 : 0;
        for (Block child : block.getChildren().values()) {
            n += countConvolutionsWithBias(child);
        }
        return n;
    }
}
