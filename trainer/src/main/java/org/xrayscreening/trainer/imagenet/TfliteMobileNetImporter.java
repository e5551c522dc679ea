package org.xrayscreening.trainer.imagenet;

import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.BatchNorm;
import ai.djl.nn.norm.Dropout;
import ai.djl.nn.pooling.Pool;
import ai.djl.training.ParameterStore;
import ai.djl.util.Pair;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xrayscreening.models.network.MobileNetV1;
import org.xrayscreening.models.network.Networks;
import org.xrayscreening.models.preprocess.Normalization;
import org.xrayscreening.models.preprocess.Preprocessor;
import org.xrayscreening.trainer.imagenet.TfliteFile.Op;
import org.xrayscreening.trainer.imagenet.TfliteFile.Quantization;
import org.xrayscreening.trainer.imagenet.TfliteFile.TensorInfo;
import org.xrayscreening.trainer.imagenet.TfliteSchema.Activation;
import org.xrayscreening.trainer.imagenet.TfliteSchema.BuiltinOperator;
import org.xrayscreening.trainer.imagenet.TfliteSchema.Padding;

/**
 * Imports the weights of an ImageNet-trained, uint8-quantized MobileNet v1 TFLite file (the files in
 * {@code ../shared/pretrained}, see its PROVENANCE.md) into the project's {@link MobileNetV1}.
 *
 * <p><b>What is read.</b> The file's main subgraph must be MobileNet v1 in TF-slim's layout: 27 convolutions
 * chained in execution order ({@code CONV_2D} 3x3 stride 2, then 13 times {@code DEPTHWISE_CONV_2D} 3x3 +
 * {@code CONV_2D} 1x1, strides as in MobileNet, TF "SAME" padding, fused ReLU6, depth multiplier 1), an
 * {@code AVERAGE_POOL_2D} over the whole last feature map, and optionally a 1x1 {@code CONV_2D} classifier
 * with bias and no activation (1001 ImageNet classes, class 0 = background). Anything else is refused with
 * the operator that differs. Weights are dequantized as {@code real = scale * (q - zero_point)}; each int32
 * bias as {@code real = input_scale * weight_scale * q} (the scale TFLite's kernels use).
 *
 * <p><b>Where it goes.</b> Batch norm is folded into these files, so convolution {@code k} of the file becomes
 * the k-th Keras convolution of {@link MobileNetV1#kerasLayerPaths()} ({@code conv1, conv_dw_1, conv_pw_1, ...,
 * conv_pw_13}); weights OHWI -> OIHW, depthwise {@code [1, H, W, C]} -> {@code (C, 1, H, W)}. The batch norm that
 * follows each convolution is set to identity-plus-bias: gamma 1, beta = the file's bias, running mean 0,
 * running variance {@code 1 - eps}; so in eval mode conv + BN computes exactly conv + bias, as the file does.
 * The optional classifier goes into the {@link Linear} after the backbone (weight {@code (classes, C)}).
 *
 * <p><b>TF SAME padding.</b> TFLite's stride-2 convolutions pad one more row/column at the bottom/right. The
 * project's MobileNetV1 reproduces that with {@code Pad2d.tfSame} (conv1) and Keras' {@code ZeroPadding2D((0,1),
 * (0,1))} (stride-2 depthwise), which equals TF SAME whenever the input to those layers has an even side, i.e.
 * for input sides that are multiples of 32 (192, 224, ...). At other sizes the imported network computes a
 * slightly different function from the file's (a warning is logged).
 *
 * <p><b>Training mode.</b> In training mode batch norm normalizes with batch statistics, which with
 * identity-plus-bias BNs throws the pretrained function away (PROVENANCE.md: ~0.43 cosine similarity of
 * features on chest X-rays). {@link #calibrateBatchNorm} fixes that from a batch of training images.
 *
 * <p>All methods need an initialized block (parameters with arrays); none is thread-safe with concurrent use
 * of the same block.
 */
public final class TfliteMobileNetImporter {
    /** Batch-norm epsilon of {@link MobileNetV1} (Keras' 1e-3); the identity-plus-bias BN depends on it. */
    public static final float MOBILENET_BN_EPSILON = 1e-3f;
    /** Convolutions of a MobileNet v1 backbone: conv1 + 13 x (depthwise + pointwise). */
    public static final int BACKBONE_CONVOLUTIONS = 27;
    /** Images forwarded at once while collecting calibration statistics (bounds the memory used). */
    static final int CALIBRATION_CHUNK = 8;

    /** Strides of MobileNet's 13 depthwise convolutions (MobileNetV1's own table is private). */
    private static final int[] DEPTHWISE_STRIDES = {1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1};
    private static final Logger LOG = LoggerFactory.getLogger(TfliteMobileNetImporter.class);

    private TfliteMobileNetImporter() {}

