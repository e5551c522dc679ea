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
import org.xrayscreening.models.inference.CovidClassifier;
import org.xrayscreening.models.registry.ModelMetadata;
import org.xrayscreening.models.registry.ModelRegistry;
import org.xrayscreening.trainer.Json;
import org.xrayscreening.trainer.SyntheticData;
import org.xrayscreening.trainer.TrainerCli;
import org.xrayscreening.trainer.dataset.Dataset;
import org.xrayscreening.trainer.dataset.DatasetSplit;
import org.xrayscreening.trainer.dataset.PreparedImages;
import org.xrayscreening.trainer.dataset.Split;
import org.xrayscreening.trainer.dataset.SplitSpec;
import org.xrayscreening.trainer.evaluation.ThresholdChooser;

/**
 * Leave-one-source-out through the CLI on synthetic data (MobileNet at 64 px, one short epoch): train without
 * sourceB, choose a threshold on the validation split of what remains and publish it as a new version, then
 * evaluate on the left-out source at that threshold.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class LeaveOneSourceOutCliTest {
    private static final String LEFT_OUT = "sourceB";

    Path data;
    Path runs;
    Path registry;
    double chosen;

    @BeforeAll
    void data(@TempDir Path tmp) throws Exception {
        data = SyntheticData.write(tmp.resolve("data"), 30, 40, 64);
        runs = tmp.resolve("runs");
        registry = tmp.resolve("registry");
    }

    @Test
    @Order(1)
    void trainsWithoutTheSourceAndSaysSo() {
        assertThat(TrainerCli.run("train", "--arch", "mobilenet", "--data", data.toString(), "--input-size", "64",
                "--epochs", "1", "--batch-size", "8", "--no-augment", "--threads", "2", "--exclude-source", LEFT_OUT,
                "--runs", runs.toString(), "--publish", registry.toString(), "--model-version", "loso")).isZero();
        assertThat(TrainerCli.run("train", "--arch", "mobilenet", "--data", data.toString(), "--input-size", "64",
                "--epochs", "1", "--exclude-source", "sourceZ", "--runs", runs.toString())).isNotZero();
    }

    @Test
    @Order(2)
    void chooseThresholdPublishesTheSameWeightsWithTheValidationThreshold() throws Exception {
        ModelRegistry reg = new ModelRegistry(registry);
        ModelMetadata trained = reg.resolve(Architecture.MOBILENET, "loso").metadata();
        assertThat(trained.notes()).contains("sources left out (leave-one-source-out): " + LEFT_OUT);
        // the split must be the training run's: without --exclude-source it is another split, refused
        assertThat(TrainerCli.run("choose-threshold", "--model", "mobilenet@loso", "--registry", registry.toString(),
                "--data", data.toString(), "--score-cache", "none")).isEqualTo(2);

        // expected: the highest threshold keeping 1% sensitivity (= the top COVID-19 score) on the validation
        // split of the data without sourceB, scored here independently of the command
        DatasetSplit split = DatasetSplit.of(Dataset.load(data).withoutSources(List.of(LEFT_OUT)), SplitSpec.paper(42));
        assertThat(split.digest()).isEqualTo(trained.trainingDataDigest());
        float[] scores;
        boolean[] positive;
        try (CovidClassifier c = CovidClassifier.load(reg, Architecture.MOBILENET, "loso")) {
            PreparedImages validation = PreparedImages.load(split.get(Split.VALIDATION), c.preprocessor());
            scores = c.predictPreprocessed(validation.inputs());
            positive = new boolean[validation.size()];
            for (int i = 0; i < positive.length; i++) {
                positive[i] = validation.entry(i).label().isCovid();
            }
        }
        double expected = ThresholdChooser.forSensitivity(scores, positive, 0.01);
        assertThat(expected).isNotEqualTo(trained.decisionThreshold());

        assertThat(TrainerCli.run("choose-threshold", "--model", "mobilenet@loso", "--registry", registry.toString(),
                "--data", data.toString(), "--exclude-source", LEFT_OUT, "--target-sensitivity", "0.01",
                "--model-version", "loso-t01", "--score-cache", runs.resolve(".score-cache").toString())).isZero();
        ModelMetadata published = reg.resolve(Architecture.MOBILENET, "loso-t01").metadata();
        assertThat(published.decisionThreshold()).isCloseTo(expected, org.assertj.core.data.Offset.offset(1e-6));
        assertThat(published.files()).isEqualTo(trained.files()); // the same weights, byte for byte
        assertThat(published.trainingDataDigest()).isEqualTo(trained.trainingDataDigest());
        assertThat(published.metrics()).containsEntry("threshold.targetSensitivity", 0.01)
                .containsEntry("threshold.previous", trained.decisionThreshold());
        assertThat(published.notes()).contains("chosen on the validation split").contains("choose-threshold");
        assertThat(reg.resolve(Architecture.MOBILENET, "loso").metadata().decisionThreshold())
                .isEqualTo(trained.decisionThreshold()); // the old version is untouched
        chosen = published.decisionThreshold();
    }

    @Test
    @Order(3)
    void evaluatesOnTheLeftOutSourceAtTheModelsThreshold() throws Exception {
        assertThat(TrainerCli.run("evaluate", "--model", "mobilenet@loso-t01", "--registry", registry.toString(),
                "--data", data.toString(), "--split", "excluded", "--runs", runs.toString(),
                "--score-cache", "none")).isEqualTo(2); // excluded needs --exclude-source
        assertThat(TrainerCli.run("evaluate", "--model", "mobilenet@loso-t01", "--registry", registry.toString(),
                "--data", data.toString(), "--exclude-source", LEFT_OUT, "--split", "excluded", "--bootstrap", "100",
                "--runs", runs.toString(), "--name", "loso", "--score-cache", "none")).isZero();
        Path run;
        try (Stream<Path> s = Files.list(runs)) {
            run = s.filter(p -> p.getFileName().toString().endsWith("-loso")).findFirst().orElseThrow();
        }
        JsonNode metrics = Json.MAPPER.readTree(run.resolve("metrics.json").toFile());
        assertThat(metrics.path("split").asText()).isEqualTo("excluded");
        JsonNode model = metrics.path("protocol").path("models").get(0);
        assertThat(model.path("threshold").asDouble()).isEqualTo(chosen);
        assertThat(model.path("thresholdOrigin").asText()).isEqualTo("registry metadata");
        assertThat(model.path("images").asInt()).isEqualTo(35); // every sourceB image, none of sourceA
        assertThat(model.path("perSource").fieldNames()).toIterable().containsExactly(LEFT_OUT);
        assertThat(model.path("auc").path("low").asDouble()).isLessThanOrEqualTo(model.path("auc").path("estimate").asDouble());
        String report = Files.readString(run.resolve("report.md"));
        assertThat(report).contains("### Per source at the model's threshold").contains("| " + LEFT_OUT + " |")
                .doesNotContain("evaluated images may have been seen in training");
        assertThat(run.resolve("reliability.png")).isNotEmptyFile();

        // on the validation split itself (scored once): the threshold chosen there is the published one
        assertThat(TrainerCli.run("evaluate", "--model", "mobilenet@loso-t01", "--registry", registry.toString(),
                "--data", data.toString(), "--exclude-source", LEFT_OUT, "--split", "validation",
                "--target-sensitivity", "0.01", "--bootstrap", "50", "--runs", runs.toString(), "--name", "val",
                "--score-cache", "none")).isZero();
        Path val;
        try (Stream<Path> s = Files.list(runs)) {
            val = s.filter(p -> p.getFileName().toString().endsWith("-val")).findFirst().orElseThrow();
        }
        JsonNode v = Json.MAPPER.readTree(val.resolve("metrics.json").toFile()).path("models").get(0);
        assertThat(v.path("images").asInt()).isEqualTo(7);
        assertThat(v.path("chosenThreshold").asDouble()).isCloseTo(chosen, org.assertj.core.data.Offset.offset(1e-6));
    }
}
