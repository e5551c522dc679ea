package org.xrayscreening.trainer.imagenet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.BatchNorm;
import ai.djl.nn.pooling.Pool;
import ai.djl.training.ParameterStore;
import ai.djl.util.Pair;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xrayscreening.models.network.KerasBackbone;
import org.xrayscreening.models.network.ResNet50;

/**
 * The weight mapping on a small synthetic TF.js layers model: a two-conv "ResNet" stem written with Keras 2.2's
 * names and eps 1e-3, split over two shards, imported into a tiny {@link KerasBackbone} with today's names.
 */
class KerasResNet50ImporterTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final float BLOCK_EPS = ResNet50.BN_EPSILON;
    private static final double FILE_EPS = 1e-3;

    /** conv1_conv 3x3/2 3->4 (bias), conv1_bn, conv2_block1_1_conv 1x1 4->6 (bias), conv2_block1_1_bn. */
    static final class TinyResNet extends KerasBackbone {
        TinyResNet() {
            add(keras("conv1_conv", Conv2d.builder().setFilters(4).setKernelShape(new Shape(3, 3))
                    .optStride(new Shape(2, 2)).optPadding(new Shape(1, 1)).build()));
            add(keras("conv1_bn", BatchNorm.builder().optAxis(1).optEpsilon(BLOCK_EPS).build()));
            add(keras("conv2_block1_1_conv", Conv2d.builder().setFilters(6).setKernelShape(new Shape(1, 1)).build()));
            add(keras("conv2_block1_1_bn", BatchNorm.builder().optAxis(1).optEpsilon(BLOCK_EPS).build()));
        }

        @Override
        public int outputChannels() {
            return 6;
        }

        @Override
        public int minInputSize() {
            return 4;
        }
    }

    /** One layer of the synthetic file: name, Keras class, config fields and its weights in manifest order. */
    private record FileLayer(String name, String className, Map<String, Object> config, Map<String, int[]> weights) {}

    private static List<FileLayer> stem() {
        List<FileLayer> layers = new ArrayList<>();
        layers.add(new FileLayer("conv1", "Conv2D", Map.of("strides", List.of(2, 2), "kernel_size", List.of(3, 3)),
                ordered("kernel", new int[] {3, 3, 3, 4}, "bias", new int[] {4})));
        layers.add(new FileLayer("bn_conv1", "BatchNormalization", Map.of("epsilon", FILE_EPS), bn(4)));
        layers.add(new FileLayer("res2a_branch2a", "Conv2D", Map.of("strides", List.of(1, 1)),
                ordered("kernel", new int[] {1, 1, 4, 6}, "bias", new int[] {6})));
        layers.add(new FileLayer("bn2a_branch2a", "BatchNormalization", Map.of("epsilon", FILE_EPS), bn(6)));
        layers.add(new FileLayer("fc1000", "Dense", Map.of("units", 5),
                ordered("kernel", new int[] {6, 5}, "bias", new int[] {5})));
        return layers;
    }

    private static Map<String, int[]> bn(int c) {
        Map<String, int[]> m = new LinkedHashMap<>();
        for (String v : List.of("gamma", "beta", "moving_mean", "moving_variance")) {
            m.put(v, new int[] {c});
        }
        return m;
    }

    private static Map<String, int[]> ordered(String a, int[] sa, String b, int[] sb) {
        Map<String, int[]> m = new LinkedHashMap<>();
        m.put(a, sa);
        m.put(b, sb);
        return m;
    }

    /**
     * Writes model.json + two shards (the split falls inside a weight); returns the values by weight name.
     * Variances are positive; everything else is uniform in [-1, 1).
     */
    private static Map<String, float[]> write(Path dir, List<FileLayer> layers, long seed) throws IOException {
        Random random = new Random(seed);
        Map<String, float[]> values = new LinkedHashMap<>();
        ObjectNode root = JSON.createObjectNode();
        root.put("format", "layers-model");
        ObjectNode topology = root.putObject("modelTopology");
        topology.put("keras_version", "2.2.4-tf");
        ArrayNode layerNodes = topology.putObject("model_config").put("class_name", "Model")
                .putObject("config").putArray("layers");
        ArrayNode weightNodes = JSON.createArrayNode();
        ByteBuffer data = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
        for (FileLayer l : layers) {
            ObjectNode node = layerNodes.addObject().put("name", l.name()).put("class_name", l.className());
            ObjectNode config = node.putObject("config").put("name", l.name());
            l.config().forEach((k, v) -> config.set(k, JSON.valueToTree(v)));
            for (Map.Entry<String, int[]> w : l.weights().entrySet()) {
                String name = l.name() + "/" + w.getKey();
                ObjectNode wn = weightNodes.addObject().put("name", name).put("dtype", "float32");
                int count = 1;
                ArrayNode shape = wn.putArray("shape");
                for (int d : w.getValue()) {
                    shape.add(d);
                    count *= d;
                }
                float[] v = new float[count];
                for (int i = 0; i < count; i++) {
                    v[i] = w.getKey().equals("moving_variance") ? 0.01f + random.nextFloat() * 2f
                            : random.nextFloat() * 2f - 1f;
                    data.putFloat(v[i]);
                }
                values.put(name, v);
            }
        }
        byte[] all = java.util.Arrays.copyOf(data.array(), data.position());
        int split = 4 * 50 + 2; // inside conv1/kernel (108 values), not on a float boundary
        Files.createDirectories(dir);
        Files.write(dir.resolve("group1-shard1of2.bin"), java.util.Arrays.copyOfRange(all, 0, split));
        Files.write(dir.resolve("group1-shard2of2.bin"), java.util.Arrays.copyOfRange(all, split, all.length));
        ObjectNode group = root.putArray("weightsManifest").addObject();
        group.putArray("paths").add("group1-shard1of2.bin").add("group1-shard2of2.bin");
        group.set("weights", weightNodes);
        JSON.writerWithDefaultPrettyPrinter().writeValue(dir.resolve("model.json").toFile(), root);
        return values;
    }

    private static Block tinyClassifier() {
        return new SequentialBlock()
                .add(new TinyResNet())
                .add(Pool.globalAvgPool2dBlock())
                .add(Linear.builder().setUnits(5).build());
    }

    @Test
    void translatesKeras22LayerNamesToTodays() {
        assertThat(KerasResNet50Importer.projectLayerName("conv1")).isEqualTo("conv1_conv");
        assertThat(KerasResNet50Importer.projectLayerName("bn_conv1")).isEqualTo("conv1_bn");
        assertThat(KerasResNet50Importer.projectLayerName("res2a_branch1")).isEqualTo("conv2_block1_0_conv");
        assertThat(KerasResNet50Importer.projectLayerName("bn3d_branch2b")).isEqualTo("conv3_block4_2_bn");
        assertThat(KerasResNet50Importer.projectLayerName("res4f_branch2c")).isEqualTo("conv4_block6_3_conv");
        assertThat(KerasResNet50Importer.projectLayerName("bn5a_branch2a")).isEqualTo("conv5_block1_1_bn");
        assertThat(KerasResNet50Importer.projectLayerName("conv5_block3_3_bn")).isEqualTo("conv5_block3_3_bn");
        assertThat(KerasResNet50Importer.projectLayerName("res6a_branch2a")).isNull();
        assertThat(KerasResNet50Importer.projectLayerName("dense_1")).isNull();

        // every Keras layer of the project's ResNet50 is reachable from a Keras 2.2 name
        List<String> old = new ArrayList<>(List.of("conv1", "bn_conv1"));
        int[] blocks = {3, 4, 6, 3};
        for (int s = 0; s < 4; s++) {
            for (int b = 0; b < blocks[s]; b++) {
                String base = (s + 2) + "" + (char) ('a' + b) + "_branch";
                for (String branch : b == 0 ? List.of("1", "2a", "2b", "2c") : List.of("2a", "2b", "2c")) {
                    old.add("res" + base + branch);
                    old.add("bn" + base + branch);
                }
            }
        }
        assertThat(old.stream().map(KerasResNet50Importer::projectLayerName).toList())
                .containsExactlyInAnyOrderElementsOf(new ResNet50().kerasLayerPaths().keySet());
    }

    @Test
    void readsWeightsAcrossShardsInManifestOrder(@TempDir Path tmp) throws IOException {
        Map<String, float[]> values = write(tmp, stem(), 1);
        TfjsLayersModel file = TfjsLayersModel.read(tmp.resolve("model.json"));
        assertThat(file.kerasVersion()).isEqualTo("2.2.4-tf");
        assertThat(file.layers()).extracting(TfjsLayersModel.Layer::name)
                .containsExactly("conv1", "bn_conv1", "res2a_branch2a", "bn2a_branch2a", "fc1000");
        assertThat(file.weights().keySet()).containsExactlyElementsOf(values.keySet());
        for (Map.Entry<String, float[]> e : values.entrySet()) {
            assertThat(file.weights().get(e.getKey()).values()).as(e.getKey()).containsExactly(e.getValue());
        }
        assertThat(file.parameterCount()).isEqualTo(108 + 4 + 16 + 24 + 6 + 24 + 30 + 5);
    }

    @Test
    void mapsKernelsBatchNormsAndTheClassifierOntoTheBlock(@TempDir Path tmp) throws IOException {
        Map<String, float[]> values = write(tmp, stem(), 2);
        TfjsLayersModel file = TfjsLayersModel.read(tmp.resolve("model.json"));
        try (Model model = Model.newInstance("tiny")) {
            Block block = tinyClassifier();
            model.setBlock(block);
            block.initialize(model.getNDManager(), DataType.FLOAT32, new Shape(1, 3, 8, 8));
            KerasResNet50Importer.ImportSummary summary = KerasResNet50Importer.importInto(block, file, true, BLOCK_EPS);
            assertThat(summary.convolutions()).isEqualTo(2);
            assertThat(summary.batchNorms()).isEqualTo(2);
            assertThat(summary.classifier()).isTrue();
            assertThat(summary.fileBnEpsilon()).isEqualTo(FILE_EPS);

            // conv1: DJL (o, i, h, w) holds Keras [h, w, i, o]
            float[] hwio = values.get("conv1/kernel");
            float[] oihw = param(block, "01TinyResNet_01Conv2d_weight").toFloatArray();
            assertThat(param(block, "01TinyResNet_01Conv2d_weight").getShape()).isEqualTo(new Shape(4, 3, 3, 3));
            for (int o = 0; o < 4; o++) {
                for (int i = 0; i < 3; i++) {
                    for (int h = 0; h < 3; h++) {
                        for (int w = 0; w < 3; w++) {
                            assertThat(oihw[o * 27 + i * 9 + h * 3 + w]).isEqualTo(hwio[h * 36 + w * 12 + i * 4 + o]);
                        }
                    }
                }
            }
            assertThat(param(block, "01TinyResNet_01Conv2d_bias").toFloatArray()).containsExactly(values.get("conv1/bias"));
            // dense: DJL (out, in) holds Keras [in, out]
            float[] dense = values.get("fc1000/kernel");
            float[] linear = param(block, "03Linear_weight").toFloatArray();
            for (int out = 0; out < 5; out++) {
                for (int in = 0; in < 6; in++) {
                    assertThat(linear[out * 6 + in]).isEqualTo(dense[in * 5 + out]);
                }
            }

            // eval-mode batch norm computes Keras' function with the FILE's epsilon
            Block bn = block.getChildren().get(0).getValue().getChildren().get("04BatchNorm");
            try (NDManager m = model.getNDManager().newSubManager()) {
                NDArray x = m.randomNormal(new Shape(2, 6, 3, 3));
                NDArray y = bn.forward(new ParameterStore(m, false), new NDList(x), false).singletonOrThrow();
                float[] xs = x.toFloatArray();
                float[] ys = y.toFloatArray();
                float[] gamma = values.get("bn2a_branch2a/gamma");
                float[] beta = values.get("bn2a_branch2a/beta");
                float[] mean = values.get("bn2a_branch2a/moving_mean");
                float[] var = values.get("bn2a_branch2a/moving_variance");
                for (int i = 0; i < xs.length; i++) {
                    int c = (i / 9) % 6;
                    double keras = gamma[c] * (xs[i] - mean[c]) / Math.sqrt(var[c] + FILE_EPS) + beta[c];
                    assertThat((double) ys[i]).isCloseTo(keras, org.assertj.core.api.Assertions.within(1e-5));
                }
                // the raw variance with the block's own epsilon would be measurably wrong: the check above can fail
                double worst = 0;
                for (int i = 0; i < xs.length; i++) {
                    int c = (i / 9) % 6;
                    double wrong = gamma[c] * (xs[i] - mean[c]) / Math.sqrt(var[c] + BLOCK_EPS) + beta[c];
                    worst = Math.max(worst, Math.abs(wrong - ys[i]));
                }
                assertThat(worst).isGreaterThan(1e-4);
            }
        }
    }

    @Test
    void withoutTheClassifierTheHeadIsLeftAsItWas(@TempDir Path tmp) throws IOException {
        write(tmp, stem(), 3);
        TfjsLayersModel file = TfjsLayersModel.read(tmp.resolve("model.json"));
        try (Model model = Model.newInstance("tiny")) {
            Block block = tinyClassifier();
            model.setBlock(block);
            block.initialize(model.getNDManager(), DataType.FLOAT32, new Shape(1, 3, 8, 8));
            float[] head = param(block, "03Linear_weight").toFloatArray();
            var summary = KerasResNet50Importer.importInto(block, file, false, BLOCK_EPS);
            assertThat(summary.classifier()).isFalse();
            assertThat(param(block, "03Linear_weight").toFloatArray()).containsExactly(head);
        }
    }

    @Test
    void refusesMismatchesWithTheLayerNamedAndLeavesTheBlockUntouched(@TempDir Path tmp) throws IOException {
        // wrong output channels in conv1
        List<FileLayer> wrongShape = new ArrayList<>(stem());
        wrongShape.set(0, new FileLayer("conv1", "Conv2D", Map.of("strides", List.of(2, 2)),
                ordered("kernel", new int[] {3, 3, 3, 5}, "bias", new int[] {4})));
        assertRefused(tmp.resolve("shape"), wrongShape, "shape mismatch", "conv1/kernel");

        // wrong stride
        List<FileLayer> wrongStride = new ArrayList<>(stem());
        wrongStride.set(2, new FileLayer("res2a_branch2a", "Conv2D", Map.of("strides", List.of(2, 2)),
                ordered("kernel", new int[] {1, 1, 4, 6}, "bias", new int[] {6})));
        assertRefused(tmp.resolve("stride"), wrongStride, "res2a_branch2a", "strides [2, 2]");

        // a layer of the block without weights in the file
        List<FileLayer> missing = new ArrayList<>(stem());
        missing.remove(3);
        assertRefused(tmp.resolve("missing"), missing, "no weights for 1 layer", "conv2_block1_1_bn");

        // a layer of the file that the block does not have
        List<FileLayer> extra = new ArrayList<>(stem());
        extra.add(new FileLayer("res2b_branch2a", "Conv2D", Map.of(),
                ordered("kernel", new int[] {1, 1, 6, 6}, "bias", new int[] {6})));
        assertRefused(tmp.resolve("extra"), extra, "res2b_branch2a", "no counterpart");

        // a batch norm missing its moving variance
        List<FileLayer> partial = new ArrayList<>(stem());
        Map<String, int[]> threeOfFour = bn(4);
        threeOfFour.remove("moving_variance");
        partial.set(1, new FileLayer("bn_conv1", "BatchNormalization", Map.of(), threeOfFour));
        assertRefused(tmp.resolve("partial"), partial, "bn_conv1", "moving_variance");
    }

    @Test
    void refusesTruncatedShardsAndQuantizedWeights(@TempDir Path tmp) throws IOException {
        write(tmp.resolve("cut"), stem(), 4);
        Path shard = tmp.resolve("cut/group1-shard2of2.bin");
        byte[] bytes = Files.readAllBytes(shard);
        Files.write(shard, java.util.Arrays.copyOf(bytes, bytes.length - 4));
        assertThatThrownBy(() -> TfjsLayersModel.read(tmp.resolve("cut/model.json")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("shard data ends inside weight");

        write(tmp.resolve("q"), stem(), 5);
        Path json = tmp.resolve("q/model.json");
        Files.writeString(json, Files.readString(json).replaceFirst("\"dtype\" : \"float32\"",
                "\"dtype\" : \"float32\", \"quantization\" : {\"dtype\" : \"uint8\"}"));
        assertThatThrownBy(() -> TfjsLayersModel.read(json))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("conv1/kernel has uint8 quantization without scale/min");
    }

    private static void assertRefused(Path dir, List<FileLayer> layers, String... messageParts) throws IOException {
        write(dir, layers, 9);
        TfjsLayersModel file = TfjsLayersModel.read(dir.resolve("model.json"));
        try (Model model = Model.newInstance("tiny")) {
            Block block = tinyClassifier();
            model.setBlock(block);
            block.initialize(model.getNDManager(), DataType.FLOAT32, new Shape(1, 3, 8, 8));
            float[] before = param(block, "01TinyResNet_01Conv2d_weight").toFloatArray();
            var thrown = assertThatThrownBy(() -> KerasResNet50Importer.importInto(block, file, true, BLOCK_EPS))
                    .isInstanceOf(IllegalArgumentException.class);
            for (String part : messageParts) {
                thrown.hasMessageContaining(part);
            }
            assertThat(param(block, "01TinyResNet_01Conv2d_weight").toFloatArray()).containsExactly(before);
        }
    }

    static NDArray param(Block block, String key) {
        for (Pair<String, Parameter> p : block.getParameters()) {
            if (p.getKey().equals(key)) {
                return p.getValue().getArray();
            }
        }
        throw new AssertionError("no parameter " + key + " in " + block.getParameters().keys());
    }
}
