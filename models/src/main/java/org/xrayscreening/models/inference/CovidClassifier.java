package org.xrayscreening.models.inference;

import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.inference.Predictor;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.translate.TranslateException;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xrayscreening.models.Architecture;
import org.xrayscreening.models.explain.GradCam;
import org.xrayscreening.models.explain.Heatmap;
import org.xrayscreening.models.network.BatchNormFolding;
import org.xrayscreening.models.network.Networks;
import org.xrayscreening.models.preprocess.Preprocessor;
import org.xrayscreening.models.registry.ModelMetadata;
import org.xrayscreening.models.registry.ModelRegistry;
import org.xrayscreening.models.registry.ModelVersion;

/**
 * One loaded model version, answering P(COVID-19) for chest X-rays: the inference API of the stream job
 * and the trainer's evaluation.
 *
 * <p>Loading verifies every checksum first, so a version that does not match its metadata never runs.
 * Preprocessing follows the version's metadata (input size, normalization, masks and intensity), not the architecture's
 * defaults, so inputs are always prepared as the weights were trained.
 *
 * <p>fp32 batch norms are folded into their convolutions after loading ({@link BatchNormFolding}): the registry's
 * weights are the unfolded ones, the network that serves computes the same function with one op less per batch
 * norm. Heatmaps work on the folded network (Grad-CAM only back-propagates through the head).
 *
 * <p>Not for concurrent use from many threads (the DJL Predictor is not thread-safe; calls are
 * serialized): make one per Flink subtask in {@code open()} and close it in {@code close()}. Any thread may
 * call it: each call turns PyTorch's thread-local grad mode off for its duration, because DJL only does
 * so on the thread that started the engine, and with grad mode on autograd would record every forward
 * pass.
 */
public final class CovidClassifier implements AutoCloseable {
    /** Largest batch sent to the network at once; longer lists are split, to bound peak memory. */
    public static final int MAX_BATCH = 16;
    private static final Logger LOG = LoggerFactory.getLogger(CovidClassifier.class);

    private final ModelVersion version;
    private final Preprocessor preprocessor;
    private final Model model;
    private final Predictor<float[], Float> predictor;
    private final boolean manageGradMode;
    private final Precision precision;
    private final boolean batchNormsFolded;
    private final Bfloat16 bf16;
    private boolean closed;

    private CovidClassifier(ModelVersion version, Preprocessor preprocessor, Model model, boolean manageGradMode,
                            Precision precision, boolean batchNormsFolded, Bfloat16 bf16) {
        this.version = version;
        this.batchNormsFolded = batchNormsFolded;
        this.preprocessor = preprocessor;
        this.model = model;
        this.precision = precision;
        this.bf16 = bf16;
        this.predictor = model.newPredictor(new ProbabilityTranslator(preprocessor));
        this.manageGradMode = manageGradMode;
    }

    /** Resolves {@code ref} (version, alias or "latest"), verifies and loads it. */
    public static CovidClassifier load(ModelRegistry registry, Architecture architecture, String ref)
            throws IOException {
        return load(registry, registry.resolve(architecture, ref));
    }

    /** Verifies and loads one version; throws (and loads nothing) if any checksum does not match. */
    public static CovidClassifier load(ModelRegistry registry, ModelVersion version) throws IOException {
        return load(registry, version, Precision.FP32);
    }

    /**
     * As {@link #load(ModelRegistry, ModelVersion)}, computing in {@code precision}; batch norms are folded in fp32
     * only (a folded bias rounded to bf16 cancels against the convolution's output: measured further from fp32
     * than the unfolded bf16 network in {@code BatchNormFoldingTest}).
     */
    public static CovidClassifier load(ModelRegistry registry, ModelVersion version, Precision precision)
            throws IOException {
        return load(registry, version, true, precision, precision == Precision.FP32);
    }

    /**
     * As {@link #load(ModelRegistry, ModelVersion, Precision)}; {@code foldBatchNorms = false} keeps every batch
     * norm as a layer of its own instead of folding it into its convolution ({@link BatchNormFolding}): in fp32
     * the same function within float rounding, slower; for comparisons.
     */
    public static CovidClassifier load(ModelRegistry registry, ModelVersion version, Precision precision,
                                       boolean foldBatchNorms) throws IOException {
        return load(registry, version, true, precision, foldBatchNorms);
    }