    /** One convolution of the file, converted to DJL layout. {@code bias} is the folded batch norm's shift. */
    public record ConvWeights(String kerasName, boolean depthwise, Shape djlShape, float[] weight, float[] bias,
                              int stride, int opIndex) {}

    /**
     * Everything taken from a MobileNet v1 file.
     *
     * @param alpha width multiplier, from conv1's filters (24 -> 0.75, 32 -> 1.0)
     * @param inputSize the file's input side (its input tensor is {@code [1, s, s, 3]} uint8)
     * @param input quantization of the input tensor: uint8 RGB 0..255 -> {@code scale * (q - zero_point)}
     * @param backbone the 27 backbone convolutions in order
     * @param classifier the 1x1 classifier conv as a dense layer ({@code djlShape = (classes, C)}), or null
     * @param logits quantization of the classifier's output (the logits' representable range), or null
     */
    public record MobileNetWeights(Path file, double alpha, int inputSize, Quantization input,
                                   List<ConvWeights> backbone, ConvWeights classifier, Quantization logits) {
        public boolean hasClassifier() {
            return classifier != null;
        }

        /** Classes of the file's classifier (1001 for ImageNet with background), 0 without one. */
        public int numClasses() {
            return classifier == null ? 0 : (int) classifier.djlShape().get(0);
        }

        /** Channels of the backbone's output (1024 * alpha). */
        public int featureChannels() {
            return (int) backbone.get(BACKBONE_CONVOLUTIONS - 1).djlShape().get(0);
        }

        @Override
        public String toString() {
            return "MobileNet v1 alpha " + alpha + ", input " + inputSize + "x" + inputSize + ", "
                    + backbone.size() + " backbone convolutions, " + featureChannels() + " features, "
                    + (classifier == null ? "no classifier" : numClasses() + "-class classifier")
                    + " (" + file.getFileName() + ")";
        }
    }

    /** What {@link #importInto} wrote. */
    public record ImportSummary(MobileNetWeights weights, int convolutions, int batchNorms, boolean classifier) {}

    /** What {@link #calibrateBatchNorm} did: the number of BN layers re-parameterized and images used. */
    public record CalibrationSummary(int batchNorms, int images) {}

    // ------------------------------------------------------------------------------------------- reading

    /** Reads and checks a MobileNet v1 .tflite file; throws IllegalArgumentException if it is another network. */
    public static MobileNetWeights read(Path tflite) throws IOException {
        return read(TfliteFile.read(tflite));
    }

    /** As {@link #read(Path)}, from an opened file. */
    public static MobileNetWeights read(TfliteFile file) {
        List<Op> ops = file.operators();
        int[] inputs = file.inputTensors();
        if (inputs.length != 1) {
            throw refuse(file, "expected one input tensor, found " + inputs.length);
        }
        TensorInfo input = file.tensor(inputs[0]);
        int[] inShape = input.shape();
        if (inShape.length != 4 || inShape[0] != 1 || inShape[1] != inShape[2] || inShape[3] != 3) {
            throw refuse(file, "input is " + input + ", expected [1, s, s, 3]");
        }
        if (input.quantization() == null || !input.quantization().isPerTensor()) {
            throw refuse(file, "input " + input + " is not per-tensor quantized");
        }
        int inputSize = inShape[1];

        List<ConvWeights> backbone = new ArrayList<>(BACKBONE_CONVOLUTIONS);
        int current = inputs[0];
        int k = 0;
        for (int layer = 0; layer < BACKBONE_CONVOLUTIONS; layer++, k++) {
            if (k >= ops.size()) {
                throw refuse(file, "ends after " + layer + " convolutions, MobileNet v1 has " + BACKBONE_CONVOLUTIONS);
            }
            Op op = ops.get(k);
            boolean depthwise = layer % 2 == 1;
            String name = layer == 0 ? "conv1" : (depthwise ? "conv_dw_" : "conv_pw_") + ((layer + 1) / 2);
            int expectedStride = layer == 0 ? 2 : depthwise ? DEPTHWISE_STRIDES[(layer - 1) / 2] : 1;
            int expectedOp = depthwise ? BuiltinOperator.DEPTHWISE_CONV_2D : BuiltinOperator.CONV_2D;
            if (op.builtinCode() != expectedOp) {
                throw refuse(file, "operator " + k + " is " + op.opName() + ", expected "
                        + BuiltinOperator.name(expectedOp) + " for " + name);
            }
            if (op.inputs()[0] != current) {
                throw refuse(file, "operator " + k + " (" + name + ") does not read the previous layer's output");
            }
            if (op.strideH() != expectedStride || op.strideW() != expectedStride || op.padding() != Padding.SAME
                    || op.activation() != Activation.RELU6) {
                throw refuse(file, "operator " + k + " (" + name + ") is " + op + ", expected stride "
                        + expectedStride + " SAME RELU6");
            }
            if (depthwise && op.depthMultiplier() != 1) {
                throw refuse(file, "operator " + k + " (" + name + ") has depth multiplier " + op.depthMultiplier());
            }
            ConvWeights w = convWeights(file, op, name, depthwise, expectedStride, false);
            int kernel = layer == 0 || depthwise ? 3 : 1;
            if (w.djlShape().get(2) != kernel || w.djlShape().get(3) != kernel) {
                throw refuse(file, name + " has kernel " + w.djlShape() + ", expected " + kernel + "x" + kernel);
            }
            backbone.add(w);
            current = op.outputs()[0];
        }
        int conv1Filters = (int) backbone.get(0).djlShape().get(0);
        double alpha = conv1Filters / 32.0;

        // global average pool over the last feature map, then maybe the classifier
        ConvWeights classifier = null;
        Quantization logits = null;
        if (k < ops.size()) {
            Op pool = ops.get(k);
            int featureSide = (inputSize + 31) / 32;
            if (pool.builtinCode() != BuiltinOperator.AVERAGE_POOL_2D || pool.inputs()[0] != current
                    || pool.filterH() != featureSide || pool.filterW() != featureSide) {
                throw refuse(file, "operator " + k + " is " + pool + ", expected AVERAGE_POOL_2D "
                        + featureSide + "x" + featureSide + " over the last feature map");
            }
            current = pool.outputs()[0];
            k++;
            if (k < ops.size() && ops.get(k).builtinCode() == BuiltinOperator.CONV_2D) {
                Op head = ops.get(k);
                if (head.inputs()[0] != current || head.activation() != Activation.NONE || head.strideH() != 1) {
                    throw refuse(file, "operator " + k + " is " + head
                            + ", expected a 1x1 classifier without activation");
                }
                classifier = convWeights(file, head, "classifier", false, 1, true);
                logits = file.tensor(head.outputs()[0]).quantization();
            }
        }
        return new MobileNetWeights(file.path(), alpha, inputSize, input.quantization(), List.copyOf(backbone),
                classifier, logits);
    }

