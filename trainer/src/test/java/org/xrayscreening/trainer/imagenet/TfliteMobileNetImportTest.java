package org.xrayscreening.trainer.imagenet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.util.Pair;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.xrayscreening.models.Architecture;
import org.xrayscreening.models.inference.ModelExport;
import org.xrayscreening.models.network.MobileNetV1;
import org.xrayscreening.models.preprocess.Preprocessor;
import org.xrayscreening.models.synthetic.SyntheticChestXray;
import org.xrayscreening.trainer.imagenet.TfliteFile.Op;
import org.xrayscreening.trainer.imagenet.TfliteFile.Quantization;
import org.xrayscreening.trainer.imagenet.TfliteFile.TensorInfo;
import org.xrayscreening.trainer.imagenet.TfliteMobileNetImporter.MobileNetWeights;

/**
 * The import checked against the real files of {@code ../shared/pretrained}; skipped where they are absent.
 */
class TfliteMobileNetImportTest {

    @Test
    void importedImageNetClassifierRanksTheExpectedLabelsFirst() throws IOException {
        Path tflite = PretrainedFiles.require(PretrainedFiles.CLASSIFIER_075_192);
        List<String> labels = Files.readAllLines(tflite.resolveSibling(PretrainedFiles.LABELS), StandardCharsets.UTF_8);
        MobileNetWeights weights = TfliteMobileNetImporter.read(tflite);
        assertThat(weights.alpha()).isEqualTo(0.75);
        assertThat(weights.inputSize()).isEqualTo(192);
        assertThat(weights.numClasses()).isEqualTo(1001).isEqualTo(labels.size());
        assertThat(weights.featureChannels()).isEqualTo(768);

        List<String> images = List.of("cat.png", "bird.png", "grace_hopper.png");
        List<float[]> inputs = new ArrayList<>();
        for (String image : images) {
            BufferedImage decoded = ImageIO.read(tflite.resolveSibling(image).toFile());
            inputs.add(TfliteMobileNetImporter.fileInput(decoded, weights.inputSize(), weights.input()));
        }
        try (Model model = TfliteMobileNetImporter.loadImageNetClassifier(tflite)) {
            float[][] probs = TfliteMobileNetImporter.predictProbabilities(model.getBlock(), model.getNDManager(),
                    inputs, weights.inputSize());
            List<String> top1 = new ArrayList<>();
            for (int i = 0; i < images.size(); i++) {
                int[] top5 = TfliteMobileNetImporter.topK(probs[i], 5);
                StringBuilder line = new StringBuilder(images.get(i) + " top-5:");
                for (int k : top5) {
                    line.append(String.format(Locale.ROOT, " [%d %s %.4f]", k, labels.get(k), probs[i][k]));
                }
                System.out.println(line);
                top1.add(labels.get(top5[0]));
            }
            assertThat(top1.get(0)).matches("(Egyptian cat|tabby|tiger cat).*");
            assertThat(top1.get(1)).startsWith("chickadee");
            assertThat(top1.get(2)).startsWith("military uniform");

            // the float network's logits stay in the range the file's uint8 logits can represent
            try (NDManager manager = model.getNDManager().newSubManager()) {
                NDArray batch = TfliteMobileNetImporter.stack(manager, inputs, weights.inputSize());
                float[] logits = model.getBlock().forward(new ParameterStore(manager, false), new NDList(batch), false)
                        .singletonOrThrow().toFloatArray();
                Quantization q = weights.logits();
                double lo = q.dequantize(0);
                double hi = q.dequantize(255);
                double slack = 0.1 * (hi - lo);
                assertThat(Arrays.stream(toDouble(logits)).min().orElseThrow()).isGreaterThan(lo - slack);
                assertThat(Arrays.stream(toDouble(logits)).max().orElseThrow()).isLessThan(hi + slack);
            }
        }
    }

