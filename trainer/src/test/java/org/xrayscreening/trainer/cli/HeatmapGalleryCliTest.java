package org.xrayscreening.trainer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Model;
import com.fasterxml.jackson.databind.JsonNode;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.xrayscreening.models.Architecture;
import org.xrayscreening.models.inference.ModelExport;
import org.xrayscreening.models.registry.ModelMetadata;
import org.xrayscreening.models.registry.ModelRegistry;
import org.xrayscreening.trainer.Json;
import org.xrayscreening.trainer.SyntheticData;
import org.xrayscreening.trainer.TrainerCli;
import org.xrayscreening.trainer.evaluation.HeatmapReview.Cell;
import org.xrayscreening.trainer.report.HeatmapGallery;

/**
 * {@code evaluate --gallery} end to end on synthetic images with lung masks and a randomly initialised MobileNet
 * at 64 px (what is checked is the bookkeeping, which needs no trained model): a gallery per source whose cells
 * hold the images the scores put there, the shares in metrics.json and report.md, and no patient id anywhere.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class HeatmapGalleryCliTest {
    private static final int K = 2;
    Path data;
    Path registry;
    Path runs;

    @BeforeAll
    void publishARandomModel(@TempDir Path tmp) throws Exception {
        data = SyntheticData.writeWithLungMasks(tmp.resolve("data"), 10, 10, 64);
        registry = tmp.resolve("registry");
        runs = tmp.resolve("runs");
        try (Model model = ModelExport.newModel(Architecture.MOBILENET, 64)) {
            Path staging = ModelExport.save(model, tmp.resolve("staging")).getParent();
            new ModelRegistry(registry).publish(Architecture.MOBILENET, "random", staging,
                    ModelMetadata.builder(Architecture.MOBILENET, 64).decisionThreshold(0.5)
                            .trainingDataDigest("sha256:test").createdAt(Instant.parse("2026-12-03T00:00:00Z"))
                            .command("HeatmapGalleryCliTest").build());
        }
    }

    @Test
    void writesAGalleryPerSourceWithTheRightCellsAndTheShares() throws Exception {
        assertThat(TrainerCli.run("evaluate", "--model", "mobilenet@random", "--registry", registry.toString(),
                "--data", data.toString(), "--split", "all", "--gallery", "" + K, "--bootstrap", "50",
                "--threads", "2", "--score-cache", "none", "--runs", runs.toString())).isZero();
        Path run;
        try (Stream<Path> s = Files.list(runs)) {
            run = s.filter(Files::isDirectory).findFirst().orElseThrow();
        }
        JsonNode heatmaps = Json.MAPPER.readTree(run.resolve("metrics.json").toFile()).get("heatmaps");
        assertThat(heatmaps).hasSize(1);
        JsonNode model = heatmaps.get(0);
        String name = model.get("model").asText();
        double threshold = model.get("threshold").asDouble();

        // every image is accounted for: measured, or without any evidence; every measured one has its mask
        assertThat(model.get("imagesEvaluated").asInt()).isEqualTo(20);
        JsonNode all = model.get("all");
        int measured = all.get("images").asInt();
        assertThat(measured + model.get("imagesWithoutEvidence").asInt()).isEqualTo(20);
        assertThat(all.get("imagesWithLungMask").asInt()).isEqualTo(measured);
        assertThat(model.get("calledCovid").get("images").asInt()).isBetween(0, measured);
        if (measured > 0) {
            for (String share : List.of("lungShare", "borderShare", "cornerShare")) {
                JsonNode i = all.get(share);
                assertThat(i.get("estimate").asDouble()).as(share).isBetween(0.0, 1.0);
                assertThat(i.get("low").asDouble()).as(share).isLessThanOrEqualTo(i.get("estimate").asDouble());
                assertThat(i.get("high").asDouble()).as(share).isGreaterThanOrEqualTo(i.get("estimate").asDouble());
            }
            // corners lie inside the border band
            assertThat(all.get("cornerShare").get("estimate").asDouble())
                    .isLessThanOrEqualTo(all.get("borderShare").get("estimate").asDouble());
        }

        // the cells, recomputed from predictions.csv at the model's threshold
        Map<String, Map<Cell, Integer>> expected = new HashMap<>();
        List<String> rows = Files.readAllLines(run.resolve("predictions.csv"));
        for (String row : rows.subList(1, rows.size())) {
            String[] f = row.split(",");
            boolean covid = f[1].equals("covid");
            boolean called = Double.parseDouble(f[3]) >= threshold;
            Cell cell = covid ? (called ? Cell.TP : Cell.FN) : (called ? Cell.FP : Cell.TN);
            expected.computeIfAbsent(f[2], k -> new EnumMap<>(Cell.class)).merge(cell, 1, Integer::sum);
        }
        assertThat(expected.keySet()).containsExactlyInAnyOrder("sourceA", "sourceB");
        String report = Files.readString(run.resolve("report.md"));
        assertThat(report).contains("## Where the models look (Grad-CAM)");
        for (String source : expected.keySet()) {
            JsonNode gallery = model.get("galleries").get(source);
            String file = HeatmapGallery.fileName(name, source);
            assertThat(gallery.get("file").asText()).isEqualTo(file);
            for (Cell cell : Cell.values()) {
                int images = expected.get(source).getOrDefault(cell, 0);
                assertThat(gallery.get("cells").get(cell.name()).get("images").asInt()).as(source + " " + cell)
                        .isEqualTo(images);
                assertThat(gallery.get("cells").get(cell.name()).get("shown").asInt()).isEqualTo(Math.min(K, images));
            }
            BufferedImage png = ImageIO.read(run.resolve(file).toFile());
            assertThat(png).as(file).isNotNull();
            // four rows of at most 64 px tiles (the images are 64 px), K columns beside the labels
            assertThat(png.getHeight()).isGreaterThan(4 * 64);
            assertThat(png.getWidth()).isGreaterThan(K * 64);
            assertThat(report).contains("](" + file + ")");
        }
        // the synthetic patient ids (covid-p0, ...) appear in no file name of the run
        try (Stream<Path> s = Files.list(run)) {
            assertThat(s.map(p -> p.getFileName().toString())).noneMatch(n -> n.matches(".*covid-p[0-9].*"));
        }
    }

    @Test
    void aMissingMaskFailsTheReviewAndNothingIsSilentlyLeftOut() throws Exception {
        Path broken = data.resolveSibling("broken");
        SyntheticData.writeWithLungMasks(broken, 3, 3, 64);
        Files.delete(broken.resolve("masks/img4.png"));
        assertThat(TrainerCli.run("evaluate", "--model", "mobilenet@random", "--registry", registry.toString(),
                "--data", broken.toString(), "--split", "all", "--gallery", "1", "--bootstrap", "0",
                "--threads", "2", "--score-cache", "none", "--runs", runs.resolveSibling("runs-broken").toString()))
                .isNotZero();
    }
}
