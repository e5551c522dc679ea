package org.xrayscreening.trainer.training;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xrayscreening.models.Architecture;
import org.xrayscreening.models.inference.CovidClassifier;
import org.xrayscreening.models.registry.ModelMetadata;
import org.xrayscreening.models.registry.ModelRegistry;
import org.xrayscreening.trainer.Json;
import org.xrayscreening.trainer.SyntheticData;
import org.xrayscreening.trainer.TrainerCli;
import org.xrayscreening.trainer.dataset.Dataset;
import org.xrayscreening.trainer.dataset.DatasetEntry;
import org.xrayscreening.trainer.dataset.DatasetSplit;
import org.xrayscreening.trainer.dataset.Split;
import org.xrayscreening.trainer.dataset.SplitSpec;
import org.xrayscreening.trainer.publish.Publisher;

/**
 * {@code train --teacher} end to end on synthetic images: a MobileNet teacher published at 48 px teaches a
 * MobileNet student at 32 px, so a teacher fed the student's inputs would be refused by its own length check and
 * the cached probabilities can only be the teacher's answers on its own preprocessing.
 */
class DistillationRunTest {
    private static final int TEACHER_SIZE = 48;
    private static final int STUDENT_SIZE = 32;

    @Test
    void theTeacherScoresEveryTrainingImageWithItsOwnPreprocessingAndIsRecorded(@TempDir Path tmp) throws Exception {
        Path data = SyntheticData.write(tmp.resolve("data"), 10, 18, 64);
        Path runs = tmp.resolve("runs");
        Path teacherRegistry = tmp.resolve("teachers");
        Path registry = tmp.resolve("registry");
        TrainOptions teacherOptions = new TrainOptions(Architecture.MOBILENET, data.toString(), "default", TEACHER_SIZE,
                1, 8, 1e-3f, 7, 0.25, 0.30, 2, "scratch", 0.9f, false, true, 0, 2, 0, "test", List.of());
        PrintStream quiet = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
        TrainingRun.Result teacherRun = TrainingRun.start(teacherOptions, runs, "teacher", quiet, null);
        Publisher.publish(teacherRun.runDir(), teacherRegistry, "t1", 0.95);
        new ModelRegistry(teacherRegistry).setAlias(Architecture.MOBILENET, "best", "t1");

        String log = cli("train", "--arch", "mobilenet", "--data", data.toString(), "--input-size", "" + STUDENT_SIZE,
                "--epochs", "1", "--max-batches", "2", "--batch-size", "8", "--seed", "7", "--threads", "2",
                "--runs", runs.toString(), "--name", "student", "--publish", registry.toString(),
                "--model-version", "s1", "--teacher", "mobilenet@best", "--teacher-registry", teacherRegistry.toString(),
                "--distill-weight", "0.7", "--distill-temperature", "3");
        assertThat(log).contains("teacher mobilenet@t1: 48 px").contains("distilling from mobilenet@t1")
                .contains("published mobilenet@s1").doesNotContain("WARNING: teacher");
        Path run = onlyRun(runs, "student");

        // the alias is resolved once and the exact version kept for --resume
        Distillation d = Json.read(run.resolve(Distillation.FILE), Distillation.class);
        assertThat(d.teacher()).isEqualTo("mobilenet@best");
        assertThat(d.teacherVersion()).isEqualTo("mobilenet@t1");
        assertThat(d.sameSplitAsTeacher()).isTrue();
        assertThat(d.weight()).isEqualTo(0.7f);

        // one probability per training image (and none for validation or test), each the teacher's own answer
        List<DatasetEntry> trainEntries = DatasetSplit.of(Dataset.load(data), new SplitSpec(7, 0.25, 0.30))
                .get(Split.TRAIN);
        Map<String, Float> cached = TeacherProbabilities.read(run.resolve(Distillation.TEACHER_PROBABILITIES));
        assertThat(cached.keySet()).containsExactlyInAnyOrderElementsOf(
                trainEntries.stream().map(DatasetEntry::name).toList());
        try (CovidClassifier teacher = CovidClassifier.load(new ModelRegistry(teacherRegistry), Architecture.MOBILENET,
                "t1")) {
            for (DatasetEntry e : trainEntries) {
                float expected = teacher.predict(ImageIO.read(e.file().toFile()));
                assertThat(cached.get(e.name())).as(e.name()).isCloseTo(expected, within(1e-5f));
            }
        }

        // teacher, A and T are in the published metadata
        ModelMetadata m = new ModelRegistry(registry).resolve(Architecture.MOBILENET, "s1").metadata();
        assertThat(m.inputSize()).isEqualTo(STUDENT_SIZE);
        assertThat(m.notes()).contains("distilled from mobilenet@t1").contains("weight 0.7").contains("temperature 3.0");
        assertThat(m.metrics()).containsEntry("train.distillation.weight", (double) 0.7f)
                .containsEntry("train.distillation.temperature", 3.0);
        assertThat(m.command()).contains("--teacher mobilenet@best");
    }

    @Test
    void aMissingTeacherIsRefusedBeforeAnyImageIsPrepared(@TempDir Path tmp) throws Exception {
        Path data = SyntheticData.write(tmp.resolve("data"), 2, 3, 32);
        Files.createDirectories(tmp.resolve("empty"));
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream old = System.err;
        int code;
        try {
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            code = TrainerCli.run("train", "--arch", "mobilenet", "--data", data.toString(), "--runs",
                    tmp.resolve("runs").toString(), "--teacher", "resnet50@nope", "--teacher-registry",
                    tmp.resolve("empty").toString());
        } finally {
            System.setErr(old);
        }
        assertThat(code).isEqualTo(2);
        assertThat(err.toString(StandardCharsets.UTF_8)).contains("resnet50@nope");
        assertThat(tmp.resolve("runs")).doesNotExist();
    }

    private static String cli(String... args) {
        PrintStream old = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        int code;
        try {
            System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
            code = TrainerCli.run(args);
        } finally {
            System.setOut(old);
        }
        String log = captured.toString(StandardCharsets.UTF_8);
        System.out.println(log);
        assertThat(code).as(log).isZero();
        return log;
    }

    private static Path onlyRun(Path runs, String suffix) throws Exception {
        try (Stream<Path> s = Files.list(runs)) {
            return s.filter(p -> p.getFileName().toString().endsWith("-" + suffix)).findFirst().orElseThrow();
        }
    }
}
