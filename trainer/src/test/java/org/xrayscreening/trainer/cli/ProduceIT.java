package org.xrayscreening.trainer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;
import org.xrayscreening.models.Architecture;
import org.xrayscreening.models.registry.EnsembleRegistry;
import org.xrayscreening.models.registry.EnsembleSettings;
import org.xrayscreening.models.registry.ModelMetadata;
import org.xrayscreening.models.registry.ModelRegistry;
import org.xrayscreening.trainer.Json;
import org.xrayscreening.trainer.TrainerCli;
import org.xrayscreening.trainer.dataset.Dataset;
import org.xrayscreening.trainer.dataset.DatasetSplit;
import org.xrayscreening.trainer.dataset.SplitSpec;
import org.xrayscreening.trainer.training.RunState;
import org.xrayscreening.trainer.training.TrainingRun;

/**
 * {@code trainer produce} end to end on two synthetic data folders (combined), all four networks at 75 px (the
 * smallest InceptionV3 accepts; production uses each network's native size) with two batches each: four
 * published versions with digest, metrics with intervals, threshold and command, and their ensemble settings; a
 * rerun that retrains nothing;
 * an interrupted run that resumes from its checkpoint; the generated model card.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ProduceIT {
    Path tmp;
    Path registry;
    Path work;
    List<String> command;

    @BeforeAll
    void data(@TempDir Path dir) throws Exception {
        tmp = dir;
        SyntheticDatasetCommand.write(dir.resolve("site-a"), 24, 64, 1, 2);
        SyntheticDatasetCommand.write(dir.resolve("site-b"), 24, 64, 2, 2);
        registry = dir.resolve("registry");
        work = dir.resolve("work");
        command = List.of("produce", "--data", dir.resolve("site-a").toString(), "--data",
                dir.resolve("site-b").toString(), "--registry", registry.toString(), "--version", "v1", "--work",
                work.toString(), "--epochs", "1", "--budget-minutes", "10,xception=12", "--init",
                "mobilenet=scratch,resnet50=scratch,inceptionv3=scratch", "--input-size", "75", "--max-batches", "2",
                "--bootstrap", "50", "--threads", "2");
    }

    private String run(List<String> args) {
        PrintStream original = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
        int code;
        try {
            code = TrainerCli.run(args.toArray(String[]::new));
        } finally {
            System.setOut(original);
        }
        String out = captured.toString(StandardCharsets.UTF_8);
        System.out.print(out);
        assertThat(code).as(out).isZero();
        return out;
    }

    @Test
    @Order(1)
    void publishesFourModelsWithDigestMetricsIntervalsThresholdAndCommand() throws Exception {
        run(command);
        ModelRegistry reg = new ModelRegistry(registry);
        // the combined split, recomputed here as train and evaluate combine the two folders
        String digest = DatasetSplit.of(Dataset.load(List.of(tmp.resolve("site-a"), tmp.resolve("site-b"))),
                new SplitSpec(42, 0.25, 0.30)).digest();
        for (Architecture arch : Architecture.values()) {
            ModelMetadata m = reg.resolve(arch, "v1").metadata();
            Map<String, Double> metrics = m.metrics();
            assertThat(m.trainingDataDigest()).as(arch.id()).isEqualTo(digest);
            assertThat(m.command()).startsWith("trainer produce --data ").contains("--version v1");
            assertThat(m.inputSize()).isEqualTo(75);
            for (String key : List.of("test.auc", "test.sensitivity", "test.specificity", "validation.auc")) {
                assertThat(metrics).as(arch.id() + " " + key).containsKeys(key, key + ".ci_low", key + ".ci_high");
                assertThat(metrics.get(key + ".ci_low")).isLessThanOrEqualTo(metrics.get(key + ".ci_high"));
            }
            assertThat(metrics.get("test.tp") + metrics.get("test.fn")).isEqualTo(metrics.get("test.covid"));
            // both synthetic sources hold both labels, so each has its own within-source AUC
            assertThat(metrics).containsKeys("test.source.synthetic-a.auc", "test.source.synthetic-b.auc.ci_high");
            // the threshold was chosen on validation for sensitivity >= 0.95 and is the one the metrics are taken at
            assertThat(metrics.get("validation.chosen.recall")).isGreaterThanOrEqualTo(0.95);
            assertThat(metrics.get("validation.chosen.threshold")).isEqualTo(m.decisionThreshold());
        }
        String card = Files.readString(work.resolve("report/model-card.md"));
        assertThat(card).contains("never a diagnosis", "## Metrics per source", "| mobilenet | synthetic-a | ",
                "| xception | synthetic-b | ", "| ensemble | synthetic-a | ", "## What was not validated", digest);
        assertThat(work.resolve("report/roc-all.png")).isRegularFile();
        assertThat(work.resolve("report/reliability.png")).isRegularFile();
        assertThat(Files.readString(work.resolve("report/README.md"))).contains("mobilenet@v1",
                "ensemble@v1 (calibrated-mean)");
        // the ensemble settings, fit on validation, published next to the models for the stream job
        EnsembleSettings ensemble = new EnsembleRegistry(registry).resolve("v1");
        assertThat(ensemble.dataDigest()).isEqualTo(digest);
        assertThat(ensemble.split()).isEqualTo("validation");
        assertThat(ensemble.modelVersions()).containsOnlyKeys("mobilenet", "resnet50", "inceptionv3", "xception")
                .containsValue("v1");
        assertThat(ensemble.command()).startsWith("trainer produce ");
    }

    @Test
    @Order(2)
    void rerunningTheSameCommandRetrainsNothing() throws Exception {
        List<Path> runsBefore = runFolders();
        List<String> statesBefore = new ArrayList<>();
        for (Path r : runsBefore) {
            statesBefore.add(Files.readString(r.resolve(TrainingRun.STATE_FILE)));
        }
        String out = run(command);
        assertThat(out).contains("[1/4 mobilenet] train: done earlier", "[4/4 xception] publish: xception@v1 published earlier")
                .contains("[ensemble] publish: ").doesNotContain("train: new run", "scored ", "[ensemble] fit on");
        assertThat(runFolders()).isEqualTo(runsBefore);
        for (int i = 0; i < runsBefore.size(); i++) {
            assertThat(Files.readString(runsBefore.get(i).resolve(TrainingRun.STATE_FILE))).isEqualTo(statesBefore.get(i));
        }
    }

    @Test
    @Order(3)
    void anInterruptedRunContinuesFromItsCheckpoint() throws Exception {
        // what a kill after epoch 1 of 2 leaves: state after epoch 1, not finished, no final weights yet
        Path work2 = tmp.resolve("work-interrupted");
        Path run = ProduceCommand.latestRun(work.resolve("runs/mobilenet"));
        Path copy = work2.resolve("runs/mobilenet").resolve(run.getFileName());
        copyTree(run, copy);
        ObjectNode info = (ObjectNode) Json.MAPPER.readTree(copy.resolve(TrainingRun.RUN_FILE).toFile());
        ((ObjectNode) info.get("options")).put("epochs", 2);
        Json.MAPPER.writeValue(copy.resolve(TrainingRun.RUN_FILE).toFile(), info);
        RunState state = Json.read(copy.resolve(TrainingRun.STATE_FILE), RunState.class);
        assertThat(state.completedEpochs).isEqualTo(1);
        state.finished = false;
        Json.write(copy.resolve(TrainingRun.STATE_FILE), state);
        deleteTree(copy.resolve(TrainingRun.FINAL));

        List<String> again = new ArrayList<>(command);
        again.set(again.indexOf(work.toString()), work2.toString());
        again.set(again.indexOf(registry.toString()), tmp.resolve("registry2").toString());
        again.addAll(List.of("--archs", "mobilenet"));
        String out = run(again);
        assertThat(out).contains("train: resuming " + copy.getFileName() + " after epoch 1", "resumed from epoch 1");
        assertThat(ProduceCommand.latestRun(work2.resolve("runs/mobilenet"))).isEqualTo(copy);
        RunState after = Json.read(copy.resolve(TrainingRun.STATE_FILE), RunState.class);
        assertThat(after.finished).isTrue();
        assertThat(after.completedEpochs).isEqualTo(2);
        assertThat(new ModelRegistry(tmp.resolve("registry2")).resolve(Architecture.MOBILENET, "v1").metadata()
                .metrics().get("train.epochs")).isEqualTo(2.0);
    }

    @Test
    @Order(4)
    void badOptionsAreRefusedBeforeAnyWork() {
        assertThat(TrainerCli.run("produce", "--data", tmp.resolve("site-a").toString(), "--registry",
                registry.toString(), "--version", "v2", "--work", tmp.resolve("w3").toString(), "--archs",
                "mobilenet,resnet50", "--budget-minutes", "mobilenet=5")).isEqualTo(2);
        assertThat(TrainerCli.run("produce", "--data", tmp.resolve("site-a").toString(), "--registry",
                registry.toString(), "--version", "v2", "--work", tmp.resolve("w3").toString(), "--init",
                "xception")).isEqualTo(2);
        assertThat(TrainerCli.run("produce", "--data", tmp.resolve("site-a").toString(), "--registry",
                registry.toString(), "--version", "v2", "--work", tmp.resolve("w3").toString(), "--init",
                "mobilenet=imagenet:" + tmp.resolve("no-such.tflite"))).isEqualTo(2);
        assertThat(tmp.resolve("w3")).doesNotExist();
    }

    private List<Path> runFolders() throws Exception {
        try (Stream<Path> s = Files.list(work.resolve("runs"))) {
            List<Path> out = new ArrayList<>();
            for (Path arch : s.sorted().toList()) {
                try (Stream<Path> r = Files.list(arch)) {
                    out.addAll(r.sorted().toList());
                }
            }
            return out;
        }
    }

    private static void copyTree(Path from, Path to) throws Exception {
        try (Stream<Path> walk = Files.walk(from)) {
            for (Path p : walk.toList()) {
                Path t = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(t);
                } else {
                    Files.copy(p, t);
                }
            }
        }
    }

    private static void deleteTree(Path dir) throws Exception {
        try (Stream<Path> walk = Files.walk(dir)) {
            walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }
}
