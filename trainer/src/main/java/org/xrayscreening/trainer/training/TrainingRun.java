package org.xrayscreening.trainer.training;

import ai.djl.MalformedModelException;
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
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.xrayscreening.models.Architecture;
import org.xrayscreening.models.inference.ModelExport;
import org.xrayscreening.models.preprocess.Preprocessor;
import org.xrayscreening.trainer.Json;
import org.xrayscreening.trainer.dataset.Dataset;
import org.xrayscreening.trainer.dataset.DatasetSplit;
import org.xrayscreening.trainer.dataset.PreparedImages;
import org.xrayscreening.trainer.dataset.Split;
import org.xrayscreening.trainer.dataset.SplitSpec;
import org.xrayscreening.trainer.evaluation.ConfusionMatrix;
import org.xrayscreening.trainer.evaluation.RocCurve;

/**
 * One training run in its own folder ({@code runs/<UTC timestamp>-<name>/}):
 * <pre>
 * run.json                      options, command, dataset digest, skipped images
 * state.json                    completed epochs, best validation loss, history (after every epoch)
 * checkpoint/last/model-0000.params   weights after the last completed epoch
 * checkpoint/best/model-0000.params   weights of the epoch with the lowest validation loss
 * final/model-0000.params       the result: best (default preset) or last (paper preset) epoch
 * validation-predictions.csv    P(COVID-19) of the final weights on the validation split
 * distillation.json, teacher-probabilities.csv   only when distilling ({@link Distillation}): the teacher and
 *                               its P(COVID-19) per training image
 * </pre>
 * An interrupted run continues with {@link #resume}: it reloads {@code checkpoint/last} and goes on from
 * the next epoch (the optimizer state starts fresh).
 */
public final class TrainingRun {
    public static final String RUN_FILE = "run.json";
    public static final String STATE_FILE = "state.json";
    public static final String LAST = "checkpoint/last";
    public static final String BEST = "checkpoint/best";
    public static final String FINAL = "final";
    public static final String VALIDATION_PREDICTIONS = "validation-predictions.csv";
    private static final DateTimeFormatter RUN_TIME =
            DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss").withZone(ZoneOffset.UTC);

    private final Path runDir;
    private final TrainOptions options;
    private final PrintStream out;
    private final ModelInitializer initializer;
    /** Null unless distilling; resolved to the teacher's exact version when the run starts. */
    private Distillation distillation;

    private TrainingRun(Path runDir, TrainOptions options, PrintStream out, ModelInitializer initializer,
            Distillation distillation) {
        this.runDir = runDir;
        this.options = options;
        this.out = out;
        this.initializer = initializer;
        this.distillation = distillation;
    }

    /** What a finished (or early-stopped) run produced. */
    public record Result(Path runDir, RunState state, int firstEpochRun, Path finalWeights) {}

    /** Hook that fills a freshly created model's weights before the first epoch (ImageNet import). */
    @FunctionalInterface
    public interface ModelInitializer {
        void initialize(Model model, TrainOptions options, PreparedImages train, PrintStream out) throws IOException;
    }

    /** Creates {@code runsRoot/<timestamp>-<name>} and trains in it. */
    public static Result start(TrainOptions options, Path runsRoot, String name, PrintStream out,
            ModelInitializer initializer) throws IOException {
        return start(options, runsRoot, name, out, initializer, null);
    }

    /** As {@link #start(TrainOptions, Path, String, PrintStream, ModelInitializer)}, distilling from a teacher if not null. */
    public static Result start(TrainOptions options, Path runsRoot, String name, PrintStream out,
            ModelInitializer initializer, Distillation distillation) throws IOException {
        Path runDir = runsRoot.resolve(RUN_TIME.format(Instant.now()) + "-" + name);
        for (int i = 2; Files.exists(runDir); i++) {
            runDir = runsRoot.resolve(RUN_TIME.format(Instant.now()) + "-" + name + "-" + i);
        }
        Files.createDirectories(runDir);
        return new TrainingRun(runDir, options, out, initializer, distillation).execute(null);
    }

    /**
     * Continues a run from its last completed epoch; {@code epochs} (if not null) replaces the planned
     * epoch count, e.g. to extend a finished run.
     */
    public static Result resume(Path runDir, Integer epochs, PrintStream out, ModelInitializer initializer)
            throws IOException {
        RunInfo info = Json.read(runDir.resolve(RUN_FILE), RunInfo.class);
        TrainOptions options = epochs == null ? info.options() : info.options().withEpochs(epochs);
        Path distillationFile = runDir.resolve(Distillation.FILE);
        Distillation distillation = Files.exists(distillationFile) ? Json.read(distillationFile, Distillation.class) : null;
        return new TrainingRun(runDir, options, out, initializer, distillation).execute(info);
    }

