package org.xrayscreening.trainer.training;

import ai.djl.translate.TranslateException;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.xrayscreening.models.inference.CovidClassifier;
import org.xrayscreening.models.registry.ModelRef;
import org.xrayscreening.models.registry.ModelRegistry;
import org.xrayscreening.models.registry.ModelVersion;
import org.xrayscreening.trainer.Json;
import org.xrayscreening.trainer.dataset.DatasetEntry;
import org.xrayscreening.trainer.dataset.PreparedImages;

/**
 * The teacher's P(COVID-19) for every training image, computed once per run and kept in the run folder
 * ({@value Distillation#TEACHER_PROBABILITIES}: {@code file,p_covid}, exact floats), rather than running the
 * teacher on every augmented batch: a teacher forward pass (ResNet50 at 224 px: about 4 billion multiply-adds)
 * is a large part of a student's training step (Xception at 160 px: about 7 billion forward and backward), and
 * online it is paid on every step of every epoch, cached once per image whatever the number of epochs (and not
 * again on resume).
 * The price: the teacher sees each image without the light augmentation (a few degrees, a few per cent of shift
 * and zoom, brightness/contrast) that the student sees, so its soft label is that of the un-augmented image.
 *
 * <p>The teacher is read through the registry and {@link CovidClassifier} (checksums verified) and prepares the
 * images with its own preprocessing (input size and normalization from its metadata), which differs from the
 * student's.
 */
public final class TeacherProbabilities {
    /** Images prepared at the teacher's size at a time: bounds memory (224 px: 0.6 MB per image). */
    private static final int CHUNK = 64;

    private TeacherProbabilities() {}

    /** Resolves the teacher (alias to exact version) and compares its training data with this run's split. */
    static Distillation resolve(Distillation requested, String splitDigest) throws IOException {
        ModelRegistry registry = new ModelRegistry(Path.of(requested.teacherRegistry()));
        ModelRef ref = ModelRef.parse(requested.teacher());
        ModelVersion version = registry.resolve(ref.architecture(), ref.ref());
        String digest = version.metadata().trainingDataDigest();
        return requested.resolved(version.toString(), digest, splitDigest.equals(digest));
    }

    /**
     * P(COVID-19) of the teacher, aligned with {@code train}'s indices: read from the run folder if an earlier
     * session computed them, else computed now and written there.
     */
    static float[] forTraining(Distillation distillation, PreparedImages train, Path runDir, PrintStream out)
            throws IOException {
        Path file = runDir.resolve(Distillation.TEACHER_PROBABILITIES);
        if (Files.isRegularFile(file)) {
            float[] p = align(read(file), train);
            out.println("teacher " + distillation.teacherVersion() + ": " + p.length + " probabilities from " + file);
            return p;
        }
        ModelRegistry registry = new ModelRegistry(Path.of(distillation.teacherRegistry()));
        ModelRef ref = ModelRef.parse(distillation.teacherVersion());
        float[] p = new float[train.size()];
        long t0 = System.nanoTime();
        try (CovidClassifier teacher = CovidClassifier.load(registry, registry.resolve(ref.architecture(), ref.ref()))) {
            out.printf(Locale.ROOT, "teacher %s: %d px, %s; scoring the %d training images once%n", teacher.version(),
                    teacher.preprocessor().inputSize(), teacher.preprocessor().normalization(), train.size());
            for (int from = 0; from < train.size(); from += CHUNK) {
                List<DatasetEntry> entries = train.entries().subList(from, Math.min(train.size(), from + CHUNK));
                PreparedImages prepared = PreparedImages.load(entries, teacher.preprocessor());
                if (prepared.size() != entries.size()) {
                    throw new IOException("the teacher's preprocessing could not read " + prepared.skipped());
                }
                float[] scores = teacher.predictPreprocessed(prepared.inputs());
                System.arraycopy(scores, 0, p, from, scores.length);
                int done = from + scores.length;
                out.printf(Locale.ROOT, "teacher %s: %d/%d images, %.1f img/s%n", teacher.version(), done, p.length,
                        done / ((System.nanoTime() - t0) / 1e9));
            }
        } catch (TranslateException e) {
            throw new IOException("teacher " + distillation.teacherVersion() + " failed: " + e.getMessage(), e);
        }
        write(file, train, p);
        return p;
    }

    /** The probabilities of {@code train}'s images, in its order, looked up by file name. */
    static float[] align(Map<String, Float> byName, PreparedImages train) {
        float[] p = new float[train.size()];
        for (int i = 0; i < p.length; i++) {
            Float v = byName.get(train.entry(i).name());
            if (v == null) {
                throw new IllegalStateException("no teacher probability for training image " + train.entry(i).name()
                        + " in " + Distillation.TEACHER_PROBABILITIES + " (it was computed for other images)");
            }
            p[i] = v;
        }
        return p;
    }

    static Map<String, Float> read(Path file) throws IOException {
        Map<String, Float> byName = new HashMap<>();
        List<String> lines = Files.readAllLines(file);
        for (String line : lines.subList(Math.min(1, lines.size()), lines.size())) {
            if (line.isBlank()) {
                continue;
            }
            int comma = line.lastIndexOf(',');
            float v = Float.parseFloat(line.substring(comma + 1));
            if (!(v >= 0 && v <= 1)) {
                throw new IOException(file + ": probability out of [0, 1]: " + line);
            }
            byName.put(line.substring(0, comma), v);
        }
        return byName;
    }

    static void write(Path file, PreparedImages train, float[] p) throws IOException {
        StringBuilder sb = new StringBuilder("file,p_covid\n");
        for (int i = 0; i < p.length; i++) {
            sb.append(train.entry(i).name()).append(',').append(Float.toString(p[i])).append('\n');
        }
        Json.writeString(file, sb.toString());
    }
}
