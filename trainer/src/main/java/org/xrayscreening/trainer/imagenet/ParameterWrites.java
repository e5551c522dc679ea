package org.xrayscreening.trainer.imagenet;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What the Keras importers share once they know which file weight goes where: the block's parameters by key, its
 * sub-blocks by path, and an all-or-nothing write. Every write is checked (key exists, initialized, shape, FLOAT32)
 * before the first value is set, so a refused file leaves the block as it was.
 */
final class ParameterWrites {
    /** One parameter to fill: its DJL key, the shape it must have, the values, and the file weight they came from. */
    record Write(String key, Shape shape, float[] values, String source) {}

    private ParameterWrites() {}

    /** The block's parameters by DJL key (e.g. {@code 01ResNet50_01Conv2d_weight}). */
    static Map<String, Parameter> parameters(Block block) {
        Map<String, Parameter> map = new LinkedHashMap<>();
        for (Pair<String, Parameter> p : block.getParameters()) {
            map.put(p.getKey(), p.getValue());
        }
        return map;
    }

    /** Every sub-block under its path: child names joined with {@code _}, as DJL joins parameter keys. */
    static Map<String, Block> blocksByPath(Block root) {
        Map<String, Block> out = new LinkedHashMap<>();
        collect(root, "", out);
        return out;
    }

    private static void collect(Block block, String prefix, Map<String, Block> out) {
        for (Pair<String, Block> child : block.getChildren()) {
            String path = prefix.isEmpty() ? child.getKey() : prefix + "_" + child.getKey();
            out.put(path, child.getValue());
            collect(child.getValue(), path, out);
        }
    }

    static boolean isInitialized(Block block) {
        for (Pair<String, Parameter> p : block.getParameters()) {
            if (!p.getValue().isInitialized()) {
                return false;
            }
        }
        return true;
    }

    /** Checks every write, then sets them all: nothing is written unless everything fits. */
    static void writeAll(Map<String, Parameter> params, List<Write> writes) {
        for (Write w : writes) {
            check(params, w);
        }
        for (Write w : writes) {
            params.get(w.key()).getArray().set(w.values());
        }
    }

    private static void check(Map<String, Parameter> params, Write w) {
        Parameter p = params.get(w.key());
        if (p == null) {
            throw new IllegalArgumentException("the block has no parameter " + w.key() + " (for " + w.source() + ")");
        }
        if (!p.isInitialized()) {
            throw new IllegalStateException("parameter " + w.key() + " is not initialized: initialize the block "
                    + "first (block.initialize(manager, FLOAT32, new Shape(1, 3, s, s)))");
        }
        NDArray array = p.getArray();
        if (!array.getShape().equals(w.shape())) {
            throw new IllegalArgumentException("shape mismatch for " + w.key() + ": the block has " + array.getShape()
                    + ", the file's " + w.source() + " " + w.shape());
        }
        if (array.getDataType() != DataType.FLOAT32) {
            throw new IllegalArgumentException(w.key() + " is " + array.getDataType() + ", expected FLOAT32");
        }
        if (w.values().length != array.getShape().size()) {
            throw new IllegalStateException(w.key() + ": " + w.values().length + " values for shape " + w.shape());
        }
    }
}