    private static ConvWeights convWeights(TfliteFile file, Op op, String name, boolean depthwise, int stride,
                                           boolean asDense) {
        TensorInfo in = file.tensor(op.inputs()[0]);
        TensorInfo weightTensor = file.tensor(op.inputs()[1]);
        int[] s = weightTensor.shape();
        if (s.length != 4) {
            throw refuse(file, name + " weight " + weightTensor + " is not 4-D");
        }
        float[] raw = file.dequantize(weightTensor);
        float[] weight;
        Shape shape;
        if (depthwise) {
            if (s[0] != 1) {
                throw refuse(file, name + " depthwise weight " + weightTensor + " is not [1, H, W, C]");
            }
            weight = TfliteFile.depthwiseToDjl(raw, s[1], s[2], s[3]);
            shape = new Shape(s[3], 1, s[1], s[2]);
        } else if (asDense) {
            if (s[1] != 1 || s[2] != 1) {
                throw refuse(file, name + " weight " + weightTensor + " is not a 1x1 kernel");
            }
            weight = raw; // [O, 1, 1, I] row-major is (O, I)
            shape = new Shape(s[0], s[3]);
        } else {
            weight = TfliteFile.ohwiToOihw(raw, s[0], s[1], s[2], s[3]);
            shape = new Shape(s[0], s[3], s[1], s[2]);
        }
        int outChannels = depthwise ? s[3] : s[0];
        float[] bias = new float[outChannels];
        if (op.inputs().length > 2 && op.inputs()[2] >= 0) {
            TensorInfo biasTensor = file.tensor(op.inputs()[2]);
            if (biasTensor.elementCount() != outChannels) {
                throw refuse(file, name + " bias " + biasTensor + " does not have " + outChannels + " values");
            }
            bias = dequantizeBias(file, biasTensor, in, weightTensor);
        }
        return new ConvWeights(name, depthwise, shape, weight, bias, stride, op.index());
    }

    /**
     * An int32 bias as TFLite's quantized kernels use it: {@code real = input_scale * weight_scale * q}
     * (per output channel when the weights are quantized per channel). A float bias is returned as is.
     */
    static float[] dequantizeBias(TfliteFile file, TensorInfo bias, TensorInfo input, TensorInfo weight) {
        if (bias.type() != TfliteSchema.TensorType.INT32) {
            return file.dequantize(bias);
        }
        if (input.quantization() == null || weight.quantization() == null || !input.quantization().isPerTensor()) {
            throw refuse(file, "bias " + bias + " is int32 but its input/weight are not quantized per tensor");
        }
        float inputScale = input.quantization().scale()[0];
        float[] weightScales = weight.quantization().scale();
        int n = Math.toIntExact(bias.elementCount());
        float[] scales = new float[weightScales.length];
        for (int i = 0; i < scales.length; i++) {
            scales[i] = inputScale * weightScales[i];
        }
        long[] q = new long[n];
        java.nio.ByteBuffer data = file.constantData(bias);
        for (int i = 0; i < n; i++) {
            q[i] = data.getInt(4 * i);
        }
        Quantization quantization = scales.length == 1
                ? Quantization.perTensor(scales[0], 0)
                : new Quantization(scales, new long[scales.length], 0);
        return TfliteFile.dequantize(q, new int[] {n}, quantization);
    }

