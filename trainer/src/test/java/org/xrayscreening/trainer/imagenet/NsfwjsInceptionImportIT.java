package org.xrayscreening.trainer.imagenet;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import ai.djl.util.Pair;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xrayscreening.models.Architecture;
import org.xrayscreening.models.inference.CovidClassifier;
import org.xrayscreening.models.preprocess.Normalization;
import org.xrayscreening.models.registry.ModelRegistry;
import org.xrayscreening.models.registry.ModelVersion;
import org.xrayscreening.models.network.InceptionV3;
import org.xrayscreening.models.preprocess.Preprocessor;
import org.xrayscreening.trainer.imagenet.NsfwjsInceptionImporter.InceptionWeights;

/**
 * The import of nsfwjs' InceptionV3 proven against an independent reference: the same model files run by
 * TensorFlow.js (the runtime nsfwjs itself uses, pure-JS CPU backend, in node) on the same input tensors, layer by
 * layer, for the test photos of {@code ../shared/pretrained}. Fetches {@code nsfwjs@4.4.0} and
 * {@code @tensorflow/tfjs} with npm into the cache ({@link NsfwjsPackage#cacheDir()}) on first use; fails, never
 * skips, when npm, node or the photos are missing.
 */
class NsfwjsInceptionImportIT {
    static final String TFJS = "@tensorflow/tfjs@4.22.0";
    static final int SIZE = NsfwjsInceptionImporter.INPUT_SIZE;
    static final List<String> PHOTOS = List.of("grace_hopper.png", "cat.png", "bird.png");
    /** Keras layer -> index (1-based) of the InceptionV3 child whose output it is (see InceptionV3's javadoc). */
    static final Map<String, Integer> PROBES = new LinkedHashMap<>();

    static {
        PROBES.put("activation_1", 1); // first conv2d_bn (frozen)
        PROBES.put("mixed2", 10);      // frozen ImageNet part
        PROBES.put("mixed7", 15);      // fine-tuned part
        PROBES.put("mixed10", 18);     // backbone output
    }

    private static Path modelFile;
    private static InceptionWeights weights;

    @BeforeAll
    static void fetch() throws IOException {
        modelFile = NsfwjsPackage.fetch(System.out);
        weights = NsfwjsInceptionImporter.read(modelFile);
    }

    @Test
    void fileIsTheKerasInceptionV3WithTheFrozenLayersItsTopologyNames() {
        assertThat(weights.kerasVersion()).isEqualTo("2.2.4");
        assertThat(weights.convolutions()).hasSize(94);
        assertThat(weights.convolutions().get(0).conv()).isEqualTo("conv2d_1");
        assertThat(weights.convolutions().get(93).batchNorm()).isEqualTo("batch_normalization_94");
        // Keras InceptionV3: eps 1e-3, conv1 3x3/2 valid 3->32
        assertThat(weights.convolutions()).allSatisfy(u -> assertThat(u.epsilon()).isEqualTo(1e-3));
        assertThat(weights.convolutions().get(0).kernelShape()).isEqualTo(new Shape(32, 3, 3, 3));
        assertThat(weights.convolutions().get(0).stride()).isEqualTo(2);
        assertThat(weights.convolutions().get(0).same()).isFalse();
        assertThat(weights.frozenConvolutions()).isEqualTo(51);
        assertThat(weights.convolutions().get(49).frozen()).isTrue();   // conv2d_50
        assertThat(weights.convolutions().get(50).frozen()).isFalse();  // conv2d_51
        assertThat(weights.head()).extracting(NsfwjsInceptionImporter.Dense::weightShape)
                .containsExactly(new Shape(256, 2048), new Shape(128, 256), new Shape(5, 128));
        // every weight of the file is used: 94 x (kernel + 3 BN vectors) + 3 x (kernel + bias)
        long used = weights.convolutions().stream().mapToLong(u -> u.kernel().length + 3L * u.beta().length).sum()
                + weights.head().stream().mapToLong(d -> d.weight().length + d.bias().length).sum();
        assertThat(used).isEqualTo(22_360_869L);
    }

