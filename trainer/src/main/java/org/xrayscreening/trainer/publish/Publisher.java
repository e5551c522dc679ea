package org.xrayscreening.trainer.publish;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.xrayscreening.models.registry.ModelMetadata;
import org.xrayscreening.models.registry.ModelRegistry;
import org.xrayscreening.models.registry.ModelVersion;
import org.xrayscreening.trainer.Json;
import org.xrayscreening.trainer.evaluation.ConfusionMatrix;
import org.xrayscreening.trainer.evaluation.RocCurve;
import org.xrayscreening.trainer.evaluation.ThresholdChooser;
import org.xrayscreening.trainer.training.Distillation;
import org.xrayscreening.trainer.training.RunInfo;
import org.xrayscreening.trainer.training.RunState;
import org.xrayscreening.trainer.training.TrainOptions;
import org.xrayscreening.trainer.training.TrainingRun;

/**
 * Turns a finished run folder into a registry version: its {@code final/} weights, with metadata holding the
 * validation metrics (at 0.5 and at the chosen threshold), the decision threshold chosen on the validation
 * split for a target sensitivity, the training data digest (images + labels + split) and the exact command.
 */
public final class Publisher {
    private Publisher() {}

    public static ModelVersion publish(Path runDir, Path registryRoot, String version, double targetSensitivity)
            throws IOException {
        RunInfo info = Json.read(runDir.resolve(TrainingRun.RUN_FILE), RunInfo.class);
        RunState state = Json.read(runDir.resolve(TrainingRun.STATE_FILE), RunState.class);
        if (!state.finished) {
            throw new IllegalStateException("run " + runDir + " has not finished (resume it first)");
        }
        TrainOptions o = info.options();
        Validation v = readValidation(runDir.resolve(TrainingRun.VALIDATION_PREDICTIONS));
        double threshold = ThresholdChooser.forSensitivity(v.p, v.positive, targetSensitivity);
        Map<String, Double> metrics = new LinkedHashMap<>();
        put(metrics, "validation.auc", RocCurve.of(v.p, v.positive).auc());
        putAll(metrics, "validation.t0.5.", ConfusionMatrix.at(v.p, v.positive, 0.5));
        putAll(metrics, "validation.chosen.", ConfusionMatrix.at(v.p, v.positive, threshold));
        metrics.put("validation.chosen.threshold", threshold);
        metrics.put("validation.targetSensitivity", targetSensitivity);
        metrics.put("train.epochs", (double) state.completedEpochs);
        metrics.put("train.bestEpoch", (double) state.bestEpoch);
        metrics.put("train.seconds", state.trainSeconds);
        metrics.put("train.images", (double) state.trainImages);
        metrics.put("train.stoppedByTimeBudget", state.stoppedByTimeBudget ? 1.0 : 0.0);
        metrics.put("train.imagesPerSecond", state.trainSeconds > 0 ? state.trainImages / state.trainSeconds : 0);
        String notes = String.format(Locale.ROOT, "preset %s, init %s, %d epochs run (best %d), batch %d, lr %s, "
                + "bn momentum %.2f, split seed %d test %.2f validation %.2f; data %s; threshold for validation "
                + "sensitivity >= %.2f; run %s", o.preset(), o.init(), state.completedEpochs, state.bestEpoch,
                o.batchSize(), o.learningRate(), o.bnMomentum(), o.seed(), o.testFraction(), o.validationFraction(),
                o.dataDescription(), targetSensitivity, runDir.getFileName())
                + "; sampling " + o.sampling() + ", augmentation " + o.augmentation()
                + (o.excludeSources().isEmpty() ? "" : "; sources left out (leave-one-source-out): "
                        + String.join(", ", o.excludeSources()));
        Path distillationFile = runDir.resolve(Distillation.FILE);
        if (Files.exists(distillationFile)) {
            Distillation d = Json.read(distillationFile, Distillation.class);
            notes += "; " + d.describe();
            metrics.put("train.distillation.weight", (double) d.weight());
            metrics.put("train.distillation.temperature", (double) d.temperature());
        }
        ModelMetadata metadata = ModelMetadata.builder(o.architecture(), o.inputSize())
                .normalization(o.normalization())
                .preprocessing(o.preprocessing())
                .decisionThreshold(threshold)
                .trainingDataDigest(info.datasetDigest())
                .metrics(metrics)
                .command(o.command())
                .notes(notes)
                .build();
        return new ModelRegistry(registryRoot).publish(o.architecture(), version, runDir.resolve(TrainingRun.FINAL),
                metadata);
    }

    /** The confusion counts and rates of {@code cm} under {@code prefix}. */
    public static void putAll(Map<String, Double> m, String prefix, ConfusionMatrix cm) {
        m.put(prefix + "tp", (double) cm.tp());
        m.put(prefix + "tn", (double) cm.tn());
        m.put(prefix + "fp", (double) cm.fp());
        m.put(prefix + "fn", (double) cm.fn());
        put(m, prefix + "accuracy", cm.accuracy());
        put(m, prefix + "specificity", cm.specificity());
        put(m, prefix + "precision", cm.precision());
        put(m, prefix + "recall", cm.recall());
        put(m, prefix + "f1", cm.f1());
    }

    /** Undefined metrics (NaN) are left out: JSON has no NaN. */
    private static void put(Map<String, Double> m, String key, double value) {
        if (Double.isFinite(value)) {
            m.put(key, value);
        }
    }

    record Validation(float[] p, boolean[] positive) {}

    static Validation readValidation(Path csv) throws IOException {
        List<String> lines = Files.readAllLines(csv);
        List<Float> p = new ArrayList<>();
        List<Boolean> pos = new ArrayList<>();
        for (String line : lines.subList(1, lines.size())) {
            if (line.isBlank()) {
                continue;
            }
            String[] f = line.split(",");
            p.add(Float.parseFloat(f[f.length - 1]));
            pos.add(f[1].equals("covid"));
        }
        float[] pa = new float[p.size()];
        boolean[] b = new boolean[p.size()];
        for (int i = 0; i < pa.length; i++) {
            pa[i] = p.get(i);
            b[i] = pos.get(i);
        }
        return new Validation(pa, b);
    }
}