    private Result execute(RunInfo previous) throws IOException {
        Architecture arch = options.architecture();
        Preset preset = options.presetValue();
        Dataset dataset = Dataset.load(options.dataPaths()).withoutSources(options.excludeSources());
        dataset.problems().forEach(p -> out.println("skipped manifest row: " + p));
        SplitSpec spec = new SplitSpec(options.seed(), options.testFraction(), options.validationFraction());
        DatasetSplit split = DatasetSplit.of(dataset, spec);
        String digest = split.digest();
        out.println("dataset " + dataset.origin() + ": " + dataset.entries().size() + " images; split (" + spec + "): "
                + split.summary());
        out.println("dataset digest " + digest);
        if (previous != null && !digest.equals(previous.datasetDigest())) {
            throw new IllegalStateException("the dataset or split differs from the one this run started with ("
                    + previous.datasetDigest() + " vs now " + digest + "); refusing to resume");
        }

        long t0 = System.nanoTime();
        Preprocessor preprocessor = options.preprocessor();
        PreparedImages train = PreparedImages.load(split.get(Split.TRAIN), preprocessor);
        PreparedImages validation = PreparedImages.load(split.get(Split.VALIDATION), preprocessor);
        List<String> skipped = new ArrayList<>(train.skipped());
        skipped.addAll(validation.skipped());
        skipped.forEach(s -> out.println("skipped image " + s));
        out.printf(Locale.ROOT, "decoded and preprocessed %d train + %d validation images at %d px (%s) in %.1f s%n",
                train.size(), validation.size(), options.inputSize(), options.preprocessing().describe(),
                (System.nanoTime() - t0) / 1e9);
        if (train.size() < 2 || validation.size() < 1) {
            throw new IllegalStateException("too few usable images: train " + train.size() + ", validation "
                    + validation.size());
        }

        if (previous == null) {
            Json.write(runDir.resolve(RUN_FILE), new RunInfo(options, Instant.now(), dataset.origin(), digest,
                    split.summary(), skipped));
        }
        RunState state = previous == null || !Files.exists(runDir.resolve(STATE_FILE))
                ? new RunState() : Json.read(runDir.resolve(STATE_FILE), RunState.class);
        if (previous != null) {
            Json.write(runDir.resolve(RUN_FILE), new RunInfo(options, previous.createdAt(), previous.datasetOrigin(),
                    previous.datasetDigest(), previous.splitSummary(), previous.skipped()));
        }
        int firstEpoch = state.completedEpochs + 1;

        EpochSampler sampler = new EpochSampler(options.samplingValue(), train.entries());
        if (sampler.sampling() != EpochSampler.Sampling.UNIFORM) {
            out.println("sampling " + sampler.sampling().id() + " ((source, label) cells of the training split):");
            sampler.describe().forEach(line -> out.println("  " + line));
        }
        float[] classWeights = sampler.classWeights();
        Loss loss = Losses.create(preset.loss(), classWeights);
        // the run's seed also fixes the initial weights (the whole network from scratch, the new head on ImageNet
        // weights): without it two runs of one command differ from the first batch, and an ablation compares inits
        ai.djl.engine.Engine.getInstance().setRandomSeed(Long.hashCode(options.seed()));
        float[] teacher = null;
        Loss trainingLoss = loss; // validation loss (and so the best epoch) stays the preset's loss
        if (distillation != null) {
            if (distillation.teacherVersion() == null) {
                distillation = TeacherProbabilities.resolve(distillation, digest);
                Json.write(runDir.resolve(Distillation.FILE), distillation);
            }
            if (!distillation.sameSplitAsTeacher()) {
                out.println("WARNING: teacher " + distillation.teacherVersion() + " was trained on other data or another"
                        + " split (" + distillation.teacherTrainingDataDigest() + ", this run " + digest
                        + "): it may have seen this run's validation and test images");
            }
            teacher = TeacherProbabilities.forTraining(distillation, train, runDir, out);
            trainingLoss = Losses.distilling(loss, distillation.weight(), distillation.temperature());
            out.printf(Locale.ROOT, "distilling from %s: loss (1 - %s) * %s + %s * T^2 * KL(teacher_T || student_T),"
                    + " T = %s%n", distillation.teacherVersion(), distillation.weight(), preset.loss(),
                    distillation.weight(), distillation.temperature());
        }
        try (Model model = ModelExport.newModel(arch, options.inputSize())) {
            if (state.completedEpochs > 0) {
                load(model, runDir.resolve(LAST));
                out.println("resumed from epoch " + state.completedEpochs + " (" + runDir.resolve(LAST) + ")");
            } else if (initializer != null) {
                initializer.initialize(model, options, train, out);
            }
            int changed = BatchNorms.setMomentum(model.getBlock(), options.bnMomentum());
            out.printf(Locale.ROOT, "%s %dpx, preset %s (%s, %s, lr %s), batch %d, %d batch-norm layers at momentum %.2f,"
                    + " class weights covid %.3f / non-covid %.3f, augmentation %s%n", arch.id(), options.inputSize(),
                    preset.id(), preset.optimizer(), preset.loss(),
                    options.learningRate(),
                    options.batchSize(), changed, options.bnMomentum(), classWeights[0], classWeights[1],
                    options.augment() ? "on (" + options.augmentation() + ")" : "off");

            DefaultTrainingConfig config = new DefaultTrainingConfig(loss).optOptimizer(optimizer(preset));
            try (Trainer trainer = model.newTrainer(config)) {
                Augmenter augmenter = new Augmenter(preprocessor.normalization(), options.inputSize(),
                        options.augmentationValue());
                sessionStart = System.nanoTime();
                double lastEpochSeconds = 0;
                state.stoppedByTimeBudget = false;
                for (int epoch = firstEpoch; epoch <= options.epochs() && !state.stoppedEarly
                        && !state.stoppedByTimeBudget; epoch++) {
                    double elapsedMinutes = (System.nanoTime() - sessionStart) / 60e9;
                    if (options.timeBudgetMinutes() > 0 && epoch > firstEpoch
                            && elapsedMinutes + lastEpochSeconds / 60 > options.timeBudgetMinutes()) {
                        state.stoppedByTimeBudget = true;
                        out.printf(Locale.ROOT, "time budget: %.1f of %.1f min used and an epoch takes %.1f min;"
                                + " stopping after epoch %d%n", elapsedMinutes, options.timeBudgetMinutes(),
                                lastEpochSeconds / 60, epoch - 1);
                        break;
                    }
                    long epochStart = System.nanoTime();
                    runEpoch(model, trainer, loss, trainingLoss, teacher, augmenter, sampler, train, validation, epoch,
                            state);
                    lastEpochSeconds = (System.nanoTime() - epochStart) / 1e9;
                }
            }
            state.finished = true;
            Path finalDir = runDir.resolve(FINAL);
            Path chosen = options.keepBest() && state.bestEpoch > 0 ? runDir.resolve(BEST) : runDir.resolve(LAST);
            replaceDir(chosen, finalDir);
            // the chosen epoch's validation scores are known when it ran in this session: no second pass
            float[] p = chosen.endsWith("best") ? bestScores : lastScores;
            if (p == null) {
                load(model, finalDir);
                p = predict(model, validation);
            }
            writePredictions(runDir.resolve(VALIDATION_PREDICTIONS), validation, p);
            Json.write(runDir.resolve(STATE_FILE), state);
            out.printf(Locale.ROOT, "final weights: %s (epoch %d)%n", finalDir,
                    chosen.endsWith("best") ? state.bestEpoch : state.completedEpochs);
            return new Result(runDir, state, firstEpoch, finalDir.resolve(ModelExport.WEIGHTS_FILE));
        } catch (MalformedModelException e) {
            throw new IOException(e);
        }
    }

