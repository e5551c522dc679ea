package org.xrayscreening.models.network;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import org.junit.jupiter.api.Test;
import org.xrayscreening.models.Architecture;

class BatchNormMomentumTest {

    /** Running mean of the first batch norm after one training-mode forward pass from its initial 0. */
    private static double firstRunningMeanAfterOneStep(Block block, NDManager manager) {
        block.initialize(manager, DataType.FLOAT32, new Shape(2, 3, 32, 32));
        NDArray x = manager.randomUniform(0.5f, 1.5f, new Shape(2, 3, 32, 32));
        block.forward(new ParameterStore(manager, false), new NDList(x), true);
        for (var pair : block.getParameters()) {
            if (pair.getKey().endsWith("runningMean")) {
                Parameter p = pair.getValue();
                return p.getArray().abs().sum().getFloat();
            }
        }
        throw new AssertionError("no batch norm found");
    }

    @Test
    void lowerMomentumMovesRunningStatisticsFaster() {
        try (NDManager manager = NDManager.newBaseManager()) {
            manager.getEngine().setRandomSeed(1);
            double keras = firstRunningMeanAfterOneStep(Networks.classifier(Architecture.MOBILENET, 2), manager);
            manager.getEngine().setRandomSeed(1);
            double fast = firstRunningMeanAfterOneStep(Networks.classifier(Architecture.MOBILENET, 2, 0.5f), manager);
            assertThat(keras).isPositive();
            // same input, same weights: running mean = (1 - momentum) * batch mean, so 0.5 / 0.01 = 50x
            assertThat(fast / keras).isCloseTo(50.0, org.assertj.core.data.Offset.offset(1.0));
        }
    }

    @Test
    void momentumOverrideDoesNotLeakToLaterBlocks() {
        Networks.classifier(Architecture.INCEPTION_V3, 2, 0.9f);
        assertThat(KerasBackbone.bnMomentum()).isEqualTo(KerasBackbone.KERAS_BN_MOMENTUM);
        assertThatThrownBy(() -> Networks.classifier(Architecture.RESNET50, 2, 1.0f))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