    private static IllegalArgumentException refuse(TfliteFile file, String why) {
        return new IllegalArgumentException(file.path().getFileName() + " is not a MobileNet v1 this importer reads: "
                + why);
    }

    // ------------------------------------------------------------------------------------------- networks

    /**
     * MobileNet v1 of width {@code alpha} with a {@code numClasses} dense head, laid out exactly as
     * {@link Networks#classifier} (children {@code 01MobileNetV1}, {@code 02LambdaBlock} global average pooling,
     * {@code 03Dropout}, {@code 04Linear}); {@code Networks.classifier} only builds width 1.0. A TFLite 1x1 conv
     * head on globally pooled features is exactly this dense layer.
     */
    public static Block imageNetClassifier(double alpha, int numClasses) {
        return new SequentialBlock()
                .add(new MobileNetV1(alpha))
                .add(Pool.globalAvgPool2dBlock())
                .add(Dropout.builder().optRate(Networks.DROPOUT_RATE).build())
                .add(Linear.builder().setUnits(numClasses).build());
    }

    /**
     * A model holding the file's whole network including its classifier (e.g. the 1001-class ImageNet head),
     * initialized for the file's input size. Fails if the file has no classifier. The caller closes the model.
     */
    public static Model loadImageNetClassifier(Path tflite) throws IOException {
        MobileNetWeights weights = read(tflite);
        if (!weights.hasClassifier()) {
            throw new IllegalArgumentException(tflite.getFileName() + " has no classifier (it is a feature extractor)");
        }
        Model model = Model.newInstance("imagenet-mobilenet-v1");
        try {
            Block block = imageNetClassifier(weights.alpha(), weights.numClasses());
            model.setBlock(block);
            block.initialize(model.getNDManager(), DataType.FLOAT32,
                    new Shape(1, 3, weights.inputSize(), weights.inputSize()));
            importInto(block, weights, true);
            return model;
        } catch (RuntimeException e) {
            model.close();
            throw e;
        }
    }

    // ------------------------------------------------------------------------------------------- importing

    /**
     * Writes the file's backbone weights into {@code block}: a {@link MobileNetV1} or any block that contains
     * one (e.g. {@code Networks.classifier(MOBILENET, 2)}). The block's own head is left as it is (random), for
     * fine-tuning. The block must be initialized and of the file's width.
     */
    public static ImportSummary importInto(Block mobilenetClassifierOrBackbone, Path tflite) throws IOException {
        return importInto(mobilenetClassifierOrBackbone, read(tflite), false);
    }

    /**
     * As {@link #importInto(Block, Path)}; with {@code withClassifier} the file's classifier also goes into the
     * first {@link Linear} after the backbone, whose shape must match (e.g. {@link #imageNetClassifier}
     * with 1001 classes).
     */
    public static ImportSummary importInto(Block block, Path tflite, boolean withClassifier) throws IOException {
        return importInto(block, read(tflite), withClassifier);
    }

    /** As {@link #importInto(Block, Path, boolean)}, from weights already read. */
    public static ImportSummary importInto(Block block, MobileNetWeights weights, boolean withClassifier) {
        Objects.requireNonNull(block, "block");
        Objects.requireNonNull(weights, "weights");
        Located located = locateBackbone(block);
        MobileNetV1 mobilenet = located.backbone();
        if (Math.abs(mobilenet.alpha() - weights.alpha()) > 1e-9) {
            throw new IllegalArgumentException("the block is MobileNet v1 alpha " + mobilenet.alpha()
                    + ", the file " + weights.file().getFileName() + " is alpha " + weights.alpha());
        }
        Map<String, Parameter> params = parameters(block);
        Map<String, String> paths = mobilenet.kerasLayerPaths();
        // every write is checked before the first one happens, so a mismatch leaves the block untouched
        List<Write> writes = new ArrayList<>();
        int batchNorms = 0;
        for (ConvWeights conv : weights.backbone()) {
            String convPath = paths.get(conv.kerasName());
            String bnPath = paths.get(conv.kerasName() + "_bn");
            if (convPath == null || bnPath == null) {
                throw new IllegalStateException("MobileNetV1 has no Keras layer " + conv.kerasName() + " or its _bn");
            }
            writes.add(new Write(located.prefix() + convPath + "_weight", conv.djlShape(), conv.weight()));
            String bn = located.prefix() + bnPath;
            int channels = conv.bias().length;
            Shape c = new Shape(channels);
            writes.add(new Write(bn + "_gamma", c, filled(channels, 1f)));
            writes.add(new Write(bn + "_beta", c, conv.bias()));
            writes.add(new Write(bn + "_runningMean", c, new float[channels]));
            writes.add(new Write(bn + "_runningVar", c, filled(channels, 1f - MOBILENET_BN_EPSILON)));
            batchNorms++;
        }
        boolean classifier = false;
        if (withClassifier) {
            if (!weights.hasClassifier()) {
                throw new IllegalArgumentException(weights.file().getFileName() + " has no classifier to import");
            }
            String linear = located.headLinearKey();
            if (linear == null) {
                throw new IllegalArgumentException("the block has no Linear layer after its MobileNetV1 backbone");
            }
            ConvWeights head = weights.classifier();
            writes.add(new Write(linear + "_weight", head.djlShape(), head.weight()));
            writes.add(new Write(linear + "_bias", new Shape(head.bias().length), head.bias()));
            classifier = true;
        }
        for (Write w : writes) {
            checkParameter(params, w.key(), w.shape(), w.values());
        }
        for (Write w : writes) {
            setParameter(params, w.key(), w.shape(), w.values());
        }
        LOG.info("imported {} into {} convolutions and {} batch norms{}", weights, weights.backbone().size(),
                batchNorms, classifier ? " and the classifier" : " (head left as initialized)");
        return new ImportSummary(weights, weights.backbone().size(), batchNorms, classifier);
    }

