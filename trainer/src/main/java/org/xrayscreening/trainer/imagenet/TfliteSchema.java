package org.xrayscreening.trainer.imagenet;

import com.google.flatbuffers.Table;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Read-only accessors for the few tables of the TensorFlow Lite flatbuffer schema
 * ({@code tensorflow/lite/schema/schema.fbs}, file identifier {@code "TFL3"}) that importing a MobileNet needs:
 * {@link Model}, {@link SubGraph}, {@link Tensor}, {@link Buffer}, {@link QuantizationParameters},
 * {@link Operator}, {@link OperatorCode} and the options of the convolution and pooling operators.
 *
 * <p>Why hand-written: no maintained Java artifact of the TFLite schema is served by the package registries
 * this project can reach (the TFLite Java runtime is an Android AAR outside Maven Central), and Debian ships no
 * copy of {@code schema.fbs} to run {@code flatc} on. So these classes are written the way {@code flatc --java}
 * writes them: subclasses of the flatbuffers library's {@link Table}, whose {@code __offset}, {@code __vector},
 * {@code __indirect} and {@code __union} do all the byte-level work (vtable lookup, bounds of vectors, offsets
 * to sub-tables); this is not a hand-written byte parser. Each accessor's vtable slot is
 * {@code 4 + 2 * (field index)}, with the field index counted in declaration order in {@code schema.fbs}, where a
 * union field takes two indices (its {@code _type} byte, then the value). Absent fields return the schema's
 * default. Only fields used by the importer are exposed; new schema fields are appended at the end, so older and
 * newer files read the same.
 */
public final class TfliteSchema {
    /** {@code file_identifier "TFL3"}. */
    public static final String FILE_IDENTIFIER = "TFL3";

    private TfliteSchema() {}

    /** vtable slot of the field with the given declaration index. */
    private static int slot(int fieldIndex) {
        return 4 + 2 * fieldIndex;
    }

    /** {@code enum TensorType : byte}. */
    public static final class TensorType {
        public static final byte FLOAT32 = 0;
        public static final byte FLOAT16 = 1;
        public static final byte INT32 = 2;
        public static final byte UINT8 = 3;
        public static final byte INT64 = 4;
        public static final byte STRING = 5;
        public static final byte BOOL = 6;
        public static final byte INT16 = 7;
        public static final byte COMPLEX64 = 8;
        public static final byte INT8 = 9;

        private static final String[] NAMES = {
            "FLOAT32", "FLOAT16", "INT32", "UINT8", "INT64", "STRING", "BOOL", "INT16", "COMPLEX64", "INT8"};

        private TensorType() {}

        public static String name(int type) {
            return type >= 0 && type < NAMES.length ? NAMES[type] : "TensorType(" + type + ")";
        }
    }

    /** The {@code BuiltinOperator} codes the importer looks at. */
    public static final class BuiltinOperator {
        public static final int ADD = 0;
        public static final int AVERAGE_POOL_2D = 1;
        public static final int CONV_2D = 3;
        public static final int DEPTHWISE_CONV_2D = 4;
        public static final int DEQUANTIZE = 6;
        public static final int FULLY_CONNECTED = 9;
        public static final int RELU6 = 21;
        public static final int RESHAPE = 22;
        public static final int SOFTMAX = 25;
        public static final int PAD = 34;
        public static final int MEAN = 40;
        public static final int SQUEEZE = 43;
        public static final int QUANTIZE = 114;

        private BuiltinOperator() {}

        public static String name(int code) {
            return switch (code) {
                case ADD -> "ADD";
                case AVERAGE_POOL_2D -> "AVERAGE_POOL_2D";
                case CONV_2D -> "CONV_2D";
                case DEPTHWISE_CONV_2D -> "DEPTHWISE_CONV_2D";
                case DEQUANTIZE -> "DEQUANTIZE";
                case FULLY_CONNECTED -> "FULLY_CONNECTED";
                case RELU6 -> "RELU6";
                case RESHAPE -> "RESHAPE";
                case SOFTMAX -> "SOFTMAX";
                case PAD -> "PAD";
                case MEAN -> "MEAN";
                case SQUEEZE -> "SQUEEZE";
                case QUANTIZE -> "QUANTIZE";
                default -> "BuiltinOperator(" + code + ")";
            };
        }
    }

    /** {@code union BuiltinOptions}: the type tags of the option tables read here (1-based, 0 = NONE). */
    public static final class BuiltinOptionsType {
        public static final byte NONE = 0;
        public static final byte CONV_2D_OPTIONS = 1;
        public static final byte DEPTHWISE_CONV_2D_OPTIONS = 2;
        public static final byte POOL_2D_OPTIONS = 5;

