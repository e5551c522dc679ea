package org.xrayscreening.trainer.imagenet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The TF.js layers-model reader on small hand-made models in both layouts (plain and nsfwjs-bundled). */
class TfjsLayersModelTest {
    @TempDir
    Path dir;

    /** A conv2d kernel quantized uint8 (min -1, scale 0.5) and a float32 bias, as a two-layer topology. */
    private static final String TOPOLOGY = "{\"keras_version\":\"2.2.4\",\"model_config\":{\"class_name\":\"Model\","
            + "\"config\":{\"layers\":["
            + "{\"name\":\"input_1\",\"class_name\":\"InputLayer\",\"config\":{},\"inbound_nodes\":[]},"
            + "{\"name\":\"conv2d_1\",\"class_name\":\"Conv2D\",\"config\":{\"trainable\":false,\"use_bias\":true},"
            + "\"inbound_nodes\":[[[\"input_1\",0,0,{}]]]}]}}}";
    private static final String MANIFEST = "[{\"paths\":[\"group1-shard1of2\",\"group1-shard2of2\"],\"weights\":["
            + "{\"name\":\"conv2d_1/kernel\",\"shape\":[1,1,2,3],\"dtype\":\"float32\","
            + "\"quantization\":{\"min\":-1.0,\"scale\":0.5,\"dtype\":\"uint8\"}},"
            + "{\"name\":\"conv2d_1/bias\",\"shape\":[3],\"dtype\":\"float32\"}]}]";

    /** uint8 0..5 then float32 0.25, -2, 1e6, split across two shards mid-weight. */
    private static byte[][] shards() {
        ByteBuffer all = ByteBuffer.allocate(6 + 12).order(ByteOrder.LITTLE_ENDIAN);
        all.put(new byte[] {0, 1, 2, 3, 4, (byte) 255});
        all.putFloat(0.25f).putFloat(-2f).putFloat(1e6f);
        byte[] b = all.array();
        byte[] first = java.util.Arrays.copyOfRange(b, 0, 8);
        byte[] second = java.util.Arrays.copyOfRange(b, 8, b.length);
        return new byte[][] {first, second};
    }

    private static void assertModel(TfjsLayersModel model) {
        assertThat(model.kerasVersion()).isEqualTo("2.2.4");
        assertThat(model.layers()).extracting(TfjsLayersModel.Layer::name).containsExactly("input_1", "conv2d_1");
        assertThat(model.layer("conv2d_1").inbound()).containsExactly("input_1");
        assertThat(model.layer("conv2d_1").config().path("trainable").asBoolean(true)).isFalse();
        TfjsLayersModel.Weight kernel = model.weight("conv2d_1/kernel");
        assertThat(kernel.shape()).containsExactly(1, 1, 2, 3);
        assertThat(kernel.layer()).isEqualTo("conv2d_1");
        // min + scale * q
        assertThat(kernel.values()).containsExactly(-1f, -0.5f, 0f, 0.5f, 1f, 126.5f);
        assertThat(model.weight("conv2d_1/bias").values()).containsExactly(0.25f, -2f, 1e6f);
        assertThat(model.parameterCount()).isEqualTo(9);
        assertThatThrownBy(() -> model.weight("conv2d_2/kernel")).hasMessageContaining("no weight conv2d_2/kernel");
    }

    @Test
    void readsAPlainModelJsonWithBinaryShards() throws IOException {
        byte[][] shards = shards();
        Files.write(dir.resolve("group1-shard1of2"), shards[0]);
        Files.write(dir.resolve("group1-shard2of2"), shards[1]);
        Files.writeString(dir.resolve("model.json"),
                "{\"modelTopology\":" + TOPOLOGY + ",\"weightsManifest\":" + MANIFEST + "}");
        assertModel(TfjsLayersModel.read(dir.resolve("model.json")));
    }

    @Test
    void readsTheBundledMinJsLayoutOfNsfwjs() throws IOException {
        byte[][] shards = shards();
        for (int i = 0; i < 2; i++) {
            String name = "group1-shard" + (i + 1) + "of2";
            Files.writeString(dir.resolve(name + ".min.js"), umd(name.replace('-', '_'),
                    "\"" + Base64.getEncoder().encodeToString(shards[i]) + "\""), StandardCharsets.US_ASCII);
        }
        // minified literal: bare keys, !0/!1 booleans, leading-dot numbers
        String topology = TOPOLOGY.replace("\"trainable\":false", "trainable:!1").replace("\"use_bias\":true",
                "use_bias:!0");
        String manifest = MANIFEST.replace("\"min\":-1.0", "min:-1.").replace("\"scale\":0.5", "scale:.5")
                .replace("\"paths\"", "paths").replace("\"weights\"", "weights");
        Files.writeString(dir.resolve("model.min.js"), umd("model", "{modelTopology:" + topology
                + ",weightsManifest:" + manifest + "}"));
        assertModel(TfjsLayersModel.read(dir.resolve("model.min.js")));
    }