    /**
     * For the trainer's {@code --init imagenet:<tflite>}: writes the file's ImageNet backbone into a 2-class
     * MobileNet model ({@code ModelExport.newModel(MOBILENET, inputSize)}, alpha 1.0, so the width-1.0 file,
     * {@code mobilenet_v1_1.0_224_quant_embedding_extractor.tflite}); the head stays random. With a calibration
     * batch (preprocessed CHW images at {@code inputSize}, as {@code Preprocessor.forArchitecture(MOBILENET,
     * inputSize)} makes them; 16-64 training images are plenty), the batch norms are then calibrated so that
     * training mode starts from the imported function too. An uninitialized block is initialized first.
     */
    public static ImportSummary initializeFromImageNet(Model model2Class, Path tflite, int inputSize,
                                                       List<float[]> calibrationBatchOrNull) throws IOException {
        Objects.requireNonNull(model2Class, "model2Class");
        Block block = Objects.requireNonNull(model2Class.getBlock(), "the model has no block");
        if (inputSize % 32 != 0) {
            LOG.warn("input size {} is not a multiple of 32: MobileNetV1's Keras-style padding then differs from "
                    + "the TFLite file's TF SAME padding at some stride-2 layers", inputSize);
        }
        if (!isInitialized(block)) {
            block.initialize(model2Class.getNDManager(), DataType.FLOAT32, new Shape(1, 3, inputSize, inputSize));
        }
        ImportSummary summary = importInto(block, tflite);
        if (calibrationBatchOrNull != null && !calibrationBatchOrNull.isEmpty()) {
            try (NDManager manager = model2Class.getNDManager().newSubManager()) {
                NDArray batch = stack(manager, calibrationBatchOrNull, inputSize);
                calibrateBatchNorm(block, batch);
            }
        }
        return summary;
    }

    // ------------------------------------------------------------------------------------------- calibration

    /**
     * Re-parameterizes every batch norm of {@code block} from the statistics of {@code batch}, without changing
     * what the block computes in eval mode: each BN's running mean/variance become the per-channel mean and
     * (biased) variance of its input over the batch, and gamma/beta are rescaled/shifted so that the eval-mode
     * output is unchanged: {@code gamma' = gamma * sqrt(var_b + eps) / sqrt(v + eps)},
     * {@code beta' = beta + gamma * (mean_b - m) / sqrt(v + eps)}. In training mode a BN normalizes with the
     * batch's own statistics, so on {@code batch} training-mode output then equals eval-mode output, and on
     * other batches of the same data it stays close: fine-tuning starts from the imported function.
     *
     * <p>Statistics are collected in one eval-mode pass (valid for every layer at once, since no layer's eval
     * output changes), {@value #CALIBRATION_CHUNK} images at a time, combined exactly in double precision.
     * {@code block} must be a tree of {@link SequentialBlock}s around its batch norms (MobileNetV1 and the
     * classifiers built on it are); the BN epsilon is {@link #MOBILENET_BN_EPSILON}.
     *
     * @param batch (N, 3, H, W) preprocessed images, N >= 2
     */
    public static CalibrationSummary calibrateBatchNorm(Block block, NDArray batch) {
        Shape shape = batch.getShape();
        if (shape.dimension() != 4 || shape.get(0) < 2) {
            throw new IllegalArgumentException("calibration needs an (N >= 2, C, H, W) batch, got " + shape);
        }
        Map<BatchNorm, RunningStats> stats = new IdentityHashMap<>();
        List<BatchNorm> order = new ArrayList<>();
        Map<BatchNorm, String> names = new IdentityHashMap<>();
        collectBatchNorms(block, "", order, names);
        if (order.isEmpty()) {
            throw new IllegalArgumentException("the block has no batch norm to calibrate");
        }
        long n = shape.get(0);
        for (long from = 0; from < n; from += CALIBRATION_CHUNK) {
            long to = Math.min(n, from + CALIBRATION_CHUNK);
            try (NDManager chunkManager = batch.getManager().newSubManager()) {
                NDArray chunk = batch.get(from + ":" + to);
                chunk.attach(chunkManager);
                ParameterStore ps = new ParameterStore(chunkManager, false);
                forwardCollecting(block, new NDList(chunk), ps, stats);
            }
        }
        Map<String, Parameter> params = parameters(block);
        for (BatchNorm bn : order) {
            RunningStats s = stats.get(bn);
            if (s == null) {
                throw new IllegalStateException("batch norm " + names.get(bn) + " was not reached by the forward pass");
            }
            recalibrate(params, names.get(bn), s);
        }
        LOG.info("calibrated {} batch norms on {} images", order.size(), n);
        return new CalibrationSummary(order.size(), Math.toIntExact(n));
    }

