package org.xrayscreening.stream.heatmap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.awt.image.BufferedImage;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.streaming.api.operators.co.KeyedCoProcessOperator;
import org.apache.flink.streaming.util.KeyedTwoInputStreamOperatorTestHarness;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xrayscreening.connectors.event.Alert;
import org.xrayscreening.connectors.event.AlertType;
import org.xrayscreening.connectors.event.Decision;
import org.xrayscreening.connectors.event.ModelScore;
import org.xrayscreening.connectors.event.Recommendation;
import org.xrayscreening.models.Architecture;
import org.xrayscreening.models.explain.Heatmap;
import org.xrayscreening.models.inference.CovidClassifier;
import org.xrayscreening.models.registry.ModelRegistry;
import org.xrayscreening.models.registry.ModelVersion;
import org.xrayscreening.models.synthetic.SyntheticChestXray;
import org.xrayscreening.stream.ModelSpec;
import org.xrayscreening.connectors.image.CanonicalImage;
import org.xrayscreening.stream.intake.StudyImage;
import org.xrayscreening.stream.metrics.ScreeningMetrics;
import org.xrayscreening.stream.testing.TestModels;

/** The heatmap operator in Flink's keyed two-input harness, with real (untrained) models and a real store. */
class FlaggedStudyHeatmapsTest {
    private static final String PATIENT = "patient-4711";

    @TempDir
    static Path root;
    static ModelRegistry registry;
    static ModelVersion mobilenet;
    static ModelVersion resnet;

    @BeforeAll
    static void publish() throws Exception {
        registry = new ModelRegistry(root.resolve("registry"));
        mobilenet = TestModels.publishUntrained(registry, Architecture.MOBILENET, 64, "production");
        resnet = TestModels.publishUntrained(registry, Architecture.RESNET50, 64, "production");
    }

    private static KeyedTwoInputStreamOperatorTestHarness<String, StudyImage, Recommendation, Alert> harness(
            Path store) throws Exception {
        var harness = new KeyedTwoInputStreamOperatorTestHarness<>(
                new KeyedCoProcessOperator<>(new FlaggedStudyHeatmaps(registry.root().toString(),
                        new HeatmapSettings(store.toString(), Duration.ofMinutes(5), Duration.ofSeconds(30), 4),
                        List.of(new ModelSpec(Architecture.MOBILENET, "production"),
                                new ModelSpec(Architecture.XCEPTION, "production")))),
                (StudyImage s) -> s.studyId, Recommendation::studyId, Types.STRING);
        harness.open();
        return harness;
    }

    private static BufferedImage xray(long seed) {
        return CanonicalImage.toGray16(SyntheticChestXray.positive(seed, 96).gray8(), 512);
    }

    private static StudyImage study(String id, BufferedImage gray16) {
        return new StudyImage(id, PATIENT, 1_000, 2_000, gray16.getWidth(), gray16.getHeight(),
                CanonicalImage.pixels(gray16).clone());
    }

    private static Recommendation recommendation(String id, Decision decision, ModelScore... scores) {
        return new Recommendation(1, id, PATIENT, decision, 0.8, 0.5, 0.4, 0.6, List.of(scores), List.of(),
                Instant.EPOCH, Instant.EPOCH.plusSeconds(2), 2000, null);
    }

    private static ModelScore score(ModelVersion v) {
        return new ModelScore(v.architecture().id(), v.version(), 0.8, 10);
    }

    private static double heatmapCount(String outcome) {
        return ScreeningMetrics.get().heatmaps.labelValues(outcome).get();
    }

