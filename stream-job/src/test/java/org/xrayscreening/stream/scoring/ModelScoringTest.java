package org.xrayscreening.stream.scoring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.streaming.util.TwoInputStreamOperatorTestHarness;
import org.xrayscreening.connectors.event.ModelStatus;
import org.xrayscreening.stream.metrics.ScreeningMetrics;
import org.xrayscreening.connectors.event.ModelUpdate;
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
import org.xrayscreening.connectors.image.CanonicalImage;
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

    /** Input 1: studies; input 2: model updates (broadcast-partitioned in the job). */
    static final class Harness extends TwoInputStreamOperatorTestHarness<StudyImage, ModelUpdate, ModelOutcome> {
        Harness(ModelScoring operator) throws Exception {
            super(operator, 1, 1, 0);
        }

        void processElement(StudyImage study, long timestamp) throws Exception {
            processElement1(study, timestamp);
        }

        void processBroadcastElement(ModelUpdate update, long timestamp) throws Exception {
            processElement2(update, timestamp);
        }

        ModelScoring scoring() {
            return (ModelScoring) getOperator();
        }
    }

    static Harness harness(Path registryRoot, String ref) throws Exception {
        return open(new Harness(new ModelScoring(Architecture.MOBILENET, registryRoot.toString(), ref)), null);
    }

    static Harness open(Harness harness, OperatorSubtaskState restoreFrom) throws Exception {
        harness.setup();
        harness.initializeState(restoreFrom);
        harness.open();
        return harness;
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
        try (Harness harness = harness(registry.root(), "production")) {
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
    void outcomeCarriesTheServingVersionsDecisionThreshold(@TempDir Path other) throws Exception {
        ModelRegistry own = new ModelRegistry(other.resolve("registry"));
        Path staging = Files.createDirectories(other.resolve("staging"));
        try (ai.djl.Model model = ModelExport.newModel(Architecture.MOBILENET, 64)) {
            ModelExport.save(model, staging);
        }
        own.publish(Architecture.MOBILENET, "t023", staging, org.xrayscreening.models.registry.ModelMetadata
                .builder(Architecture.MOBILENET, 64).decisionThreshold(0.23).build());
        try (Harness harness = harness(own.root(), "t023")) {
            harness.processElement(study("s1", SyntheticChestXray.positive(9, 160).gray8()), 0);
            assertThat(harness.extractOutputValues()).singleElement()
                    .satisfies(o -> assertThat(o.decisionThreshold).isEqualTo(0.23));
        }
    }

    @Test
    void brokenInputBecomesFailedOutcomeNotAJobFailure() throws Exception {
        try (Harness harness = harness(registry.root(), "production")) {
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
        assertThatThrownBy(() -> harness(other, "production"))
                .isInstanceOf(ModelIntegrityException.class);
    }

    @Test
    void updateSwapsVersionBetweenTwoRecordsAndReportsIt() throws Exception {
        ModelVersion next = TestModels.publishUntrained(registry, Architecture.MOBILENET, 64, null);
        try (Harness harness = harness(registry.root(), "production")) {
            harness.processElement(study("before", SyntheticChestXray.negative(1, 64).gray8()), 0);
            harness.processBroadcastElement(ModelUpdate.of("resnet50", "irrelevant", null, null, "other model"), 0);
            harness.processBroadcastElement(ModelUpdate.of("mobilenet", next.version(), null,
                    ModelRegistry.sha256(next.directory().resolve(ModelRegistry.METADATA_FILE)), "promotion"), 0);
            harness.processElement(study("after", SyntheticChestXray.negative(1, 64).gray8()), 0);

            assertThat(harness.extractOutputValues()).extracting(o -> o.studyId + "=" + o.version)
                    .containsExactly("before=" + version.version(), "after=" + next.version());
            assertThat(harness.getSideOutput(ModelScoring.MODEL_STATUS)).singleElement().satisfies(r -> {
                ModelStatus st = r.getValue();
                assertThat(st.status()).isEqualTo(ModelStatus.Status.SERVING);
                assertThat(st.version()).isEqualTo(next.version());
                assertThat(st.previousVersion()).isEqualTo(version.version());
            });
        }
    }

    @Test
    void corruptOrMismatchingUpdateLeavesOldVersionServing(@TempDir Path other) throws Exception {
        ModelRegistry own = new ModelRegistry(other);
        ModelVersion serving = TestModels.publishUntrained(own, Architecture.MOBILENET, 64, "production");
        ModelVersion corrupt = TestModels.publishUntrained(own, Architecture.MOBILENET, 64, null);
        Path weights = corrupt.directory().resolve(ModelExport.WEIGHTS_FILE);
        byte[] bytes = Files.readAllBytes(weights);
        bytes[bytes.length - 7] ^= 0x11;
        weights.toFile().setWritable(true);
        Files.write(weights, bytes);
        ModelVersion fine = TestModels.publishUntrained(own, Architecture.MOBILENET, 64, null);
        double failuresBefore = ScreeningMetrics.get().modelUpdateFailures.labelValues("mobilenet").get();

        try (Harness harness = harness(other, "production")) {
            harness.processBroadcastElement(ModelUpdate.of("mobilenet", corrupt.version(), null, null, "bad weights"), 0);
            harness.processBroadcastElement(ModelUpdate.of("mobilenet", fine.version(), null, "0".repeat(64), "wrong digest"), 0);
            harness.processBroadcastElement(ModelUpdate.of("mobilenet", "does-not-exist", null, null, "typo"), 0);
            harness.processElement(study("s", SyntheticChestXray.positive(2, 64).gray8()), 0);

            assertThat(harness.extractOutputValues()).singleElement()
                    .satisfies(o -> assertThat(o.version).isEqualTo(serving.version()));
            List<ModelStatus> statuses = harness.getSideOutput(ModelScoring.MODEL_STATUS).stream().map(r -> r.getValue()).toList();
            assertThat(statuses).extracting(ModelStatus::status).containsOnly(ModelStatus.Status.REJECTED);
            assertThat(statuses).extracting(ModelStatus::previousVersion).containsOnly(serving.version());
            assertThat(statuses.get(0).detail()).contains("ModelIntegrityException");
            assertThat(statuses.get(1).detail()).contains("digest");
            assertThat(ScreeningMetrics.get().modelUpdateFailures.labelValues("mobilenet").get() - failuresBefore)
                    .isEqualTo(3.0);
            // broadcast state still names nothing new: a restart would not pick the refused versions
            assertThat(harness.scoring().recordedVersion()).isNull();
        }
    }

    @Test
    void restoreFromCheckpointAfterSwapServesTheNewVersion() throws Exception {
        ModelVersion next = TestModels.publishUntrained(registry, Architecture.MOBILENET, 64, null);
        OperatorSubtaskState snapshot;
        try (Harness harness = harness(registry.root(), "production")) {
            harness.processBroadcastElement(ModelUpdate.of("mobilenet", next.version(), null, null, "promotion"), 0);
            snapshot = harness.snapshot(1L, 0);
        }
        // the restarted operator is configured with the old alias, as the job's command line still says
        try (Harness restored = open(new Harness(new ModelScoring(Architecture.MOBILENET, registry.root().toString(),
                "production")), snapshot)) {
            restored.processElement(study("after-restart", SyntheticChestXray.negative(3, 64).gray8()), 0);
            assertThat(restored.extractOutputValues()).singleElement()
                    .satisfies(o -> assertThat(o.version).isEqualTo(next.version()));
        }
    }
}