    /** Validation scores of the last and of the best epoch run in this session (null if none ran). */
    private float[] lastScores;
    private float[] bestScores;

    /** When this session's training started (the time budget counts from here). */
    private long sessionStart = System.nanoTime();

    private boolean overBudget() {
        return options.timeBudgetMinutes() > 0
                && (System.nanoTime() - sessionStart) / 60e9 > options.timeBudgetMinutes();
    }

    private void runEpoch(Model model, Trainer trainer, Loss loss, Loss trainingLoss, float[] teacher,
            Augmenter augmenter, EpochSampler sampler, PreparedImages train, PreparedImages validation, int epoch,
            RunState state) throws IOException {
        Random random = new Random(epochSeed(options.seed(), epoch));
        int n = train.size();
        int[] order = sampler.epochOrder(random);
        int batchSize = options.batchSize();
        int batches = (n + batchSize - 1) / batchSize;
        if (n % batchSize == 1 && batches > 1) {
            batches--; // a batch of one breaks batch norm in training mode: drop that one image this epoch
        }
        if (options.maxBatchesPerEpoch() > 0) {
            batches = Math.min(batches, options.maxBatchesPerEpoch());
        }
        int s = options.inputSize();
        int length = 3 * s * s;
        ProgressBar bar = new ProgressBar(out, String.format(Locale.ROOT, "%s epoch %d/%d",
                options.architecture().id(), epoch, options.epochs()), batches);
        long start = System.nanoTime();
        double lossSum = 0;
        long images = 0;
        JniUtils.setGradMode(true);
        for (int b = 0; b < batches; b++) {
            if (b > 0 && overBudget()) {
                out.printf(Locale.ROOT, "time budget of %.1f min reached: epoch %d ends after %d of %d batches%n",
                        options.timeBudgetMinutes(), epoch, b, batches);
                state.stoppedByTimeBudget = true;
                break;
            }
            int from = b * batchSize;
            int to = Math.min(n, from + batchSize);
            int m = to - from;
            float[] x = new float[m * length];
            float[] y = new float[m * 2];
            float[] soft = teacher == null ? null : new float[m * 2];
            for (int k = 0; k < m; k++) {
                int idx = order[from + k];
                float[] chw = options.augment() ? augmenter.apply(train.input(idx), random) : train.input(idx);
                System.arraycopy(chw, 0, x, k * length, length);
                y[k * 2 + train.label(idx).index()] = 1f;
                if (soft != null) {
                    System.arraycopy(Distillation.tempered(teacher[idx], distillation.temperature()), 0, soft, k * 2, 2);
                }
            }
            float value;
            try (NDManager batchManager = model.getNDManager().newSubManager()) {
                NDArray input = batchManager.create(x, new Shape(m, 3, s, s));
                NDArray target = batchManager.create(y, new Shape(m, 2));
                NDList labels = soft == null ? new NDList(target)
                        : new NDList(target, batchManager.create(soft, new Shape(m, 2)));
                try (GradientCollector collector = trainer.newGradientCollector()) {
                    NDArray logits = trainer.forward(new NDList(input)).head();
                    NDArray l = trainingLoss.evaluate(labels, new NDList(logits));
                    collector.backward(l);
                    value = l.getFloat();
                }
                trainer.step();
            }
            if (!Float.isFinite(value)) {
                throw new IllegalStateException("training loss is " + value + " at epoch " + epoch + " batch " + (b + 1));
            }
            lossSum += value * m;
            images += m;
            double elapsed = (System.nanoTime() - start) / 1e9;
            bar.update(b + 1, lossSum / images, images / elapsed);
        }
        double trainSeconds = (System.nanoTime() - start) / 1e9;
        double trainLoss = lossSum / images;

        float[] p = predict(model, validation);
        boolean[] positive = positives(validation);
        double validationLoss = meanLoss(model, loss, validation, p);
        ConfusionMatrix cm = ConfusionMatrix.at(p, positive, 0.5);
        double auc = RocCurve.of(p, positive).auc();
        double epochSeconds = (System.nanoTime() - start) / 1e9;

        state.completedEpochs = epoch;
        state.trainSeconds += trainSeconds;
        state.trainImages += images;
        state.history.add(new RunState.EpochRecord(epoch, trainLoss, validationLoss, cm.accuracy(), auc, epochSeconds,
                images / trainSeconds).withImages(images));
        saveWeights(model, runDir.resolve(LAST));
        boolean improved = validationLoss < state.bestValidationLoss;
        lastScores = p;
        if (improved) {
            bestScores = p;
            state.bestValidationLoss = validationLoss;
            state.bestEpoch = epoch;
            state.epochsWithoutImprovement = 0;
            saveWeights(model, runDir.resolve(BEST));
        } else {
            state.epochsWithoutImprovement++;
            if (options.patience() > 0 && state.epochsWithoutImprovement >= options.patience()) {
                state.stoppedEarly = true;
            }
        }
        Json.write(runDir.resolve(STATE_FILE), state);
        bar.finish(String.format(Locale.ROOT, "done: train loss %.4f | validation loss %.4f, accuracy %.3f, AUC %.3f,"
                + " sensitivity %.3f, specificity %.3f%s | %.1f img/s, %.0f s%s", trainLoss, validationLoss,
                cm.accuracy(), auc, cm.recall(), cm.specificity(), improved ? " (best)" : "", images / trainSeconds,
                epochSeconds, state.stoppedEarly ? " | early stop: no improvement for " + options.patience()
                        + " epochs" : state.stoppedByTimeBudget ? " | time budget reached" : ""));
    }