    /** {@code manageGradMode = false} only lets a test show what happens without it. */
    static CovidClassifier load(ModelRegistry registry, ModelVersion version, boolean manageGradMode)
            throws IOException {
        return load(registry, version, manageGradMode, Precision.FP32, true);
    }

    private static CovidClassifier load(ModelRegistry registry, ModelVersion version, boolean manageGradMode,
                                        Precision precision, boolean foldBatchNorms) throws IOException {
        Objects.requireNonNull(precision, "precision");
        Objects.requireNonNull(version, "version");
        registry.verify(version);
        ModelMetadata metadata = version.metadata();
        checkUsable(version, metadata);

        long start = System.nanoTime();
        Model model = Model.newInstance(ModelExport.WEIGHTS_PREFIX);
        CovidClassifier classifier = null;
        Bfloat16 bf16 = null;
        try {
            Block block = Networks.classifier(version.architecture(), ModelExport.NUM_CLASSES);
            model.setBlock(block);
            // epoch 0 pins the exact file of the naming convention (verified above)
            model.load(version.directory(), ModelExport.WEIGHTS_PREFIX, Map.of("epoch", "0"));
            if (!block.isInitialized()) {
                // DJL silently skips a parameter file without its "DJL@" header
                throw new IOException(ModelExport.WEIGHTS_FILE + " of " + version + " is not a DJL parameter file");
            }
            if (foldBatchNorms) {
                // in fp32, before any cast: bf16 then rounds each folded weight once
                BatchNormFolding.fold(block);
            }
            if (precision == Precision.BF16) {
                bf16 = Bfloat16.open(model.getNDManager());
                int size = metadata.inputSize();
                Block fresh = Networks.classifier(version.architecture(), ModelExport.NUM_CLASSES);
                if (foldBatchNorms) {
                    BatchNormFolding.foldStructure(fresh);
                }
                model.setBlock(bf16.copyToBfloat16(block, fresh, model.getNDManager(), new Shape(1, 3, size, size)));
                // the fp32 copy is no longer used: free it now rather than when the model closes
                block.getParameters().values().forEach(Parameter::close);
            }
            classifier = new CovidClassifier(version, metadata.preprocessor(),
                    model, manageGradMode, precision, foldBatchNorms, bf16);
            classifier.smokeTest();
            LOG.info("loaded model {} ({} px, {}, preprocessing {}, {}, batch norms {}) in {} ms on {}", version,
                    metadata.inputSize(), metadata.normalization(), metadata.preprocessing().describe(), precision.id(),
                    foldBatchNorms ? "folded" : "separate",
                    (System.nanoTime() - start) / 1_000_000,
                    model.getNDManager().getDevice());
            return classifier;
        } catch (MalformedModelException | RuntimeException | TranslateException e) {
            closeQuietly(classifier, model, bf16);
            throw new IOException("cannot load model " + version + ": " + e.getMessage(), e);
        } catch (IOException e) {
            closeQuietly(classifier, model, bf16);
            throw e;
        }
    }

    /** P(COVID-19) for one image, in [0, 1]. */
    public float predict(BufferedImage image) throws TranslateException {
        return predictPreprocessed(List.of(preprocessor.toChw(image)))[0];
    }

    /** P(COVID-19) for each image, in order. */
    public float[] predictBatch(List<BufferedImage> images) throws TranslateException {
        List<float[]> inputs = new ArrayList<>(images.size());
        for (BufferedImage image : images) {
            inputs.add(preprocessor.toChw(image));
        }
        return predictPreprocessed(inputs);
    }

