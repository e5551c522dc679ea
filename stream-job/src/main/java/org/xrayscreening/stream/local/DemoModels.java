package org.xrayscreening.stream.local;

import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.Trainer;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import org.xrayscreening.models.Architecture;
import org.xrayscreening.models.inference.ModelExport;
import org.xrayscreening.models.preprocess.Preprocessor;
import org.xrayscreening.models.registry.ModelMetadata;
import org.xrayscreening.models.registry.ModelNotFoundException;
import org.xrayscreening.models.registry.ModelRegistry;
import org.xrayscreening.models.registry.ModelVersion;
import org.xrayscreening.models.synthetic.SyntheticChestXray;
import org.xrayscreening.stream.ModelSpec;

/**
 * Demo-grade models for the local run, trained in a few minutes on synthetic images at a small input size.
 * They exist so that a fresh clone can show the whole pipeline; they have never seen a real X-ray and must
 * not be used for anything else (their registry metadata says so). Real models come from the trainer.
 */
public final class DemoModels {

    /** Small enough to train all four in a few minutes on 2 cores; InceptionV3 needs at least 75. */
    public static final int DEFAULT_INPUT_SIZE = 80;
    public static final int DEFAULT_IMAGES = 192;
    public static final int DEFAULT_EPOCHS = 3;

    static final String NOTES = "DEMO ONLY: trained on synthetic images by the local run; not a medical model";

    private final ModelRegistry registry;
    private final int inputSize;
    private final int images;
    private final int epochs;
    private final PrintStream log;

    public DemoModels(ModelRegistry registry, int inputSize, int images, int epochs, PrintStream log) {
        this.registry = registry;
        this.inputSize = inputSize;
        this.images = images;
        this.epochs = epochs;
        this.log = log;
    }

    /** Makes sure every spec resolves; trains and publishes (as "production") the ones that do not. */
    public void ensureProduction(Iterable<ModelSpec> specs) throws Exception {
        for (ModelSpec spec : specs) {
            try {
                ModelVersion v = registry.resolve(spec.architecture(), spec.ref());
                log.printf(Locale.ROOT, "%s: serving %s from %s%n", spec.architecture().id(), v.version(), registry.root());
            } catch (ModelNotFoundException e) {
                log.printf(Locale.ROOT, "%s: no model '%s' in %s: training a DEMO model on synthetic images "
                        + "(%d images, %d epochs, %dx%d) ...%n", spec.architecture().id(), spec.ref(),
                        registry.root(), images, epochs, inputSize, inputSize);
                ModelVersion v = train(spec.architecture());
                registry.setAlias(spec.architecture(), spec.ref().equals(ModelRegistry.LATEST) ? "production"
                        : spec.ref(), v.version());
            }
        }
    }