    static long epochSeed(long seed, int epoch) {
        return seed * 0x9E3779B97F4A7C15L + epoch * 0xBF58476D1CE4E5B9L;
    }

    private Optimizer optimizer(Preset preset) {
        return switch (preset.optimizer()) {
            case ADADELTA -> new KerasAdadelta(options.learningRate(), 0.95f, 1e-7f);
            case ADAM -> Optimizer.adam().optLearningRateTracker(Tracker.fixed(options.learningRate())).build();
        };
    }

    /** P(COVID-19) for every image, grad mode off, in evaluation mode (running batch-norm statistics). */
    public static float[] predict(Model model, PreparedImages images) {
        boolean grad = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
        try {
            int s = images.preprocessor().inputSize();
            int length = 3 * s * s;
            float[] out = new float[images.size()];
            int batch = 16;
            for (int from = 0; from < images.size(); from += batch) {
                int m = Math.min(batch, images.size() - from);
                float[] x = new float[m * length];
                for (int k = 0; k < m; k++) {
                    System.arraycopy(images.input(from + k), 0, x, k * length, length);
                }
                try (NDManager manager = model.getNDManager().newSubManager()) {
                    NDArray input = manager.create(x, new Shape(m, 3, s, s));
                    NDArray logits = model.getBlock().forward(new ai.djl.training.ParameterStore(manager, false),
                            new NDList(input), false).head();
                    float[] prob = logits.softmax(1).toFloatArray();
                    for (int k = 0; k < m; k++) {
                        out[from + k] = prob[k * 2];
                    }
                }
            }
            return out;
        } finally {
            JniUtils.setGradMode(grad);
        }
    }

