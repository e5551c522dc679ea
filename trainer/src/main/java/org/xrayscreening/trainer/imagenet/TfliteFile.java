package org.xrayscreening.trainer.imagenet;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import org.xrayscreening.trainer.imagenet.TfliteSchema.Activation;
import org.xrayscreening.trainer.imagenet.TfliteSchema.BuiltinOperator;
import org.xrayscreening.trainer.imagenet.TfliteSchema.Padding;
import org.xrayscreening.trainer.imagenet.TfliteSchema.TensorType;

/**
 * A TensorFlow Lite file opened through {@link TfliteSchema}: its main subgraph's operators in execution order,
 * tensors with their quantization, and constant data dequantized to float.
 *
 * <p>Dequantization is TFLite's asymmetric linear scheme, {@code real = scale * (q - zero_point)}, with one
 * (scale, zero point) per tensor or, when the tensor lists several, one per index along its
 * {@code quantized_dimension}. UINT8 is read unsigned, INT8 signed, INT32 (biases) as is; FLOAT32 data is
 * returned unchanged. Layouts are TFLite's, row-major: activations NHWC, {@code CONV_2D} weights OHWI,
 * {@code DEPTHWISE_CONV_2D} weights {@code [1, H, W, C * multiplier]}; {@link #ohwiToOihw} and
 * {@link #depthwiseToDjl} turn them into DJL's (out, in / groups, kH, kW).
 *
 * <p>Immutable after construction; the whole file is held in memory (MobileNet files are a few MB).
 */
public final class TfliteFile {
    private final Path path;
    private final TfliteSchema.Model model;
    private final TfliteSchema.SubGraph graph;
    private final List<Op> operators;

    /** Per-tensor quantization: {@code scale.length == zeroPoint.length}, 1 or the size of {@code dimension}. */
    public record Quantization(float[] scale, long[] zeroPoint, int dimension) {
        public Quantization {
            Objects.requireNonNull(scale, "scale");
            Objects.requireNonNull(zeroPoint, "zeroPoint");
            if (scale.length == 0 || scale.length != zeroPoint.length) {
                throw new IllegalArgumentException("quantization needs as many scales as zero points (>= 1): "
                        + scale.length + " vs " + zeroPoint.length);
            }
        }

        /** One scale and zero point for the whole tensor. */
        public static Quantization perTensor(float scale, long zeroPoint) {
            return new Quantization(new float[] {scale}, new long[] {zeroPoint}, 0);
        }

        public boolean isPerTensor() {
            return scale.length == 1;
        }

        /** The real value of quantized code {@code q} for per-tensor parameters. */
        public double dequantize(long q) {
            return scale[0] * (double) (q - zeroPoint[0]);
        }

        @Override
        public String toString() {
            return isPerTensor()
                    ? "scale=" + scale[0] + " zero_point=" + zeroPoint[0]
                    : scale.length + " channels along axis " + dimension;
        }
    }

    /** One tensor of the main subgraph. */
    public record TensorInfo(int index, String name, byte type, int[] shape, long buffer, Quantization quantization) {
        public long elementCount() {
            long n = 1;
            for (int d : shape) {
                n *= d;
            }
            return n;
        }

        @Override
        public String toString() {
            return "#" + index + " " + name + " " + TensorType.name(type) + Arrays.toString(shape)
                    + (quantization != null ? " (" + quantization + ")" : "");
        }
    }

    /**
     * One operator in execution order. For convolutions and pooling, stride/padding/activation come from its
     * options (zero/NONE otherwise); {@code filter} is the pooling window (0 for other ops).
     */
    public record Op(int index, int builtinCode, int[] inputs, int[] outputs, int strideH, int strideW,
                     byte padding, byte activation, int depthMultiplier, int filterH, int filterW) {
        public String opName() {
            return BuiltinOperator.name(builtinCode);
        }

        public boolean isConvolution() {
            return builtinCode == BuiltinOperator.CONV_2D || builtinCode == BuiltinOperator.DEPTHWISE_CONV_2D;
        }

        @Override
        public String toString() {
            StringBuilder sb = new StringBuilder("op " + index + " " + opName() + " in=" + Arrays.toString(inputs)
                    + " out=" + Arrays.toString(outputs));
            if (strideH != 0) {
                sb.append(" stride=").append(strideH).append('x').append(strideW)
                        .append(' ').append(Padding.name(padding))
                        .append(' ').append(Activation.name(activation));
            }
            if (filterH != 0) {
                sb.append(" filter=").append(filterH).append('x').append(filterW);
            }
            return sb.toString();
        }
    }

