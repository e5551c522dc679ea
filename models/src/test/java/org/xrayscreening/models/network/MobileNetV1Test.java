package org.xrayscreening.models.network;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.ParameterList;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.ParameterStore;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.xrayscreening.models.Architecture;

/** MobileNet v1 on its own: Keras' parameter count, output shapes, and the Keras layer -> DJL path map. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class MobileNetV1Test {
    private NDManager manager;
    private MobileNetV1 net;

    @BeforeAll
    void setUp() {
        manager = NDManager.newBaseManager();
        JniUtils.setGradMode(false);
        net = new MobileNetV1();
        net.initialize(manager, DataType.FLOAT32, new Shape(1, 3, 224, 224));
    }

    @AfterAll
    void tearDown() {
        manager.close();
    }

    @Test
    void hasKerasParameterCount() {
        assertThat(KerasBackbone.parameterCount(net)).isEqualTo(3_228_864L);
        assertThat(net.outputChannels()).isEqualTo(1024);
    }

    @Test
    void featureMapShapesAtNativeAndOddSizes() {
        // conv1 SAME (ceil), then ZeroPadding((0,1),(0,1)) + valid 3x3 s2 = floor((n + 1 - 3) / 2) + 1 = floor(n / 2)
        for (int[] c : new int[][] {{224, 7}, {128, 4}, {225, 7}, {97, 3}}) {
            try (NDManager call = manager.newSubManager()) {
                NDArray x = call.randomUniform(-1f, 1f, new Shape(1, 3, c[0], c[0]));
                NDArray y = net.forward(new ParameterStore(call, false), new NDList(x), false).singletonOrThrow();
                assertThat(y.getShape()).as("input %d", c[0]).isEqualTo(new Shape(1, 1024, c[1], c[1]));
                assertThat(net.getOutputShapes(new Shape[] {x.getShape()})[0]).isEqualTo(y.getShape());
            }
        }
    }

    @Test
    void kerasLayerPathsResolveToParametersInKerasOrder() {
        Map<String, String> paths = net.kerasLayerPaths();
        List<String> expectedOrder = new ArrayList<>(List.of("conv1", "conv1_bn"));
        for (int i = 1; i <= 13; i++) {
            expectedOrder.addAll(List.of("conv_dw_" + i, "conv_dw_" + i + "_bn", "conv_pw_" + i, "conv_pw_" + i + "_bn"));
        }
        assertThat(paths.keySet()).containsExactlyElementsOf(expectedOrder);

        assertThat(paths).containsEntry("conv1", "01SequentialBlock_02Conv2d")
                .containsEntry("conv1_bn", "01SequentialBlock_03BatchNorm")
                .containsEntry("conv_dw_1", "02SequentialBlock_01Conv2d")
                .containsEntry("conv_dw_2", "03SequentialBlock_02Conv2d")
                .containsEntry("conv_dw_3", "04SequentialBlock_01Conv2d")
                .containsEntry("conv_pw_12_bn", "13SequentialBlock_06BatchNorm")
                .containsEntry("conv_pw_13", "14SequentialBlock_04Conv2d");

        ParameterList params = net.getParameters();
        assertThat(params.get(paths.get("conv1") + "_weight").getShape()).isEqualTo(new Shape(32, 3, 3, 3));
        assertThat(params.get(paths.get("conv_dw_3") + "_weight").getShape()).isEqualTo(new Shape(128, 1, 3, 3));
        assertThat(params.get(paths.get("conv_pw_13") + "_weight").getShape()).isEqualTo(new Shape(1024, 1024, 1, 1));
        long covered = 0;
        for (Map.Entry<String, String> e : paths.entrySet()) {
            if (e.getKey().endsWith("_bn")) {
                for (String p : List.of("_gamma", "_beta", "_runningMean", "_runningVar")) {
                    covered += params.get(e.getValue() + p).getShape().size();
                }
            } else {
                assertThat(params.get(e.getValue() + "_bias")).as("no conv bias in MobileNet").isNull();
                covered += params.get(e.getValue() + "_weight").getShape().size();
            }
        }
        assertThat(covered).as("the map covers every parameter").isEqualTo(3_228_864L);
    }

    @Test
    void classifierPrefixesBackbonePaths() {
        assertThat(Networks.classifierBackboneKey(Architecture.MOBILENET)).isEqualTo("01MobileNetV1");
        MobileNetV1 half = new MobileNetV1(0.5);
        assertThat(half.outputChannels()).isEqualTo(512);
        assertThat(half.alpha()).isEqualTo(0.5);
    }
}
