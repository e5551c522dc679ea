package org.xrayscreening.trainer.training;

import static org.assertj.core.api.Assertions.assertThat;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xrayscreening.connectors.image.CanonicalImage;
import org.xrayscreening.connectors.image.ImageDecoder;
import org.xrayscreening.models.Architecture;
import org.xrayscreening.models.inference.CovidClassifier;
import org.xrayscreening.models.preprocess.IntensityMethod;
import org.xrayscreening.models.preprocess.PreprocessingOptions;
import org.xrayscreening.models.preprocess.Preprocessor;
import org.xrayscreening.models.registry.ModelMetadata;
import org.xrayscreening.models.registry.ModelRegistry;
import org.xrayscreening.trainer.Json;
import org.xrayscreening.trainer.SyntheticData;
import org.xrayscreening.trainer.TrainerCli;
import org.xrayscreening.trainer.dataset.Dataset;
import org.xrayscreening.trainer.dataset.DatasetEntry;
import org.xrayscreening.trainer.dataset.PreparedImages;

/**
 * {@code train --intensity/--mask-border/--mask-text}: the options reach run.json and the published metadata, and
 * a published model prepares images in the stream job's way (decode, canonical 16-bit image, the classifier's
 * preprocessor, as {@code StudyIntake} and {@code ModelScoring} do) into exactly the floats the trainer trained on.
 */
class PreprocessingOptionsTrainingTest {
    private static final int SIZE = 48;
    /** The stream job's default --canonical-max-side; the synthetic images are smaller, so it does not resize. */
    private static final int CANONICAL_MAX_SIDE = 512;

    @TempDir
    Path tmp;

    private static int run(ByteArrayOutputStream out, ByteArrayOutputStream err, String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            return TrainerCli.run(args);
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    @Test
    void publishedModelPreprocessesInTheStreamJobExactlyAsInTraining() throws Exception {
        Path data = SyntheticData.write(tmp.resolve("data"), 6, 8, 96);
        Path runs = tmp.resolve("runs");
        Path registry = tmp.resolve("registry");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = run(out, err, "train", "--arch", "mobilenet", "--data", data.toString(), "--input-size", "" + SIZE,
                "--epochs", "1", "--max-batches", "1", "--batch-size", "4", "--no-augment", "--threads", "2",
                "--intensity", "clahe", "--clahe-clip", "3", "--mask-border", "0.05", "--mask-text",
                "--runs", runs.toString(), "--name", "conditioned", "--publish", registry.toString(),
                "--model-version", "v1");
        String log = out.toString(StandardCharsets.UTF_8);
        assertThat(code).as(log + err).isZero();
        PreprocessingOptions expected = new PreprocessingOptions(IntensityMethod.CLAHE, 3.0, 8, 0.05, true);
        assertThat(log).contains("clahe3.0x8+border0.05+text");

        Path runDir;
        try (Stream<Path> s = Files.list(runs)) {
            runDir = s.filter(p -> p.getFileName().toString().endsWith("-conditioned")).findFirst().orElseThrow();
        }
        TrainOptions options = Json.read(runDir.resolve(TrainingRun.RUN_FILE), RunInfo.class).options();
        assertThat(options.preprocessing()).isEqualTo(expected);

        ModelRegistry reg = new ModelRegistry(registry);
        ModelMetadata metadata = reg.resolve(Architecture.MOBILENET, "v1").metadata();
        assertThat(metadata.preprocessing()).isEqualTo(expected);
        assertThat(Files.readString(reg.resolve(Architecture.MOBILENET, "v1").directory()
                .resolve(ModelRegistry.METADATA_FILE))).contains("\"intensity\" : \"clahe\"").contains("\"maskText\" : true");

        List<DatasetEntry> entries = Dataset.load(data).entries();
        PreparedImages trained = PreparedImages.load(entries, options.preprocessor());
        PreparedImages plain = PreparedImages.load(entries, new Preprocessor(options.normalization(), SIZE));
        assertThat(trained.size()).isEqualTo(entries.size());
        ImageDecoder decoder = new ImageDecoder();
        try (CovidClassifier classifier = CovidClassifier.load(reg, Architecture.MOBILENET, "v1")) {
            assertThat(classifier.preprocessor()).isEqualTo(options.preprocessor());
            for (int i = 0; i < trained.size(); i++) {
                byte[] bytes = Files.readAllBytes(trained.entry(i).file());
                BufferedImage canonical = CanonicalImage.toGray16(
                        decoder.decode(bytes, ImageDecoder.contentTypeOf(bytes)), CANONICAL_MAX_SIDE);
                BufferedImage received = CanonicalImage.fromPixels(canonical.getWidth(), canonical.getHeight(),
                        CanonicalImage.pixels(canonical));
                float[] streamed = classifier.preprocessor().toChw(received);
                assertThat(streamed).as(trained.entry(i).name()).containsExactly(trained.input(i));
                // and the options did change the input (a model without them would see other pixels)
                assertThat(streamed).isNotEqualTo(plain.input(i));
            }
        }
    }

    @Test
    void badOptionsAreRefusedBeforeAnyTraining() throws Exception {
        Path data = SyntheticData.write(tmp.resolve("data"), 2, 2, 32);
        for (String[] bad : List.of(new String[] {"--intensity", "sharpen"}, new String[] {"--mask-border", "0.7"},
                new String[] {"--intensity", "clahe", "--clahe-tiles", "0"})) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            String[] args = Stream.concat(Stream.of("train", "--data", data.toString(), "--runs",
                    tmp.resolve("runs").toString()), Stream.of(bad)).toArray(String[]::new);
            assertThat(run(out, err, args)).as(String.join(" ", bad)).isEqualTo(2);
            assertThat(err.toString(StandardCharsets.UTF_8)).containsAnyOf("intensity method", "border mask", "tile grid");
            assertThat(Files.exists(tmp.resolve("runs"))).isFalse();
        }
    }
}
