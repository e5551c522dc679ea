package org.xrayscreening.trainer.imagenet;

import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.convolutional.Convolution;
import ai.djl.nn.core.Linear;
import ai.djl.nn.pooling.Pool;
import ai.djl.util.Pair;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Path;
import org.xrayscreening.trainer.imagenet.ParameterWrites.Write;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xrayscreening.models.network.BatchNormNoScale;
import org.xrayscreening.models.network.InceptionV3;
import org.xrayscreening.models.preprocess.Normalization;
import org.xrayscreening.trainer.imagenet.TfjsLayersModel.Layer;
import org.xrayscreening.trainer.imagenet.TfjsLayersModel.Weight;

/**
 * Imports nsfwjs' Keras InceptionV3 ({@code nsfwjs@4.4.0}, {@code dist/models/inception_v3}, see
 * {@link NsfwjsPackage}) into the project's {@link InceptionV3}.
 *
 * <p><b>What the file is.</b> A Keras 2.2.4 InceptionV3 ({@code include_top=False}) with a 3-layer head
 * (AveragePooling2D 8x8 = global pooling at 299 px, Dense 256 relu, Dense 128 relu, Dense 5 softmax over
 * {@link #NSFW_CLASSES}), every weight uint8-quantized. The topology's {@code trainable} flags say which layers
 * kept their ImageNet weights: 51 convolutions ({@code conv2d_1..50}: the stem and mixed0-5, and
 * {@code conv2d_55} in mixed6) were frozen; the rest, and the head, were fine-tuned on nsfwjs' photos. Its input is RGB
 * {@code x / 255} ({@link Normalization#ZERO_TO_ONE}; nsfwjs' {@code infer} divides by 255 before resizing),
 * not Keras' {@code x / 127.5 - 1}, so a model initialised from it must be trained and served with that.
 *
 * <p><b>Mapping.</b> Keras 2 names layers from 1 in creation order ({@code conv2d_1 .. conv2d_94},
 * {@code batch_normalization_1 .. 94}); {@link InceptionV3#kerasLayerPaths()} creates them in the same order
 * named Keras-3 style from 0. The k-th convolution of the file (by its number) goes to the k-th of the block;
 * the topology order is not used (Keras 2 lists layers by depth). Each pair is checked before anything is
 * written: kernel shape, strides, padding (valid, or same as symmetric padding), no bias, linear activation, and
 * that {@code batch_normalization_k} reads {@code conv2d_k} with {@code scale=False}, {@code center=True} and the
 * block's epsilon ({@link BatchNormNoScale#epsilon()}, 1e-3), followed by a relu. Kernels HWIO -> OIHW; beta,
 * moving mean and moving variance go to {@link BatchNormNoScale}'s {@code beta, runningMean, runningVar}. The
 * head's Dense kernels {@code [in, out]} become Linear weights {@code (out, in)}.
 *
 * <p>All methods need an initialized block; any mismatch throws before the first parameter is written.
 */
public final class NsfwjsInceptionImporter {
    /** nsfwjs' class order (its {@code NSFW_CLASSES}). */
    public static final List<String> NSFW_CLASSES = List.of("Drawing", "Hentai", "Neutral", "Porn", "Sexy");
    /** Index of "Neutral" in {@link #NSFW_CLASSES}. */
    public static final int NEUTRAL = 2;
    /** Input side nsfwjs feeds this model ({@code options.size} of its InceptionV3 entry; the file's input_1). */
    public static final int INPUT_SIZE = 299;
    /** The input normalization the weights were trained with. */
    public static final Normalization NORMALIZATION = Normalization.ZERO_TO_ONE;
    /** Convolutions (each with its batch norm) of a Keras InceptionV3 without top. */
    public static final int CONVOLUTIONS = 94;
    /** Units of the head's Dense layers (dense_1, dense_2, dense_3). */
    static final int[] HEAD_UNITS = {256, 128, 5};

    private static final Logger LOG = LoggerFactory.getLogger(NsfwjsInceptionImporter.class);

    private NsfwjsInceptionImporter() {}

    /** One conv2d_bn of the file in DJL layout: kernel OIHW, batch norm without scale. */
    public record ConvBn(int index, String conv, String batchNorm, Shape kernelShape, float[] kernel, int stride,
                         boolean same, float[] beta, float[] movingMean, float[] movingVariance, double epsilon,
                         boolean frozen) {}

    /** A Dense layer in DJL layout: weight (out, in), bias (out). */
    public record Dense(String name, Shape weightShape, float[] weight, float[] bias) {}

