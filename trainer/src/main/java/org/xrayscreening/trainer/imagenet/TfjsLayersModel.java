package org.xrayscreening.trainer.imagenet;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A TensorFlow.js layers model ({@code tfjs_layers_model} as written by tfjsconverter): the Keras topology and
 * the weights, dequantized to float32, read without TensorFlow.
 *
 * <p><b>Files.</b> Either a plain {@code model.json} whose {@code weightsManifest} names binary shard files in
 * the same folder, or nsfwjs' bundled form: {@code model.min.js}, a browserify module whose {@code exports} is the
 * same object as a JavaScript literal, and one {@code <shard>.min.js} per shard whose {@code exports} is the
 * shard's bytes in base64 (what nsfwjs' {@code JSONHandler} decodes). A shard is looked up as {@code <path>},
 * then {@code <path>.min.js}.
 *
 * <p><b>Weights.</b> Each manifest group's shards are concatenated and its weights read from them in manifest
 * order, little-endian, as tfjs' {@code decodeWeights} does: float32 and int32 as they are; a weight with
 * {@code quantization {dtype: uint8|uint16, scale, min}} as {@code min + scale * q} (tfjs' affine
 * dequantization). Anything else (float16 quantization, string weights) is refused with the weight's name.
 */
public final class TfjsLayersModel {
    /** One weight of the manifest: Keras' {@code <layer>/<variable>} name, shape (HWIO for conv kernels). */
    public record Weight(String name, int[] shape, float[] values) {
        public int size() {
            return values.length;
        }

        /** The layer part of the name ({@code conv2d_1} for {@code conv2d_1/kernel}). */
        public String layer() {
            int slash = name.lastIndexOf('/');
            return slash < 0 ? name : name.substring(0, slash);
        }

        /** The variable part: {@code kernel}, {@code bias}, {@code gamma}, {@code beta}, {@code moving_mean}, ... */
        public String variable() {
            int slash = name.lastIndexOf('/');
            return slash < 0 ? name : name.substring(slash + 1);
        }

        @Override
        public String toString() {
            return name + Arrays.toString(shape);
        }
    }

    /** A layer of the Keras functional model: its class, config and the layers its first call reads. */
    public record Layer(String name, String className, JsonNode config, List<String> inbound) {
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

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern EXPORTS = Pattern.compile("\\.exports\\s*=\\s*");

    private final Path source;
    private final JsonNode modelJson;
    private final List<Layer> layers;
    private final Map<String, Weight> weights;

    private TfjsLayersModel(Path source, JsonNode modelJson, List<Layer> layers, Map<String, Weight> weights) {
        this.source = source;
        this.modelJson = modelJson;
        this.layers = layers;
        this.weights = weights;
    }

    /** Reads {@code model.json} or an nsfwjs {@code model.min.js} and every shard its manifest names. */
    public static TfjsLayersModel read(Path modelFile) throws IOException {
        if (!Files.isRegularFile(modelFile)) {
            throw new IOException("no TF.js model file " + modelFile);
        }
        JsonNode model = readModelJson(modelFile);
        JsonNode topology = model.path("modelTopology");
        JsonNode manifest = model.path("weightsManifest");
        if (!topology.isObject() || !manifest.isArray()) {
            throw new IllegalArgumentException(modelFile + " is not a TF.js layers model: it needs modelTopology "
                    + "and weightsManifest");
        }
        Path dir = modelFile.toAbsolutePath().getParent();
        Map<String, Weight> weights = new LinkedHashMap<>();
        for (JsonNode group : manifest) {
            List<byte[]> shards = new ArrayList<>();
            for (JsonNode p : group.path("paths")) {
                shards.add(readShard(dir, p.asText()));
            }
            decodeGroup(modelFile, concat(shards), group.path("weights"), weights);
        }
        return new TfjsLayersModel(modelFile, model, parseLayers(modelFile, topology), Collections.unmodifiableMap(weights));
    }

    public Path source() {
        return source;
    }

    /** The whole model.json object (modelTopology, weightsManifest, format, ...). */
    public JsonNode modelJson() {
        return modelJson;
    }

    /** {@code modelTopology.keras_version}, or "" when absent. */
    public String kerasVersion() {
        return modelJson.path("modelTopology").path("keras_version").asText("");
    }