    private TfliteFile(Path path, ByteBuffer bytes) {
        this.path = path;
        if (bytes.remaining() < 8 || !TfliteSchema.Model.hasIdentifier(bytes.order(ByteOrder.LITTLE_ENDIAN))) {
            throw new IllegalArgumentException(path + " is not a TensorFlow Lite flatbuffer (no \""
                    + TfliteSchema.FILE_IDENTIFIER + "\" identifier)");
        }
        this.model = TfliteSchema.Model.getRootAsModel(bytes);
        if (model.version() != 3) {
            throw new IllegalArgumentException(path + ": unsupported TFLite schema version " + model.version());
        }
        if (model.subgraphsLength() < 1) {
            throw new IllegalArgumentException(path + " has no subgraph");
        }
        this.graph = model.subgraphs(0);
        this.operators = List.copyOf(readOperators());
    }

    /** Reads and indexes a .tflite file. */
    public static TfliteFile read(Path file) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        try {
            return new TfliteFile(file, ByteBuffer.wrap(bytes));
        } catch (IndexOutOfBoundsException e) {
            throw new IOException(file + " is truncated or not a TFLite flatbuffer", e);
        }
    }

    public Path path() {
        return path;
    }

    public String description() {
        return model.description();
    }

    public int tensorCount() {
        return graph.tensorsLength();
    }

    /** The main subgraph's operators, in execution order. */
    public List<Op> operators() {
        return operators;
    }

    public int[] inputTensors() {
        int[] in = new int[graph.inputsLength()];
        for (int i = 0; i < in.length; i++) {
            in[i] = graph.inputs(i);
        }
        return in;
    }

    public int[] outputTensors() {
        int[] out = new int[graph.outputsLength()];
        for (int i = 0; i < out.length; i++) {
            out[i] = graph.outputs(i);
        }
        return out;
    }

    public TensorInfo tensor(int index) {
        if (index < 0 || index >= graph.tensorsLength()) {
            throw new IllegalArgumentException(path + ": tensor index " + index + " out of range 0.."
                    + (graph.tensorsLength() - 1));
        }
        TfliteSchema.Tensor t = graph.tensors(index);
        return new TensorInfo(index, t.name(), t.type(), t.shapeArray(), t.buffer(), quantizationOf(t));
    }

    /** The raw bytes of a constant tensor (little-endian), checked against its shape and type. */
    public ByteBuffer constantData(TensorInfo tensor) {
        if (tensor.buffer() <= 0 || tensor.buffer() >= model.buffersLength()) {
            throw new IllegalArgumentException(path + ": tensor " + tensor + " has no constant data");
        }
        TfliteSchema.Buffer buffer = model.buffers((int) tensor.buffer());
        ByteBuffer data = buffer.dataAsByteBuffer();
        if (data == null || data.remaining() == 0) {
            throw new IllegalArgumentException(path + ": tensor " + tensor + " has an empty buffer"
                    + (buffer.offset() > 0 ? " (data stored outside the flatbuffer, not supported)" : ""));
        }
        long expected = tensor.elementCount() * bytesPerElement(tensor.type());
        if (data.remaining() != expected) {
            throw new IllegalArgumentException(path + ": tensor " + tensor + " holds " + data.remaining()
                    + " bytes, its shape and type need " + expected);
        }
        return data;
    }

    /** A constant tensor's values as real numbers (dequantized, same row-major order as the file). */
    public float[] dequantize(TensorInfo tensor) {
        ByteBuffer data = constantData(tensor);
        int n = Math.toIntExact(tensor.elementCount());
        byte type = tensor.type();
        if (type == TensorType.FLOAT32) {
            float[] out = new float[n];
            data.asFloatBuffer().get(out);
            return out;
        }
        if (tensor.quantization() == null) {
            throw new IllegalArgumentException(path + ": quantized tensor " + tensor + " has no scale/zero point");
        }
        long[] q = new long[n];
        switch (type) {
            case TensorType.UINT8 -> {
                for (int i = 0; i < n; i++) {
                    q[i] = Byte.toUnsignedInt(data.get(i));
                }
            }
            case TensorType.INT8 -> {
                for (int i = 0; i < n; i++) {
                    q[i] = data.get(i);
                }
            }
            case TensorType.INT32 -> {
                for (int i = 0; i < n; i++) {
                    q[i] = data.getInt(4 * i);
                }
            }
            default -> throw new IllegalArgumentException(path + ": cannot dequantize " + tensor);
        }
        return dequantize(q, tensor.shape(), tensor.quantization());
    }

    /**
     * {@code real = scale * (q - zero_point)} for a row-major tensor of {@code shape}, per tensor or per index
     * along {@code quantization.dimension()}.
     */
    public static float[] dequantize(long[] q, int[] shape, Quantization quantization) {
        long count = 1;
        for (int d : shape) {
            count *= d;
        }
        if (count != q.length) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " has " + count
                    + " elements, data " + q.length);
        }
        float[] out = new float[q.length];
        if (quantization.isPerTensor()) {
            double scale = quantization.scale()[0];
            long zero = quantization.zeroPoint()[0];
            for (int i = 0; i < q.length; i++) {
                out[i] = (float) (scale * (q[i] - zero));
            }
            return out;
        }
        int axis = quantization.dimension();
        if (axis < 0 || axis >= shape.length || shape[axis] != quantization.scale().length) {
            throw new IllegalArgumentException("per-channel quantization with " + quantization.scale().length
                    + " scales along axis " + axis + " does not fit shape " + Arrays.toString(shape));
        }
        int inner = 1;
        for (int d = axis + 1; d < shape.length; d++) {
            inner *= shape[d];
        }
        int channels = shape[axis];
        for (int i = 0; i < q.length; i++) {
            int c = (i / inner) % channels;
            out[i] = (float) ((double) quantization.scale()[c] * (q[i] - quantization.zeroPoint()[c]));
        }
        return out;
    }

    /** TFLite CONV_2D weights OHWI (row-major) -> DJL/PyTorch OIHW. */
    public static float[] ohwiToOihw(float[] ohwi, int o, int h, int w, int i) {
        if (ohwi.length != (long) o * h * w * i) {
            throw new IllegalArgumentException("OHWI data has " + ohwi.length + " values, shape needs "
                    + ((long) o * h * w * i));
        }
        float[] oihw = new float[ohwi.length];
        for (int oo = 0; oo < o; oo++) {
            for (int hh = 0; hh < h; hh++) {
                for (int ww = 0; ww < w; ww++) {
                    int src = ((oo * h + hh) * w + ww) * i;
                    for (int ii = 0; ii < i; ii++) {
                        oihw[((oo * i + ii) * h + hh) * w + ww] = ohwi[src + ii];
                    }
                }
            }
        }
        return oihw;
    }

    /**
     * TFLite DEPTHWISE_CONV_2D weights {@code [1, H, W, C]} (C = channels * multiplier; output channel k reads
     * input channel k / multiplier) -> DJL's grouped conv weight {@code (C, 1, H, W)}, groups = input channels.
     */
    public static float[] depthwiseToDjl(float[] ihwc, int h, int w, int c) {
        if (ihwc.length != (long) h * w * c) {
            throw new IllegalArgumentException("depthwise data has " + ihwc.length + " values, shape needs "
                    + ((long) h * w * c));
        }
        float[] out = new float[ihwc.length];
        for (int hh = 0; hh < h; hh++) {
            for (int ww = 0; ww < w; ww++) {
                int src = (hh * w + ww) * c;
                for (int cc = 0; cc < c; cc++) {
                    out[(cc * h + hh) * w + ww] = ihwc[src + cc];
                }
            }
        }
        return out;
    }

    private static int bytesPerElement(byte type) {
        return switch (type) {
            case TensorType.FLOAT32, TensorType.INT32 -> 4;
            case TensorType.UINT8, TensorType.INT8, TensorType.BOOL -> 1;
            case TensorType.INT64, TensorType.COMPLEX64 -> 8;
            case TensorType.FLOAT16, TensorType.INT16 -> 2;
            default -> throw new IllegalArgumentException("no fixed element size for " + TensorType.name(type));
        };
    }

    private static Quantization quantizationOf(TfliteSchema.Tensor t) {
        TfliteSchema.QuantizationParameters q = t.quantization();
        if (q == null || q.scaleLength() == 0) {
            return null;
        }
        if (q.detailsType() != 0) {
            throw new IllegalArgumentException("tensor " + t.name() + " uses custom quantization details");
        }
        float[] scale = new float[q.scaleLength()];
        for (int i = 0; i < scale.length; i++) {
            scale[i] = q.scale(i);
        }
        long[] zero = new long[scale.length];
        int zeroCount = q.zeroPointLength();
        for (int i = 0; i < zero.length; i++) {
            // an absent zero-point vector means symmetric quantization; one zero point may serve all scales
            zero[i] = zeroCount == 0 ? 0 : q.zeroPoint(zeroCount == 1 ? 0 : i);
        }
        return new Quantization(scale, zero, q.quantizedDimension());
    }

    private List<Op> readOperators() {
        int codes = model.operatorCodesLength();
        List<Op> ops = new ArrayList<>(graph.operatorsLength());
        for (int k = 0; k < graph.operatorsLength(); k++) {
            TfliteSchema.Operator op = graph.operators(k);
            long opcodeIndex = op.opcodeIndex();
            if (opcodeIndex >= codes) {
                throw new IllegalArgumentException(path + ": operator " + k + " has opcode index " + opcodeIndex
                        + " of " + codes);
            }
            int code = model.operatorCodes((int) opcodeIndex).builtinCode();
            int[] in = new int[op.inputsLength()];
            for (int i = 0; i < in.length; i++) {
                in[i] = op.inputs(i);
            }
            int[] out = new int[op.outputsLength()];
            for (int i = 0; i < out.length; i++) {
                out[i] = op.outputs(i);
            }
            int strideH = 0;
            int strideW = 0;
            byte padding = 0;
            byte activation = Activation.NONE;
            int multiplier = 0;
            int filterH = 0;
            int filterW = 0;
            if (code == BuiltinOperator.CONV_2D) {
                TfliteSchema.Conv2DOptions o = op.conv2DOptions();
                requireOptions(o, k, code);
                if (o.dilationHFactor() != 1 || o.dilationWFactor() != 1) {
                    throw new IllegalArgumentException(path + ": dilated convolution at operator " + k);
                }
                strideH = o.strideH();
                strideW = o.strideW();
                padding = o.padding();
                activation = o.fusedActivationFunction();
            } else if (code == BuiltinOperator.DEPTHWISE_CONV_2D) {
                TfliteSchema.DepthwiseConv2DOptions o = op.depthwiseConv2DOptions();
                requireOptions(o, k, code);
                if (o.dilationHFactor() != 1 || o.dilationWFactor() != 1) {
                    throw new IllegalArgumentException(path + ": dilated convolution at operator " + k);
                }
                strideH = o.strideH();
                strideW = o.strideW();
                padding = o.padding();
                activation = o.fusedActivationFunction();
                multiplier = o.depthMultiplier();
            } else if (code == BuiltinOperator.AVERAGE_POOL_2D) {
                TfliteSchema.Pool2DOptions o = op.pool2DOptions();
                requireOptions(o, k, code);
                strideH = o.strideH();
                strideW = o.strideW();
                padding = o.padding();
                activation = o.fusedActivationFunction();
                filterH = o.filterHeight();
                filterW = o.filterWidth();
            }
            ops.add(new Op(k, code, in, out, strideH, strideW, padding, activation, multiplier, filterH, filterW));
        }
        return ops;
    }

    private void requireOptions(Object options, int k, int code) {
        if (options == null) {
            throw new IllegalArgumentException(path + ": operator " + k + " (" + BuiltinOperator.name(code)
                    + ") has no options table");
        }
    }

    /** A one-line-per-operator dump, for the command's output and for debugging. */
    public String summary() {
        StringBuilder sb = new StringBuilder();
        sb.append(path.getFileName()).append(": ").append(operators.size()).append(" operators, ")
                .append(tensorCount()).append(" tensors\n");
        for (int in : inputTensors()) {
            sb.append("  input  ").append(tensor(in)).append('\n');
        }
        for (int out : outputTensors()) {
            sb.append("  output ").append(tensor(out)).append('\n');
        }
        for (Op op : operators) {
            sb.append("  ").append(op).append('\n');
        }
        return sb.toString();
    }
}