    /**
     * Everything taken from the file.
     *
     * @param convolutions the 94 conv2d_bn units in creation order
     * @param head dense_1, dense_2, dense_3 (the 5-class nsfwjs head)
     */
    public record InceptionWeights(Path file, String kerasVersion, List<ConvBn> convolutions, List<Dense> head) {
        public long frozenConvolutions() {
            return convolutions.stream().filter(ConvBn::frozen).count();
        }

        @Override
        public String toString() {
            return "nsfwjs Keras " + kerasVersion + " InceptionV3: " + convolutions.size() + " conv+BN ("
                    + frozenConvolutions() + " frozen ImageNet), head " + head.stream().map(d -> d.name()
                    + d.weightShape()).toList() + ", input x/255 (" + file.getFileName() + ")";
        }
    }

    /** What {@link #importInto} wrote. */
    public record ImportSummary(InceptionWeights weights, int convolutions, int batchNorms, boolean head) {}

    // ------------------------------------------------------------------------------------------- reading

    /** Reads and checks the model in an nsfwjs package, tarball or model folder ({@link NsfwjsPackage#locate}). */
    public static InceptionWeights read(Path packageOrModel) throws IOException {
        return read(TfjsLayersModel.read(NsfwjsPackage.locate(packageOrModel)));
    }

    /** As {@link #read(Path)}, from a read TF.js model. */
    public static InceptionWeights read(TfjsLayersModel model) {
        Map<Integer, Layer> convs = new TreeMap<>();
        Map<String, Layer> byName = new HashMap<>();
        Map<String, List<Layer>> readers = new HashMap<>();
        for (Layer l : model.layers()) {
            byName.put(l.name(), l);
            for (String in : l.inbound()) {
                readers.computeIfAbsent(in, k -> new ArrayList<>()).add(l);
            }
            if (l.className().equals("Conv2D")) {
                convs.put(kerasIndex(model, l.name(), "conv2d"), l);
            }
        }
        if (convs.size() != CONVOLUTIONS) {
            throw refuse(model, "has " + convs.size() + " Conv2D layers, InceptionV3 has " + CONVOLUTIONS);
        }
        int first = convs.keySet().iterator().next();
        if (convs.keySet().stream().mapToInt(Integer::intValue).max().orElseThrow() != first + CONVOLUTIONS - 1) {
            throw refuse(model, "its Conv2D layers are not numbered consecutively: " + convs.keySet());
        }
        List<ConvBn> out = new ArrayList<>();
        for (int k = 0; k < CONVOLUTIONS; k++) {
            Layer conv = convs.get(first + k);
            JsonNode c = conv.config();
            if (c.path("use_bias").asBoolean(true) || !"linear".equals(c.path("activation").asText())
                    || !"channels_last".equals(c.path("data_format").asText("channels_last"))
                    || !isPair(c.path("dilation_rate"), 1)) {
                throw refuse(model, conv.name() + " is not a linear, bias-free, undilated channels_last conv: " + c);
            }
            JsonNode strides = c.path("strides");
            if (!strides.isArray() || strides.size() != 2 || strides.get(0).asInt() != strides.get(1).asInt()) {
                throw refuse(model, conv.name() + " has strides " + strides);
            }
            String padding = c.path("padding").asText();
            if (!padding.equals("valid") && !padding.equals("same")) {
                throw refuse(model, conv.name() + " has padding " + padding);
            }
            String bnName = (first == 0 && k == 0) ? "batch_normalization"
                    : "batch_normalization_" + (first + k);
            Layer bn = byName.get(bnName);
            if (bn == null || !bn.className().equals("BatchNormalization") || !bn.inbound().equals(List.of(conv.name()))) {
                throw refuse(model, bnName + " is missing or does not read " + conv.name() + " alone");
            }
            JsonNode b = bn.config();
            if (b.path("scale").asBoolean(true) || !b.path("center").asBoolean(false)
                    || b.path("axis").asInt(-1) != 3 && b.path("axis").asInt(0) != -1) {
                throw refuse(model, bnName + " is not BatchNormalization(axis=3, center=True, scale=False): " + b);
            }
            List<Layer> after = readers.getOrDefault(bnName, List.of());
            if (after.size() != 1 || !after.get(0).className().equals("Activation")
                    || !"relu".equals(after.get(0).config().path("activation").asText())) {
                throw refuse(model, bnName + " is not followed by a relu alone");
            }
            Weight kernel = model.weight(conv.name() + "/kernel");
            int[] s = kernel.shape();
            if (s.length != 4) {
                throw refuse(model, kernel + " is not a 4-D HWIO kernel");
            }
            int filters = s[3];
            float[] beta = vector(model, bnName + "/beta", filters);
            float[] mean = vector(model, bnName + "/moving_mean", filters);
            float[] var = vector(model, bnName + "/moving_variance", filters);
            for (int i = 0; i < var.length; i++) {
                if (!(var[i] >= 0) || !Float.isFinite(mean[i]) || !Float.isFinite(beta[i])) {
                    throw refuse(model, bnName + " channel " + i + " has moving variance " + var[i] + ", mean "
                            + mean[i] + ", beta " + beta[i]);
                }
            }
            out.add(new ConvBn(k, conv.name(), bnName, new Shape(s[3], s[2], s[0], s[1]),
                    hwioToOihw(kernel.values(), s[0], s[1], s[2], s[3]), strides.get(0).asInt(),
                    padding.equals("same"), beta, mean, var, b.path("epsilon").asDouble(Double.NaN),
                    !c.path("trainable").asBoolean(true)));
        }
        return new InceptionWeights(model.source(), model.kerasVersion(), List.copyOf(out), readHead(model));
    }