    /** The browserify UMD wrapper nsfwjs' bundle-model script writes around a value. */
    private static String umd(String global, String value) {
        return "!function(a){if(\"object\"==typeof exports&&\"undefined\"!=typeof module)module.exports=a();else{"
                + "(\"undefined\"!=typeof window?window:this)." + global + "=a()}}(function(){return function a(n,i,e)"
                + "{return i}({1:[function(a,n,i){n.exports=" + value + "},{}]},{},[1])(1)});";
    }

    @Test
    void jsLiteralsAsMinifiersWriteThem() {
        JsonNode v = TfjsLayersModel.exportedValue(Path.of("x.js"),
                "module.exports=f();x.exports={a:!0,'b':[.5,-.25,1e-3,-2E2,3],c:void 0,\"d\\\"\":\"\\u0041\\n\",e:null}");
        assertThat(v.path("a").asBoolean()).isTrue();
        assertThat(v.path("b").get(0).asDouble()).isEqualTo(0.5);
        assertThat(v.path("b").get(1).asDouble()).isEqualTo(-0.25);
        assertThat(v.path("b").get(2).asDouble()).isEqualTo(1e-3);
        assertThat(v.path("b").get(3).asDouble()).isEqualTo(-200);
        assertThat(v.path("b").get(4).asInt()).isEqualTo(3);
        assertThat(v.path("c").isNull()).isTrue();
        assertThat(v.path("d\"").asText()).isEqualTo("A\n");
        assertThat(v.path("e").isNull()).isTrue();
        assertThatThrownBy(() -> TfjsLayersModel.exportedValue(Path.of("y.js"), "n.exports={a:foo()}"))
                .hasMessageContaining("y.js").hasMessageContaining("unsupported identifier 'foo'");
        assertThatThrownBy(() -> TfjsLayersModel.exportedValue(Path.of("z.js"), "module.exports=a()"))
                .hasMessageContaining("assigns no object");
    }

    @Test
    void shardsShorterOrLongerThanTheManifestAreRefused() throws IOException {
        byte[][] shards = shards();
        Files.writeString(dir.resolve("model.json"),
                "{\"modelTopology\":" + TOPOLOGY + ",\"weightsManifest\":" + MANIFEST + "}");
        Files.write(dir.resolve("group1-shard1of2"), shards[0]);
        Files.write(dir.resolve("group1-shard2of2"), java.util.Arrays.copyOf(shards[1], shards[1].length - 4));
        assertThatThrownBy(() -> TfjsLayersModel.read(dir.resolve("model.json")))
                .hasMessageContaining("ends inside weight conv2d_1/bias");
        Files.write(dir.resolve("group1-shard2of2"), java.util.Arrays.copyOf(shards[1], shards[1].length + 4));
        assertThatThrownBy(() -> TfjsLayersModel.read(dir.resolve("model.json")))
                .hasMessageContaining("4 bytes of shard data left");
        Files.delete(dir.resolve("group1-shard2of2"));
        assertThatThrownBy(() -> TfjsLayersModel.read(dir.resolve("model.json")))
                .isInstanceOf(IOException.class).hasMessageContaining("group1-shard2of2 not found");
    }

    @Test
    void unsupportedQuantizationIsRefusedWithTheWeightsName() throws IOException {
        Files.write(dir.resolve("s"), new byte[12]);
        Files.writeString(dir.resolve("model.json"), "{\"modelTopology\":" + TOPOLOGY + ",\"weightsManifest\":"
                + "[{\"paths\":[\"s\"],\"weights\":[{\"name\":\"w\",\"shape\":[6],\"dtype\":\"float32\","
                + "\"quantization\":{\"dtype\":\"float16\"}}]}]}");
        assertThatThrownBy(() -> TfjsLayersModel.read(dir.resolve("model.json")))
                .hasMessageContaining("weight w").hasMessageContaining("float16");
        Files.writeString(dir.resolve("model.json"), "{\"weightsManifest\":[]}");
        assertThatThrownBy(() -> TfjsLayersModel.read(dir.resolve("model.json")))
                .hasMessageContaining("not a TF.js layers model");
    }
}
