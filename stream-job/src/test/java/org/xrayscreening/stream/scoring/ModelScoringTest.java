package org.xrayscreening.stream.scoring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.flink.streaming.util.OneInputStreamOperatorTestHarness;
import org.apache.flink.streaming.util.ProcessFunctionTestHarnesses;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xrayscreening.models.Architecture;
import org.xrayscreening.models.inference.CovidClassifier;
import org.xrayscreening.models.inference.ModelExport;
import org.xrayscreening.models.registry.ModelIntegrityException;
import org.xrayscreening.models.registry.ModelRegistry;
import org.xrayscreening.models.registry.ModelVersion;
import org.xrayscreening.models.synthetic.SyntheticChestXray;
import org.xrayscreening.stream.intake.CanonicalImage;
import org.xrayscreening.stream.intake.StudyImage;
import org.xrayscreening.stream.testing.TestModels;

class ModelScoringTest {

    @TempDir
    static Path root;
    static ModelRegistry registry;
    static ModelVersion version;

    @BeforeAll
    static void publish() throws Exception {
        registry = new ModelRegistry(root.resolve("registry"));
        version = TestModels.publishUntrained(registry, Architecture.MOBILENET, 64, "production");
    }

    private static StudyImage study(String id, BufferedImage image) {
        BufferedImage gray16 = CanonicalImage.toGray16(image, 512);
        return new StudyImage(id, "patient", 1_000, 2_000, gray16.getWidth(), gray16.getHeight(),
                CanonicalImage.pixels(gray16).clone());
    }

    @Test
    void scoresWithTheRegistryVersionAndMatchesDirectInference() throws Exception {
        BufferedImage image = SyntheticChestXray.positive(9, 160).gray8();
        float expected;
        try (CovidClassifier direct = CovidClassifier.load(registry, Architecture.MOBILENET, version.version())) {
            expected = direct.predict(CanonicalImage.toGray16(image, 512));
        }
        try (OneInputStreamOperatorTestHarness<StudyImage, ModelOutcome> harness = ProcessFunctionTestHarnesses
                .forProcessFunction(new ModelScoring(Architecture.MOBILENET, registry.root().toString(), "production"))) {
            harness.processElement(study("s1", image), 0);
            List<ModelOutcome> out = harness.extractOutputValues();
            assertThat(out).hasSize(1);
            ModelOutcome o = out.get(0);
            assertThat(o.succeeded()).isTrue();
            assertThat(o.model).isEqualTo("mobilenet");
            assertThat(o.version).isEqualTo(version.version());
            assertThat(o.probability).isBetween(0.0, 1.0).isCloseTo(expected, org.assertj.core.data.Offset.offset(1e-6));
            assertThat(o.inferenceMillis).isPositive();
            assertThat(o.acquiredAtMillis).isEqualTo(1_000);
        }
    }

    @Test
    void brokenInputBecomesFailedOutcomeNotAJobFailure() throws Exception {
        try (OneInputStreamOperatorTestHarness<StudyImage, ModelOutcome> harness = ProcessFunctionTestHarnesses
                .forProcessFunction(new ModelScoring(Architecture.MOBILENET, registry.root().toString(), "production"))) {
            harness.processElement(new StudyImage("bad", "p", 0, 0, 50, 50, new short[10]), 0);
            harness.processElement(study("good", SyntheticChestXray.negative(1, 64).gray8()), 0);
            List<ModelOutcome> out = harness.extractOutputValues();
            assertThat(out).extracting(o -> o.studyId).containsExactly("bad", "good");
            assertThat(out.get(0).succeeded()).isFalse();
            assertThat(out.get(0).error).startsWith("inference failed");
            assertThat(out.get(1).succeeded()).isTrue();
        }
    }

    @Test
    void refusesToStartOnTamperedWeights(@TempDir Path other) throws Exception {
        ModelRegistry tampered = new ModelRegistry(other);
        ModelVersion v = TestModels.publishUntrained(tampered, Architecture.MOBILENET, 64, "production");
        Path weights = v.directory().resolve(ModelExport.WEIGHTS_FILE);
        byte[] bytes = Files.readAllBytes(weights);
        bytes[bytes.length / 2] ^= 0x5A;
        weights.toFile().setWritable(true);
        Files.write(weights, bytes);
        assertThatThrownBy(() -> ProcessFunctionTestHarnesses.forProcessFunction(
                new ModelScoring(Architecture.MOBILENET, other.toString(), "production")))
                .isInstanceOf(ModelIntegrityException.class);
    }
}
