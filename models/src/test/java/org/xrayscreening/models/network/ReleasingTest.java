package org.xrayscreening.models.network;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.Blocks;
import ai.djl.nn.ParallelBlock;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.norm.BatchNorm;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.engine.Engine;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.xrayscreening.models.Architecture;

class ReleasingTest {

    @Test
    void aForwardPassKeepsOnlyItsOutputAlive() {
        try (NDManager manager = NDManager.newBaseManager()) {
            Block net = Networks.classifier(Architecture.MOBILENET, 2);
            net.initialize(manager, DataType.FLOAT32, new Shape(1, 3, 64, 64));
            ParameterStore store = new ParameterStore(manager, false);
            try (NDManager call = manager.newSubManager()) {
                NDArray x = call.randomUniform(-1, 1, new Shape(2, 3, 64, 64));
                NDArray logits = net.forward(store, new NDList(x), false).singletonOrThrow();
                assertThat(logits.getShape()).isEqualTo(new Shape(2, 2));
                // MobileNet runs ~90 ops; without releasing every one of their outputs stays attached here
                // until the call's manager closes. Left: the input, the logits and a few scalars/temporaries.
                // MobileNet runs ~90 ops; without releasing every one of their outputs stays attached to the
                // call's manager until it closes. Now only the input and the logits are left (and 0-d scalars that
                // DJL makes for clip's bounds: bytes, not activations).
                List<Shape> alive = call.getManagedArrays().stream().map(NDArray::getShape)
                        .filter(s -> s.dimension() > 0).toList();
                assertThat(alive).containsExactlyInAnyOrder(new Shape(2, 3, 64, 64), new Shape(2, 2));
            }
        }
    }

    @Test
    void releasingBlocksComputeTheSameOutputsAndGradientsAsDjls() {
        try (NDManager manager = NDManager.newBaseManager()) {
            Block plain = residual(new SequentialBlock(), (join, branches) -> new ParallelBlock(join, branches));
            Block releasing = residual(Releasing.sequential(), Releasing::parallel);
            Shape in = new Shape(2, 4, 9, 9);
            plain.initialize(manager, DataType.FLOAT32, in);
            releasing.initialize(manager, DataType.FLOAT32, in);
            var from = plain.getParameters();
            var to = releasing.getParameters();
            for (int i = 0; i < from.size(); i++) {
                to.get(i).getValue().getArray().set(from.get(i).getValue().getArray().toFloatArray());
            }
            NDArray x = manager.randomNormal(in);
            float[][] a = forwardBackward(plain, x, manager);
            float[][] b = forwardBackward(releasing, x, manager);
            assertThat(b.length).isEqualTo(a.length);
            for (int i = 0; i < a.length; i++) {
                assertThat(b[i]).as("output and gradient %d", i).containsExactly(a[i]);
            }
        }
    }

    /** conv-bn-relu, then a residual block (identity + conv-bn) summed, then relu: a ResNet block in small. */
    private static Block residual(SequentialBlock seq,
                                  java.util.function.BiFunction<java.util.function.Function<List<NDList>, NDList>,
                                          List<Block>, Block> parallel) {
        SequentialBlock branch = Releasing.sequential();
        branch.add(Conv2d.builder().setKernelShape(new Shape(3, 3)).optPadding(new Shape(1, 1)).setFilters(4).build())
                .add(BatchNorm.builder().build());
        return seq.add(Conv2d.builder().setKernelShape(new Shape(3, 3)).setFilters(4).optPadding(new Shape(1, 1)).build())
                .add(BatchNorm.builder().build())
                .add(Activation::relu)
                .add(parallel.apply(KerasBackbone::sum, List.of(Blocks.identityBlock(), branch)))
                .add(Activation::relu);
    }

    /** The output, then every parameter's gradient, after one training-mode forward and backward. */
    private static float[][] forwardBackward(Block block, NDArray x, NDManager manager) {
        ParameterStore store = new ParameterStore(manager, false);
        var params = block.getParameters();
        try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
            NDArray y = block.forward(store, new NDList(x), true).singletonOrThrow();
            collector.backward(y.square().sum());
            float[][] out = new float[params.size() + 1][];
            out[0] = y.toFloatArray();
            for (int i = 0; i < params.size(); i++) {
                NDArray p = params.get(i).getValue().getArray();
                out[i + 1] = p.hasGradient() ? p.getGradient().toFloatArray() : new float[0];
            }
            return out;
        }
    }
}
