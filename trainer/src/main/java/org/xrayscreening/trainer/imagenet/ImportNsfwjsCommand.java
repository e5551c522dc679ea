package org.xrayscreening.trainer.imagenet;

import ai.djl.Model;
import ai.djl.engine.Engine;
import java.awt.image.BufferedImage;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.xrayscreening.models.Architecture;
import org.xrayscreening.models.inference.ModelExport;
import org.xrayscreening.models.preprocess.Preprocessor;
import org.xrayscreening.models.registry.ModelMetadata;
import org.xrayscreening.models.registry.ModelRegistry;
import org.xrayscreening.models.registry.ModelVersion;
import org.xrayscreening.trainer.imagenet.NsfwjsInceptionImporter.InceptionWeights;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code import-nsfwjs}: fetches (or finds) nsfwjs' Keras InceptionV3, imports it into the project's InceptionV3
 * and prints what it found; {@code --classify} prints nsfwjs' own 5-class answer for images through the imported
 * network (ordinary photos come out "Neutral": the proof a user can run); {@code --publish} writes a 2-class
 * InceptionV3 with that backbone, a random head and x/255 input normalization in its metadata, as a registry
 * version to fine-tune from. {@code train --arch inceptionv3 --init nsfwjs} does the same import in one step.
 *
 * <p>Exit codes: 0 done, 1 failed (I/O, unreadable file), 2 bad arguments.
 */
@Command(name = "import-nsfwjs",
        description = {"Imports nsfwjs' Keras InceptionV3 (npm nsfwjs@" + NsfwjsPackage.VERSION + ", MIT; ImageNet "
                + "weights up to mixed5, fine-tuned on photos after) into the project's InceptionV3; optionally "
                + "classifies images with its 5-class head and publishes a 2-class InceptionV3 with its backbone.",
                "Its input is x/255, not Keras' x/127.5-1: a published version records that in its metadata."})
public final class ImportNsfwjsCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help message and exit.")
    boolean help;

    @Option(names = "--nsfwjs", paramLabel = "<path>",
            description = "nsfwjs-" + NsfwjsPackage.VERSION + ".tgz, the unpacked package or its "
                    + NsfwjsPackage.MODEL_DIR + " folder (default: fetched with npm into $XRAY_SCREENING_CACHE or "
                    + "~/.cache/xray-screening, size and sha512 checked)")
    Path nsfwjs;

    @Option(names = "--classify", paramLabel = "<image>",
            description = "print nsfwjs' 5-class probabilities for this image (repeatable)")
    List<Path> classify = new ArrayList<>();

    @Option(names = "--publish", description = "publish a 2-class InceptionV3 with the imported backbone")
    boolean publish;

    @Option(names = "--registry", paramLabel = "<dir>", description = "model registry root (needed with --publish)")
    Path registry;

    @Option(names = "--input-size", defaultValue = "299", paramLabel = "<pixels>",
            description = "input side of the published model (default ${DEFAULT-VALUE}); --classify always uses "
                    + "nsfwjs' own 299")
    int inputSize;

    @Option(names = "--seed", defaultValue = "42", description = "seed of the random 2-class head (default ${DEFAULT-VALUE})")
    int seed;

    @Option(names = "--version", paramLabel = "<name>",
            description = "registry version name (default: <UTC time>-<content hash>)")
    String version;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        if (publish && registry == null) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--publish needs --registry <dir>");
        }
        if (inputSize < 75) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--input-size must be at least 75");
        }
        Path modelFile = nsfwjs != null ? NsfwjsPackage.locate(nsfwjs) : NsfwjsPackage.fetch(System.out);
        InceptionWeights weights = NsfwjsInceptionImporter.read(modelFile);
        out.println("read " + weights);
        if (!classify.isEmpty()) {
            // nsfwjs' head was trained on 299 px (its 8x8 average pooling is global there); smaller inputs give
            // other answers (a cat at 96 px came out "Drawing"), so the proof runs at the model's own size
            int size = NsfwjsInceptionImporter.INPUT_SIZE;
            Preprocessor preprocessor = new Preprocessor(NsfwjsInceptionImporter.NORMALIZATION, size);
            try (Model model = NsfwjsInceptionImporter.loadNsfwjsClassifier(weights, size)) {
                for (Path image : classify) {
                    BufferedImage decoded = ImageIO.read(image.toFile());
                    if (decoded == null) {
                        throw new java.io.IOException("cannot decode " + image);
                    }
                    float[] p = TfliteMobileNetImporter.predictProbabilities(model.getBlock(), model.getNDManager(),
                            List.of(preprocessor.toChw(decoded)), size)[0];
                    out.println(image.getFileName() + ":");
                    for (int k : TfliteMobileNetImporter.topK(p, p.length)) {
                        out.printf(Locale.ROOT, "  %.4f  %s%n", p[k], NsfwjsInceptionImporter.NSFW_CLASSES.get(k));
                    }
                }
            }
        }
        if (publish) {
            Engine.getInstance().setRandomSeed(seed);
            try (Model model = ModelExport.newModel(Architecture.INCEPTION_V3, inputSize)) {
                NsfwjsInceptionImporter.importInto(model.getBlock(), weights, false);
                ModelVersion published = publish(model, modelFile);
                out.println("published " + published + " at " + published.directory());
                out.println("note: its 2-class head is random; fine-tune it with `train` before using it");
            }
        }
        out.flush();
        return 0;
    }

    private ModelVersion publish(Model model, Path modelFile) throws java.io.IOException {
        Path scratch = Files.createTempDirectory("import-nsfwjs-");
        try {
            Path staging = scratch.resolve("weights");
            ModelExport.save(model, staging);
            ModelMetadata metadata = ModelMetadata.builder(Architecture.INCEPTION_V3, inputSize)
                    .normalization(NsfwjsInceptionImporter.NORMALIZATION)
                    .command("trainer import-nsfwjs --publish --input-size " + inputSize + " --seed " + seed)
                    .notes("InceptionV3 backbone imported from nsfwjs@" + NsfwjsPackage.VERSION + " ("
                            + modelFile.getParent() + "; ImageNet up to mixed5, fine-tuned on photos after); input "
                            + "x/255; 2-class head random (seed " + seed + "), NOT TRAINED: a starting point for "
                            + "fine-tuning.")
                    .build();
            return new ModelRegistry(registry).publish(Architecture.INCEPTION_V3, version, staging, metadata);
        } finally {
            try (Stream<Path> walk = Files.walk(scratch)) {
                for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }
}