    /** The Keras layers in the topology's order (for Keras 2 functional models: by depth, not creation order). */
    public List<Layer> layers() {
        return layers;
    }

    /** The layer of that name, or null. */
    public Layer layer(String name) {
        for (Layer l : layers) {
            if (l.name().equals(name)) {
                return l;
            }
        }
        return null;
    }

    /** Every weight by name, in manifest order. */
    public Map<String, Weight> weights() {
        return weights;
    }

    /** The weight {@code <layer>/<variable>}; throws with the model's name if it is missing. */
    public Weight weight(String name) {
        Weight w = weights.get(name);
        if (w == null) {
            throw new IllegalArgumentException(source.getFileName() + " has no weight " + name);
        }
        return w;
    }

    public long parameterCount() {
        long n = 0;
        for (Weight w : weights.values()) {
            n += w.size();
        }
        return n;
    }

    // ------------------------------------------------------------------------------------------- decoding

    /** Dequantizes one manifest group from its concatenated shard bytes into {@code out}. */
    static void decodeGroup(Path file, byte[] data, JsonNode specs, Map<String, Weight> out) {
        ByteBuffer buf = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
        for (JsonNode spec : specs) {
            String name = spec.path("name").asText();
            int[] shape = new int[spec.path("shape").size()];
            long count = 1;
            for (int i = 0; i < shape.length; i++) {
                shape[i] = spec.path("shape").get(i).asInt();
                if (shape[i] < 0) {
                    throw new IllegalArgumentException(file.getFileName() + ": weight " + name + " has shape "
                            + spec.path("shape"));
                }
                count *= shape[i];
            }
            if (count > Integer.MAX_VALUE) {
                throw new IllegalArgumentException(file.getFileName() + ": weight " + name + " is too large");
            }
            int n = (int) count;
            String dtype = spec.path("dtype").asText();
            JsonNode q = spec.get("quantization");
            float[] values = new float[n];
            if (q != null && !q.isNull()) {
                String qType = q.path("dtype").asText();
                if (!q.has("scale") || !q.has("min")) {
                    throw new IllegalArgumentException(file.getFileName() + ": weight " + name + " has "
                            + qType + " quantization without scale/min (not supported)");
                }
                double scale = q.path("scale").asDouble();
                double min = q.path("min").asDouble();
                int bytes = switch (qType) {
                    case "uint8" -> 1;
                    case "uint16" -> 2;
                    default -> throw new IllegalArgumentException(file.getFileName() + ": weight " + name
                            + " has " + qType + " quantization (only uint8/uint16 affine is supported)");
                };
                need(file, name, buf, (long) n * bytes);
                for (int i = 0; i < n; i++) {
                    int v = bytes == 1 ? buf.get() & 0xff : buf.getShort() & 0xffff;
                    values[i] = (float) (min + scale * v);
                }
            } else {
                switch (dtype) {
                    case "float32" -> {
                        need(file, name, buf, 4L * n);
                        buf.asFloatBuffer().get(values);
                        buf.position(buf.position() + 4 * n);
                    }
                    case "int32" -> {
                        need(file, name, buf, 4L * n);
                        for (int i = 0; i < n; i++) {
                            values[i] = buf.getInt();
                        }
                    }
                    default -> throw new IllegalArgumentException(file.getFileName() + ": weight " + name
                            + " has dtype " + dtype + " (only float32, int32 and uint8/uint16 quantization)");
                }
            }
            if (out.put(name, new Weight(name, shape, values)) != null) {
                throw new IllegalArgumentException(file.getFileName() + ": weight " + name + " appears twice");
            }
        }
        if (buf.hasRemaining()) {
            throw new IllegalArgumentException(file.getFileName() + ": " + buf.remaining()
                    + " bytes of shard data left after the last weight of its group: the manifest does not "
                    + "describe these shards");
        }
    }

    private static void need(Path file, String name, ByteBuffer buf, long bytes) {
        if (buf.remaining() < bytes) {
            throw new IllegalArgumentException(file.getFileName() + ": shard data ends inside weight " + name
                    + " (needs " + bytes + " bytes, " + buf.remaining() + " left)");
        }
    }