        private BuiltinOptionsType() {}
    }

    /** {@code enum Padding : byte { SAME, VALID }}. */
    public static final class Padding {
        public static final byte SAME = 0;
        public static final byte VALID = 1;

        private Padding() {}

        public static String name(int padding) {
            return padding == SAME ? "SAME" : padding == VALID ? "VALID" : "Padding(" + padding + ")";
        }
    }

    /** {@code enum ActivationFunctionType : byte}. */
    public static final class Activation {
        public static final byte NONE = 0;
        public static final byte RELU = 1;
        public static final byte RELU_N1_TO_1 = 2;
        public static final byte RELU6 = 3;
        public static final byte TANH = 4;
        public static final byte SIGN_BIT = 5;

        private Activation() {}

        public static String name(int activation) {
            return switch (activation) {
                case NONE -> "NONE";
                case RELU -> "RELU";
                case RELU_N1_TO_1 -> "RELU_N1_TO_1";
                case RELU6 -> "RELU6";
                case TANH -> "TANH";
                case SIGN_BIT -> "SIGN_BIT";
                default -> "Activation(" + activation + ")";
            };
        }
    }

    /**
     * {@code table Model}: version (0), operator_codes (1), subgraphs (2), description (3), buffers (4),
     * metadata_buffer (5), ...
     */
    public static final class Model extends Table {
        /** Points this accessor at the table at absolute position {@code i} of {@code bb}, as flatc does. */
        public Model __assign(int i, ByteBuffer bb) {
            __reset(i, bb);
            return this;
        }

        /** The root table of a TFLite file; sets the buffer to little-endian, as flatbuffers requires. */
        public static Model getRootAsModel(ByteBuffer bb) {
            bb.order(ByteOrder.LITTLE_ENDIAN);
            return new Model().__assign(bb.getInt(bb.position()) + bb.position(), bb);
        }

        /** Whether the buffer carries TFLite's file identifier {@value TfliteSchema#FILE_IDENTIFIER}. */
        public static boolean hasIdentifier(ByteBuffer bb) {
            return __has_identifier(bb, FILE_IDENTIFIER);
        }

        public long version() {
            int o = __offset(slot(0));
            return o != 0 ? Integer.toUnsignedLong(bb.getInt(o + bb_pos)) : 0L;
        }

        public int operatorCodesLength() {
            int o = __offset(slot(1));
            return o != 0 ? __vector_len(o) : 0;
        }

        public OperatorCode operatorCodes(int j) {
            int o = __offset(slot(1));
            if (o == 0) {
                return null;
            }
            return new OperatorCode().__assign(__indirect(__vector(o) + j * 4), bb);
        }

        public int subgraphsLength() {
            int o = __offset(slot(2));
            return o != 0 ? __vector_len(o) : 0;
        }

        public SubGraph subgraphs(int j) {
            int o = __offset(slot(2));
            if (o == 0) {
                return null;
            }
            return new SubGraph().__assign(__indirect(__vector(o) + j * 4), bb);
        }

        public String description() {
            int o = __offset(slot(3));
            return o != 0 ? __string(o + bb_pos) : null;
        }

        public int buffersLength() {
            int o = __offset(slot(4));
            return o != 0 ? __vector_len(o) : 0;
        }

        public Buffer buffers(int j) {
            int o = __offset(slot(4));
            if (o == 0) {
                return null;
            }
            return new Buffer().__assign(__indirect(__vector(o) + j * 4), bb);
        }
    }

    /**
     * {@code table OperatorCode}: deprecated_builtin_code:byte (0), custom_code (1), version (2),
     * builtin_code:int (3). In schema versions before 2.3 field 0 was {@code builtin_code:byte}; later files
     * write codes above 127 into field 3 only, so the code is the larger of the two (as TFLite's own
     * {@code GetBuiltinCode} does).
     */
    public static final class OperatorCode extends Table {
        /** Points this accessor at the table at absolute position {@code i} of {@code bb}, as flatc does. */
        public OperatorCode __assign(int i, ByteBuffer bb) {
            __reset(i, bb);
            return this;
        }

        public byte deprecatedBuiltinCode() {
            int o = __offset(slot(0));
            return o != 0 ? bb.get(o + bb_pos) : 0;
        }

        public String customCode() {
            int o = __offset(slot(1));
            return o != 0 ? __string(o + bb_pos) : null;
        }