    @Test
    void biasScaleInTheFilesIsInputScaleTimesWeightScale() throws IOException {
        for (String name : List.of(PretrainedFiles.CLASSIFIER_075_192, PretrainedFiles.EXTRACTOR_100_224)) {
            TfliteFile file = TfliteFile.read(PretrainedFiles.require(name));
            int convolutions = 0;
            for (Op op : file.operators()) {
                if (!op.isConvolution()) {
                    continue;
                }
                convolutions++;
                TensorInfo in = file.tensor(op.inputs()[0]);
                TensorInfo weight = file.tensor(op.inputs()[1]);
                TensorInfo bias = file.tensor(op.inputs()[2]);
                assertThat(weight.type()).isEqualTo(TfliteSchema.TensorType.UINT8);
                assertThat(bias.type()).isEqualTo(TfliteSchema.TensorType.INT32);
                double expected = (double) in.quantization().scale()[0] * weight.quantization().scale()[0];
                assertThat((double) bias.quantization().scale()[0])
                        .as("bias scale of operator %d in %s", op.index(), name)
                        .isCloseTo(expected, org.assertj.core.api.Assertions.withinPercentage(0.01));
                assertThat(bias.quantization().zeroPoint()[0]).isZero();
            }
            assertThat(convolutions).isGreaterThanOrEqualTo(TfliteMobileNetImporter.BACKBONE_CONVOLUTIONS);
        }
    }

    @Test
    void embeddingExtractorInitializesTheTwoClassMobileNetAndLeavesTheHeadRandom() throws IOException {
        Path tflite = PretrainedFiles.require(PretrainedFiles.EXTRACTOR_100_224);
        MobileNetWeights weights = TfliteMobileNetImporter.read(tflite);
        assertThat(weights.alpha()).isEqualTo(1.0);
        assertThat(weights.hasClassifier()).isFalse();
        assertThat(weights.featureChannels()).isEqualTo(1024);
        int size = 224;
        try (Model model = ModelExport.newModel(Architecture.MOBILENET, size)) {
            Block block = model.getBlock();
            float[] headBefore = param(block, "04Linear_weight").toFloatArray();

            TfliteMobileNetImporter.ImportSummary summary =
                    TfliteMobileNetImporter.initializeFromImageNet(model, tflite, size, null);
            assertThat(summary.convolutions()).isEqualTo(27);
            assertThat(summary.batchNorms()).isEqualTo(27);
            assertThat(summary.classifier()).isFalse();

            assertSameValues(param(block, "04Linear_weight").toFloatArray(), headBefore);
            String conv1 = "01MobileNetV1_01SequentialBlock_02Conv2d_weight";
            assertSameValues(param(block, conv1).toFloatArray(), weights.backbone().get(0).weight());
            String pw13 = "01MobileNetV1_14SequentialBlock_04Conv2d_weight";
            assertThat(param(block, pw13).getShape()).isEqualTo(new Shape(1024, 1024, 1, 1));
            assertSameValues(param(block, pw13).toFloatArray(), weights.backbone().get(26).weight());
            float[] pw13Beta = param(block, "01MobileNetV1_14SequentialBlock_05BatchNorm_beta").toFloatArray();
            assertSameValues(pw13Beta, weights.backbone().get(26).bias());

            // what a Trainer does with an initialized block must not overwrite the import
            block.initialize(model.getNDManager(), DataType.FLOAT32, new Shape(1, 3, size, size));
            assertSameValues(param(block, conv1).toFloatArray(), weights.backbone().get(0).weight());

            // pooled features of a photograph and of an X-ray: finite, within ReLU6's range, not all zero
            Preprocessor preprocessor = Preprocessor.forArchitecture(Architecture.MOBILENET, size);
            List<float[]> inputs = List.of(
                    preprocessor.toChw(ImageIO.read(tflite.resolveSibling("cat.png").toFile())),
                    preprocessor.toChw(SyntheticChestXray.of(7, 256, true).gray8()));
            try (NDManager manager = model.getNDManager().newSubManager()) {
                NDArray batch = TfliteMobileNetImporter.stack(manager, inputs, size);
                ParameterStore ps = new ParameterStore(manager, false);
                NDArray features = block.getChildren().get(0).getValue().forward(ps, new NDList(batch), false)
                        .singletonOrThrow().mean(new int[] {3}).mean(new int[] {2});
                assertThat(features.getShape()).isEqualTo(new Shape(2, 1024));
                float[] f = features.toFloatArray();
                for (float v : f) {
                    assertThat(v).isFinite().isBetween(0f, 6f);
                }
                assertThat(Arrays.stream(toDouble(f)).filter(v -> v > 0).count()).isGreaterThan(100);
                NDArray logits = block.forward(ps, new NDList(batch), false).singletonOrThrow();
                assertThat(logits.getShape()).isEqualTo(new Shape(2, 2));
                for (float v : logits.toFloatArray()) {
                    assertThat(v).isFinite();
                }
            }
        }
    }

