package org.xrayscreening.trainer.imagenet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import com.google.flatbuffers.FlatBufferBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xrayscreening.trainer.imagenet.TfliteFile.Op;
import org.xrayscreening.trainer.imagenet.TfliteFile.Quantization;
import org.xrayscreening.trainer.imagenet.TfliteFile.TensorInfo;
import org.xrayscreening.trainer.imagenet.TfliteSchema.Activation;
import org.xrayscreening.trainer.imagenet.TfliteSchema.BuiltinOperator;
import org.xrayscreening.trainer.imagenet.TfliteSchema.Padding;
import org.xrayscreening.trainer.imagenet.TfliteSchema.TensorType;

/** Dequantization, layout transposes, and the schema accessors on a small flatbuffer built here. */
class TfliteFileTest {

    @Test
    void dequantizesPerTensorAsScaleTimesCodeMinusZeroPoint() {
        long[] q = {0, 1, 127, 128, 255};
        float[] real = TfliteFile.dequantize(q, new int[] {5}, Quantization.perTensor(0.0078125f, 128));
        assertThat(real).containsExactly(-1f, -0.9921875f, -0.0078125f, 0f, 0.9921875f);
    }

    @Test
    void dequantizesPerChannelAlongTheQuantizedDimension() {
        // shape [2, 3]: row 0 uses (scale 1, zero 0), row 1 (scale 0.5, zero 10)
        long[] q = {1, 2, 3, 10, 12, 14};
        Quantization perChannel = new Quantization(new float[] {1f, 0.5f}, new long[] {0, 10}, 0);
        assertThat(TfliteFile.dequantize(q, new int[] {2, 3}, perChannel)).containsExactly(1f, 2f, 3f, 0f, 1f, 2f);
        // the same scales along axis 1 of a [3, 2] tensor: columns alternate
        assertThat(TfliteFile.dequantize(new long[] {1, 10, 2, 12, 3, 14}, new int[] {3, 2},
                new Quantization(new float[] {1f, 0.5f}, new long[] {0, 10}, 1)))
                .containsExactly(1f, 0f, 2f, 1f, 3f, 2f);
        assertThatThrownBy(() -> TfliteFile.dequantize(q, new int[] {3, 2}, perChannel))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void transposesOhwiToOihw() {
        int o = 2;
        int h = 2;
        int w = 3;
        int i = 4;
        float[] ohwi = new float[o * h * w * i];
        for (int a = 0; a < o; a++) {
            for (int b = 0; b < h; b++) {
                for (int c = 0; c < w; c++) {
                    for (int d = 0; d < i; d++) {
                        ohwi[((a * h + b) * w + c) * i + d] = code(a, b, c, d);
                    }
                }
            }
        }
        float[] oihw = TfliteFile.ohwiToOihw(ohwi, o, h, w, i);
        for (int a = 0; a < o; a++) {
            for (int d = 0; d < i; d++) {
                for (int b = 0; b < h; b++) {
                    for (int c = 0; c < w; c++) {
                        assertThat(oihw[((a * i + d) * h + b) * w + c]).isEqualTo(code(a, b, c, d));
                    }
                }
            }
        }
        // a 1x1 kernel is the identity on the data: [O, 1, 1, I] and (O, I, 1, 1) are both (O, I) row-major
        float[] pointwise = {1, 2, 3, 4, 5, 6};
        assertThat(TfliteFile.ohwiToOihw(pointwise, 2, 1, 1, 3)).containsExactly(pointwise);
        assertThatThrownBy(() -> TfliteFile.ohwiToOihw(pointwise, 2, 2, 1, 3))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void transposesDepthwiseFromOneHwcToCOneHw() {
        // [1, 2, 2, 3]: value = 100 * channel + 10 * row + column
        float[] ihwc = new float[12];
        for (int r = 0; r < 2; r++) {
            for (int col = 0; col < 2; col++) {
                for (int ch = 0; ch < 3; ch++) {
                    ihwc[(r * 2 + col) * 3 + ch] = 100 * ch + 10 * r + col;
                }
            }
        }
        assertThat(TfliteFile.depthwiseToDjl(ihwc, 2, 2, 3))
                .containsExactly(0, 1, 10, 11, 100, 101, 110, 111, 200, 201, 210, 211);
    }

    @Test
    void readsTablesOfAHandBuiltFlatbuffer(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("tiny.tflite");
        Files.write(file, tinyModel());

        TfliteFile tflite = TfliteFile.read(file);
        assertThat(tflite.description()).isEqualTo("tiny");
        assertThat(tflite.inputTensors()).containsExactly(0);
        assertThat(tflite.outputTensors()).containsExactly(3);
        assertThat(tflite.operators()).hasSize(2);

        Op conv = tflite.operators().get(0);
        assertThat(conv.builtinCode()).isEqualTo(BuiltinOperator.CONV_2D);
        assertThat(conv.inputs()).containsExactly(0, 1, 2);
        assertThat(conv.outputs()).containsExactly(3);
        assertThat(conv.strideH()).isEqualTo(2);
        assertThat(conv.strideW()).isEqualTo(1);
        assertThat(conv.padding()).isEqualTo(Padding.VALID);
        assertThat(conv.activation()).isEqualTo(Activation.RELU6);
        // an operator code written only into the newer builtin_code field (slot 3)
        Op pool = tflite.operators().get(1);
        assertThat(pool.builtinCode()).isEqualTo(BuiltinOperator.AVERAGE_POOL_2D);
        assertThat(pool.filterH()).isEqualTo(4);
        assertThat(pool.filterW()).isEqualTo(5);

        TensorInfo weight = tflite.tensor(1);
        assertThat(weight.name()).isEqualTo("weight");
        assertThat(weight.type()).isEqualTo(TensorType.UINT8);
        assertThat(weight.shape()).containsExactly(2, 1, 1, 3);
        assertThat(weight.quantization().scale()).containsExactly(0.25f);
        assertThat(weight.quantization().zeroPoint()).containsExactly(10L);
        assertThat(tflite.dequantize(weight)).containsExactly(-2.5f, -2.25f, 0f, 0.25f, 58.75f, 61.25f);

        TensorInfo bias = tflite.tensor(2);
        assertThat(bias.type()).isEqualTo(TensorType.INT32);
        // int32 bias: real = input_scale (0.5) * weight_scale (0.25) * q
        float[] realBias = TfliteMobileNetImporter.dequantizeBias(tflite, bias, tflite.tensor(0), weight);
        assertThat(realBias[0]).isCloseTo(-1000 * 0.125f, within(1e-6f));
        assertThat(realBias[1]).isCloseTo(7 * 0.125f, within(1e-6f));

        assertThatThrownBy(() -> tflite.constantData(tflite.tensor(0)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no constant data");
    }

    @Test
    void refusesAFileWithoutTheTfliteIdentifier(@TempDir Path dir) throws Exception {
        byte[] bytes = tinyModel();
        bytes[4] = 'X';
        Path file = dir.resolve("not.tflite");
        Files.write(file, bytes);
        assertThatThrownBy(() -> TfliteFile.read(file))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("TFL3");
    }

    private static float code(int a, int b, int c, int d) {
        return 1000 * a + 100 * b + 10 * c + d;
    }

    /**
     * A model with one CONV_2D (uint8 weights [2,1,1,3], int32 bias) and one AVERAGE_POOL_2D, written with the
     * flatbuffers builder at the schema's field indices (independently of the accessors under test).
     */
    private static byte[] tinyModel() {
        FlatBufferBuilder b = new FlatBufferBuilder(1024);
        // buffers: 0 = empty sentinel, 1 = weights, 2 = bias
        int empty = buffer(b, null);
        int weights = buffer(b, new byte[] {0, 1, 10, 11, (byte) 245, (byte) 255});
        java.nio.ByteBuffer biasBytes = java.nio.ByteBuffer.allocate(8).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        biasBytes.putInt(-1000).putInt(7);
        int bias = buffer(b, biasBytes.array());
        int buffers = b.createVectorOfTables(new int[] {empty, weights, bias});

        int t0 = tensor(b, "input", TensorType.UINT8, new int[] {1, 4, 4, 3}, 0, quant(b, 0.5f, 128));
        int t1 = tensor(b, "weight", TensorType.UINT8, new int[] {2, 1, 1, 3}, 1, quant(b, 0.25f, 10));
        int t2 = tensor(b, "bias", TensorType.INT32, new int[] {2}, 2, quant(b, 0.125f, 0));
        int t3 = tensor(b, "output", TensorType.UINT8, new int[] {1, 2, 4, 2}, 0, quant(b, 0.1f, 0));
        int t4 = tensor(b, "pooled", TensorType.UINT8, new int[] {1, 1, 1, 2}, 0, quant(b, 0.1f, 0));
        int tensors = b.createVectorOfTables(new int[] {t0, t1, t2, t3, t4});

        // Conv2DOptions: padding (0), stride_w (1), stride_h (2), fused_activation_function (3)
        b.startTable(6);
        b.addInt(2, 2, 0);
        b.addInt(1, 1, 0);
        b.addByte(0, Padding.VALID, 0);
        b.addByte(3, Activation.RELU6, 0);
        int convOptions = b.endTable();
        // Pool2DOptions: padding (0), stride_w (1), stride_h (2), filter_width (3), filter_height (4)
        b.startTable(6);
        b.addInt(1, 1, 0);
        b.addInt(2, 1, 0);
        b.addInt(3, 5, 0);
        b.addInt(4, 4, 0);
        b.addByte(0, Padding.VALID, 0);
        int poolOptions = b.endTable();

        int convOp = operator(b, 0, new int[] {0, 1, 2}, new int[] {3}, (byte) 1, convOptions);
        int poolOp = operator(b, 1, new int[] {3}, new int[] {4}, (byte) 5, poolOptions);
        int operators = b.createVectorOfTables(new int[] {convOp, poolOp});

        int inputs = intVector(b, new int[] {0});
        int outputs = intVector(b, new int[] {3});
        int name = b.createString("main");
        // SubGraph: tensors (0), inputs (1), outputs (2), operators (3), name (4)
        b.startTable(5);
        b.addOffset(0, tensors, 0);
        b.addOffset(1, inputs, 0);
        b.addOffset(2, outputs, 0);
        b.addOffset(3, operators, 0);
        b.addOffset(4, name, 0);
        int subgraph = b.endTable();
        int subgraphs = b.createVectorOfTables(new int[] {subgraph});

        // OperatorCode: deprecated_builtin_code (0), custom_code (1), version (2), builtin_code (3)
        b.startTable(4);
        b.addByte(0, (byte) BuiltinOperator.CONV_2D, 0);
        int convCode = b.endTable();
        b.startTable(4);
        b.addInt(3, BuiltinOperator.AVERAGE_POOL_2D, 0);
        int poolCode = b.endTable();
        int codes = b.createVectorOfTables(new int[] {convCode, poolCode});

        int description = b.createString("tiny");
        // Model: version (0), operator_codes (1), subgraphs (2), description (3), buffers (4)
        b.startTable(5);
        b.addInt(0, 3, 0);
        b.addOffset(1, codes, 0);
        b.addOffset(2, subgraphs, 0);
        b.addOffset(3, description, 0);
        b.addOffset(4, buffers, 0);
        int model = b.endTable();
        b.finish(model, TfliteSchema.FILE_IDENTIFIER);
        return b.sizedByteArray();
    }

    private static int buffer(FlatBufferBuilder b, byte[] data) {
        int vector = data == null ? 0 : b.createByteVector(data);
        b.startTable(1);
        if (data != null) {
            b.addOffset(0, vector, 0);
        }
        return b.endTable();
    }

    private static int quant(FlatBufferBuilder b, float scale, long zeroPoint) {
        b.startVector(4, 1, 4);
        b.addFloat(scale);
        int scales = b.endVector();
        b.startVector(8, 1, 8);
        b.addLong(zeroPoint);
        int zeros = b.endVector();
        // QuantizationParameters: min (0), max (1), scale (2), zero_point (3)
        b.startTable(7);
        b.addOffset(2, scales, 0);
        b.addOffset(3, zeros, 0);
        return b.endTable();
    }

    private static int tensor(FlatBufferBuilder b, String name, byte type, int[] shape, int buffer, int quant) {
        int shapeVector = intVector(b, shape);
        int nameString = b.createString(name);
        // Tensor: shape (0), type (1), buffer (2), name (3), quantization (4)
        b.startTable(5);
        b.addOffset(0, shapeVector, 0);
        b.addInt(2, buffer, 0);
        b.addOffset(3, nameString, 0);
        b.addOffset(4, quant, 0);
        b.addByte(1, type, 0);
        return b.endTable();
    }

    private static int operator(FlatBufferBuilder b, int opcode, int[] in, int[] out, byte optionsType, int options) {
        int inputs = intVector(b, in);
        int outputs = intVector(b, out);
        // Operator: opcode_index (0), inputs (1), outputs (2), builtin_options_type (3), builtin_options (4)
        b.startTable(5);
        b.addInt(0, opcode, 0);
        b.addOffset(1, inputs, 0);
        b.addOffset(2, outputs, 0);
        b.addOffset(4, options, 0);
        b.addByte(3, optionsType, 0);
        return b.endTable();
    }

    private static int intVector(FlatBufferBuilder b, int[] values) {
        b.startVector(4, values.length, 4);
        for (int i = values.length - 1; i >= 0; i--) {
            b.addInt(values[i]);
        }
        return b.endVector();
    }
}