    /** As {@link #calibrateBatchNorm(Block, NDArray)} from preprocessed CHW images at {@code inputSize}. */
    public static CalibrationSummary calibrateBatchNorm(Block block, NDManager manager, List<float[]> images,
                                                        int inputSize) {
        try (NDManager sub = manager.newSubManager()) {
            return calibrateBatchNorm(block, stack(sub, images, inputSize));
        }
    }

    /** Per-channel count, mean and sum of squared deviations, merged across chunks (Chan et al.). */
    private static final class RunningStats {
        long count;
        double[] mean;
        double[] m2;

        void add(long n, float[] chunkMean, float[] chunkM2) {
            if (mean == null) {
                count = n;
                mean = toDouble(chunkMean);
                m2 = toDouble(chunkM2);
                return;
            }
            if (chunkMean.length != mean.length) {
                throw new IllegalStateException("channel count changed between calibration chunks");
            }
            long total = count + n;
            for (int c = 0; c < mean.length; c++) {
                double delta = chunkMean[c] - mean[c];
                mean[c] += delta * n / total;
                m2[c] += chunkM2[c] + delta * delta * count * n / total;
            }
            count = total;
        }

        double variance(int c) {
            return m2[c] / count;
        }
    }

    private static NDList forwardCollecting(Block block, NDList x, ParameterStore ps,
                                            Map<BatchNorm, RunningStats> stats) {
        if (block instanceof SequentialBlock) {
            NDList current = x;
            for (Pair<String, Block> child : block.getChildren()) {
                current = forwardCollecting(child.getValue(), current, ps, stats);
            }
            return current;
        }
        if (block instanceof BatchNorm bn) {
            NDArray in = x.singletonOrThrow();
            if (in.getShape().dimension() < 2) {
                throw new IllegalArgumentException("batch norm input " + in.getShape() + " has no channel axis");
            }
            long channels = in.getShape().get(1);
            // (N, C, ...) -> (C, N * ...): PyTorch's DJL binding reduces over one axis at a time
            NDArray perChannel = in.swapAxes(0, 1).reshape(channels, -1);
            long count = perChannel.getShape().get(1);
            NDArray mean = perChannel.mean(new int[] {1});
            NDArray m2 = perChannel.sub(mean.reshape(channels, 1)).square().sum(new int[] {1});
            stats.computeIfAbsent(bn, b -> new RunningStats()).add(count, mean.toFloatArray(), m2.toFloatArray());
        } else if (containsBatchNorm(block)) {
            throw new UnsupportedOperationException("cannot calibrate batch norms inside "
                    + block.getClass().getSimpleName() + ": only SequentialBlock trees are walked");
        }
        return block.forward(ps, x, false);
    }

    private static void recalibrate(Map<String, Parameter> params, String bn, RunningStats s) {
        float eps = MOBILENET_BN_EPSILON;
        float[] gamma = params.containsKey(bn + "_gamma") ? array(params, bn + "_gamma") : null;
        float[] beta = params.containsKey(bn + "_beta") ? array(params, bn + "_beta") : null;
        float[] mean = array(params, bn + "_runningMean");
        float[] var = array(params, bn + "_runningVar");
        if (gamma == null || beta == null) {
            throw new UnsupportedOperationException("batch norm " + bn + " has no gamma or beta to absorb the change");
        }
        int channels = mean.length;
        if (s.mean.length != channels) {
            throw new IllegalStateException("batch norm " + bn + " has " + channels + " channels, its input "
                    + s.mean.length);
        }
        float[] newGamma = new float[channels];
        float[] newBeta = new float[channels];
        float[] newMean = new float[channels];
        float[] newVar = new float[channels];
        for (int c = 0; c < channels; c++) {
            double oldStd = Math.sqrt((double) var[c] + eps);
            double batchVar = Math.max(0.0, s.variance(c));
            double batchStd = Math.sqrt(batchVar + eps);
            newGamma[c] = (float) (gamma[c] * batchStd / oldStd);
            newBeta[c] = (float) (beta[c] + gamma[c] * (s.mean[c] - mean[c]) / oldStd);
            newMean[c] = (float) s.mean[c];
            newVar[c] = (float) batchVar;
        }
        Shape shape = new Shape(channels);
        setParameter(params, bn + "_gamma", shape, newGamma);
        setParameter(params, bn + "_beta", shape, newBeta);
        setParameter(params, bn + "_runningMean", shape, newMean);
        setParameter(params, bn + "_runningVar", shape, newVar);
    }