    private static byte[] concat(List<byte[]> parts) {
        int total = 0;
        for (byte[] p : parts) {
            total = Math.addExact(total, p.length);
        }
        byte[] out = new byte[total];
        int at = 0;
        for (byte[] p : parts) {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
        }
        return out;
    }

    private static List<Layer> parseLayers(Path file, JsonNode topology) {
        JsonNode config = topology.path("model_config").path("config");
        JsonNode list = config.path("layers");
        if (!list.isArray()) {
            throw new IllegalArgumentException(file.getFileName() + " has no model_config.config.layers");
        }
        List<Layer> out = new ArrayList<>();
        for (JsonNode l : list) {
            List<String> inbound = new ArrayList<>();
            JsonNode nodes = l.path("inbound_nodes");
            if (nodes.size() > 1) {
                throw new IllegalArgumentException(file.getFileName() + ": layer " + l.path("name").asText()
                        + " is called " + nodes.size() + " times (shared layers are not supported)");
            }
            if (nodes.size() == 1) {
                for (JsonNode in : nodes.get(0)) {
                    inbound.add(in.get(0).asText());
                }
            }
            out.add(new Layer(l.path("name").asText(), l.path("class_name").asText(), l.path("config"),
                    List.copyOf(inbound)));
        }
        return List.copyOf(out);
    }

    // ------------------------------------------------------------------------------------------- files

    private static JsonNode readModelJson(Path file) throws IOException {
        String text = Files.readString(file, StandardCharsets.UTF_8);
        if (file.getFileName().toString().endsWith(".js")) {
            return exportedValue(file, text);
        }
        return JSON.readTree(text);
    }

    private static byte[] readShard(Path dir, String path) throws IOException {
        if (path.contains("..") || path.startsWith("/")) {
            throw new IllegalArgumentException("shard path " + path + " leaves the model's folder");
        }
        Path plain = dir.resolve(path);
        if (Files.isRegularFile(plain)) {
            return Files.readAllBytes(plain);
        }
        Path bundled = dir.resolve(path + ".min.js");
        if (Files.isRegularFile(bundled)) {
            JsonNode value = exportedValue(bundled, Files.readString(bundled, StandardCharsets.US_ASCII));
            if (!value.isTextual()) {
                throw new IllegalArgumentException(bundled.getFileName() + " does not export a base64 string");
            }
            return Base64.getDecoder().decode(value.asText());
        }
        throw new IOException("weight shard " + path + " not found in " + dir + " (neither " + path + " nor "
                + path + ".min.js)");
    }

    /**
     * The literal assigned to {@code exports} in a bundled JavaScript module: the first {@code .exports=} followed
     * by an object, array or string (the UMD wrapper's {@code module.exports=a()} before it is skipped).
     */
    static JsonNode exportedValue(Path file, String js) {
        Matcher m = EXPORTS.matcher(js);
        while (m.find()) {
            char next = m.end() < js.length() ? js.charAt(m.end()) : ' ';
            if (next == '{' || next == '[' || next == '"' || next == '\'') {
                return new JsLiteral(js, m.end(), file).value();
            }
        }
        throw new IllegalArgumentException(file.getFileName() + " assigns no object, array or string literal to "
                + "module.exports");
    }

    /**
     * Reads one JavaScript literal as minifiers write it: objects with bare or quoted keys, arrays, strings,
     * numbers ({@code .5}, {@code -.5}, {@code 1e-3}), {@code !0}/{@code !1} (true/false), true, false, null and
     * {@code void 0} (null). Not a JavaScript parser: any expression beyond that is refused.
     */
    static final class JsLiteral {
        private final String s;
        private final Path file;
        private int i;
        private final JsonNodeFactory nodes = JsonNodeFactory.instance;

        JsLiteral(String s, int start, Path file) {
            this.s = s;
            this.i = start;
            this.file = file;
        }