    @Test
    void javaImportMatchesTensorFlowJsLayerByLayerAndCallsThePhotosNeutral() throws Exception {
        Path photos = PretrainedFiles.dir();
        Preprocessor preprocessor = new Preprocessor(NsfwjsInceptionImporter.NORMALIZATION, SIZE);
        List<float[]> inputs = new ArrayList<>();
        for (String name : PHOTOS) {
            Path photo = photos.resolve(name);
            assertThat(photo).as("test photo (set XRAY_PRETRAINED_DIR)").isRegularFile();
            BufferedImage image = ImageIO.read(photo.toFile());
            assertThat(image).as("decodable " + photo).isNotNull();
            inputs.add(preprocessor.toChw(image));
        }

        Map<String, float[]> java = javaOutputs(inputs);
        List<String> layers = new ArrayList<>(PROBES.keySet());
        layers.add("dense_3");
        Map<String, float[]> reference = tfjsOutputs(inputs, layers);

        for (String layer : PROBES.keySet()) {
            float[] j = java.get(layer);
            float[] r = reference.get(layer);
            assertThat(j).as(layer + " size").hasSameSizeAs(r);
            double maxAbs = 0;
            double maxDiff = 0;
            for (int i = 0; i < r.length; i++) {
                maxAbs = Math.max(maxAbs, Math.abs(r[i]));
                maxDiff = Math.max(maxDiff, Math.abs(j[i] - r[i]));
            }
            System.out.printf(Locale.ROOT, "%-12s max |java - tfjs| %.3g of max |tfjs| %.3g%n", layer, maxDiff, maxAbs);
            assertThat(maxAbs).as(layer + " is not all zero").isGreaterThan(0.1);
            // the same float32 weights; only the order of the float sums differs
            assertThat(maxDiff / maxAbs).as(layer + " relative difference").isLessThan(1e-4);
        }
        float[] javaProbs = java.get("probabilities");
        float[] tfjsProbs = reference.get("dense_3");
        for (int p = 0; p < PHOTOS.size(); p++) {
            StringBuilder line = new StringBuilder(PHOTOS.get(p) + ":");
            int top = 0;
            for (int c = 0; c < 5; c++) {
                int i = p * 5 + c;
                line.append(String.format(Locale.ROOT, " %s %.4f (tfjs %.4f)", NsfwjsInceptionImporter.NSFW_CLASSES.get(c),
                        javaProbs[i], tfjsProbs[i]));
                assertThat((double) javaProbs[i]).isCloseTo(tfjsProbs[i], org.assertj.core.api.Assertions.within(1e-4));
                if (javaProbs[i] > javaProbs[p * 5 + top]) {
                    top = c;
                }
            }
            System.out.println(line);
            assertThat(NsfwjsInceptionImporter.NSFW_CLASSES.get(top)).as(PHOTOS.get(p)).isEqualTo("Neutral");
            assertThat(javaProbs[p * 5 + NsfwjsInceptionImporter.NEUTRAL]).as(PHOTOS.get(p) + " Neutral")
                    .isGreaterThan(0.8f);
        }
    }

    @Test
    void importCommandClassifiesAPhotoAndPublishesAnX255TwoClassInceptionV3(@TempDir Path tmp) throws Exception {
        Path registry = tmp.resolve("registry");
        Path photo = PretrainedFiles.dir().resolve("cat.png");
        assertThat(photo).isRegularFile();
        java.io.StringWriter out = new java.io.StringWriter();
        picocli.CommandLine cli = new picocli.CommandLine(new ImportNsfwjsCommand());
        cli.setOut(new java.io.PrintWriter(out, true));
        int code = cli.execute("--nsfwjs", modelFile.getParent().toString(), "--classify", photo.toString(),
                "--publish", "--registry", registry.toString(), "--input-size", "96", "--version", "nsfwjs-init");
        System.out.println(out);
        assertThat(code).as(out.toString()).isZero();
        String first = out.toString().lines().dropWhile(l -> !l.startsWith("cat.png:")).skip(1).findFirst()
                .orElseThrow();
        assertThat(first).endsWith("Neutral");
        ModelRegistry reg = new ModelRegistry(registry);
        ModelVersion version = reg.resolve(Architecture.INCEPTION_V3, "nsfwjs-init");
        reg.verify(version);
        // what the stream job preprocesses by (CovidClassifier reads the metadata)
        assertThat(version.metadata().normalization()).isEqualTo(Normalization.ZERO_TO_ONE);
        assertThat(version.metadata().inputSize()).isEqualTo(96);
        assertThat(version.metadata().notes()).contains("nsfwjs@4.4.0", "NOT TRAINED");
        try (CovidClassifier classifier = CovidClassifier.load(reg, version)) {
            assertThat(classifier.preprocessor()).isEqualTo(new Preprocessor(Normalization.ZERO_TO_ONE, 96));
        }
    }

    /** Outputs of the probed layers (NHWC, as tfjs writes them) and the 5-class softmax, from the Java import. */
    private static Map<String, float[]> javaOutputs(List<float[]> inputs) {
        Map<String, float[]> out = new LinkedHashMap<>();
        try (Model model = NsfwjsInceptionImporter.loadNsfwjsClassifier(weights, SIZE);
             NDManager manager = model.getNDManager().newSubManager()) {
            ParameterStore ps = new ParameterStore(manager, false);
            NDArray x = TfliteMobileNetImporter.stack(manager, inputs, SIZE);
            List<Pair<String, Block>> top = model.getBlock().getChildren().values().isEmpty() ? List.of()
                    : new ArrayList<>(toList(model.getBlock()));
            InceptionV3 inception = (InceptionV3) top.get(0).getValue();
            NDList current = new NDList(x);
            int child = 0;
            for (Pair<String, Block> stage : toList(inception)) {
                child++;
                current = stage.getValue().forward(ps, current, false);
                for (Map.Entry<String, Integer> probe : PROBES.entrySet()) {
                    if (probe.getValue() == child) {
                        out.put(probe.getKey(), current.singletonOrThrow().transpose(0, 2, 3, 1).toFloatArray());
                    }
                }
            }
            for (Pair<String, Block> head : top.subList(1, top.size())) {
                current = head.getValue().forward(ps, current, false);
            }
            out.put("probabilities", current.singletonOrThrow().softmax(1).toFloatArray());
        }
        return out;
    }

