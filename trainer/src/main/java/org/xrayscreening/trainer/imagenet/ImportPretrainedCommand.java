package org.xrayscreening.trainer.imagenet;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.xrayscreening.connectors.event.ImageReference;
import org.xrayscreening.connectors.image.ImageDecoder;
import org.xrayscreening.models.Architecture;
import org.xrayscreening.models.inference.ModelExport;
import org.xrayscreening.models.network.MobileNetV1;
import org.xrayscreening.models.network.Networks;
import org.xrayscreening.models.preprocess.Preprocessor;
import org.xrayscreening.models.registry.ModelMetadata;
import org.xrayscreening.models.registry.ModelRegistry;
import org.xrayscreening.models.registry.ModelVersion;
import org.xrayscreening.trainer.imagenet.TfliteMobileNetImporter.MobileNetWeights;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code import-pretrained}: reads an ImageNet MobileNet v1 TFLite file into the project's MobileNet, checks it,
 * and optionally publishes a 2-class MobileNet with the ImageNet backbone (random head, not trained) as a
 * registry version to fine-tune from.
 *
 * <p>Always: reads and validates the file, imports it into the matching network (the file's own classifier
 * included when it has one) and prints what it found. {@code --classify} prints the top-5 ImageNet labels of
 * images with the file's classifier (the proof that the import is right). {@code --calibrate-with} calibrates
 * the batch norms on a sample of training images and prints how close training-mode features are to eval-mode
 * features before and after. {@code --publish} writes the registry version (width 1.0 only, the width of
 * {@code Networks.classifier(MOBILENET, 2)}).
 *
 * <p>Exit codes: 0 done, 1 failed (I/O, unreadable file), 2 bad arguments.
 */
@Command(name = "import-pretrained",
        description = {"Imports an ImageNet MobileNet v1 TFLite file (uint8, batch norm folded) into the project's "
                + "MobileNet; optionally classifies images with its ImageNet head, calibrates batch norm on X-rays "
                + "and publishes a 2-class MobileNet with the ImageNet backbone to the registry.",
                "A published version has a random, untrained head: it is a starting point for `train`, "
                        + "not a screening model."})
public final class ImportPretrainedCommand implements Callable<Integer> {
    private static final List<String> IMAGE_EXTENSIONS = List.of(".png", ".jpg", ".jpeg", ".dcm", ".dicom");

    @Spec
    CommandSpec spec;

    // Not mixinStandardHelpOptions: its -V/--version clashes with --version (the registry version name) below,
    // and picocli then left this command without --help.
    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help message and exit.")
    boolean help;

    @Option(names = "--tflite", required = true, paramLabel = "<file>",
            description = "MobileNet v1 .tflite file (e.g. ../shared/pretrained/"
                    + "mobilenet_v1_1.0_224_quant_embedding_extractor.tflite)")
    Path tflite;

    @Option(names = "--registry", paramLabel = "<dir>", description = "model registry root (needed with --publish)")
    Path registry;

    @Option(names = "--alpha", paramLabel = "<width>",
            description = "expected width multiplier; the file's own (from its first layer) is used, "
                    + "this only checks it")
    Double alpha;

    @Option(names = "--input-size", paramLabel = "<pixels>",
            description = "square input side of the published model and of calibration (default: the file's; "
                    + "use a multiple of 32 to keep TF SAME padding exact)")
    Integer inputSize;

    @Option(names = "--calibrate-with", paramLabel = "<image dir>",
            description = "calibrate batch-norm statistics on images under this directory (PNG, JPEG, DICOM, "
                    + "searched recursively)")
    Path calibrateWith;

    @Option(names = "--calibration-images", paramLabel = "<n>", defaultValue = "32",
            description = "how many images to sample for calibration (default ${DEFAULT-VALUE})")
    int calibrationImages;

    @Option(names = "--seed", defaultValue = "42",
            description = "seed of the calibration sample and the random head (default ${DEFAULT-VALUE})")
    int seed;

    @Option(names = "--publish", description = "publish a 2-class MobileNet with the ImageNet backbone")
    boolean publish;

    @Option(names = "--version", paramLabel = "<name>",
            description = "registry version name (default: <UTC time>-<content hash>)")
    String version;

    @Option(names = "--classify", paramLabel = "<image>",
            description = "print the top-5 ImageNet labels of this image with the file's classifier (repeatable)")
    List<Path> classify = new ArrayList<>();

    @Option(names = "--labels", paramLabel = "<file>",
            description = "label file, one per line in output order (default: imagenet_labels.txt beside --tflite)")
    Path labels;

