package org.xrayscreening.models.network;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.ParameterStore;
import ai.djl.nn.Parameter;
import ai.djl.nn.ParameterList;
import ai.djl.util.Pair;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;
import org.xrayscreening.models.Architecture;

/**
 * The four classifiers on real tensors: Keras' parameter counts, and forward passes at the native size and at
 * 128x128. Each classifier is built and initialized once (at its native size) and reused by the tests.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class NetworksTest {
    private NDManager manager;
    private final Map<Architecture, Block> classifiers = new EnumMap<>(Architecture.class);

    @BeforeAll
    void setUp() {
        manager = NDManager.newBaseManager();
        JniUtils.setGradMode(false);
    }

    @AfterAll
    void tearDown() {
        manager.close();
    }

    private Block classifier(Architecture architecture) {
        return classifiers.computeIfAbsent(architecture, a -> {
            Block block = Networks.classifier(a, 2);
            int s = a.nativeInputSize();
            block.initialize(manager, DataType.FLOAT32, new Shape(1, 3, s, s));
            return block;
        });
    }

    @ParameterizedTest
    @CsvSource({"MOBILENET, 3228864", "RESNET50, 23587712", "INCEPTION_V3, 21802784", "XCEPTION, 20861480"})
    void backboneHasKerasParameterCount(Architecture architecture, long kerasCount) {
        Block classifier = classifier(architecture);
        Block backbone = classifier.getChildren().get(0).getValue();
        assertThat(classifier.getChildren().get(0).getKey()).isEqualTo(Networks.classifierBackboneKey(architecture));
        assertThat(Networks.parameterCount(backbone)).isEqualTo(kerasCount);
        KerasBackbone typed = (KerasBackbone) backbone;
        // the head: GAP + dropout + Linear(C -> 2)
        assertThat(Networks.parameterCount(classifier) - kerasCount).isEqualTo(typed.outputChannels() * 2L + 2);
    }

    @ParameterizedTest
    @CsvSource({"MOBILENET, 27, 27", "RESNET50, 53, 53", "INCEPTION_V3, 94, 94", "XCEPTION, 40, 40"})
    void kerasLayerPathsCoverEveryParameterOnce(Architecture architecture, int convLayers, int bnLayers) {
        KerasBackbone backbone = (KerasBackbone) classifier(architecture).getChildren().get(0).getValue();
        Map<String, String> paths = backbone.kerasLayerPaths();
        assertThat(paths.keySet().stream().filter(NetworksTest::isBatchNorm)).hasSize(bnLayers);
        assertThat(paths.keySet().stream().filter(n -> !isBatchNorm(n))).hasSize(convLayers);
        ParameterList params = backbone.getParameters();
        Set<String> covered = new HashSet<>();
        for (String path : paths.values()) {
            for (Pair<String, Parameter> p : params) {
                if (p.getKey().startsWith(path + "_")) {
                    assertThat(covered.add(p.getKey())).as("%s mapped twice", p.getKey()).isTrue();
                }
            }
        }
        assertThat(covered).containsExactlyInAnyOrderElementsOf(params.keys());
    }

    private static boolean isBatchNorm(String kerasName) {
        return kerasName.endsWith("_bn") || kerasName.startsWith("batch_normalization");
    }

    @ParameterizedTest
    @EnumSource(Architecture.class)
    void forwardAtNativeSize(Architecture architecture) {
        assertForward(architecture, architecture.nativeInputSize());
    }

    @ParameterizedTest
    @EnumSource(Architecture.class)
    void forwardAt128(Architecture architecture) {
        assertForward(architecture, 128);
    }

    private void assertForward(Architecture architecture, int size) {
        Block block = classifier(architecture);
        try (NDManager call = manager.newSubManager()) {
            NDArray x = call.randomUniform(-1f, 1f, new Shape(2, 3, size, size));
            NDArray logits = block.forward(new ParameterStore(call, false), new NDList(x), false).singletonOrThrow();
            assertThat(logits.getShape()).isEqualTo(new Shape(2, 2));
            float[] values = logits.toFloatArray();
            for (float v : values) {
                assertThat(Float.isFinite(v)).as("finite logit %s", v).isTrue();
            }
            assertThat(logits.hasGradient()).isFalse();
        }
    }
}
