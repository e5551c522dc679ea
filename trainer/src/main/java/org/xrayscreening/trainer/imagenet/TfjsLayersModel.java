package org.xrayscreening.trainer.imagenet;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A TensorFlow.js <em>layers</em> model as {@code tensorflowjs_converter} writes a Keras model: {@code model.json}
 * (the Keras topology under {@code modelTopology.model_config} and a {@code weightsManifest}) plus binary shards.
 *
 * <p>Format (tfjs-converter's {@code write_weights}): the manifest is a list of groups; each group names its shard
 * files in order and lists its weights ({@code name}, {@code shape}, {@code dtype}). A group's weights are stored
 * back to back, in manifest order, in the concatenation of its shards, little-endian, row-major in the Keras
 * layout (conv kernels HWIO, dense kernels {@code [in, out]}). Weight names are {@code <layer>/<variable>}
 * (e.g. {@code res2a_branch2a/kernel}, {@code bn_conv1/moving_variance}).
 *
 * <p>Only float32 weights are read; quantized files ({@code quantization} in an entry, uint8/uint16 storage) are
 * refused with the weight that is. The shard sizes must add up to exactly the bytes the manifest describes, so a
 * truncated download or a shard from another model is caught before any weight is used.
 */
public final class TfjsLayersModel {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    /** One Keras layer of the topology: its name, class ({@code Conv2D}, ...) and config. */
    public record Layer(String name, String className, JsonNode config) {
        /** {@code config.<field>} as a double, or {@code fallback} when absent. */
        public double number(String field, double fallback) {
            JsonNode n = config.get(field);
            return n == null || !n.isNumber() ? fallback : n.asDouble();
        }

        /** {@code config.<field>} as an int list (kernel_size, strides), or an empty list when absent. */
        public List<Integer> ints(String field) {
            JsonNode n = config.get(field);
            List<Integer> out = new ArrayList<>();
            if (n != null && n.isArray()) {
                n.forEach(v -> out.add(v.asInt()));
            }
            return out;
        }
    }

    /** One weight: {@code layer/variable}, its Keras shape and values (row-major in that shape). */
    public record Weight(String name, int[] shape, float[] values) {
        /** The layer part of the name: the component before the last {@code /}. */
        public String layer() {
            String[] parts = name.split("/");
            return parts.length < 2 ? "" : parts[parts.length - 2];
        }

        /** The variable part: {@code kernel}, {@code bias}, {@code gamma}, {@code beta}, {@code moving_mean}, ... */
        public String variable() {
            int slash = name.lastIndexOf('/');
            return slash < 0 ? name : name.substring(slash + 1);
        }

        @Override
        public String toString() {
            return name + " " + Arrays.toString(shape);
        }
    }

    private final Path modelJson;
    private final String kerasVersion;
    private final List<Layer> layers;
    private final Map<String, Weight> weights;

    private TfjsLayersModel(Path modelJson, String kerasVersion, List<Layer> layers, Map<String, Weight> weights) {
        this.modelJson = modelJson;
        this.kerasVersion = kerasVersion;
        this.layers = layers;
        this.weights = weights;
    }

    public Path modelJson() {
        return modelJson;
    }

    /** {@code modelTopology.keras_version} (e.g. {@code 2.2.4-tf}), or "unknown". */
    public String kerasVersion() {
        return kerasVersion;
    }

    /** The topology's layers in the file's order (Keras creation order). */
    public List<Layer> layers() {
        return layers;
    }

    /** Layer by name, or null. */
    public Layer layer(String name) {
        for (Layer l : layers) {
            if (l.name().equals(name)) {
                return l;
            }
        }
        return null;
    }

    /** All weights by full name, in manifest order. */
    public Map<String, Weight> weights() {
        return weights;
    }

    /** Number of float values over all weights (Keras' parameter count, BN moving statistics included). */
    public long parameterCount() {
        long n = 0;
        for (Weight w : weights.values()) {
            n += w.values().length;
        }
        return n;
    }

    /** Reads {@code model.json} and its shards (looked up beside it). */
    public static TfjsLayersModel read(Path modelJson) throws IOException {
        if (!Files.isRegularFile(modelJson)) {
            throw new IOException("no TF.js model.json at " + modelJson);
        }
        JsonNode root;
        try {
            root = MAPPER.readTree(modelJson.toFile());
        } catch (IOException e) {
            throw new IllegalArgumentException(modelJson + " is not valid JSON: " + e.getMessage(), e);
        }
        String format = root.path("format").asText("");
        if (!format.isEmpty() && !format.equals("layers-model")) {
            throw refuse(modelJson, "format is '" + format + "', expected 'layers-model'");
        }
        JsonNode topology = root.path("modelTopology");
        JsonNode modelConfig = topology.has("model_config") ? topology.get("model_config") : topology;
        JsonNode layerNodes = modelConfig.path("config").path("layers");
        if (!layerNodes.isArray() || layerNodes.isEmpty()) {
            throw refuse(modelJson, "modelTopology has no model_config.config.layers (a graph model, not a layers model?)");
        }
        List<Layer> layers = new ArrayList<>();
        for (JsonNode l : layerNodes) {
            JsonNode config = l.path("config");
            String name = l.hasNonNull("name") ? l.get("name").asText() : config.path("name").asText();
            layers.add(new Layer(name, l.path("class_name").asText(), config));
        }

        JsonNode manifest = root.path("weightsManifest");
        if (!manifest.isArray() || manifest.isEmpty()) {
            throw refuse(modelJson, "no weightsManifest");
        }
        Path dir = modelJson.toAbsolutePath().normalize().getParent();
        Map<String, Weight> weights = new LinkedHashMap<>();
        for (JsonNode group : manifest) {
            readGroup(modelJson, dir, group, weights);
        }
        return new TfjsLayersModel(modelJson, topology.path("keras_version").asText("unknown"),
                Collections.unmodifiableList(layers), Collections.unmodifiableMap(weights));
    }

    private static void readGroup(Path modelJson, Path dir, JsonNode group, Map<String, Weight> out) throws IOException {
        List<Path> shards = new ArrayList<>();
        long shardBytes = 0;
        for (JsonNode p : group.path("paths")) {
            String name = p.asText();
            Path shard = dir.resolve(name).normalize();
            if (!shard.startsWith(dir) || name.contains("..")) {
                throw refuse(modelJson, "shard path '" + name + "' leaves the model's folder");
            }
            if (!Files.isRegularFile(shard)) {
                throw new IOException("shard " + name + " named by " + modelJson.getFileName() + " is missing in " + dir);
            }
            shards.add(shard);
            shardBytes += Files.size(shard);
        }
        List<String> names = new ArrayList<>();
        List<int[]> shapes = new ArrayList<>();
        long expectedBytes = 0;
        for (JsonNode w : group.path("weights")) {
            String name = w.path("name").asText();
            String dtype = w.path("dtype").asText("float32");
            if (w.has("quantization")) {
                throw refuse(modelJson, "weight " + name + " is quantized (" + w.get("quantization")
                        + "); only float32 files are read");
            }
            if (!dtype.equals("float32")) {
                throw refuse(modelJson, "weight " + name + " is " + dtype + "; only float32 files are read");
            }
            int[] shape = new int[w.path("shape").size()];
            long count = 1;
            for (int i = 0; i < shape.length; i++) {
                shape[i] = w.path("shape").get(i).asInt();
                if (shape[i] < 0) {
                    throw refuse(modelJson, "weight " + name + " has a negative dimension");
                }
                count *= shape[i];
            }
            if (out.containsKey(name) || names.contains(name)) {
                throw refuse(modelJson, "weight " + name + " is listed twice");
            }
            names.add(name);
            shapes.add(shape);
            expectedBytes += 4 * count;
        }
        if (expectedBytes != shardBytes) {
            throw refuse(modelJson, "the manifest describes " + expectedBytes + " bytes of weights, the shards "
                    + shards.stream().map(s -> s.getFileName().toString()).toList() + " hold " + shardBytes
                    + " (truncated or mixed-up download?)");
        }
        try (InputStream in = new ShardStream(shards)) {
            for (int i = 0; i < names.size(); i++) {
                int count = Math.toIntExact(Arrays.stream(shapes.get(i)).asLongStream().reduce(1, (a, b) -> a * b));
                byte[] bytes = in.readNBytes(Math.multiplyExact(4, count));
                if (bytes.length != 4 * count) {
                    throw new IOException("shards end inside weight " + names.get(i));
                }
                float[] values = new float[count];
                ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(values);
                out.put(names.get(i), new Weight(names.get(i), shapes.get(i), values));
            }
        }
    }

    /** The shards of one group read as one stream, in order. */
    private static final class ShardStream extends InputStream {
        private final List<Path> shards;
        private int next;
        private InputStream current;

        ShardStream(List<Path> shards) {
            this.shards = shards;
        }

        private boolean advance() throws IOException {
            while (current == null) {
                if (next >= shards.size()) {
                    return false;
                }
                current = Files.newInputStream(shards.get(next++));
            }
            return true;
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            while (advance()) {
                int n = current.read(b, off, len);
                if (n >= 0) {
                    return n;
                }
                current.close();
                current = null;
            }
            return -1;
        }

        @Override
        public void close() throws IOException {
            if (current != null) {
                current.close();
            }
        }
    }

    private static IllegalArgumentException refuse(Path modelJson, String why) {
        return new IllegalArgumentException(modelJson + " is not a TF.js layers model this importer reads: " + why);
    }
}
