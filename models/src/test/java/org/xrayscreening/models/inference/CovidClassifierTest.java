package org.xrayscreening.models.inference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.ParameterStore;
import java.awt.image.BufferedImage;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xrayscreening.models.Architecture;
import org.xrayscreening.models.preprocess.Preprocessor;
import org.xrayscreening.models.registry.ModelIntegrityException;
import org.xrayscreening.models.registry.ModelMetadata;
import org.xrayscreening.models.registry.ModelRegistry;
import org.xrayscreening.models.registry.ModelVersion;
import org.xrayscreening.models.synthetic.SyntheticChestXray;

/** Real DJL inference on a randomly initialized MobileNet at 64 px (the smallest size that keeps it quick). */
class CovidClassifierTest {
    private static final Architecture ARCH = Architecture.MOBILENET;
    private static final int SIZE = 64;

    @TempDir
    static Path tmp;

    private static Model trained;
    private static Path staging;
    private static ModelRegistry registry;
    private static ModelVersion v1;
    private static List<BufferedImage> images;

    @BeforeAll
    static void publishARandomModel() throws Exception {
        trained = ModelExport.newModel(ARCH, SIZE);
        staging = tmp.resolve("staging");
        Path weights = ModelExport.save(trained, staging);
        assertThat(weights.getFileName().toString()).isEqualTo("model-0000.params");
        registry = new ModelRegistry(tmp.resolve("registry"));
        v1 = registry.publish(ARCH, "v1", staging, metadata().build());
        images = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            images.add(SyntheticChestXray.of(i, 96, i % 2 == 0).gray8());
        }
        images.add(SyntheticChestXray.positive(7, 80).gray16());
    }

    @AfterAll
    static void closeModel() {
        trained.close();
    }

    @Test
    void saveThenPublishThenLoadGivesIdenticalOutputs() throws Exception {
        float[] expected = forwardInMemory(trained, images);
        try (CovidClassifier classifier = CovidClassifier.load(registry, v1, Precision.FP32, false)) {
            assertThat(classifier.batchNormsFolded()).isFalse();
            assertThat(classifier.predictBatch(images)).containsExactly(expected);
        }
        // the default folds batch norms into the convolutions: the same function up to float rounding
        try (CovidClassifier classifier = CovidClassifier.load(registry, ARCH, "latest")) {
            assertThat(classifier.version()).isEqualTo(v1);
            assertThat(classifier.batchNormsFolded()).isTrue();
            assertThat(classifier.preprocessor()).isEqualTo(Preprocessor.forArchitecture(ARCH, SIZE));
            float[] folded = classifier.predictBatch(images);
            for (int i = 0; i < images.size(); i++) {
                assertThat(folded[i]).isCloseTo(expected[i], within(1e-5f));
            }
            assertThat(classifier.heatmap(images.get(3)).width()).isEqualTo(images.get(3).getWidth());
        }
    }

    @Test
    void probabilitiesAreInUnitRangeAndBatchEqualsSingle() throws Exception {
        try (CovidClassifier classifier = CovidClassifier.load(registry, v1)) {
            float[] batch = classifier.predictBatch(images);
            assertThat(batch).hasSize(images.size());
            for (int i = 0; i < images.size(); i++) {
                float single = classifier.predict(images.get(i));
                assertThat(single).isBetween(0f, 1f);
                assertThat(batch[i]).isCloseTo(single, within(1e-5f));
            }
            List<float[]> preprocessed = images.stream().map(classifier.preprocessor()::toChw).toList();
            assertThat(classifier.predictPreprocessed(preprocessed)).containsExactly(batch);
            assertThat(classifier.predictBatch(List.of())).isEmpty();

            // longer than one network batch: split, same answers
            List<BufferedImage> many = new ArrayList<>();
            for (int i = 0; i < CovidClassifier.MAX_BATCH + 3; i++) {
                many.add(images.get(i % images.size()));
            }
            float[] manyOut = classifier.predictBatch(many);
            for (int i = 0; i < many.size(); i++) {
                assertThat(manyOut[i]).isCloseTo(batch[i % images.size()], within(1e-5f));
            }

            assertThatThrownBy(() -> classifier.predictPreprocessed(List.of(new float[3 * 32 * 32])))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("expected " + 3 * SIZE * SIZE);
            classifier.close();
            assertThatThrownBy(() -> classifier.predict(images.get(0))).isInstanceOf(IllegalStateException.class);
        }
    }

    @Test
    void tamperedWeightsAreNeverLoaded() throws Exception {
        ModelVersion tampered = registry.publish(ARCH, "tampered", staging, metadata().build());
        Path weights = tampered.directory().resolve(ModelExport.WEIGHTS_FILE);
        try (FileChannel channel = FileChannel.open(weights, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.allocate(1);
            long position = channel.size() - 100; // inside the last tensor: still a loadable file
            channel.read(b, position);
            b.put(0, (byte) (b.get(0) ^ 0x40)).rewind();
            channel.write(b, position);
        }
        assertThatThrownBy(() -> CovidClassifier.load(registry, ARCH, "tampered"))
                .isInstanceOfSatisfying(ModelIntegrityException.class,
                        e -> assertThat(e.file()).isEqualTo(ModelExport.WEIGHTS_FILE))
                .hasMessageContaining("mobilenet@tampered")
                .hasMessageContaining("sha256 mismatch for model-0000.params");
    }

    @Test
    void aSwappedClassOrderIsRefused() throws Exception {
        ModelVersion swapped = registry.publish(ARCH, "swapped", staging,
                metadata().classNames(List.of("non-covid", "covid")).build());
        assertThatThrownBy(() -> CovidClassifier.load(registry, swapped))
                .hasMessageContaining("classNames [non-covid, covid]");
    }

    @Test
    void gradModeIsOffInsideAPredictFromAnotherThread() throws Exception {
        BufferedImage image = images.get(0);
        JniUtils.setGradMode(false); // the unguarded one's load-time smoke test runs on this thread
        try (CovidClassifier classifier = CovidClassifier.load(registry, v1);
                CovidClassifier unguarded = CovidClassifier.load(registry, v1, false)) {
            float expected = classifier.predict(image);

            // A fresh thread, as a Flink subtask thread: grad mode on, as PyTorch starts every new thread.
            float[] onOtherThread = onNewThread(() -> {
                JniUtils.setGradMode(true);
                float p = classifier.predict(image);
                // restored afterwards: the caller's thread state is not changed behind its back
                assertThat(JniUtils.isGradMode()).isTrue();
                return new float[] {p};
            });
            assertThat(onOtherThread[0]).isEqualTo(expected);

            // Without the per-call switch, the translator (which runs on the predicting thread, right before the
            // forward pass) finds grad mode on and refuses: so the guarded call above did run with it off.
            assertThatThrownBy(() -> onNewThread(() -> {
                JniUtils.setGradMode(true);
                return new float[] {unguarded.predict(image)};
            })).hasStackTraceContaining("grad mode is on");
        }
    }

    @Test
    void memoryDoesNotGrowOverAThousandPredictions() throws Exception {
        try (CovidClassifier classifier = CovidClassifier.load(registry, v1)) {
            // on a fresh thread, as a Flink subtask calls it (grad mode starts on there)
            long[] rss = onNewThreadLong(() -> {
                long[] r = new long[3];
                r[0] = rssBytes();
                for (int i = 0; i < 1000; i++) {
                    float p = classifier.predict(images.get(i % images.size()));
                    if (!(p >= 0f && p <= 1f)) {
                        throw new AssertionError("p = " + p);
                    }
                    if (i == 499) {
                        System.gc();
                        r[1] = rssBytes();
                    }
                }
                System.gc();
                r[2] = rssBytes();
                return r;
            });
            long mb = 1024 * 1024;
            System.out.printf("RSS start %d MB, after 500 %d MB, after 1000 %d MB%n", rss[0] / mb, rss[1] / mb, rss[2] / mb);
            assertThat(rss[2] - rss[1]).as("RSS growth over the last 500 predictions").isLessThan(64 * mb);
        }
    }

    @Test
    void exportUsesTheFixedNameWhateverTheEpoch() throws Exception {
        try (Model model = ModelExport.newModel(ARCH, SIZE)) {
            model.setProperty("Epoch", "7");
            Path dir = tmp.resolve("export-epoch");
            ModelExport.save(model, dir);
            try (var files = Files.list(dir)) {
                assertThat(files.map(p -> p.getFileName().toString()).toList()).containsExactly("model-0000.params");
            }
            assertThatThrownBy(() -> ModelExport.save(model, dir)).isInstanceOf(IllegalStateException.class);
            try (var siblings = Files.list(tmp)) {
                assertThat(siblings.map(p -> p.getFileName().toString())).noneMatch(n -> n.startsWith(".djl-save-"));
            }
        }
    }

    /** The reference: the saved model's own block, forward in inference mode, softmax column 0. */
    private static float[] forwardInMemory(Model model, List<BufferedImage> imgs) {
        Preprocessor p = Preprocessor.forArchitecture(ARCH, SIZE);
        try (NDManager m = model.getNDManager().newSubManager()) {
            NDArray[] xs = imgs.stream().map(img -> p.toNDArray(img, m)).toArray(NDArray[]::new);
            NDArray x = NDArrays.stack(new NDList(xs));
            NDArray logits = model.getBlock().forward(new ParameterStore(m, false), new NDList(x), false).head();
            assertThat(logits.getShape()).isEqualTo(new Shape(imgs.size(), 2));
            float[] l = logits.toFloatArray();
            float[] out = new float[imgs.size()];
            for (int i = 0; i < out.length; i++) {
                out[i] = ProbabilityTranslator.softmaxFirst(l, 2 * i, 2);
            }
            return out;
        }
    }

    private static ModelMetadata.Builder metadata() {
        return ModelMetadata.builder(ARCH, SIZE)
                .decisionThreshold(0.5)
                .trainingDataDigest("sha256:test")
                .createdAt(Instant.parse("2026-11-26T05:47:17Z"))
                .command("CovidClassifierTest");
    }

    private static float[] onNewThread(Callable<float[]> task) throws Exception {
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try {
            return pool.submit(task).get();
        } finally {
            pool.shutdownNow();
        }
    }

    private static long[] onNewThreadLong(Callable<long[]> task) throws Exception {
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try {
            return pool.submit(task).get();
        } finally {
            pool.shutdownNow();
        }
    }

    private static long rssBytes() throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        }
        throw new IllegalStateException("no VmRSS in /proc/self/status");
    }
}