    public ModelVersion train(Architecture architecture) throws Exception {
        ai.djl.engine.Engine.getEngine("PyTorch"); // loads the native library before any JNI call
        JniUtils.setGradMode(true);
        long start = System.nanoTime();
        Preprocessor preprocessor = Preprocessor.forArchitecture(architecture, inputSize);
        int batchSize = 16;
        float[][] inputs = new float[images][];
        float[] labels = new float[images];
        for (int i = 0; i < images; i++) {
            boolean positive = i % 2 == 0;
            inputs[i] = preprocessor.toChw(SyntheticChestXray.of(10_000 + i, inputSize * 2, positive).gray8());
            labels[i] = positive ? 0 : 1; // class 0 is COVID-19
        }
        double lastLoss = Double.NaN;
        double lastAccuracy = Double.NaN;
        // 24 optimizer steps are far too few for Keras' batch-norm momentum of 0.99 to settle the running
        // statistics (eval mode would see the initial ones); 0.8 settles them within ~20 steps.
        try (Model model = ModelExport.newModel(architecture, inputSize, 0.8f)) {
            DefaultTrainingConfig config = new DefaultTrainingConfig(Loss.softmaxCrossEntropyLoss())
                    .optOptimizer(Optimizer.adam().optLearningRateTracker(Tracker.fixed(1e-3f)).build());
            try (Trainer trainer = model.newTrainer(config)) {
                trainer.initialize(new Shape(batchSize, 3, inputSize, inputSize));
                int batches = (images + batchSize - 1) / batchSize;
                for (int epoch = 1; epoch <= epochs; epoch++) {
                    double lossSum = 0;
                    int correct = 0;
                    for (int b = 0; b < batches; b++) {
                        int from = b * batchSize;
                        int to = Math.min(images, from + batchSize);
                        try (NDManager batch = trainer.getManager().newSubManager()) {
                            float[] flat = new float[(to - from) * preprocessor.length()];
                            for (int i = from; i < to; i++) {
                                System.arraycopy(inputs[i], 0, flat, (i - from) * preprocessor.length(),
                                        preprocessor.length());
                            }
                            NDArray x = batch.create(flat, new Shape(to - from, 3, inputSize, inputSize));
                            NDArray y = batch.create(java.util.Arrays.copyOfRange(labels, from, to));
                            try (GradientCollector collector = trainer.newGradientCollector()) {
                                NDArray logits = trainer.forward(new NDList(x)).singletonOrThrow();
                                NDArray loss = trainer.getLoss().evaluate(new NDList(y), new NDList(logits));
                                collector.backward(loss);
                                lossSum += loss.getFloat() * (to - from);
                                NDArray predicted = logits.argMax(1).toType(ai.djl.ndarray.types.DataType.FLOAT32, false);
                                correct += (int) predicted.eq(y).sum().getLong();
                            }
                            trainer.step();
                        }
                        progress(architecture, epoch, b + 1, batches, lossSum / to, (double) correct / to);
                    }
                    lastLoss = lossSum / images;
                    lastAccuracy = (double) correct / images;
                    log.println();
                }
            }
            Path staging = Files.createTempDirectory(registry.root().toAbsolutePath().getParent() == null
                    ? Path.of(".") : ensureDir(registry.root()), ".demo-staging-");
            ModelExport.save(model, staging);
            ModelMetadata metadata = ModelMetadata.builder(architecture, inputSize)
                    .trainingDataDigest("synthetic:seed=10000,n=" + images)
                    .metrics(Map.of("train_loss", lastLoss, "train_accuracy", lastAccuracy))
                    .command("xray-screening local (demo models)")
                    .notes(NOTES)
                    .build();
            ModelVersion version = registry.publish(architecture, null, staging, metadata);
            double heldOut = heldOutAccuracy(version);
            log.printf(Locale.ROOT, "%s: published demo version %s in %.0f s (train accuracy %.2f, "
                            + "%.2f on %d unseen synthetic images)%n", architecture.id(), version.version(),
                    (System.nanoTime() - start) / 1e9, lastAccuracy, heldOut, HELD_OUT);
            return version;
        } finally {
            JniUtils.setGradMode(false);
        }
    }

    private static final int HELD_OUT = 32;

    /** Accuracy of the published model, in eval mode, on synthetic images it was not trained on. */
    private double heldOutAccuracy(ModelVersion version) throws Exception {
        JniUtils.setGradMode(false);
        int correct = 0;
        try (org.xrayscreening.models.inference.CovidClassifier classifier =
                     org.xrayscreening.models.inference.CovidClassifier.load(registry, version)) {
            for (int i = 0; i < HELD_OUT; i++) {
                boolean positive = i % 2 == 0;
                float p = classifier.predict(SyntheticChestXray.of(90_000 + i, inputSize * 2, positive).gray8());
                if ((p >= 0.5f) == positive) {
                    correct++;
                }
            }
        }
        return (double) correct / HELD_OUT;
    }

    private static Path ensureDir(Path dir) throws IOException {
        Files.createDirectories(dir);
        return dir;
    }

    private void progress(Architecture a, int epoch, int batch, int batches, double loss, double accuracy) {
        int width = 24;
        int done = batch * width / batches;
        log.printf(Locale.ROOT, "\r  %-11s epoch %d/%d [%s%s] %3d/%d loss %.3f acc %.2f", a.id(), epoch, epochs,
                "#".repeat(done), ".".repeat(width - done), batch, batches, loss, accuracy);
        log.flush();
    }
}
