package org.xrayscreening.models.network;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.nn.Block;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.pooling.Pool;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.ParameterStore;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** TF "SAME" padding reproduced exactly: amounts, output shapes and where the data lands, odd and even sizes. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class Pad2dTest {
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

    /** TF: out = ceil(in / s); total = max((out - 1) * s + k - in, 0); before = total / 2 (floor). */
    @ParameterizedTest
    @CsvSource({
        // in, k, s, before, after
        "224, 3, 2, 0, 1",
        "225, 3, 2, 1, 1",
        "299, 3, 2, 1, 1",
        "150, 3, 2, 0, 1",
        "7, 7, 2, 3, 3",
        "8, 7, 2, 2, 3",
        "9, 1, 2, 0, 0",
        "8, 1, 2, 0, 0",
        "8, 3, 1, 1, 1",
        "8, 5, 1, 2, 2",
        "8, 4, 1, 1, 2",
        "10, 3, 3, 1, 1",
        "11, 3, 3, 0, 1",
        "2, 5, 2, 1, 2",
    })
    void tfSamePadsFollowTfFormula(long in, int k, int s, long before, long after) {
        assertThat(Pad2d.tfSamePads(in, k, s)).containsExactly(before, after);
    }

    @ParameterizedTest
    @CsvSource({
        "7, 3, 2", "8, 3, 2", "9, 3, 2", "224, 3, 2", "299, 3, 2", "15, 7, 2", "16, 7, 2",
        "10, 1, 2", "11, 1, 2", "9, 3, 1", "10, 5, 1", "6, 3, 3", "7, 3, 3"
    })
    void padThenValidPoolGivesTfSameOutputShape(int size, int k, int s) {
        Block block = new SequentialBlock()
                .add(Pad2d.tfSame(k, s, Double.NEGATIVE_INFINITY))
                .add(Pool.maxPool2dBlock(new Shape(k, k), new Shape(s, s)));
        Shape in = new Shape(2, 3, size, size + 1);
        long expectedH = (size + s - 1) / s;
        long expectedW = (size + 1 + s - 1) / s;
        Shape expected = new Shape(2, 3, expectedH, expectedW);
        try (NDManager call = manager.newSubManager()) {
            block.initialize(call, DataType.FLOAT32, in);
            assertThat(block.getOutputShapes(new Shape[] {in})[0]).isEqualTo(expected);
            NDArray x = call.randomNormal(in);
            NDArray y = block.forward(new ParameterStore(call, false), new NDList(x), false).singletonOrThrow();
            assertThat(y.getShape()).isEqualTo(expected);
            assertThat(Float.isFinite(y.max().getFloat())).isTrue();
            assertThat(Float.isFinite(y.min().getFloat())).isTrue();
        }
    }

    @Test
    void extraRowAndColumnGoToBottomAndRight() {
        try (NDManager call = manager.newSubManager()) {
            // 4x4 input, k=3, s=2: total padding 1 -> (0 before, 1 after) on both axes
            NDArray x = call.arange(1f, 17f).reshape(1, 1, 4, 4);
            Pad2d pad = Pad2d.tfSame(3, 2);
            pad.initialize(call, DataType.FLOAT32, x.getShape());
            NDArray y = pad.forward(new ParameterStore(call, false), new NDList(x), false).singletonOrThrow();
            assertThat(y.getShape()).isEqualTo(new Shape(1, 1, 5, 5));
            assertThat(y.get(new NDIndex("0, 0, :4, :4")).contentEquals(x.get(new NDIndex("0, 0")))).isTrue();
            assertThat(y.get(new NDIndex("0, 0, 4, :")).sum().getFloat()).isZero();
            assertThat(y.get(new NDIndex("0, 0, :, 4")).sum().getFloat()).isZero();

            // 5 rows x 6 columns, k=3, s=2: rows (1, 1), columns (0, 1)
            NDArray z = call.ones(new Shape(1, 1, 5, 6));
            NDArray p = Pad2d.tfSame(3, 2).forward(new ParameterStore(call, false), new NDList(z), false)
                    .singletonOrThrow();
            assertThat(p.getShape()).isEqualTo(new Shape(1, 1, 7, 7));
            assertThat(p.get(new NDIndex("0, 0, 0, :")).sum().getFloat()).isZero();
            assertThat(p.get(new NDIndex("0, 0, 6, :")).sum().getFloat()).isZero();
            assertThat(p.get(new NDIndex("0, 0, 1:6, 0")).sum().getFloat()).isEqualTo(5f);
            assertThat(p.get(new NDIndex("0, 0, 1:6, 6")).sum().getFloat()).isZero();
        }
    }

    @Test
    void kerasZeroPadding2dIsFixedWhateverTheSize() {
        Pad2d pad = Pad2d.zeros(0, 1, 0, 1);
        assertThat(pad.getOutputShapes(new Shape[] {new Shape(1, 8, 7, 8)})[0]).isEqualTo(new Shape(1, 8, 8, 9));
        try (NDManager call = manager.newSubManager()) {
            NDArray x = call.ones(new Shape(1, 2, 3, 3));
            NDArray y = pad.forward(new ParameterStore(call, false), new NDList(x), false).singletonOrThrow();
            assertThat(y.getShape()).isEqualTo(new Shape(1, 2, 4, 4));
            assertThat(y.get(new NDIndex("0, 0, :3, :3")).sum().getFloat()).isEqualTo(9f);
            assertThat(y.sum().getFloat()).isEqualTo(18f);
        }
    }

    @Test
    void maxPoolPaddingNeverWins() {
        try (NDManager call = manager.newSubManager()) {
            // all-negative input: a zero pad would leak 0 into the max, -inf must not
            NDArray x = call.full(new Shape(1, 1, 4, 4), -5f);
            Block block = new SequentialBlock()
                    .add(Pad2d.tfSame(3, 2, Double.NEGATIVE_INFINITY))
                    .add(Pool.maxPool2dBlock(new Shape(3, 3), new Shape(2, 2)));
            block.initialize(call, DataType.FLOAT32, x.getShape());
            NDArray y = block.forward(new ParameterStore(call, false), new NDList(x), false).singletonOrThrow();
            assertThat(y.getShape()).isEqualTo(new Shape(1, 1, 2, 2));
            assertThat(y.toFloatArray()).containsOnly(-5f);
        }
    }
}
