package org.xrayscreening.trainer.training;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
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
import org.xrayscreening.models.registry.ModelRegistry;
import org.xrayscreening.models.registry.ModelVersion;
import org.xrayscreening.models.synthetic.SyntheticChestXray;
import org.xrayscreening.trainer.Json;
import org.xrayscreening.trainer.SyntheticData;
import org.xrayscreening.trainer.TrainerCli;
import org.xrayscreening.trainer.publish.Publisher;

/**
 * Training, resume, publish and evaluate on a small synthetic dataset (MobileNet at 64 px, a few steps). The
 * tests build on each other: the two published versions are evaluated at the end.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class TrainingRunTest {
    private static final int SIZE = 64;

    Path data;
    Path runs;
    Path registry;

    @BeforeAll
    void data(@TempDir Path tmp) throws Exception {
        data = SyntheticData.write(tmp.resolve("data"), 14, 26, SIZE);
        runs = tmp.resolve("runs");
        registry = tmp.resolve("registry");
    }

    private TrainOptions options(int epochs) {
        return new TrainOptions(Architecture.MOBILENET, data.toString(), "default", SIZE, epochs, 8, 1e-3f, 7, 0.25, 0.30,
                2, "scratch", 0.9f, false, true, 0, 0, 0, "test", List.of());
    }

    @Test
    @Order(1)
    void shortTrainingRunThroughTheCliLowersTheLossAndPublishes() throws Exception {
        PrintStream old = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        int code;
        try {
            System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
            code = TrainerCli.run("train", "--arch", "mobilenet", "--data", data.toString(), "--input-size", "" + SIZE,
                    "--epochs", "5", "--batch-size", "8", "--no-augment", "--patience", "0", "--seed", "7",
                    "--threads", "2", "--runs", runs.toString(), "--name", "loss", "--publish", registry.toString(),
                    "--model-version", "v2");
        } finally {
            System.setOut(old);
        }
        String log = captured.toString(StandardCharsets.UTF_8);
        System.out.println(log);
        assertThat(code).isZero();
        assertThat(log).contains("mobilenet epoch 1/5").contains("validation loss").contains("AUC")
                .contains("published mobilenet@v2");
        Path run = onlyRun("loss");
        RunState state = Json.read(run.resolve(TrainingRun.STATE_FILE), RunState.class);
        assertThat(state.completedEpochs).isEqualTo(5);
        assertThat(state.history.get(4).trainLoss).isLessThan(state.history.get(0).trainLoss);

        ModelVersion v = new ModelRegistry(registry).resolve(Architecture.MOBILENET, "v2");
        RunInfo info = Json.read(run.resolve(TrainingRun.RUN_FILE), RunInfo.class);
        assertThat(v.metadata().trainingDataDigest()).isEqualTo(info.datasetDigest()).startsWith("sha256:");
        assertThat(v.metadata().command()).startsWith("trainer train --arch mobilenet").contains("--epochs 5");
        assertThat(v.metadata().inputSize()).isEqualTo(SIZE);
        assertThat(v.metadata().metrics()).containsKeys("validation.auc", "validation.chosen.threshold",
                "validation.t0.5.accuracy", "train.imagesPerSecond");
        assertThat(v.metadata().decisionThreshold()).isEqualTo(v.metadata().metrics().get("validation.chosen.threshold"));
    }

    @Test
    @Order(2)
    void resumeContinuesFromTheLastCompletedEpoch() throws Exception {
        ByteArrayOutputStream sink = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(sink, true, StandardCharsets.UTF_8);
        TrainingRun.Result first = TrainingRun.start(options(2), runs, "resume", out, null);
        assertThat(first.state().completedEpochs).isEqualTo(2);
        byte[] weightsAfter2 = Files.readAllBytes(first.runDir().resolve(TrainingRun.LAST).resolve("model-0000.params"));

        // the run was planned for 3 epochs and stopped after 2: continue it
        TrainingRun.Result resumed = TrainingRun.resume(first.runDir(), 3, out, null);
        String log = sink.toString(StandardCharsets.UTF_8);
        assertThat(resumed.firstEpochRun()).isEqualTo(3);
        assertThat(log).contains("resumed from epoch 2").contains("mobilenet epoch 3/3").doesNotContain("epoch 1/3");
        assertThat(resumed.state().completedEpochs).isEqualTo(3);
        assertThat(resumed.state().history).extracting(h -> h.epoch).containsExactly(1, 2, 3);
        assertThat(Files.readAllBytes(resumed.runDir().resolve(TrainingRun.LAST).resolve("model-0000.params")))
                .isNotEqualTo(weightsAfter2);

        ModelVersion v = Publisher.publish(resumed.runDir(), registry, "v1", 0.95);
        try (CovidClassifier classifier = CovidClassifier.load(new ModelRegistry(registry), Architecture.MOBILENET, "v1")) {
            float p = classifier.predict(SyntheticChestXray.positive(5, 80).gray8());
            assertThat(p).isBetween(0f, 1f);
        }
        assertThat(v.metadata().metrics().get("train.epochs")).isEqualTo(3.0);

        // the threshold keeps the target on the model's own validation probabilities, as the stream job compares
        // them (p >= threshold): scores read back exactly, so none sits just under a threshold rounded above it
        List<String> rows = Files.readAllLines(resumed.runDir().resolve(TrainingRun.VALIDATION_PREDICTIONS));
        long covid = 0;
        long kept = 0;
        for (String row : rows.subList(1, rows.size())) {
            String[] f = row.split(",");
            if (f[1].equals("covid")) {
                covid++;
                kept += Float.parseFloat(f[3]) >= v.metadata().decisionThreshold() ? 1 : 0;
                assertThat(Float.toString(Float.parseFloat(f[3]))).isEqualTo(f[3]);
            }
        }
        assertThat(covid).isPositive();
        assertThat((double) kept / covid).isGreaterThanOrEqualTo(0.95);
    }

    @Test
    @Order(3)
    void evaluateWritesTheReportForEachModelAndTheEnsemble() throws Exception {
        int code = TrainerCli.run("evaluate", "--model", "mobilenet@v1", "--model", "mobilenet@v2", "--registry",
                registry.toString(), "--data", data.toString(), "--seed", "7", "--runs", runs.toString(), "--name", "eval",
                "--threads", "2", "--score-cache", runs.resolve("cache").toString());
        assertThat(code).isZero();
        Path dir = onlyRun("eval");
        // a second evaluation reads the cached scores and reports the same numbers
        assertThat(TrainerCli.run("evaluate", "--model", "mobilenet@v1", "--model", "mobilenet@v2", "--registry",
                registry.toString(), "--data", data.toString(), "--seed", "7", "--runs", runs.toString(), "--name",
                "cached", "--score-cache", runs.resolve("cache").toString())).isZero();
        try (Stream<Path> cache = Files.list(runs.resolve("cache"))) {
            assertThat(cache.count()).isEqualTo(2);
        }
        assertThat(Json.MAPPER.readTree(onlyRun("cached").resolve("metrics.json").toFile()).get("models"))
                .isEqualTo(Json.MAPPER.readTree(dir.resolve("metrics.json").toFile()).get("models"));
        String report = Files.readString(dir.resolve("report.md"));
        assertThat(report).contains("| mobilenet@v1 | 0.5 |").contains("| mobilenet@v2 |")
                .contains("ensemble (mean of 2)").contains("Per data source").contains("sourceA")
                .contains("roc-all.png");
        assertThat(report).doesNotContain("evaluated images may have been seen in training");
        JsonNode metrics = Json.MAPPER.readTree(dir.resolve("metrics.json").toFile());
        // two models, their mean, and the two combinations fit on validation (Platt-calibrated mean, stack)
        assertThat(metrics.get("models")).hasSize(5);
        assertThat(report).contains("ensemble (Platt-calibrated mean of 2)").contains("ensemble (stacked on validation)")
                .contains("## Ensemble: combinations and the indeterminate band, fit on validation")
                .contains("## Evaluation protocol").contains("![reliability](reliability.png)");
        JsonNode m = metrics.get("models").get(0);
        long n = m.get("threshold0.5").get("tp").asLong() + m.get("threshold0.5").get("tn").asLong()
                + m.get("threshold0.5").get("fp").asLong() + m.get("threshold0.5").get("fn").asLong();
        assertThat(n).isEqualTo(m.get("images").asLong()).isPositive();
        assertThat(m.get("perSource").has("sourceB")).isTrue();
        for (String png : List.of("roc-all.png", "mobilenet-v1-confusion.png", "mobilenet-v1-roc.png",
                "mobilenet-v2-confusion.png", "ensemble-mean-of-2-roc.png")) {
            assertThat(dir.resolve(png)).isRegularFile();
            assertThat(Files.size(dir.resolve(png))).isGreaterThan(1000);
        }
        assertThat(Files.readAllLines(dir.resolve("predictions.csv")).get(0))
                .isEqualTo("file,label,source,mobilenet@v1,mobilenet@v2,ensemble (mean of 2),"
                        + "ensemble (Platt-calibrated mean of 2),ensemble (stacked on validation)");
    }

    @Test
    @Order(4)
    void paperPresetTrainsWithAdadeltaAndMseAndKeepsTheLastEpoch() throws Exception {
        TrainOptions paper = new TrainOptions(Architecture.MOBILENET, data.toString(), "paper", SIZE, 2, 8, 1f, 7, 0.25,
                0.30, 2, "scratch", 0.9f, false, false, 0, 0, 0, "test", List.of());
        ByteArrayOutputStream sink = new ByteArrayOutputStream();
        TrainingRun.Result r = TrainingRun.start(paper, runs, "paper", new PrintStream(sink, true, StandardCharsets.UTF_8),
                null);
        assertThat(sink.toString(StandardCharsets.UTF_8)).contains("ADADELTA, MSE_SOFTMAX").contains("epoch 2/2")
                .contains("final weights").contains("(epoch 2)");
        // MSE between softmax and one-hot is at most 1 per sample
        assertThat(r.state().history).allSatisfy(h -> assertThat(h.trainLoss).isBetween(0.0, 1.0));
    }

    @Test
    @Order(5)
    void sourceBalancedSamplingAndStrongAugmentationAreLoggedStoredAndPublished() throws Exception {
        PrintStream old = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        int code;
        try {
            System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
            code = TrainerCli.run("train", "--arch", "mobilenet", "--data", data.toString(), "--input-size", "" + SIZE,
                    "--epochs", "1", "--max-batches", "2", "--batch-size", "8", "--sampling", "source-balanced",
                    "--augment", "strong", "--seed", "7", "--threads", "2", "--runs", runs.toString(), "--name",
                    "balanced", "--publish", registry.toString(), "--model-version", "v3");
        } finally {
            System.setOut(old);
        }
        String log = captured.toString(StandardCharsets.UTF_8);
        System.out.println(log);
        assertThat(code).isZero();
        assertThat(log).contains("sampling source-balanced").contains("sourceA / covid: ")
                .contains("sourceB / non-covid: ").contains("augmentation on (strong)");
        RunInfo info = Json.read(onlyRun("balanced").resolve(TrainingRun.RUN_FILE), RunInfo.class);
        assertThat(info.options().sampling()).isEqualTo("source-balanced");
        assertThat(info.options().augmentation()).isEqualTo("strong");
        assertThat(info.options().augment()).isTrue();
        ModelVersion v = new ModelRegistry(registry).resolve(Architecture.MOBILENET, "v3");
        assertThat(v.metadata().notes()).contains("sampling source-balanced, augmentation strong");
        // the earlier runs, made without the options, are recorded as uniform (light or none)
        RunInfo loss = Json.read(onlyRun("loss").resolve(TrainingRun.RUN_FILE), RunInfo.class);
        assertThat(loss.options().sampling()).isEqualTo("uniform");
        assertThat(loss.options().augmentation()).isEqualTo("none");
    }

    @Test
    @Order(6)
    void contradictoryOrUnknownSamplingAndAugmentationAreRefusedBeforeTraining() throws Exception {
        assertThat(TrainerCli.run("train", "--data", data.toString(), "--no-augment", "--augment", "strong",
                "--runs", runs.toString(), "--name", "refused")).isEqualTo(2);
        assertThat(TrainerCli.run("train", "--data", data.toString(), "--sampling", "balanced",
                "--runs", runs.toString(), "--name", "refused")).isEqualTo(2);
        assertThat(TrainerCli.run("train", "--data", data.toString(), "--augment", "heavy",
                "--runs", runs.toString(), "--name", "refused")).isEqualTo(2);
        try (Stream<Path> s = Files.list(runs)) {
            assertThat(s.filter(p -> p.getFileName().toString().endsWith("-refused"))).isEmpty();
        }
    }

    @Test
    @Order(7)
    void theSameSeedTrainsTheSameWeightsAndAnotherSeedOthers() throws Exception {
        PrintStream out = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
        TrainOptions o = options(1);
        TrainingRun.Result a = TrainingRun.start(o, runs, "seed-a", out, null);
        TrainingRun.Result b = TrainingRun.start(o, runs, "seed-b", out, null);
        assertThat(b.state().history.get(0).trainLoss).isEqualTo(a.state().history.get(0).trainLoss);
        assertThat(Files.readAllBytes(b.finalWeights())).isEqualTo(Files.readAllBytes(a.finalWeights()));
        // another seed: another split too, so compare the initial loss only through the weights
        TrainOptions other = new TrainOptions(o.architecture(), o.data(), o.preset(), o.inputSize(), 1, o.batchSize(),
                o.learningRate(), 8, o.testFraction(), o.validationFraction(), o.threads(), o.init(), o.bnMomentum(),
                false, true, 0, 0, 0, "test", List.of(), List.of());
        TrainingRun.Result c = TrainingRun.start(other, runs, "seed-c", out, null);
        assertThat(Files.readAllBytes(c.finalWeights())).isNotEqualTo(Files.readAllBytes(a.finalWeights()));
    }

    private Path onlyRun(String suffix) throws Exception {
        try (Stream<Path> s = Files.list(runs)) {
            return s.filter(p -> p.getFileName().toString().endsWith("-" + suffix)).findFirst().orElseThrow();
        }
    }
}