    @Test
    void identityPlusBiasBatchNormMakesEvalModeComputeConvPlusBias() throws IOException {
        Path tflite = PretrainedFiles.require(PretrainedFiles.EXTRACTOR_100_224);
        try (Model model = ModelExport.newModel(Architecture.MOBILENET, 64)) {
            TfliteMobileNetImporter.importInto(model.getBlock(), tflite);
            Block firstLayer = model.getBlock().getChildren().get(0).getValue().getChildren().get(0).getValue();
            Block conv = firstLayer.getChildren().get("02Conv2d");
            Block bn = firstLayer.getChildren().get("03BatchNorm");
            try (NDManager manager = model.getNDManager().newSubManager()) {
                ParameterStore ps = new ParameterStore(manager, false);
                NDArray x = manager.randomUniform(-1f, 1f, new Shape(2, 3, 33, 33));
                NDArray y = conv.forward(ps, new NDList(x), false).singletonOrThrow();
                NDArray z = bn.forward(ps, new NDList(y), false).singletonOrThrow();
                NDArray beta = param(model.getBlock(), "01MobileNetV1_01SequentialBlock_03BatchNorm_beta");
                NDArray expected = y.add(beta.reshape(1, 32, 1, 1));
                assertThat(z.sub(expected).abs().max().getFloat()).isLessThan(1e-5f);
            }
        }
    }