        JsonNode value() {
            skipSpace();
            if (i >= s.length()) {
                throw error("value expected, input ends");
            }
            char c = s.charAt(i);
            switch (c) {
                case '{':
                    return object();
                case '[':
                    return array();
                case '"':
                case '\'':
                    return nodes.textNode(string());
                case '!':
                    if (s.startsWith("!0", i) || s.startsWith("!1", i)) {
                        boolean v = s.charAt(i + 1) == '0';
                        i += 2;
                        return nodes.booleanNode(v);
                    }
                    throw error("unsupported expression");
                default:
                    if (c == '-' || c == '.' || Character.isDigit(c)) {
                        return number();
                    }
                    String word = identifier();
                    return switch (word) {
                        case "true" -> nodes.booleanNode(true);
                        case "false" -> nodes.booleanNode(false);
                        case "null" -> nodes.nullNode();
                        case "void" -> {
                            skipSpace();
                            if (i < s.length() && s.charAt(i) == '0') {
                                i++;
                                yield nodes.nullNode();
                            }
                            throw error("unsupported void expression");
                        }
                        default -> throw error("unsupported identifier '" + word + "'");
                    };
            }
        }

        private ObjectNode object() {
            ObjectNode o = nodes.objectNode();
            i++; // {
            skipSpace();
            if (peek() == '}') {
                i++;
                return o;
            }
            while (true) {
                skipSpace();
                char c = peek();
                String key = c == '"' || c == '\'' ? string() : Character.isDigit(c) ? number().asText() : identifier();
                skipSpace();
                expect(':');
                o.set(key, value());
                skipSpace();
                char next = peek();
                i++;
                if (next == '}') {
                    return o;
                }
                if (next != ',') {
                    throw error("',' or '}' expected");
                }
            }
        }

        private ArrayNode array() {
            ArrayNode a = nodes.arrayNode();
            i++; // [
            skipSpace();
            if (peek() == ']') {
                i++;
                return a;
            }
            while (true) {
                a.add(value());
                skipSpace();
                char next = peek();
                i++;
                if (next == ']') {
                    return a;
                }
                if (next != ',') {
                    throw error("',' or ']' expected");
                }
            }
        }

        private String string() {
            char quote = s.charAt(i++);
            StringBuilder b = new StringBuilder();
            while (true) {
                if (i >= s.length()) {
                    throw error("unterminated string");
                }
                char c = s.charAt(i++);
                if (c == quote) {
                    return b.toString();
                }
                if (c != '\\') {
                    b.append(c);
                    continue;
                }
                char e = s.charAt(i++);
                switch (e) {
                    case 'n' -> b.append('\n');
                    case 't' -> b.append('\t');
                    case 'r' -> b.append('\r');
                    case 'b' -> b.append('\b');
                    case 'f' -> b.append('\f');
                    case 'u' -> {
                        b.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
                        i += 4;
                    }
                    default -> b.append(e);
                }
            }
        }

        private JsonNode number() {
            int start = i;
            if (peek() == '-' || peek() == '+') {
                i++;
            }
            while (i < s.length() && "0123456789.eE+-".indexOf(s.charAt(i)) >= 0) {
                char c = s.charAt(i);
                if ((c == '+' || c == '-') && !(s.charAt(i - 1) == 'e' || s.charAt(i - 1) == 'E')) {
                    break;
                }
                i++;
            }
            String text = s.substring(start, i);
            try {
                double d = Double.parseDouble(text);
                if (d == Math.rint(d) && !text.contains(".") && !text.contains("e") && !text.contains("E")
                        && Math.abs(d) < Long.MAX_VALUE) {
                    return nodes.numberNode(Long.parseLong(text));
                }
                return nodes.numberNode(d);
            } catch (NumberFormatException e) {
                throw error("bad number '" + text + "'");
            }
        }

        private String identifier() {
            int start = i;
            while (i < s.length() && (Character.isLetterOrDigit(s.charAt(i)) || s.charAt(i) == '_'
                    || s.charAt(i) == '$')) {
                i++;
            }
            if (start == i) {
                throw error("unexpected character '" + peek() + "'");
            }
            return s.substring(start, i);
        }

        private void expect(char c) {
            if (peek() != c) {
                throw error("'" + c + "' expected");
            }
            i++;
        }

        private char peek() {
            if (i >= s.length()) {
                throw error("input ends");
            }
            return s.charAt(i);
        }

        private void skipSpace() {
            while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
                i++;
            }
        }

        private IllegalArgumentException error(String why) {
            int from = Math.max(0, i - 30);
            int to = Math.min(s.length(), i + 30);
            return new IllegalArgumentException(file.getFileName() + ": cannot read the exported literal at "
                    + "character " + i + ": " + why + " (near '" + s.substring(from, to) + "')");
        }
    }
}
