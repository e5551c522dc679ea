package org.xrayscreening.models.explain;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.SequentialBlock;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.ParameterStore;
import java.awt.image.BufferedImage;
import java.awt.image.WritableRaster;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.xrayscreening.models.Architecture;
import org.xrayscreening.models.network.Networks;
import org.xrayscreening.models.preprocess.Preprocessor;
import org.xrayscreening.models.synthetic.SyntheticChestXray;

/**
 * Grad-CAM on real tensors for the four classifiers. With a global-average-pooling + dense head the gradient of
 * the logit w.r.t. feature A_cij is W_c / (h w), so Grad-CAM must equal the closed-form class-activation map
 * ReLU(sum_c W_c A_c) divided by h w: the test computes that independently and compares. Location: with a head set
 * so that its evidence is what a burned-in marker changes, the map's added evidence must sit on the marker and move
 * with it.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class GradCamTest {
    private NDManager manager;

    @BeforeAll
    void setUp() {
        manager = NDManager.newBaseManager();
    }

    @AfterAll
    void tearDown() {
        manager.close();
    }

    /** Small inputs (above each Keras minimum) keep the four networks quick on two cores. */
    private static int inputSize(Architecture architecture) {
        return switch (architecture) {
            case INCEPTION_V3 -> 107;
            case XCEPTION -> 96;
            default -> 64;
        };
    }

    private Block classifier(Architecture architecture, int size) {
        Block block = Networks.classifier(architecture, 2);
        block.initialize(manager, DataType.FLOAT32, new Shape(1, 3, size, size));
        return block;
    }

    @ParameterizedTest
    @EnumSource(Architecture.class)
    void equalsClosedFormCamOfTheDenseHeadForEveryArchitecture(Architecture architecture) {
        int size = inputSize(architecture);
        Block classifier = classifier(architecture, size);
        float[] chw = Preprocessor.forArchitecture(architecture, size)
                .toChw(SyntheticChestXray.positive(7, 150).gray8());
        NDArray weight = classifier.getParameters().get("04Linear_weight").getArray();
        int channels = (int) weight.getShape().get(1);
        float[] activations;
        Shape featureShape;
        try (NDManager scope = manager.newSubManager()) {
            JniUtils.setGradMode(false);
            Block backbone = ((SequentialBlock) classifier).getChildren().values().get(0);
            NDArray features = backbone.forward(new ParameterStore(scope, false),
                    new NDList(scope.create(chw, new Shape(1, 3, size, size))), false).singletonOrThrow();
            featureShape = features.getShape();
            activations = features.toFloatArray();
        }
        int plane = (int) (featureShape.get(2) * featureShape.get(3));

        // mixed signs, so the ReLU has something to cut; the closed form holds for any weights, and one of the two
        // signs must leave positive evidence unless the feature map is all zero
        GradCam.FeatureCam cam = null;
        boolean sawZero = false;
        for (int sign : new int[] {1, -1}) {
            float[] w = new float[2 * channels];
            for (int c = 0; c < channels; c++) {
                w[c] = (float) (sign * Math.sin(c * 0.7) * 0.05);
                w[channels + c] = 0.01f;
            }
            weight.set(w);
            GradCam.FeatureCam signed = GradCam.featureCam(classifier, chw, size, 0, manager);
            assertThat(signed.height()).isEqualTo(featureShape.get(2));
            assertThat(signed.width()).isEqualTo(featureShape.get(3));
            double peak = signed.max();
            for (int i = 0; i < plane; i++) {
                double sum = 0;
                for (int c = 0; c < channels; c++) {
                    sum += w[c] * activations[c * plane + i];
                }
                double expected = Math.max(0, sum) / plane;
                assertThat((double) signed.values()[i]).as("cell %d, sign %d", i, sign)
                        .isCloseTo(expected, within(Math.max(peak, 1e-12) * 1e-4));
                sawZero |= signed.values()[i] == 0f;
            }
            if (peak > 0 && (cam == null || cam.max() == 0)) {
                cam = signed;
            }
        }
        assertThat(cam).as("positive evidence for one of the signs").isNotNull();
        assertThat(sawZero).as("the ReLU cut some cells").isTrue();
        double peak = cam.max();

        Heatmap heatmap = GradCam.upsample(cam, 150, 120);
        assertThat(heatmap.width()).isEqualTo(150);
        assertThat(heatmap.height()).isEqualTo(120);
        float min = 1;
        float max = 0;
        for (float v : heatmap.values()) {
            min = Math.min(min, v);
            max = Math.max(max, v);
        }
        assertThat(min).isGreaterThanOrEqualTo(0f);
        assertThat(max).isCloseTo(1f, within(1e-6f));
        assertThat(heatmap.peakActivation()).isCloseTo(peak, within(1e-9));
        assertThat(JniUtils.isGradMode()).as("grad mode restored (was off)").isFalse();
    }

    @Test
    void lightsUpTheMarkerTheHeadWasSetToLookAtAndFollowsIt() {
        // seeded: whether random features keep a marker local depends on the draw (MobileNet's ReLU6 can saturate)
        Engine.getInstance().setRandomSeed(42);
        Architecture architecture = Architecture.RESNET50;
        int size = 128;
        Block classifier = classifier(architecture, size);
        Preprocessor preprocessor = Preprocessor.forArchitecture(architecture, size);
        BufferedImage plain = SyntheticChestXray.negative(3, 256).gray8();
        BufferedImage markedTopLeft = withMarker(plain, 16, 16);
        BufferedImage markedBottomRight = withMarker(plain, 256 - 16 - 64, 256 - 16 - 64);

        // The head's evidence is, by construction, what the marker changes: w_c = mean feature change of channel c.
        float[] withMarker = pooledFeatures(classifier, preprocessor.toChw(markedTopLeft), size);
        float[] without = pooledFeatures(classifier, preprocessor.toChw(plain), size);
        float[] w = new float[2 * withMarker.length];
        for (int c = 0; c < withMarker.length; c++) {
            w[c] = withMarker[c] - without[c];
        }
        classifier.getParameters().get("04Linear_weight").getArray().set(w);

        Heatmap topLeft = GradCam.heatmap(classifier, preprocessor.toChw(markedTopLeft), size, 0, 256, 256, manager);
        Heatmap bottomRight = GradCam.heatmap(classifier, preprocessor.toChw(markedBottomRight), size, 0, 256, 256,
                manager);

        // A random backbone also responds to the anatomy, everywhere; what the marker adds must sit on the marker.
        // At 128 px MobileNet's last feature map is 4x4, one cell per 64 image pixels: the top-left marker covers
        // cells 0-1, the bottom-right one cells 2-3.
        GradCam.FeatureCam unmarked = GradCam.featureCam(classifier, preprocessor.toChw(plain), size, 0, manager);
        GradCam.FeatureCam camTopLeft = GradCam.featureCam(classifier, preprocessor.toChw(markedTopLeft), size, 0,
                manager);
        GradCam.FeatureCam camBottomRight = GradCam.featureCam(classifier, preprocessor.toChw(markedBottomRight), size,
                0, manager);
        assertThat(unmarked.width()).isEqualTo(4);
        int[] addedTopLeft = argmax(difference(camTopLeft, unmarked));
        assertThat(addedTopLeft[0]).isBetween(0, 1);
        assertThat(addedTopLeft[1]).isBetween(0, 1);
        int[] addedBottomRight = argmax(difference(camBottomRight, unmarked));
        assertThat(addedBottomRight[0]).isBetween(2, 3);
        assertThat(addedBottomRight[1]).isBetween(2, 3);
        // and the map's mass moves with the marker
        assertThat(quadrantMass(topLeft, 0, 0)).isGreaterThan(quadrantMass(bottomRight, 0, 0));
        assertThat(quadrantMass(bottomRight, 1, 1)).isGreaterThan(quadrantMass(topLeft, 1, 1));
    }

    @Test
    void worksFromOtherThreadsAtOnceAndLeavesTheirGradModeAsFound() throws Exception {
        Architecture architecture = Architecture.MOBILENET;
        int size = 64;
        Preprocessor preprocessor = Preprocessor.forArchitecture(architecture, size);
        float[] chw = preprocessor.toChw(SyntheticChestXray.positive(11, 128).gray8());
        Block first = classifier(architecture, size);
        Block second = classifier(architecture, size);
        Heatmap expectedFirst = GradCam.heatmap(first, chw, size, 0, 64, 64, manager);
        Heatmap expectedSecond = GradCam.heatmap(second, chw, size, 0, 64, 64, manager);
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            // a fresh thread has grad mode on (PyTorch's default): it must still be on afterwards
            List<Future<Heatmap>> runs = List.of(
                    pool.submit(() -> {
                        Heatmap h = null;
                        for (int i = 0; i < 5; i++) {
                            h = GradCam.heatmap(first, chw, size, 0, 64, 64, manager);
                        }
                        assertThat(JniUtils.isGradMode()).isTrue();
                        return h;
                    }),
                    pool.submit(() -> {
                        Heatmap h = null;
                        for (int i = 0; i < 5; i++) {
                            h = GradCam.heatmap(second, chw, size, 0, 64, 64, manager);
                        }
                        assertThat(JniUtils.isGradMode()).isTrue();
                        return h;
                    }));
            assertThat(runs.get(0).get()).isEqualTo(expectedFirst);
            assertThat(runs.get(1).get()).isEqualTo(expectedSecond);
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void meanOfMapsIsRenormalised() {
        Heatmap a = new Heatmap(2, 1, new float[] {1f, 0f}, 3);
        Heatmap b = new Heatmap(2, 1, new float[] {0.5f, 0f}, 2);
        Heatmap mean = Heatmap.mean(List.of(a, b));
        assertThat(mean.values()).containsExactly(1f, 0f);
        Heatmap c = new Heatmap(2, 1, new float[] {0f, 1f}, 1);
        assertThat(Heatmap.mean(List.of(a, c)).values()).containsExactly(1f, 1f);
        assertThat(Heatmap.mean(List.of(new Heatmap(2, 1, new float[2], 0))).isEmpty()).isTrue();
    }

    private float[] pooledFeatures(Block classifier, float[] chw, int size) {
        try (NDManager scope = manager.newSubManager()) {
            JniUtils.setGradMode(false);
            Block backbone = ((SequentialBlock) classifier).getChildren().values().get(0);
            NDArray features = backbone.forward(new ParameterStore(scope, false),
                    new NDList(scope.create(chw, new Shape(1, 3, size, size))), false).singletonOrThrow();
            return features.mean(new int[] {3}).mean(new int[] {2}).toFloatArray();
        }
    }

    /** A bright 64x64 square (like a burned-in text marker) at (x, y). */
    private static BufferedImage withMarker(BufferedImage source, int x, int y) {
        BufferedImage copy = new BufferedImage(source.getWidth(), source.getHeight(), BufferedImage.TYPE_BYTE_GRAY);
        copy.setData(source.getData());
        WritableRaster raster = copy.getRaster();
        for (int j = y; j < y + 64; j++) {
            for (int i = x; i < x + 64; i++) {
                raster.setSample(i, j, 0, 255);
            }
        }
        return copy;
    }

    private static double quadrantMass(Heatmap map, int qx, int qy) {
        int hw = map.width() / 2;
        int hh = map.height() / 2;
        double sum = 0;
        for (int y = qy * hh; y < (qy + 1) * hh; y++) {
            for (int x = qx * hw; x < (qx + 1) * hw; x++) {
                sum += map.at(x, y);
            }
        }
        return sum;
    }

    private static Heatmap difference(GradCam.FeatureCam a, GradCam.FeatureCam b) {
        float[] d = new float[a.values().length];
        for (int i = 0; i < d.length; i++) {
            d[i] = a.values()[i] - b.values()[i];
        }
        return new Heatmap(a.width(), a.height(), d, 1);
    }

    private static int[] argmax(Heatmap map) {
        int best = 0;
        for (int i = 1; i < map.values().length; i++) {
            if (map.values()[i] > map.values()[best]) {
                best = i;
            }
        }
        return new int[] {best % map.width(), best / map.width()};
    }
}