    /** The training loss of the given probabilities (recomputed from P(COVID) as two-class logits). */
    private static double meanLoss(Model model, Loss loss, PreparedImages images, float[] p) {
        try (NDManager manager = model.getNDManager().newSubManager()) {
            boolean grad = JniUtils.isGradMode();
            JniUtils.setGradMode(false);
            try {
                int n = p.length;
                float[] logits = new float[n * 2];
                float[] y = new float[n * 2];
                for (int i = 0; i < n; i++) {
                    double pc = Math.min(1 - 1e-7, Math.max(1e-7, p[i]));
                    logits[i * 2] = (float) Math.log(pc);
                    logits[i * 2 + 1] = (float) Math.log(1 - pc);
                    y[i * 2 + images.label(i).index()] = 1f;
                }
                return loss.evaluate(new NDList(manager.create(y, new Shape(n, 2))),
                        new NDList(manager.create(logits, new Shape(n, 2)))).getFloat();
            } finally {
                JniUtils.setGradMode(grad);
            }
        }
    }

    public static boolean[] positives(PreparedImages images) {
        boolean[] positive = new boolean[images.size()];
        for (int i = 0; i < positive.length; i++) {
            positive[i] = images.label(i).isCovid();
        }
        return positive;
    }

    private static void writePredictions(Path file, PreparedImages images, float[] p) throws IOException {
        StringBuilder sb = new StringBuilder("file,label,source,p_covid\n");
        for (int i = 0; i < p.length; i++) {
            var e = images.entry(i);
            sb.append(e.name()).append(',').append(e.label().id()).append(',')
                    .append(e.source() == null ? "" : e.source()).append(',')
                    // the shortest text that reads back as the same float: the published threshold is chosen
                    // from these scores, and a rounded score above the true one put the threshold just over
                    // the image it was meant to keep (validation sensitivity 0.941 instead of 0.951)
                    .append(Float.toString(p[i])).append('\n');
        }
        Json.writeString(file, sb.toString());
    }

    /** Saves the weights into {@code dir} atomically (written beside it, then renamed over it). */
    static void saveWeights(Model model, Path dir) throws IOException {
        Path staging = dir.resolveSibling(dir.getFileName() + ".tmp");
        deleteRecursively(staging);
        Files.createDirectories(staging.getParent());
        ModelExport.save(model, staging);
        deleteRecursively(dir);
        Files.move(staging, dir, StandardCopyOption.ATOMIC_MOVE);
    }

    static void load(Model model, Path dir) throws IOException, MalformedModelException {
        model.load(dir, ModelExport.WEIGHTS_PREFIX, Map.of("epoch", "0"));
    }

    private static void replaceDir(Path from, Path to) throws IOException {
        deleteRecursively(to);
        Files.createDirectories(to);
        Files.copy(from.resolve(ModelExport.WEIGHTS_FILE), to.resolve(ModelExport.WEIGHTS_FILE));
    }

    static void deleteRecursively(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    public Path runDir() {
        return runDir;
    }

}
