package org.xrayscreening.trainer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;
import org.xrayscreening.models.Architecture;
import org.xrayscreening.models.registry.ModelMetadata;
import org.xrayscreening.models.registry.ModelRegistry;
import org.xrayscreening.trainer.Json;
import org.xrayscreening.trainer.TrainerCli;
import org.xrayscreening.trainer.dataset.Dataset;
import org.xrayscreening.trainer.dataset.DatasetSplit;
import org.xrayscreening.trainer.dataset.SplitSpec;
import org.xrayscreening.trainer.training.RunInfo;
import org.xrayscreening.trainer.training.TrainingRun;

/**
 * Two collections through the CLI (MobileNet at 64 px, one short epoch): two synthetic hospitals with the same
 * file names and patient ids, hospital B without a source column. Train on both, then evaluate, choose a
 * threshold and leave hospital B out, each with both {@code --data}.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class MultiCollectionCliTest {
    Path hospitalA;
    Path hospitalB;
    Path runs;
    Path registry;

    @BeforeAll
    void data(@TempDir Path tmp) throws Exception {
        hospitalA = SyntheticDatasetCommand.write(tmp.resolve("data").resolve("hospital-a"), 40, 64, 1, 2);
        hospitalB = SyntheticDatasetCommand.write(tmp.resolve("data").resolve("hospital-b"), 32, 64, 2, 2);
        List<String> lines = Files.readAllLines(hospitalB.resolve(Dataset.MANIFEST));
        StringBuilder withoutSource = new StringBuilder();
        for (String line : lines) {
            String[] f = line.split(",", -1);
            withoutSource.append(f[0]).append(',').append(f[1]).append(',').append(f[3]).append('\n');
        }
        Files.writeString(hospitalB.resolve(Dataset.MANIFEST), withoutSource.toString());
        runs = tmp.resolve("runs");
        registry = tmp.resolve("registry");
    }

    @Test
    @Order(1)
    void trainsOnBothAndRecordsEveryPathAndTheCombinedDigest() throws Exception {
        assertThat(TrainerCli.run("train", "--arch", "mobilenet", "--data", hospitalA.toString(), "--data",
                hospitalB.toString(), "--input-size", "64", "--epochs", "1", "--batch-size", "8", "--no-augment",
                "--threads", "2", "--runs", runs.toString(), "--name", "two", "--publish", registry.toString(),
                "--model-version", "two")).isZero();
        Path run;
        try (Stream<Path> s = Files.list(runs)) {
            run = s.filter(p -> p.getFileName().toString().endsWith("-two")).findFirst().orElseThrow();
        }
        RunInfo info = Json.read(run.resolve(TrainingRun.RUN_FILE), RunInfo.class);
        assertThat(info.options().data()).containsExactly(hospitalA.toAbsolutePath().normalize().toString(),
                hospitalB.toAbsolutePath().normalize().toString());
        assertThat(info.datasetOrigin()).contains("hospital-a").contains("hospital-b");
        String expected = DatasetSplit.of(Dataset.load(List.of(hospitalA, hospitalB)), SplitSpec.paper(42)).digest();
        assertThat(info.datasetDigest()).isEqualTo(expected);
        // the validation predictions name images by their collection-prefixed keys, and hospital B by its name
        assertThat(Files.readString(run.resolve(TrainingRun.VALIDATION_PREDICTIONS)))
                .contains("hospital-a/").contains("hospital-b/").contains(",hospital-b,");

        ModelMetadata metadata = new ModelRegistry(registry).resolve(Architecture.MOBILENET, "two").metadata();
        assertThat(metadata.trainingDataDigest()).isEqualTo(expected);
        assertThat(metadata.notes()).contains(hospitalA.toAbsolutePath() + " + " + hospitalB.toAbsolutePath());
        assertThat(metadata.command()).contains("--data " + hospitalA).contains("--data " + hospitalB);

        // folders with one name cannot be told apart: refused before anything is trained
        Path twin = SyntheticDatasetCommand.write(hospitalA.getParent().getParent().resolve("copy").resolve("hospital-a"),
                4, 64, 3, 2);
        assertThat(TrainerCli.run("train", "--arch", "mobilenet", "--data", hospitalA.toString(), "--data",
                twin.toString(), "--input-size", "64", "--epochs", "1", "--runs", runs.toString(), "--name", "twin"))
                .isEqualTo(2);
        try (Stream<Path> s = Files.list(runs)) {
            assertThat(s.filter(p -> p.getFileName().toString().endsWith("-twin"))).isEmpty();
        }
    }

    @Test
    @Order(2)
    void evaluatesAcrossBothWithPerSourceTablesAndNoMismatch() throws Exception {
        // the collections in the other order: the same dataset and split
        assertThat(TrainerCli.run("evaluate", "--model", "mobilenet@two", "--registry", registry.toString(),
                "--data", hospitalB.toString(), "--data", hospitalA.toString(), "--split", "all", "--bootstrap", "50",
                "--runs", runs.toString(), "--name", "eval-all", "--score-cache", "none")).isZero();
        JsonNode metrics = Json.MAPPER.readTree(runOf("eval-all").resolve("metrics.json").toFile());
        assertThat(metrics.path("digest").asText()).isEqualTo(new ModelRegistry(registry)
                .resolve(Architecture.MOBILENET, "two").metadata().trainingDataDigest());
        JsonNode model = metrics.path("models").get(0);
        assertThat(model.path("images").asInt()).isEqualTo(72); // every image of both, none lost to a name clash
        assertThat(model.path("perSource").fieldNames()).toIterable()
                .containsExactlyInAnyOrder("hospital-b", "synthetic-a", "synthetic-b");
        assertThat(model.path("perSource").path("hospital-b").path("images").asInt()).isEqualTo(32);
        JsonNode protocolModel = metrics.path("protocol").path("models").get(0);
        assertThat(protocolModel.path("perSource").fieldNames()).toIterable()
                .containsExactlyInAnyOrder("hospital-b", "synthetic-a", "synthetic-b");
        String report = Files.readString(runOf("eval-all").resolve("report.md"));
        assertThat(report).contains("## Per data source (threshold 0.5)").contains("| hospital-b |")
                .doesNotContain("evaluated images may have been seen in training");

        assertThat(TrainerCli.run("evaluate", "--model", "mobilenet@two", "--registry", registry.toString(),
                "--data", hospitalA.toString(), "--data", hospitalB.toString(), "--only-source", "hospital-b",
                "--split", "all", "--bootstrap", "0", "--runs", runs.toString(), "--name", "eval-b",
                "--score-cache", "none")).isZero();
        JsonNode onlyB = Json.MAPPER.readTree(runOf("eval-b").resolve("metrics.json").toFile()).path("models").get(0);
        assertThat(onlyB.path("images").asInt()).isEqualTo(32);
    }

    @Test
    @Order(3)
    void leavesOneCollectionOutAndChoosesThresholdsOnTheCombinedSplit() throws Exception {
        assertThat(TrainerCli.run("evaluate", "--model", "mobilenet@two", "--registry", registry.toString(),
                "--data", hospitalA.toString(), "--data", hospitalB.toString(), "--exclude-source", "hospital-b",
                "--split", "excluded", "--bootstrap", "50", "--runs", runs.toString(), "--name", "loco",
                "--score-cache", "none")).isZero();
        JsonNode metrics = Json.MAPPER.readTree(runOf("loco").resolve("metrics.json").toFile());
        JsonNode model = metrics.path("protocol").path("models").get(0);
        assertThat(model.path("images").asInt()).isEqualTo(32);
        assertThat(model.path("perSource").fieldNames()).toIterable().containsExactly("hospital-b");

        // choose-threshold needs the training run's collections: one of them alone is another split
        assertThat(TrainerCli.run("choose-threshold", "--model", "mobilenet@two", "--registry", registry.toString(),
                "--data", hospitalA.toString(), "--dry-run", "--score-cache", "none")).isEqualTo(2);
        assertThat(TrainerCli.run("choose-threshold", "--model", "mobilenet@two", "--registry", registry.toString(),
                "--data", hospitalA.toString(), "--data", hospitalB.toString(), "--dry-run", "--score-cache", "none"))
                .isZero();
    }

    private Path runOf(String name) throws Exception {
        try (Stream<Path> s = Files.list(runs)) {
            return s.filter(p -> p.getFileName().toString().endsWith("-" + name)).findFirst().orElseThrow();
        }
    }
}