    /** dense_1..3 after a global pooling of the backbone's output; refused if the file's head differs. */
    private static List<Dense> readHead(TfjsLayersModel model) {
        List<Layer> dense = model.layers().stream().filter(l -> l.className().equals("Dense")).toList();
        if (dense.size() != HEAD_UNITS.length) {
            throw refuse(model, "has " + dense.size() + " Dense layers, nsfwjs' head has " + HEAD_UNITS.length);
        }
        Layer pool = model.layers().stream().filter(l -> l.className().equals("AveragePooling2D")
                && "valid".equals(l.config().path("padding").asText())).findFirst().orElse(null);
        if (pool == null || !isPair(pool.config().path("pool_size"), 8)) {
            throw refuse(model, "has no 8x8 average pooling over the last feature map before its head");
        }
        List<Dense> head = new ArrayList<>();
        for (int i = 0; i < dense.size(); i++) {
            Layer d = dense.get(i);
            String activation = d.config().path("activation").asText();
            String expected = i == dense.size() - 1 ? "softmax" : "relu";
            if (d.config().path("units").asInt() != HEAD_UNITS[i] || !activation.equals(expected)
                    || !d.config().path("use_bias").asBoolean(false)) {
                throw refuse(model, d.name() + " is " + d.config().path("units") + " units " + activation
                        + ", expected " + HEAD_UNITS[i] + " units " + expected + " with bias");
            }
            Weight kernel = model.weight(d.name() + "/kernel");
            int[] s = kernel.shape();
            if (s.length != 2 || s[1] != HEAD_UNITS[i]) {
                throw refuse(model, kernel + " is not a [in, " + HEAD_UNITS[i] + "] Dense kernel");
            }
            head.add(new Dense(d.name(), new Shape(s[1], s[0]), transpose(kernel.values(), s[0], s[1]),
                    vector(model, d.name() + "/bias", s[1])));
        }
        return List.copyOf(head);
    }

    private static int kerasIndex(TfjsLayersModel model, String name, String prefix) {
        if (name.equals(prefix)) {
            return 0;
        }
        if (!name.startsWith(prefix + "_")) {
            throw refuse(model, "layer " + name + " is not named " + prefix + "_<n>");
        }
        try {
            return Integer.parseInt(name.substring(prefix.length() + 1));
        } catch (NumberFormatException e) {
            throw refuse(model, "layer " + name + " is not named " + prefix + "_<n>");
        }
    }

    private static boolean isPair(JsonNode pair, int value) {
        return pair.isArray() && pair.size() == 2 && pair.get(0).asInt() == value && pair.get(1).asInt() == value;
    }

    private static float[] vector(TfjsLayersModel model, String name, int length) {
        Weight w = model.weight(name);
        if (w.shape().length != 1 || w.shape()[0] != length) {
            throw refuse(model, w + " is not a vector of " + length);
        }
        return w.values();
    }