        public int version() {
            int o = __offset(slot(2));
            return o != 0 ? bb.getInt(o + bb_pos) : 1;
        }

        public int builtinCodeField() {
            int o = __offset(slot(3));
            return o != 0 ? bb.getInt(o + bb_pos) : 0;
        }

        /** The operator's {@link BuiltinOperator} code. */
        public int builtinCode() {
            return Math.max(deprecatedBuiltinCode(), builtinCodeField());
        }
    }

    /** {@code table SubGraph}: tensors (0), inputs (1), outputs (2), operators (3), name (4). */
    public static final class SubGraph extends Table {
        /** Points this accessor at the table at absolute position {@code i} of {@code bb}, as flatc does. */
        public SubGraph __assign(int i, ByteBuffer bb) {
            __reset(i, bb);
            return this;
        }

        public int tensorsLength() {
            int o = __offset(slot(0));
            return o != 0 ? __vector_len(o) : 0;
        }

        public Tensor tensors(int j) {
            int o = __offset(slot(0));
            if (o == 0) {
                return null;
            }
            return new Tensor().__assign(__indirect(__vector(o) + j * 4), bb);
        }

        public int inputsLength() {
            int o = __offset(slot(1));
            return o != 0 ? __vector_len(o) : 0;
        }

        public int inputs(int j) {
            int o = __offset(slot(1));
            return o != 0 ? bb.getInt(__vector(o) + j * 4) : 0;
        }

        public int outputsLength() {
            int o = __offset(slot(2));
            return o != 0 ? __vector_len(o) : 0;
        }

        public int outputs(int j) {
            int o = __offset(slot(2));
            return o != 0 ? bb.getInt(__vector(o) + j * 4) : 0;
        }

        public int operatorsLength() {
            int o = __offset(slot(3));
            return o != 0 ? __vector_len(o) : 0;
        }

        public Operator operators(int j) {
            int o = __offset(slot(3));
            if (o == 0) {
                return null;
            }
            return new Operator().__assign(__indirect(__vector(o) + j * 4), bb);
        }

        public String name() {
            int o = __offset(slot(4));
            return o != 0 ? __string(o + bb_pos) : null;
        }
    }

    /**
     * {@code table Tensor}: shape (0), type (1), buffer (2), name (3), quantization (4), is_variable (5), ...
     */
    public static final class Tensor extends Table {
        /** Points this accessor at the table at absolute position {@code i} of {@code bb}, as flatc does. */
        public Tensor __assign(int i, ByteBuffer bb) {
            __reset(i, bb);
            return this;
        }

        public int shapeLength() {
            int o = __offset(slot(0));
            return o != 0 ? __vector_len(o) : 0;
        }

        public int shape(int j) {
            int o = __offset(slot(0));
            return o != 0 ? bb.getInt(__vector(o) + j * 4) : 0;
        }

        /** The whole shape (NHWC for activations, OHWI for conv weights, [1, H, W, C] for depthwise weights). */
        public int[] shapeArray() {
            int[] s = new int[shapeLength()];
            for (int i = 0; i < s.length; i++) {
                s[i] = shape(i);
            }
            return s;
        }

        /** A {@link TensorType} code. */
        public byte type() {
            int o = __offset(slot(1));
            return o != 0 ? bb.get(o + bb_pos) : 0;
        }

        /** Index into {@link Model#buffers(int)}; 0 is the always-empty sentinel (no constant data). */
        public long buffer() {
            int o = __offset(slot(2));
            return o != 0 ? Integer.toUnsignedLong(bb.getInt(o + bb_pos)) : 0L;
        }

        public String name() {
            int o = __offset(slot(3));
            return o != 0 ? __string(o + bb_pos) : null;
        }

        /** Null when the tensor is not quantized. */
        public QuantizationParameters quantization() {
            int o = __offset(slot(4));
            if (o == 0) {
                return null;
            }
            return new QuantizationParameters().__assign(__indirect(o + bb_pos), bb);
        }
    }

    /**
     * {@code table QuantizationParameters}: min (0), max (1), scale (2), zero_point:[long] (3),
     * details_type (4), details (5), quantized_dimension (6). Real value = scale * (q - zero_point).
     */
    public static final class QuantizationParameters extends Table {
        /** Points this accessor at the table at absolute position {@code i} of {@code bb}, as flatc does. */
        public QuantizationParameters __assign(int i, ByteBuffer bb) {
            __reset(i, bb);
            return this;
        }

        public int minLength() {
            int o = __offset(slot(0));
            return o != 0 ? __vector_len(o) : 0;
        }