    /**
     * Mean cosine similarity, per image, between the backbone's training-mode and eval-mode outputs on
     * {@code batch} (1.0 = training mode computes the same function). Batch-norm running statistics, which a
     * training-mode forward pass updates, are restored afterwards, so the block is left unchanged.
     */
    public static double trainEvalCosine(Block block, NDArray batch) {
        Located located = locateBackbone(block);
        Map<String, Parameter> params = parameters(block);
        List<String> runningKeys = new ArrayList<>();
        List<float[]> saved = new ArrayList<>();
        for (Map.Entry<String, Parameter> e : params.entrySet()) {
            if (e.getKey().endsWith("_runningMean") || e.getKey().endsWith("_runningVar")) {
                runningKeys.add(e.getKey());
                saved.add(e.getValue().getArray().toFloatArray());
            }
        }
        try (NDManager sub = batch.getManager().newSubManager()) {
            NDArray x = batch.duplicate();
            x.attach(sub);
            ParameterStore ps = new ParameterStore(sub, false);
            NDArray eval = located.backbone().forward(ps, new NDList(x), false).singletonOrThrow();
            NDArray train = located.backbone().forward(ps, new NDList(x), true).singletonOrThrow();
            long n = batch.getShape().get(0);
            NDArray e = eval.reshape(n, -1);
            NDArray t = train.reshape(n, -1);
            NDArray cos = e.mul(t).sum(new int[] {1})
                    .div(e.norm(new int[] {1}).mul(t.norm(new int[] {1})).add(1e-12f));
            return cos.mean().getFloat();
        } finally {
            for (int i = 0; i < runningKeys.size(); i++) {
                params.get(runningKeys.get(i)).getArray().set(saved.get(i));
            }
        }
    }

    // ------------------------------------------------------------------------------------------- inputs, outputs

    /**
     * An RGB image as the file's network expects it, CHW floats: resized to {@code inputSize} (bilinear, as the
     * project's {@link Preprocessor}), rounded to uint8 0..255 like the file's input tensor, then dequantized with
     * the input's quantization ({@code (q - 128) / 128} for these files: [-1, 0.992]). The project's
     * {@code MINUS_ONE_TO_ONE} preprocessing ({@code v / 127.5 - 1}) differs from this by less than 1/128.
     */
    public static float[] fileInput(BufferedImage image, int inputSize, Quantization input) {
        if (!input.isPerTensor()) {
            throw new IllegalArgumentException("input quantization must be per tensor");
        }
        float[] chw = new Preprocessor(Normalization.MINUS_ONE_TO_ONE, inputSize).toChw(image);
        float[] out = new float[chw.length];
        for (int i = 0; i < chw.length; i++) {
            long q = Math.round((chw[i] + 1.0) * 127.5);
            q = Math.max(0, Math.min(255, q));
            out[i] = (float) input.dequantize(q);
        }
        return out;
    }

    /**
     * Eval-mode softmax probabilities of a classifier block for preprocessed CHW images, one row per image.
     */
    public static float[][] predictProbabilities(Block classifier, NDManager manager, List<float[]> images,
                                                 int inputSize) {
        try (NDManager sub = manager.newSubManager()) {
            NDArray batch = stack(sub, images, inputSize);
            NDArray logits = classifier.forward(new ParameterStore(sub, false), new NDList(batch), false)
                    .singletonOrThrow();
            NDArray probs = logits.softmax(1);
            int classes = (int) probs.getShape().get(1);
            float[] flat = probs.toFloatArray();
            float[][] out = new float[images.size()][];
            for (int i = 0; i < out.length; i++) {
                out[i] = Arrays.copyOfRange(flat, i * classes, (i + 1) * classes);
            }
            return out;
        }
    }

    /** Indices of the {@code k} largest values, largest first. */
    public static int[] topK(float[] values, int k) {
        Integer[] idx = new Integer[values.length];
        for (int i = 0; i < idx.length; i++) {
            idx[i] = i;
        }
        Arrays.sort(idx, (a, b) -> Float.compare(values[b], values[a]));
        int[] out = new int[Math.min(k, idx.length)];
        for (int i = 0; i < out.length; i++) {
            out[i] = idx[i];
        }
        return out;
    }

