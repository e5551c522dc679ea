package org.xrayscreening.trainer.imagenet;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Model;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xrayscreening.models.Architecture;
import org.xrayscreening.models.inference.ModelExport;
import org.xrayscreening.models.registry.ModelRegistry;
import org.xrayscreening.models.registry.ModelVersion;
import org.xrayscreening.models.synthetic.SyntheticChestXray;
import picocli.CommandLine;

/** {@code import-pretrained} end to end on the real files; skipped where ../shared/pretrained is absent. */
class TfliteImportPretrainedCommandTest {

    @Test
    void classifiesWithTheFilesImageNetHead() {
        Path tflite = PretrainedFiles.require(PretrainedFiles.CLASSIFIER_075_192);
        Result r = run("--tflite", tflite.toString(), "--classify", tflite.resolveSibling("bird.png").toString());
        assertThat(r.exitCode).as(r.out).isZero();
        assertThat(r.out).contains("alpha 0.75", "1001-class classifier", "bird.png:");
        String firstRanked = r.out.lines().dropWhile(l -> !l.startsWith("bird.png:")).skip(1).findFirst().orElseThrow();
        assertThat(firstRanked).contains("chickadee");
    }

    @Test
    void publishesACalibratedTwoClassMobileNetWithTheImageNetBackbone(@TempDir Path tmp) throws Exception {
        Path tflite = PretrainedFiles.require(PretrainedFiles.EXTRACTOR_100_224);
        Path images = Files.createDirectories(tmp.resolve("xrays/covid"));
        for (int i = 0; i < 6; i++) {
            ImageIO.write(SyntheticChestXray.of(i, 160, i % 2 == 0).gray8(), "png",
                    images.resolve("img" + i + ".png").toFile());
        }
        Files.writeString(images.resolve("broken.png"), "not a png");
        Path registry = tmp.resolve("registry");

        Result r = run("--tflite", tflite.toString(), "--registry", registry.toString(), "--input-size", "96",
                "--calibrate-with", tmp.resolve("xrays").toString(), "--calibration-images", "5", "--publish",
                "--version", "imagenet-init");
        assertThat(r.exitCode).as(r.out).isZero();
        assertThat(r.out).contains("calibrated batch norm on 5 images", "published mobilenet@imagenet-init");

        ModelRegistry reg = new ModelRegistry(registry);
        ModelVersion version = reg.resolve(Architecture.MOBILENET, "imagenet-init");
        reg.verify(version);
        assertThat(version.metadata().inputSize()).isEqualTo(96);
        assertThat(version.metadata().notes()).contains(PretrainedFiles.EXTRACTOR_100_224, "NOT TRAINED",
                "calibrated on 5 images");
        assertThat(version.metadata().command()).startsWith("trainer import-pretrained --tflite ");

        // the published weights load into the registry's MobileNet and hold the file's conv1
        float[] conv1 = TfliteMobileNetImporter.read(tflite).backbone().get(0).weight();
        try (Model model = ModelExport.newModel(Architecture.MOBILENET, 96)) {
            model.load(version.directory(), ModelExport.WEIGHTS_PREFIX);
            float[] loaded = null;
            for (Pair<String, Parameter> p : model.getBlock().getParameters()) {
                if (p.getKey().equals("01MobileNetV1_01SequentialBlock_02Conv2d_weight")) {
                    loaded = p.getValue().getArray().toFloatArray();
                }
            }
            TfliteMobileNetImportTest.assertSameValues(loaded, conv1);
        }
    }

    @Test
    void refusesToPublishANarrowFileOrWithoutARegistry() {
        Path narrow = PretrainedFiles.require(PretrainedFiles.CLASSIFIER_075_192);
        Result noRegistry = run("--tflite", narrow.toString(), "--publish");
        assertThat(noRegistry.exitCode).isEqualTo(2);
        assertThat(noRegistry.err).contains("--registry");
        Result narrowPublish = run("--tflite", narrow.toString(), "--publish", "--registry", "/nonexistent");
        assertThat(narrowPublish.exitCode).isEqualTo(2);
        assertThat(narrowPublish.err).contains("width-1.0");
        Result wrongAlpha = run("--tflite", narrow.toString(), "--alpha", "1.0");
        assertThat(wrongAlpha.exitCode).isEqualTo(2);
        assertThat(wrongAlpha.err).contains("alpha 0.75");
    }

    private record Result(int exitCode, String out, String err) {}

    private static Result run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cli = new CommandLine(new ImportPretrainedCommand());
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        int code = cli.execute(args);
        System.out.println(String.join(" ", List.of(args)) + "\n" + out + err);
        return new Result(code, out.toString(), err.toString());
    }
}