    @Test
    void flaggedStudyGetsTheMeanGradCamOfItsVotingModelsInTheStoreAndTheAlertPointsAtIt() throws Exception {
        Path store = root.resolve("store-flagged");
        BufferedImage image = xray(5);
        double writtenBefore = heatmapCount("WRITTEN");
        try (var harness = harness(store)) {
            harness.processElement1(study("study-1", image), 0);
            harness.processElement2(recommendation("study-1", Decision.COVID_SUSPECTED, score(mobilenet), score(resnet)), 0);

            List<Alert> alerts = harness.extractOutputValues();
            assertThat(alerts).hasSize(1);
            Alert alert = alerts.get(0);
            assertThat(alert.type()).isEqualTo(AlertType.CLINICAL_COVID_SUSPECTED);
            assertThat(alert.heatmapMissing()).isNull();
            assertThat(alert.heatmapUri()).doesNotContain(PATIENT).contains("study-1")
                    .contains(mobilenet.version()).contains(resnet.version());
            Path overlay = Path.of(URI.create(alert.heatmapUri()));
            assertThat(overlay).startsWith(store.toAbsolutePath());
            BufferedImage png = ImageIO.read(overlay.toFile());
            assertThat(png.getWidth()).isEqualTo(image.getWidth());
            assertThat(png.getHeight()).isEqualTo(image.getHeight());

            // the raw map beside it is the mean of each voting model's own Grad-CAM, computed here directly
            List<Heatmap> direct = new ArrayList<>();
            for (ModelVersion v : List.of(mobilenet, resnet)) {
                try (CovidClassifier classifier = CovidClassifier.load(registry, v)) {
                    direct.add(classifier.heatmap(image));
                }
            }
            Heatmap expected = Heatmap.mean(direct);
            Path map = overlay.resolveSibling(overlay.getFileName().toString()
                    .replace(HeatmapStore.OVERLAY_SUFFIX, HeatmapStore.MAP_SUFFIX));
            float[] raw = HeatmapStore.readRawMap(map);
            assertThat(raw).hasSize(expected.values().length);
            for (int i = 0; i < raw.length; i++) {
                assertThat(raw[i]).isCloseTo(expected.values()[i], within(1f / 65535 + 1e-4f));
            }
            assertThat(heatmapCount("WRITTEN")).isEqualTo(writtenBefore + 1);
            // no temporary files are left behind, and the image is no longer held
            try (Stream<Path> files = Files.list(overlay.getParent())) {
                assertThat(files.map(p -> p.getFileName().toString())).allMatch(n -> !n.startsWith(".tmp-")).hasSize(2);
            }
            assertThat(harness.numKeyedStateEntries()).isZero();
        }
    }

    @Test
    void studyWithoutFindingsGetsNothingAndItsImageIsDropped() throws Exception {
        Path store = root.resolve("store-negative");
        try (var harness = harness(store)) {
            harness.processElement1(study("study-2", xray(6)), 0);
            assertThat(harness.numKeyedStateEntries()).isEqualTo(1);
            harness.processElement2(recommendation("study-2", Decision.NO_COVID_FINDINGS, score(mobilenet)), 0);
            assertThat(harness.extractOutputValues()).isEmpty();
            assertThat(harness.numKeyedStateEntries()).isZero();
            assertThat(store).doesNotExist();
        }
    }

    @Test
    void indeterminateStudyWhoseRecommendationOvertookItsImageWaitsForIt() throws Exception {
        Path store = root.resolve("store-overtaken");
        try (var harness = harness(store)) {
            harness.processElement2(recommendation("study-3", Decision.INDETERMINATE, score(mobilenet)), 0);
            assertThat(harness.extractOutputValues()).isEmpty();
            harness.processElement1(study("study-3", xray(7)), 0);
            List<Alert> alerts = harness.extractOutputValues();
            assertThat(alerts).hasSize(1);
            assertThat(alerts.get(0).type()).isEqualTo(AlertType.CLINICAL_INDETERMINATE);
            assertThat(Path.of(URI.create(alerts.get(0).heatmapUri()))).isRegularFile();
        }
    }

