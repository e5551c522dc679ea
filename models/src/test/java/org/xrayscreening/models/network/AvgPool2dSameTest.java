package org.xrayscreening.models.network;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.ParameterStore;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/** TF SAME average pooling divides by the number of non-padded elements, with symmetric and asymmetric pads. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class AvgPool2dSameTest {
    private NDManager manager;

    @BeforeAll
    void setUp() {
        manager = NDManager.newBaseManager();
        JniUtils.setGradMode(false);
    }

    @AfterAll
    void tearDown() {
        manager.close();
    }

    private NDArray pool(AvgPool2dSame block, NDArray x, NDManager call) {
        return block.forward(new ParameterStore(call, false), new NDList(x), false).singletonOrThrow();
    }

    @Test
    void averageOfOnesIsOneEverywhereIncludingBorders() {
        try (NDManager call = manager.newSubManager()) {
            NDArray ones = call.ones(new Shape(2, 3, 5, 6));
            NDArray y = pool(new AvgPool2dSame(3, 1), ones, call);
            assertThat(y.getShape()).isEqualTo(new Shape(2, 3, 5, 6));
            assertThat(y.toFloatArray()).containsOnly(1f);
            NDArray z = pool(new AvgPool2dSame(3, 2), call.ones(new Shape(1, 1, 6, 7)), call);
            assertThat(z.getShape()).isEqualTo(new Shape(1, 1, 3, 4));
            assertThat(z.toFloatArray()).containsOnly(1f);
        }
    }

    @Test
    void cornerAndEdgeAveragesUseValidElementsOnly() {
        try (NDManager call = manager.newSubManager()) {
            // 0 1 2 / 3 4 5 / 6 7 8
            NDArray x = call.arange(0f, 9f).reshape(1, 1, 3, 3);
            float[] y = pool(new AvgPool2dSame(3, 1), x, call).toFloatArray();
            assertThat(y[0]).isCloseTo((0 + 1 + 3 + 4) / 4f, within(1e-5f));
            assertThat(y[1]).isCloseTo((0 + 1 + 2 + 3 + 4 + 5) / 6f, within(1e-5f));
            assertThat(y[4]).isCloseTo(4f, within(1e-5f));
            // 4x4, k=3, s=2: TF pads (0, 1) -> windows rows/cols {0,1,2} and {2,3}
            NDArray x4 = call.arange(0f, 16f).reshape(1, 1, 4, 4);
            float[] z = pool(new AvgPool2dSame(3, 2), x4, call).toFloatArray();
            assertThat(z).hasSize(4);
            assertThat(z[0]).isCloseTo((0 + 1 + 2 + 4 + 5 + 6 + 8 + 9 + 10) / 9f, within(1e-5f));
            assertThat(z[3]).isCloseTo((10 + 11 + 14 + 15) / 4f, within(1e-5f));
        }
    }
}