        public float min(int j) {
            int o = __offset(slot(0));
            return o != 0 ? bb.getFloat(__vector(o) + j * 4) : 0f;
        }

        public int maxLength() {
            int o = __offset(slot(1));
            return o != 0 ? __vector_len(o) : 0;
        }

        public float max(int j) {
            int o = __offset(slot(1));
            return o != 0 ? bb.getFloat(__vector(o) + j * 4) : 0f;
        }

        public int scaleLength() {
            int o = __offset(slot(2));
            return o != 0 ? __vector_len(o) : 0;
        }

        public float scale(int j) {
            int o = __offset(slot(2));
            return o != 0 ? bb.getFloat(__vector(o) + j * 4) : 0f;
        }

        public int zeroPointLength() {
            int o = __offset(slot(3));
            return o != 0 ? __vector_len(o) : 0;
        }

        public long zeroPoint(int j) {
            int o = __offset(slot(3));
            return o != 0 ? bb.getLong(__vector(o) + j * 8) : 0L;
        }

        /** The union tag of {@code details}; non-zero means a custom quantization the importer cannot read. */
        public byte detailsType() {
            int o = __offset(slot(4));
            return o != 0 ? bb.get(o + bb_pos) : 0;
        }

        public int quantizedDimension() {
            int o = __offset(slot(6));
            return o != 0 ? bb.getInt(o + bb_pos) : 0;
        }
    }

    /**
     * {@code table Buffer}: data:[ubyte] (0), offset:ulong (1), size:ulong (2). Files over 2 GB keep the data
     * outside the flatbuffer (offset/size); MobileNet files never do.
     */
    public static final class Buffer extends Table {
        /** Points this accessor at the table at absolute position {@code i} of {@code bb}, as flatc does. */
        public Buffer __assign(int i, ByteBuffer bb) {
            __reset(i, bb);
            return this;
        }

        public int dataLength() {
            int o = __offset(slot(0));
            return o != 0 ? __vector_len(o) : 0;
        }

        /** A little-endian view of the data bytes (position 0 .. dataLength), or null if there are none. */
        public ByteBuffer dataAsByteBuffer() {
            ByteBuffer view = __vector_as_bytebuffer(slot(0), 1);
            return view == null ? null : view.slice().order(ByteOrder.LITTLE_ENDIAN);
        }

        public long offset() {
            int o = __offset(slot(1));
            return o != 0 ? bb.getLong(o + bb_pos) : 0L;
        }
    }

    /**
     * {@code table Operator}: opcode_index (0), inputs (1), outputs (2), builtin_options_type (3),
     * builtin_options (4), custom_options (5), ...
     */
    public static final class Operator extends Table {
        /** Points this accessor at the table at absolute position {@code i} of {@code bb}, as flatc does. */
        public Operator __assign(int i, ByteBuffer bb) {
            __reset(i, bb);
            return this;
        }

        public long opcodeIndex() {
            int o = __offset(slot(0));
            return o != 0 ? Integer.toUnsignedLong(bb.getInt(o + bb_pos)) : 0L;
        }

        public int inputsLength() {
            int o = __offset(slot(1));
            return o != 0 ? __vector_len(o) : 0;
        }

        /** Tensor index of input {@code j}; -1 marks an omitted optional input. */
        public int inputs(int j) {
            int o = __offset(slot(1));
            return o != 0 ? bb.getInt(__vector(o) + j * 4) : 0;
        }

        public int outputsLength() {
            int o = __offset(slot(2));
            return o != 0 ? __vector_len(o) : 0;
        }

        public int outputs(int j) {
            int o = __offset(slot(2));
            return o != 0 ? bb.getInt(__vector(o) + j * 4) : 0;
        }

        /** A {@link BuiltinOptionsType} tag. */
        public byte builtinOptionsType() {
            int o = __offset(slot(3));
            return o != 0 ? bb.get(o + bb_pos) : 0;
        }

        /** Fills {@code obj} with the options table (the caller picks the class from the type tag). */
        public <T extends Table> T builtinOptions(T obj) {
            int o = __offset(slot(4));
            if (o == 0) {
                return null;
            }
            __union(obj, o + bb_pos);
            return obj;
        }

        public Conv2DOptions conv2DOptions() {
            return builtinOptionsType() == BuiltinOptionsType.CONV_2D_OPTIONS
                    ? builtinOptions(new Conv2DOptions()) : null;
        }

        public DepthwiseConv2DOptions depthwiseConv2DOptions() {
            return builtinOptionsType() == BuiltinOptionsType.DEPTHWISE_CONV_2D_OPTIONS
                    ? builtinOptions(new DepthwiseConv2DOptions()) : null;
        }

