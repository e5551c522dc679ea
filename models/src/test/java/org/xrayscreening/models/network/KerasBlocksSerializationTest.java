package org.xrayscreening.models.network;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.SequentialBlock;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.ParameterStore;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import org.junit.jupiter.api.Test;

/** The project's own blocks (Pad2d, AvgPool2dSame, BatchNormNoScale) survive DJL's save/load. */
class KerasBlocksSerializationTest {

    private static Block tiny() {
        return new SequentialBlock()
                .add(Pad2d.tfSame(3, 2))
                .add(KerasBackbone.conv(4, 3, 2, 0, false))
                .add(new BatchNormNoScale(1e-3f, KerasBackbone.KERAS_BN_MOMENTUM))
                .add(new AvgPool2dSame(3, 1))
                .add(Pad2d.tfSame(3, 2, Double.NEGATIVE_INFINITY))
                .add(KerasBackbone.maxPoolValid(3, 2));
    }

    @Test
    void savedParametersReloadIntoAFreshBlockAndGiveTheSameOutput() throws Exception {
        try (NDManager manager = NDManager.newBaseManager()) {
            JniUtils.setGradMode(false);
            Block a = tiny();
            Shape in = new Shape(2, 3, 15, 16);
            a.initialize(manager, DataType.FLOAT32, in);
            // non-trivial BN state: beta, moving mean and variance
            a.getParameters().forEach(p -> {
                if (!p.getKey().endsWith("weight")) {
                    p.getValue().getArray().set(manager.randomUniform(0.5f, 1.5f, p.getValue().getShape()).toFloatArray());
                }
            });
            assertThat(a.getParameters().keys()).containsExactly(
                    "02Conv2d_weight", "03BatchNormNoScale_beta", "03BatchNormNoScale_runningMean",
                    "03BatchNormNoScale_runningVar");
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            a.saveParameters(new DataOutputStream(bytes));

            Block b = tiny();
            b.loadParameters(manager, new DataInputStream(new ByteArrayInputStream(bytes.toByteArray())));
            try (NDManager call = manager.newSubManager()) {
                NDArray x = call.randomNormal(in);
                NDArray ya = a.forward(new ParameterStore(call, false), new NDList(x), false).singletonOrThrow();
                NDArray yb = b.forward(new ParameterStore(call, false), new NDList(x), false).singletonOrThrow();
                assertThat(ya.getShape()).isEqualTo(new Shape(2, 4, 4, 4)); // 15x16 -> 8x8 -> 8x8 -> 4x4
                assertThat(ya.contentEquals(yb)).isTrue();
            }
        }
    }
}