    @Test
    void failuresStillSendTheAlertSayingWhyTheHeatmapIsMissing() throws Exception {
        Path notADirectory = Files.writeString(root.resolve("store-is-a-file"), "x");
        double storeFailures = heatmapCount("STORE_WRITE_FAILED");
        double modelFailures = heatmapCount("MODEL_UNAVAILABLE");
        double imageMissing = heatmapCount("IMAGE_NOT_HELD");
        try (var harness = harness(notADirectory)) {
            // the store cannot be written
            harness.processElement1(study("study-4", xray(8)), 0);
            harness.processElement2(recommendation("study-4", Decision.COVID_SUSPECTED, score(mobilenet)), 0);
            // a version the registry does not hold
            harness.processElement1(study("study-5", xray(9)), 0);
            harness.processElement2(recommendation("study-5", Decision.COVID_SUSPECTED,
                    new ModelScore("mobilenet", "20990101T000000Z", 0.9, 1)), 0);
            // no image ever arrives: the alert goes out when the wait is over
            harness.setProcessingTime(1_000);
            harness.processElement2(recommendation("study-6", Decision.COVID_SUSPECTED, score(mobilenet)), 0);
            assertThat(harness.extractOutputValues()).hasSize(2);
            harness.setProcessingTime(1_000 + 30_000);

            List<Alert> alerts = harness.extractOutputValues();
            assertThat(alerts).extracting(Alert::studyId).containsExactly("study-4", "study-5", "study-6");
            assertThat(alerts).allSatisfy(a -> {
                assertThat(a.type()).isEqualTo(AlertType.CLINICAL_COVID_SUSPECTED);
                assertThat(a.heatmapUri()).isNull();
                assertThat(a.heatmapMissing()).doesNotContain(PATIENT);
            });
            assertThat(alerts.get(0).heatmapMissing()).startsWith("STORE_WRITE_FAILED: ").doesNotContain("study-4");
            assertThat(alerts.get(1).heatmapMissing()).startsWith("MODEL_UNAVAILABLE: mobilenet@20990101T000000Z");
            assertThat(alerts.get(2).heatmapMissing()).startsWith("IMAGE_NOT_HELD: ");
            assertThat(heatmapCount("STORE_WRITE_FAILED")).isEqualTo(storeFailures + 1);
            assertThat(heatmapCount("MODEL_UNAVAILABLE")).isEqualTo(modelFailures + 1);
            assertThat(heatmapCount("IMAGE_NOT_HELD")).isEqualTo(imageMissing + 1);
        }
    }

    @Test
    void storeNamesAreSafeAndWritesAreImmutable() throws Exception {
        assertThat(HeatmapStore.safeName("study-1.a_b")).isEqualTo("study-1.a_b");
        assertThat(HeatmapStore.safeName("../etc")).startsWith("sha256-").hasSize(7 + 64);
        assertThat(HeatmapStore.safeName("..")).startsWith("sha256-");
        assertThat(HeatmapStore.modelsName(List.of(score(resnet), score(mobilenet))))
                .isEqualTo("mobilenet-" + mobilenet.version() + "+resnet50-" + resnet.version());

        HeatmapStore store = new HeatmapStore(root.resolve("store-immutable"));
        BufferedImage image = xray(10);
        Heatmap hot = new Heatmap(image.getWidth(), image.getHeight(), filled(image, 1f), 1);
        Heatmap cold = new Heatmap(image.getWidth(), image.getHeight(), filled(image, 0f), 0);
        URI first = store.write("../s7", List.of(score(mobilenet)), image, hot);
        assertThat(Path.of(first)).startsWith(store.root());
        URI second = store.write("../s7", List.of(score(mobilenet)), image, cold);
        assertThat(second).isEqualTo(first);
        Path map = Path.of(first).resolveSibling(Path.of(first).getFileName().toString()
                .replace(HeatmapStore.OVERLAY_SUFFIX, HeatmapStore.MAP_SUFFIX));
        assertThat(HeatmapStore.readRawMap(map)).as("the first write stays").contains(1f).doesNotContain(0f);
    }

    private static float[] filled(BufferedImage image, float value) {
        float[] values = new float[image.getWidth() * image.getHeight()];
        java.util.Arrays.fill(values, value);
        return values;
    }
}