        public Pool2DOptions pool2DOptions() {
            return builtinOptionsType() == BuiltinOptionsType.POOL_2D_OPTIONS
                    ? builtinOptions(new Pool2DOptions()) : null;
        }
    }

    /**
     * {@code table Conv2DOptions}: padding (0), stride_w (1), stride_h (2), fused_activation_function (3),
     * dilation_w_factor (4, default 1), dilation_h_factor (5, default 1).
     */
    public static final class Conv2DOptions extends Table {
        /** Points this accessor at the table at absolute position {@code i} of {@code bb}, as flatc does. */
        public Conv2DOptions __assign(int i, ByteBuffer bb) {
            __reset(i, bb);
            return this;
        }

        public byte padding() {
            int o = __offset(slot(0));
            return o != 0 ? bb.get(o + bb_pos) : 0;
        }

        public int strideW() {
            int o = __offset(slot(1));
            return o != 0 ? bb.getInt(o + bb_pos) : 0;
        }

        public int strideH() {
            int o = __offset(slot(2));
            return o != 0 ? bb.getInt(o + bb_pos) : 0;
        }

        public byte fusedActivationFunction() {
            int o = __offset(slot(3));
            return o != 0 ? bb.get(o + bb_pos) : 0;
        }

        public int dilationWFactor() {
            int o = __offset(slot(4));
            return o != 0 ? bb.getInt(o + bb_pos) : 1;
        }

        public int dilationHFactor() {
            int o = __offset(slot(5));
            return o != 0 ? bb.getInt(o + bb_pos) : 1;
        }
    }

    /**
     * {@code table DepthwiseConv2DOptions}: padding (0), stride_w (1), stride_h (2), depth_multiplier (3),
     * fused_activation_function (4), dilation_w_factor (5, default 1), dilation_h_factor (6, default 1).
     */
    public static final class DepthwiseConv2DOptions extends Table {
        /** Points this accessor at the table at absolute position {@code i} of {@code bb}, as flatc does. */
        public DepthwiseConv2DOptions __assign(int i, ByteBuffer bb) {
            __reset(i, bb);
            return this;
        }

        public byte padding() {
            int o = __offset(slot(0));
            return o != 0 ? bb.get(o + bb_pos) : 0;
        }

        public int strideW() {
            int o = __offset(slot(1));
            return o != 0 ? bb.getInt(o + bb_pos) : 0;
        }

        public int strideH() {
            int o = __offset(slot(2));
            return o != 0 ? bb.getInt(o + bb_pos) : 0;
        }

        public int depthMultiplier() {
            int o = __offset(slot(3));
            return o != 0 ? bb.getInt(o + bb_pos) : 0;
        }

        public byte fusedActivationFunction() {
            int o = __offset(slot(4));
            return o != 0 ? bb.get(o + bb_pos) : 0;
        }

        public int dilationWFactor() {
            int o = __offset(slot(5));
            return o != 0 ? bb.getInt(o + bb_pos) : 1;
        }

        public int dilationHFactor() {
            int o = __offset(slot(6));
            return o != 0 ? bb.getInt(o + bb_pos) : 1;
        }
    }

    /**
     * {@code table Pool2DOptions}: padding (0), stride_w (1), stride_h (2), filter_width (3),
     * filter_height (4), fused_activation_function (5).
     */
    public static final class Pool2DOptions extends Table {
        /** Points this accessor at the table at absolute position {@code i} of {@code bb}, as flatc does. */
        public Pool2DOptions __assign(int i, ByteBuffer bb) {
            __reset(i, bb);
            return this;
        }

        public byte padding() {
            int o = __offset(slot(0));
            return o != 0 ? bb.get(o + bb_pos) : 0;
        }

        public int strideW() {
            int o = __offset(slot(1));
            return o != 0 ? bb.getInt(o + bb_pos) : 0;
        }

        public int strideH() {
            int o = __offset(slot(2));
            return o != 0 ? bb.getInt(o + bb_pos) : 0;
        }

        public int filterWidth() {
            int o = __offset(slot(3));
            return o != 0 ? bb.getInt(o + bb_pos) : 0;
        }

        public int filterHeight() {
            int o = __offset(slot(4));
            return o != 0 ? bb.getInt(o + bb_pos) : 0;
        }

        public byte fusedActivationFunction() {
            int o = __offset(slot(5));
            return o != 0 ? bb.get(o + bb_pos) : 0;
        }
    }
}