    @Test
    void calibrationKeepsEvalOutputAndMakesTrainingModeMatchIt() throws IOException {
        Path tflite = PretrainedFiles.require(PretrainedFiles.EXTRACTOR_100_224);
        int size = 128;
        Preprocessor preprocessor = Preprocessor.forArchitecture(Architecture.MOBILENET, size);
        List<float[]> calibration = new ArrayList<>();
        List<float[]> heldOut = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            float[] chw = preprocessor.toChw(SyntheticChestXray.of(100 + i, 192, i % 3 == 0).gray8());
            (i < 8 ? calibration : heldOut).add(chw);
        }
        try (Model model = ModelExport.newModel(Architecture.MOBILENET, size);
             NDManager manager = model.getNDManager().newSubManager()) {
            Block block = model.getBlock();
            TfliteMobileNetImporter.importInto(block, tflite);
            Block backbone = block.getChildren().get(0).getValue();
            NDArray batch = TfliteMobileNetImporter.stack(manager, calibration, size);
            NDArray other = TfliteMobileNetImporter.stack(manager, heldOut, size);

            float[] evalBefore = forward(backbone, batch, false);
            double cosBefore = TfliteMobileNetImporter.trainEvalCosine(block, batch);
            double otherBefore = TfliteMobileNetImporter.trainEvalCosine(block, other);
            // trainEvalCosine restores the running statistics a training-mode pass updates
            assertSameValues(forward(backbone, batch, false), evalBefore);

            TfliteMobileNetImporter.CalibrationSummary summary =
                    TfliteMobileNetImporter.calibrateBatchNorm(block, batch);
            assertThat(summary.batchNorms()).isEqualTo(27);
            assertThat(summary.images()).isEqualTo(8);

            float[] evalAfter = forward(backbone, batch, false);
            assertThat(maxAbsDiff(evalAfter, evalBefore)).isLessThan(1e-3f);
            double cosAfter = TfliteMobileNetImporter.trainEvalCosine(block, batch);
            double otherAfter = TfliteMobileNetImporter.trainEvalCosine(block, other);
            System.out.printf(Locale.ROOT, "train/eval cosine: calibration batch %.4f -> %.6f, held-out %.4f -> %.4f%n",
                    cosBefore, cosAfter, otherBefore, otherAfter);
            assertThat(cosBefore).isLessThan(0.95);
            assertThat(cosAfter).isGreaterThan(0.9999);
            assertThat(otherAfter).isGreaterThan(otherBefore);

            float[] trainAfter = forward(backbone, batch, true);
            assertThat(maxAbsDiff(trainAfter, evalAfter)).isLessThan(1e-2f);
        }
    }

    @Test
    void refusesOtherNetworksOtherWidthsAndUninitializedBlocks() throws IOException {
        Path v2 = PretrainedFiles.require(PretrainedFiles.MOBILENET_V2);
        assertThatThrownBy(() -> TfliteMobileNetImporter.read(v2))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not a MobileNet v1");

        Path narrow = PretrainedFiles.require(PretrainedFiles.CLASSIFIER_075_192);
        try (Model model = ModelExport.newModel(Architecture.MOBILENET, 64)) {
            assertThatThrownBy(() -> TfliteMobileNetImporter.importInto(model.getBlock(), narrow))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("alpha 0.75");
            // a 2-class head cannot take the 1001-class classifier
            Block wide = TfliteMobileNetImporter.imageNetClassifier(0.75, 2);
            wide.initialize(model.getNDManager(), DataType.FLOAT32, new Shape(1, 3, 64, 64));
            float[] conv1Before = param(wide, "01MobileNetV1_01SequentialBlock_02Conv2d_weight").toFloatArray();
            assertThatThrownBy(() -> TfliteMobileNetImporter.importInto(wide, narrow, true))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("shape mismatch");
            // checked before written: a refused import leaves the block as it was
            assertSameValues(param(wide, "01MobileNetV1_01SequentialBlock_02Conv2d_weight").toFloatArray(),
                    conv1Before);
        }
        assertThatThrownBy(() -> TfliteMobileNetImporter.importInto(new MobileNetV1(0.75), narrow))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("initialize");
    }

    private static float[] forward(Block block, NDArray batch, boolean training) {
        try (NDManager sub = batch.getManager().newSubManager()) {
            NDArray x = batch.duplicate();
            x.attach(sub);
            return block.forward(new ParameterStore(sub, false), new NDList(x), training).singletonOrThrow()
                    .toFloatArray();
        }
    }

    private static float maxAbsDiff(float[] a, float[] b) {
        assertThat(a).hasSameSizeAs(b);
        float max = 0;
        for (int i = 0; i < a.length; i++) {
            max = Math.max(max, Math.abs(a[i] - b[i]));
        }
        return max;
    }

    private static NDArray param(Block block, String name) {
        for (Pair<String, Parameter> p : block.getParameters()) {
            if (p.getKey().equals(name)) {
                return p.getValue().getArray();
            }
        }
        throw new AssertionError("no parameter " + name);
    }

    private static double[] toDouble(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            d[i] = a[i];
        }
        return d;
    }

    /** Exact equality of two float arrays (AssertJ's containsExactly diffs in quadratic time on 1M elements). */
    static void assertSameValues(float[] actual, float[] expected) {
        assertThat(actual).isNotNull();
        assertThat(actual.length).isEqualTo(expected.length);
        int mismatch = Arrays.mismatch(actual, expected);
        assertThat(mismatch).as("first differing index (value %s, expected %s)",
                mismatch >= 0 ? actual[mismatch] : null, mismatch >= 0 ? expected[mismatch] : null).isEqualTo(-1);
    }
}