    @Option(names = "--summary", description = "also print the file's operators and tensors")
    boolean summary;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        if (!Files.isRegularFile(tflite)) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--tflite: no such file: " + tflite);
        }
        if (publish && registry == null) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--publish needs --registry <dir>");
        }
        if (calibrationImages < 2) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--calibration-images must be at least 2");
        }
        TfliteFile file = TfliteFile.read(tflite);
        if (summary) {
            out.print(file.summary());
        }
        MobileNetWeights weights = TfliteMobileNetImporter.read(file);
        out.println("read " + weights);
        if (alpha != null && Math.abs(alpha - weights.alpha()) > 1e-9) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "--alpha " + alpha + " but " + tflite.getFileName() + " is alpha " + weights.alpha());
        }
        int size = inputSize != null ? inputSize : weights.inputSize();
        if (size < new MobileNetV1().minInputSize()) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--input-size must be at least 32");
        }
        if (size % 32 != 0) {
            out.println("warning: input size " + size + " is not a multiple of 32; MobileNetV1's Keras-style "
                    + "padding then differs from the file's TF SAME padding at some stride-2 layers");
        }
        if (publish && Math.abs(weights.alpha() - MobileNetV1.DEFAULT_ALPHA) > 1e-9) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--publish needs a width-1.0 file (the "
                    + "registry's MobileNet is Networks.classifier(MOBILENET, 2)); " + tflite.getFileName()
                    + " is alpha " + weights.alpha());
        }
        if (!classify.isEmpty()) {
            if (!weights.hasClassifier()) {
                throw new CommandLine.ParameterException(spec.commandLine(),
                        "--classify needs a file with a classifier; " + tflite.getFileName() + " has none");
            }
            classify(weights, out);
        } else if (weights.hasClassifier()) {
            // still prove that the whole file (classifier included) fits the network
            try (Model model = TfliteMobileNetImporter.loadImageNetClassifier(tflite)) {
                out.println("imported backbone and " + weights.numClasses() + "-class classifier into "
                        + "MobileNet v1 alpha " + weights.alpha() + " (" + Networks.parameterCount(model.getBlock())
                        + " parameters)");
            }
        }

        Engine.getInstance().setRandomSeed(seed);
        List<float[]> calibration = calibrateWith == null ? null : loadCalibrationImages(size, out);
        if (!publish && weights.alpha() != MobileNetV1.DEFAULT_ALPHA && calibration == null) {
            return 0;
        }
        try (Model model = newTwoClassOrWiderModel(weights, size)) {
            if (calibration != null) {
                try (NDManager manager = model.getNDManager().newSubManager()) {
                    NDArray batch = TfliteMobileNetImporter.stack(manager, calibration, size);
                    double before = TfliteMobileNetImporter.trainEvalCosine(model.getBlock(), batch);
                    TfliteMobileNetImporter.calibrateBatchNorm(model.getBlock(), batch);
                    double after = TfliteMobileNetImporter.trainEvalCosine(model.getBlock(), batch);
                    out.printf(Locale.ROOT, "calibrated batch norm on %d images: training-mode vs eval-mode feature "
                            + "cosine similarity %.4f before, %.4f after%n", calibration.size(), before, after);
                }
            } else {
                out.println("imported backbone into a 2-class MobileNet v1 alpha " + weights.alpha()
                        + " (batch norm not calibrated: training mode will not start from the ImageNet function)");
            }
            if (publish) {
                ModelVersion published = publish(model, weights, size, calibration);
                out.println("published " + published + " at " + published.directory());
                out.println("note: its 2-class head is random; fine-tune it with `train` before using it");
            }
        }
        out.flush();
        return 0;
    }

    /** Alpha 1.0: the registry's 2-class model. Other widths: the same layout at the file's width. */
    private static Model newTwoClassOrWiderModel(MobileNetWeights weights, int size) throws IOException {
        Model model;
        if (Math.abs(weights.alpha() - MobileNetV1.DEFAULT_ALPHA) < 1e-9) {
            model = ModelExport.newModel(Architecture.MOBILENET, size);
        } else {
            model = Model.newInstance(ModelExport.WEIGHTS_PREFIX);
            model.setBlock(TfliteMobileNetImporter.imageNetClassifier(weights.alpha(), ModelExport.NUM_CLASSES));
            model.getBlock().initialize(model.getNDManager(), ai.djl.ndarray.types.DataType.FLOAT32,
                    new ai.djl.ndarray.types.Shape(1, 3, size, size));
        }
        try {
            TfliteMobileNetImporter.importInto(model.getBlock(), weights, false);
            return model;
        } catch (RuntimeException e) {
            model.close();
            throw e;
        }
    }

    private void classify(MobileNetWeights weights, PrintWriter out) throws IOException {
        Path labelFile = labels != null ? labels : tflite.toAbsolutePath().getParent().resolve("imagenet_labels.txt");
        List<String> names = Files.isRegularFile(labelFile)
                ? Files.readAllLines(labelFile, StandardCharsets.UTF_8) : List.of();
        if (!names.isEmpty() && names.size() != weights.numClasses()) {
            out.println("warning: " + labelFile + " has " + names.size() + " labels, the classifier "
                    + weights.numClasses() + " classes");
        }
        try (Model model = TfliteMobileNetImporter.loadImageNetClassifier(tflite)) {
            for (Path image : classify) {
                BufferedImage decoded = ImageIO.read(image.toFile());
                if (decoded == null) {
                    throw new IOException("cannot decode " + image);
                }
                float[] input = TfliteMobileNetImporter.fileInput(decoded, weights.inputSize(), weights.input());
                float[] probs = TfliteMobileNetImporter.predictProbabilities(model.getBlock(), model.getNDManager(),
                        List.of(input), weights.inputSize())[0];
                out.println(image.getFileName() + ":");
                for (int k : TfliteMobileNetImporter.topK(probs, 5)) {
                    String label = k < names.size() ? names.get(k) : "class " + k;
                    out.printf(Locale.ROOT, "  %4d  %.4f  %s%n", k, probs[k], label);
                }
            }
        }
    }

    /** A seeded random sample of the readable images under {@link #calibrateWith}, preprocessed for MobileNet. */
    private List<float[]> loadCalibrationImages(int size, PrintWriter out) throws IOException {
        if (!Files.isDirectory(calibrateWith)) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "--calibrate-with: not a directory: " + calibrateWith);
        }
        List<Path> files;
        try (Stream<Path> walk = Files.walk(calibrateWith)) {
            files = new ArrayList<>(walk.filter(Files::isRegularFile)
                    .filter(p -> contentType(p) != null)
                    .sorted(Comparator.comparing(Path::toString))
                    .toList());
        }
        Collections.shuffle(files, new Random(seed));
        Preprocessor preprocessor = Preprocessor.forArchitecture(Architecture.MOBILENET, size);
        ImageDecoder decoder = new ImageDecoder();
        List<float[]> images = new ArrayList<>();
        int skipped = 0;
        for (Path f : files) {
            if (images.size() >= calibrationImages) {
                break;
            }
            try {
                images.add(preprocessor.toChw(decoder.decode(Files.readAllBytes(f), contentType(f))));
            } catch (Exception e) {
                skipped++;
                out.println("skipping unreadable calibration image " + f + ": " + e.getMessage());
            }
        }
        if (images.size() < 2) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--calibrate-with: found "
                    + images.size() + " readable images under " + calibrateWith + ", need at least 2");
        }
        out.println("calibration sample: " + images.size() + " images from " + calibrateWith
                + (skipped > 0 ? " (" + skipped + " unreadable skipped)" : ""));
        return images;
    }

    private static String contentType(Path p) {
        String name = p.getFileName().toString().toLowerCase(Locale.ROOT);
        for (String ext : IMAGE_EXTENSIONS) {
            if (name.endsWith(ext)) {
                return switch (ext) {
                    case ".png" -> ImageReference.PNG;
                    case ".jpg", ".jpeg" -> ImageReference.JPEG;
                    default -> ImageReference.DICOM;
                };
            }
        }
        return null;
    }

    private ModelVersion publish(Model model, MobileNetWeights weights, int size, List<float[]> calibration)
            throws IOException {
        Path scratch = Files.createTempDirectory("import-pretrained-");
        try {
            Path staging = scratch.resolve("weights");
            ModelExport.save(model, staging);
            String notes = "ImageNet MobileNet v1 backbone imported from " + tflite.getFileName() + " (sha256 "
                    + ModelRegistry.sha256(tflite) + "); "
                    + (calibration == null ? "batch norm not calibrated; "
                    : "batch norm calibrated on " + calibration.size() + " images from " + calibrateWith
                    + " (seed " + seed + "); ")
                    + "2-class head random (seed " + seed + "), NOT TRAINED: a starting point for fine-tuning.";
            ModelMetadata metadata = ModelMetadata.builder(Architecture.MOBILENET, size)
                    .command(commandLine())
                    .notes(notes)
                    .build();
            return new ModelRegistry(registry).publish(Architecture.MOBILENET, version, staging, metadata);
        } finally {
            try (Stream<Path> walk = Files.walk(scratch)) {
                for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    /** The command as typed, for the version's metadata. */
    private String commandLine() {
        List<String> parts = new ArrayList<>(List.of("trainer", "import-pretrained"));
        CommandLine.ParseResult parsed = spec.commandLine().getParseResult();
        if (parsed != null) {
            List<String> args = parsed.originalArgs();
            // as a subcommand the original arguments start with the parent's options and this command's name
            int own = args.indexOf(spec.name());
            for (String a : args.subList(own + 1, args.size())) {
                parts.add(a.matches("[A-Za-z0-9_./:=@,+-]+") ? a : "'" + a.replace("'", "'\\''") + "'");
            }
        }
        return String.join(" ", parts);
    }

    /** Runs the command standalone (the trainer's CLI normally registers it as a subcommand). */
    public static void main(String[] args) {
        System.exit(new CommandLine(new ImportPretrainedCommand()).execute(args));
    }
}
