package org.xrayscreening.models.inference;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.xrayscreening.models.Architecture;
import org.xrayscreening.models.network.Networks;
import org.xrayscreening.models.preprocess.Preprocessor;
import org.xrayscreening.models.registry.ModelMetadata;
import org.xrayscreening.models.registry.ModelRegistry;
import org.xrayscreening.models.registry.ModelVersion;
import org.xrayscreening.models.synthetic.SyntheticChestXray;

/** bf16 inference through the generated TorchScript cast, on every architecture (random weights, 80 px). */
class Bfloat16Test {
    private static final int SIZE = 80;

    @TempDir
    Path tmp;

    @Test
    void theCastFunctionRoundsToBfloat16() throws Exception {
        try (NDManager manager = NDManager.newBaseManager(); Bfloat16 bf16 = Bfloat16.open(manager)) {
            // bf16 keeps 8 significant bits: 1 + 2^-8 is a tie that rounds to even (1.0), 1 + 2^-7 is exact,
            // pi becomes 3.140625 (0x4049), and large values keep fp32's exponent range
            NDArray x = manager.create(new float[] {1f, 1f + 0x1p-8f, 1f + 0x1p-7f, (float) Math.PI, 1e30f});
            NDArray y = bf16.cast(x);
            // DJL has no name for torch.bfloat16: that it reports UNKNOWN (not FLOAT32) shows the cast happened
            assertThat(y.getDataType()).isEqualTo(DataType.UNKNOWN);
            float[] back = y.toType(DataType.FLOAT32, false).toFloatArray();
            assertThat(back[0]).isEqualTo(1f);
            assertThat(back[1]).isEqualTo(1f);
            assertThat(back[2]).isEqualTo(1f + 0x1p-7f);
            assertThat(back[3]).isEqualTo(3.140625f);
            assertThat(back[4] / 1e30f).isBetween(1f - 0x1p-8f, 1f + 0x1p-8f);
        }
    }

    @ParameterizedTest
    @EnumSource(Architecture.class)
    void bf16NetworkComputesTheSameLogitsToBfloat16Precision(Architecture arch) throws Exception {
        try (Model model = ModelExport.newModel(arch, SIZE); NDManager manager = NDManager.newBaseManager();
             Bfloat16 bf16 = Bfloat16.open(manager)) {
            Block copy = bf16.copyToBfloat16(model.getBlock(), Networks.classifier(arch, ModelExport.NUM_CLASSES),
                    manager, new Shape(1, 3, SIZE, SIZE));
            Preprocessor p = Preprocessor.forArchitecture(arch, SIZE);
            NDArray x = NDArrays.stack(new NDList(
                    p.toNDArray(SyntheticChestXray.of(1, 96, true).gray8(), manager),
                    p.toNDArray(SyntheticChestXray.of(2, 96, false).gray8(), manager)));
            ParameterStore store = new ParameterStore(manager, false);
            float[] fp32 = model.getBlock().forward(store, new NDList(x), false).head().toFloatArray();
            NDArray out = copy.forward(store, new NDList(x), false).head();
            assertThat(out.getDataType()).isEqualTo(DataType.FLOAT32);
            float[] b16 = out.toFloatArray();
            double scale = 0;
            double maxDiff = 0;
            for (int i = 0; i < fp32.length; i++) {
                scale = Math.max(scale, Math.abs(fp32[i]));
                maxDiff = Math.max(maxDiff, Math.abs(fp32[i] - b16[i]));
            }
            System.out.printf("%s fp32 %s bf16 %s maxDiff %.4g scale %.4g%n", arch, java.util.Arrays.toString(fp32),
                    java.util.Arrays.toString(b16), maxDiff, scale);
            // bit-identical logits would mean the copy still computes in fp32
            assertThat(maxDiff).isGreaterThan(0);
            assertThat(maxDiff / scale).isLessThan(0.05);
        }
    }

    @Test
    void aBf16ClassifierServesProbabilitiesCloseToFp32() throws Exception {
        Architecture arch = Architecture.MOBILENET;
        ModelRegistry registry = new ModelRegistry(tmp.resolve("registry"));
        ModelVersion version;
        try (Model model = ModelExport.newModel(arch, SIZE)) {
            Path staging = tmp.resolve("staging");
            ModelExport.save(model, staging);
            version = registry.publish(arch, "v1", staging, ModelMetadata.builder(arch, SIZE)
                    .decisionThreshold(0.5).trainingDataDigest("sha256:test")
                    .createdAt(Instant.parse("2026-12-03T00:00:00Z")).command("Bfloat16Test").build());
        }
        List<BufferedImage> images = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            images.add(SyntheticChestXray.of(i, 96, i % 2 == 0).gray8());
        }
        float[] fp32;
        try (CovidClassifier classifier = CovidClassifier.load(registry, version, Precision.FP32)) {
            fp32 = classifier.predictBatch(images);
        }
        try (CovidClassifier classifier = CovidClassifier.load(registry, version, Precision.BF16)) {
            assertThat(classifier.precision()).isEqualTo(Precision.BF16);
            assertThat(classifier.batchNormsFolded()).isFalse();
            assertThat(classifier.toString()).contains("bf16");
            float[] bf16 = classifier.predictBatch(images);
            for (int i = 0; i < images.size(); i++) {
                System.out.printf("image %d fp32 %.5f bf16 %.5f%n", i, fp32[i], bf16[i]);
                assertThat(bf16[i]).isBetween(0f, 1f);
                assertThat(Math.abs(bf16[i] - fp32[i])).isLessThan(0.05f);
            }
            assertThat(classifier.predict(images.get(2))).isEqualTo(bf16[2]);
        }
    }

    @Test
    void bf16IsRefusedOnACpuWithoutBf16Instructions() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> Precision.BF16.requireSupported(false, "Test CPU"))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("AVX512_BF16 or AMX-BF16").hasMessageContaining("Test CPU")
                .hasMessageContaining("use fp32");
        assertThat(Precision.BF16.requireSupported(true, "Test CPU")).isEqualTo(Precision.BF16);
        assertThat(Precision.FP32.requireSupported(false, "Test CPU")).isEqualTo(Precision.FP32);
    }
}