    /**
     * P(COVID-19) for inputs already made by {@link #preprocessor()} (or an equal Preprocessor), e.g. in
     * an upstream operator.
     *
     * @throws IllegalArgumentException if an input was prepared for another input size
     */
    public synchronized float[] predictPreprocessed(List<float[]> inputs) throws TranslateException {
        if (closed) {
            throw new IllegalStateException("classifier for " + version + " is closed");
        }
        for (float[] input : inputs) {
            preprocessor.checkLength(input);
        }
        float[] out = new float[inputs.size()];
        boolean gradWasOn = manageGradMode && JniUtils.isGradMode();
        if (gradWasOn) {
            JniUtils.setGradMode(false);
        }
        try {
            for (int from = 0; from < inputs.size(); from += MAX_BATCH) {
                List<Float> batch = predictor.batchPredict(inputs.subList(from, Math.min(inputs.size(), from + MAX_BATCH)));
                for (int i = 0; i < batch.size(); i++) {
                    out[from + i] = batch.get(i);
                }
            }
        } finally {
            if (gradWasOn) {
                // leave the thread as we found it (e.g. a trainer evaluating between training steps)
                JniUtils.setGradMode(true);
            }
        }
        return out;
    }

    /**
     * Grad-CAM of the COVID-19 logit for one image, at the image's own size ({@link GradCam}): where this model
     * found its evidence. Serialized with {@link #predictPreprocessed} (same block); costs about one more
     * forward pass.
     */
    public synchronized Heatmap heatmap(BufferedImage image) {
        if (closed) {
            throw new IllegalStateException("classifier for " + version + " is closed");
        }
        if (precision != Precision.FP32) {
            // Grad-CAM reads the classifier's own block structure and back-propagates in its dtype
            throw new UnsupportedOperationException("heatmaps need an fp32 classifier; " + this + " is " + precision.id());
        }
        return GradCam.heatmap(model.getBlock(), preprocessor.toChw(image), preprocessor.inputSize(),
                ModelMetadata.COVID_INDEX, image.getWidth(), image.getHeight(), model.getNDManager());
    }

    /** The exact version serving, with its metadata; recorded with every recommendation. */
    public ModelVersion version() {
        return version;
    }

    /** Whether batch norms are folded into their convolutions ({@link BatchNormFolding}). */
    public boolean batchNormsFolded() {
        return batchNormsFolded;
    }

    /** The number format this classifier computes in. */
    public Precision precision() {
        return precision;
    }

    public ModelMetadata metadata() {
        return version.metadata();
    }

    /** The preprocessing these weights expect; ship its output to {@link #predictPreprocessed}. */
    public Preprocessor preprocessor() {
        return preprocessor;
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            predictor.close();
            model.close();
            if (bf16 != null) {
                bf16.close();
            }
        }
    }

    @Override
    public String toString() {
        return "CovidClassifier[" + version + (precision == Precision.FP32 ? "" : ", " + precision.id()) + "]";
    }

    /** One forward pass on a blank input before serving: a hot swap must fail here, not on live traffic. */
    private void smokeTest() throws TranslateException {
        float p = predictPreprocessed(List.of(new float[preprocessor.length()]))[0];
        if (!(p >= 0f && p <= 1f)) {
            throw new IllegalStateException("the model returns " + p + " for a blank image (broken weights?)");
        }
    }

    private static void checkUsable(ModelVersion version, ModelMetadata metadata) throws IOException {
        if (metadata.architecture() != version.architecture()) {
            throw new IOException("metadata of " + version + " describes " + metadata.architecture().id());
        }
        List<String> classes = metadata.classNames();
        if (classes.size() != ModelExport.NUM_CLASSES
                || !ModelMetadata.DEFAULT_CLASS_NAMES.get(ModelMetadata.COVID_INDEX)
                        .equalsIgnoreCase(classes.get(ModelMetadata.COVID_INDEX))) {
            // a swapped class order would silently invert every recommendation
            throw new IOException("model " + version + " has classNames " + classes + "; expected "
                    + ModelMetadata.DEFAULT_CLASS_NAMES + " (index 0 is COVID-19)");
        }
        if (!metadata.files().containsKey(ModelExport.WEIGHTS_FILE)) {
            throw new IOException("model " + version + " has no " + ModelExport.WEIGHTS_FILE + " (files: "
                    + metadata.files().keySet() + ")");
        }
    }

    private static void closeQuietly(CovidClassifier classifier, Model model, Bfloat16 bf16) {
        try {
            if (classifier != null) {
                classifier.close();
            } else {
                model.close();
                if (bf16 != null) {
                    bf16.close();
                }
            }
        } catch (RuntimeException e) {
            LOG.warn("error while closing a model that failed to load", e);
        }
    }
}