    /** Keras conv kernel [H, W, I, O] row-major -> DJL/PyTorch (O, I, H, W). */
    static float[] hwioToOihw(float[] hwio, int h, int w, int in, int out) {
        if (hwio.length != h * w * in * out) {
            throw new IllegalArgumentException(hwio.length + " values for kernel " + h + "x" + w + "x" + in + "x" + out);
        }
        float[] oihw = new float[hwio.length];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                for (int i = 0; i < in; i++) {
                    int src = ((y * w + x) * in + i) * out;
                    for (int o = 0; o < out; o++) {
                        oihw[((o * in + i) * h + y) * w + x] = hwio[src + o];
                    }
                }
            }
        }
        return oihw;
    }

    /** [rows, cols] row-major -> [cols, rows]. */
    static float[] transpose(float[] a, int rows, int cols) {
        float[] t = new float[a.length];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                t[c * rows + r] = a[r * cols + c];
            }
        }
        return t;
    }

    private static IllegalArgumentException refuse(TfjsLayersModel model, String why) {
        return new IllegalArgumentException(model.source().getFileName()
                + " is not the Keras InceptionV3 this importer reads: " + why);
    }

    // ------------------------------------------------------------------------------------------- networks

    /**
     * The whole nsfwjs network: InceptionV3, global average pooling, Dense 256 relu, Dense 128 relu, Dense 5
     * (logits; nsfwjs applies softmax). The dropouts of the Keras model are identity at inference and left out.
     */
    public static Block nsfwjsClassifier() {
        return new SequentialBlock()
                .add(new InceptionV3())
                .add(Pool.globalAvgPool2dBlock())
                .add(Linear.builder().setUnits(HEAD_UNITS[0]).build())
                .add(Activation.reluBlock())
                .add(Linear.builder().setUnits(HEAD_UNITS[1]).build())
                .add(Activation.reluBlock())
                .add(Linear.builder().setUnits(HEAD_UNITS[2]).build());
    }

    /** A model holding {@link #nsfwjsClassifier()} with every weight of the file, at {@code inputSize}. */
    public static Model loadNsfwjsClassifier(InceptionWeights weights, int inputSize) {
        Model model = Model.newInstance("nsfwjs-inception-v3");
        try {
            Block block = nsfwjsClassifier();
            model.setBlock(block);
            block.initialize(model.getNDManager(), DataType.FLOAT32, new Shape(1, 3, inputSize, inputSize));
            importInto(block, weights, true);
            return model;
        } catch (RuntimeException e) {
            model.close();
            throw e;
        }
    }

    // ------------------------------------------------------------------------------------------- importing

    /**
     * Writes the file's 94 conv+BN units into the {@link InceptionV3} in {@code block} (itself or a descendant,
     * e.g. {@code Networks.classifier(INCEPTION_V3, 2)}). With {@code withHead} the file's three Dense layers go
     * into the first three {@link Linear}s after the backbone (their shapes must match, as in
     * {@link #nsfwjsClassifier()}); without, the block's own head is left as initialized (a fresh 2-class head).
     */
    public static ImportSummary importInto(Block block, InceptionWeights weights, boolean withHead) {
        Objects.requireNonNull(block, "block");
        Objects.requireNonNull(weights, "weights");
        Located located = locate(block);
        Map<String, String> paths = located.backbone().kerasLayerPaths();
        Map<String, Block> blocks = ParameterWrites.blocksByPath(located.backbone());
        Map<String, Parameter> params = ParameterWrites.parameters(block);
        List<Write> writes = new ArrayList<>();
        for (ConvBn unit : weights.convolutions()) {
            String ownConv = unit.index() == 0 ? "conv2d" : "conv2d_" + unit.index();
            String ownBn = unit.index() == 0 ? "batch_normalization" : "batch_normalization_" + unit.index();
            String convPath = paths.get(ownConv);
            String bnPath = paths.get(ownBn);
            if (convPath == null || bnPath == null) {
                throw new IllegalStateException("InceptionV3 has no Keras layer " + ownConv + " or " + ownBn);
            }
            checkConvolution(unit, ownConv, blocks.get(convPath));
            if (!(blocks.get(bnPath) instanceof BatchNormNoScale bn)) {
                throw new IllegalStateException(ownBn + " of the block is not a BatchNormNoScale");
            }
            if (Math.abs(bn.epsilon() - unit.epsilon()) > 1e-7) {
                throw new IllegalArgumentException(unit.batchNorm() + " has epsilon " + unit.epsilon()
                        + ", the block's " + ownBn + " " + bn.epsilon() + ": the imported function would differ");
            }
            String conv = located.prefix() + convPath;
            String norm = located.prefix() + bnPath;
            Shape c = new Shape(unit.beta().length);
            writes.add(new Write(conv + "_weight", unit.kernelShape(), unit.kernel(), unit.conv()));
            writes.add(new Write(norm + "_beta", c, unit.beta(), unit.batchNorm()));
            writes.add(new Write(norm + "_runningMean", c, unit.movingMean(), unit.batchNorm()));
            writes.add(new Write(norm + "_runningVar", c, unit.movingVariance(), unit.batchNorm()));
        }
        if (withHead) {
            if (located.headLinears().size() < weights.head().size()) {
                throw new IllegalArgumentException("the block has " + located.headLinears().size()
                        + " Linear layers after its InceptionV3, the file's head " + weights.head().size());
            }
            for (int i = 0; i < weights.head().size(); i++) {
                Dense d = weights.head().get(i);
                String linear = located.headLinears().get(i);
                writes.add(new Write(linear + "_weight", d.weightShape(), d.weight(), d.name()));
                writes.add(new Write(linear + "_bias", new Shape(d.bias().length), d.bias(), d.name()));
            }
        }
        ParameterWrites.writeAll(params, writes);
        LOG.info("imported {} into {} convolutions and batch norms{}", weights, weights.convolutions().size(),
                withHead ? " and the 5-class head" : " (head left as initialized)");
        return new ImportSummary(weights, weights.convolutions().size(), weights.convolutions().size(), withHead);
    }

    /**
     * For {@code train --init nsfwjs[:<path>]}: the file's backbone into a 2-class InceptionV3 model
     * ({@code ModelExport.newModel(INCEPTION_V3, inputSize)}); the head stays random. Batch norms keep the file's
     * moving statistics (no calibration: unlike the folded TFLite MobileNet, these are real statistics).
     */
    public static ImportSummary initialize(Model model2Class, Path packageOrModel, int inputSize) throws IOException {
        Objects.requireNonNull(model2Class, "model2Class");
        Block block = Objects.requireNonNull(model2Class.getBlock(), "the model has no block");
        if (!ParameterWrites.isInitialized(block)) {
            block.initialize(model2Class.getNDManager(), DataType.FLOAT32, new Shape(1, 3, inputSize, inputSize));
        }
        return importInto(block, read(packageOrModel), false);
    }

    private static void checkConvolution(ConvBn unit, String own, Block block) {
        if (!(block instanceof Convolution conv)) {
            throw new IllegalStateException(own + " of the block is not a convolution");
        }
        Shape stride = conv.getStride();
        Shape padding = conv.getPadding();
        long kh = unit.kernelShape().get(2);
        long kw = unit.kernelShape().get(3);
        long expectPadH = unit.same() ? (kh - 1) / 2 : 0;
        long expectPadW = unit.same() ? (kw - 1) / 2 : 0;
        if (unit.same() && (unit.stride() != 1 || kh % 2 == 0 || kw % 2 == 0)) {
            throw new IllegalArgumentException(unit.conv() + ": 'same' with stride " + unit.stride() + " and kernel "
                    + kh + "x" + kw + " is not symmetric padding, which the block uses");
        }
        if (stride.get(0) != unit.stride() || stride.get(1) != unit.stride()
                || padding.get(0) != expectPadH || padding.get(1) != expectPadW || conv.isIncludeBias()) {
            throw new IllegalArgumentException(unit.conv() + " (stride " + unit.stride() + ", "
                    + (unit.same() ? "same" : "valid") + ") does not match the block's " + own + " (stride " + stride
                    + ", padding " + padding + (conv.isIncludeBias() ? ", with bias" : "") + ")");
        }
    }

    // ------------------------------------------------------------------------------------------- plumbing

    private record Located(InceptionV3 backbone, String prefix, List<String> headLinears) {}

    /** The InceptionV3 in {@code block} (itself or a child of a SequentialBlock) and the Linears after it. */
    private static Located locate(Block block) {
        if (block instanceof InceptionV3 inception) {
            return new Located(inception, "", List.of());
        }
        InceptionV3 backbone = null;
        String prefix = null;
        List<String> linears = new ArrayList<>();
        for (Pair<String, Block> child : block.getChildren()) {
            if (backbone == null && child.getValue() instanceof InceptionV3 inception) {
                backbone = inception;
                prefix = child.getKey() + "_";
            } else if (backbone != null && child.getValue() instanceof Linear) {
                linears.add(child.getKey());
            }
        }
        if (backbone == null) {
            throw new IllegalArgumentException("the block contains no InceptionV3 among its children ("
                    + block.getClass().getSimpleName() + ")");
        }
        return new Located(backbone, prefix, List.copyOf(linears));
    }

}