    /** (N, 3, s, s) from CHW float arrays, owned by {@code manager}. */
    public static NDArray stack(NDManager manager, List<float[]> images, int inputSize) {
        if (images.isEmpty()) {
            throw new IllegalArgumentException("no images");
        }
        int length = 3 * inputSize * inputSize;
        float[] all = new float[Math.multiplyExact(length, images.size())];
        for (int i = 0; i < images.size(); i++) {
            float[] chw = images.get(i);
            if (chw.length != length) {
                throw new IllegalArgumentException("image " + i + " has " + chw.length + " floats, expected " + length
                        + " (3x" + inputSize + "x" + inputSize + ")");
            }
            System.arraycopy(chw, 0, all, i * length, length);
        }
        return manager.create(all, new Shape(images.size(), 3, inputSize, inputSize));
    }

    // ------------------------------------------------------------------------------------------- block plumbing

    private record Located(MobileNetV1 backbone, String prefix, String headLinearKey) {}

    /** Finds the MobileNetV1 in {@code block} (itself or a descendant) and the first Linear after it. */
    private static Located locateBackbone(Block block) {
        if (block instanceof MobileNetV1 m) {
            return new Located(m, "", null);
        }
        Located located = search(block, "");
        if (located == null) {
            throw new IllegalArgumentException("the block contains no MobileNetV1 ("
                    + block.getClass().getSimpleName() + ")");
        }
        return located;
    }

    private static Located search(Block block, String prefix) {
        MobileNetV1 backbone = null;
        String backbonePrefix = null;
        for (Pair<String, Block> child : block.getChildren()) {
            String path = prefix.isEmpty() ? child.getKey() : prefix + "_" + child.getKey();
            Block value = child.getValue();
            if (backbone == null) {
                if (value instanceof MobileNetV1 m) {
                    backbone = m;
                    backbonePrefix = path + "_";
                } else {
                    Located inner = search(value, path);
                    if (inner != null) {
                        return inner;
                    }
                }
            } else if (value instanceof Linear) {
                return new Located(backbone, backbonePrefix, path);
            }
        }
        return backbone == null ? null : new Located(backbone, backbonePrefix, null);
    }

    private static void collectBatchNorms(Block block, String prefix, List<BatchNorm> order,
                                          Map<BatchNorm, String> names) {
        for (Pair<String, Block> child : block.getChildren()) {
            String path = prefix.isEmpty() ? child.getKey() : prefix + "_" + child.getKey();
            if (child.getValue() instanceof BatchNorm bn) {
                order.add(bn);
                names.put(bn, path);
            }
            collectBatchNorms(child.getValue(), path, order, names);
        }
    }

    private static boolean containsBatchNorm(Block block) {
        for (Pair<String, Block> child : block.getChildren()) {
            if (child.getValue() instanceof BatchNorm || containsBatchNorm(child.getValue())) {
                return true;
            }
        }
        return false;
    }

    private static Map<String, Parameter> parameters(Block block) {
        Map<String, Parameter> map = new java.util.LinkedHashMap<>();
        for (Pair<String, Parameter> p : block.getParameters()) {
            map.put(p.getKey(), p.getValue());
        }
        return map;
    }

    private static boolean isInitialized(Block block) {
        for (Pair<String, Parameter> p : block.getParameters()) {
            if (!p.getValue().isInitialized()) {
                return false;
            }
        }
        return true;
    }

    private static float[] array(Map<String, Parameter> params, String key) {
        Parameter p = params.get(key);
        if (p == null || !p.isInitialized()) {
            throw new IllegalStateException("parameter " + key + " is missing or not initialized");
        }
        return p.getArray().toFloatArray();
    }

    private record Write(String key, Shape shape, float[] values) {}

    private static void setParameter(Map<String, Parameter> params, String key, Shape shape, float[] values) {
        checkParameter(params, key, shape, values);
        params.get(key).getArray().set(values);
    }

    private static void checkParameter(Map<String, Parameter> params, String key, Shape shape, float[] values) {
        Parameter p = params.get(key);
        if (p == null) {
            throw new IllegalStateException("the block has no parameter " + key);
        }
        if (!p.isInitialized()) {
            throw new IllegalStateException("parameter " + key + " is not initialized: initialize the block first"
                    + " (block.initialize(manager, FLOAT32, new Shape(1, 3, s, s)))");
        }
        NDArray array = p.getArray();
        if (!array.getShape().equals(shape)) {
            throw new IllegalArgumentException("shape mismatch for " + key + ": the block has " + array.getShape()
                    + ", the file " + shape);
        }
        if (array.getDataType() != DataType.FLOAT32) {
            throw new IllegalArgumentException(key + " is " + array.getDataType() + ", expected FLOAT32");
        }
        if (values.length != shape.size()) {
            throw new IllegalStateException(key + ": " + values.length + " values for shape " + shape);
        }
    }

    private static float[] filled(int n, float value) {
        float[] a = new float[n];
        Arrays.fill(a, value);
        return a;
    }

    private static double[] toDouble(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            d[i] = a[i];
        }
        return d;
    }
}