    private static List<Pair<String, Block>> toList(Block block) {
        List<Pair<String, Block>> list = new ArrayList<>();
        for (Pair<String, Block> p : block.getChildren()) {
            list.add(p);
        }
        return list;
    }

    /** Runs tfjs-reference.cjs in node with TensorFlow.js installed into the cache by npm if it is not there. */
    private static Map<String, float[]> tfjsOutputs(List<float[]> inputs, List<String> layers) throws Exception {
        Path dir = NsfwjsPackage.cacheDir().resolve("tfjs-reference");
        Files.createDirectories(dir);
        if (!Files.isDirectory(dir.resolve("node_modules/@tensorflow/tfjs"))) {
            if (!Files.exists(dir.resolve("package.json"))) {
                Files.writeString(dir.resolve("package.json"), "{\"name\":\"tfjs-reference\",\"private\":true}\n");
            }
            run(dir, 15, "npm", "install", "--no-audit", "--no-fund", TFJS);
        }
        Path script = dir.resolve("tfjs-reference.cjs");
        try (InputStream in = NsfwjsInceptionImportIT.class.getResourceAsStream("/nsfwjs/tfjs-reference.cjs")) {
            assertThat(in).as("tfjs-reference.cjs on the test classpath").isNotNull();
            Files.copy(in, script, StandardCopyOption.REPLACE_EXISTING);
        }
        Path input = Files.createTempFile("nsfwjs-input-", ".f32");
        Path output = Files.createTempFile("nsfwjs-output-", ".f32");
        try {
            int plane = SIZE * SIZE;
            ByteBuffer nhwc = ByteBuffer.allocate(inputs.size() * 3 * plane * 4).order(ByteOrder.LITTLE_ENDIAN);
            for (float[] chw : inputs) {
                for (int i = 0; i < plane; i++) {
                    for (int c = 0; c < 3; c++) {
                        nhwc.putFloat(chw[c * plane + i]);
                    }
                }
            }
            Files.write(input, nhwc.array());
            List<String> command = new ArrayList<>(List.of("node", script.toString(),
                    modelFile.getParent().toString(), input.toString(), String.valueOf(inputs.size()),
                    String.valueOf(SIZE), output.toString()));
            command.addAll(layers);
            String stdout = run(dir, 20, command.toArray(String[]::new));
            JsonNode info = new ObjectMapper().readTree(stdout.lines().reduce((a, b) -> b).orElseThrow());
            System.out.println("reference: TensorFlow.js " + info.path("tfjs").asText() + " ("
                    + info.path("backend").asText() + " backend)");
            ByteBuffer data = ByteBuffer.wrap(Files.readAllBytes(output)).order(ByteOrder.LITTLE_ENDIAN);
            Map<String, float[]> out = new LinkedHashMap<>();
            for (String layer : layers) {
                long n = 1;
                for (JsonNode d : info.path("shapes").path(layer)) {
                    n *= d.asLong();
                }
                float[] values = new float[Math.toIntExact(n)];
                data.asFloatBuffer().get(values);
                data.position(data.position() + 4 * values.length);
                out.put(layer, values);
            }
            assertThat(data.hasRemaining()).as("reference output fully read").isFalse();
            return out;
        } finally {
            Files.deleteIfExists(input);
            Files.deleteIfExists(output);
        }
    }

    private static String run(Path dir, int minutes, String... command) throws Exception {
        Process process;
        try {
            process = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
        } catch (IOException e) {
            throw new AssertionError("cannot run " + command[0] + " (node and npm are needed for the TensorFlow.js "
                    + "reference): " + e.getMessage(), e);
        }
        process.getOutputStream().close();
        byte[] output = process.getInputStream().readAllBytes();
        if (!process.waitFor(minutes, TimeUnit.MINUTES)) {
            process.destroyForcibly();
            throw new AssertionError(String.join(" ", command) + " took longer than " + minutes + " minutes");
        }
        String text = new String(output, StandardCharsets.UTF_8);
        if (process.exitValue() != 0) {
            throw new AssertionError(String.join(" ", command) + " failed (exit " + process.exitValue() + "):\n"
                    + text);
        }
        return text;
    }
}
