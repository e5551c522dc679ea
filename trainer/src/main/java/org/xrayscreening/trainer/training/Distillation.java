package org.xrayscreening.trainer.training;

import java.util.Locale;

/**
 * Knowledge distillation settings of a run, kept in the run folder's {@code distillation.json} beside
 * {@code run.json} (so {@code --resume} continues with the same teacher) and copied into the published metadata.
 *
 * @param teacher the teacher as given ({@code <arch>@<version|alias|latest>})
 * @param teacherRegistry the registry folder the teacher was read from
 * @param teacherVersion the exact version the reference resolved to when the run started ({@code arch@version});
 *     a resumed run reads this one, not the alias, which may have moved
 * @param teacherTrainingDataDigest the teacher's {@code trainingDataDigest} (null if its metadata has none)
 * @param sameSplitAsTeacher whether the teacher was trained on this run's data and split (same digest): if not,
 *     the teacher may have seen this run's validation or test images and those numbers are optimistic
 * @param weight A in {@code (1 - A) * preset loss + A * T^2 * KL(teacher_T || student_T)}, in [0, 1]
 * @param temperature T, > 0
 */
public record Distillation(String teacher, String teacherRegistry, String teacherVersion,
        String teacherTrainingDataDigest, boolean sameSplitAsTeacher, float weight, float temperature) {
    public static final String FILE = "distillation.json";
    /** P(COVID-19) of the teacher for every training image (its own preprocessing, no augmentation). */
    public static final String TEACHER_PROBABILITIES = "teacher-probabilities.csv";

    public Distillation {
        if (!(weight >= 0 && weight <= 1)) {
            throw new IllegalArgumentException("--distill-weight must be in [0, 1], was " + weight);
        }
        if (!(temperature > 0) || Float.isInfinite(temperature)) {
            throw new IllegalArgumentException("--distill-temperature must be > 0, was " + temperature);
        }
    }

    /** Settings from the command line; the teacher's exact version and digest are filled in when the run starts. */
    public static Distillation requested(String teacher, String teacherRegistry, float weight, float temperature) {
        return new Distillation(teacher, teacherRegistry, null, null, false, weight, temperature);
    }

    Distillation resolved(String version, String digest, boolean sameSplit) {
        return new Distillation(teacher, teacherRegistry, version, digest, sameSplit, weight, temperature);
    }

    /** One line for the model metadata's notes. */
    public String describe() {
        return String.format(Locale.ROOT, "distilled from %s (registry %s) with weight %s and temperature %s on the"
                        + " teacher's P(COVID-19) per training image, computed once without augmentation%s",
                teacherVersion != null ? teacherVersion : teacher, teacherRegistry, weight, temperature,
                sameSplitAsTeacher ? "" : "; the teacher was NOT trained on this split (digest "
                        + teacherTrainingDataDigest + "): it may have seen validation or test images");
    }

    /**
     * The teacher's two-class distribution at temperature T from its P(COVID-19) at T = 1: with two classes the
     * softmax depends only on the logit difference d = ln(p / (1 - p)), so softmax(z / T) = sigmoid(d / T). p is
     * clamped to [1e-7, 1 - 1e-7] (|d| <= 16.1): a float P of exactly 1 carries no finite logit.
     */
    static float[] tempered(float pCovid, float temperature) {
        double p = Math.min(1 - 1e-7, Math.max(1e-7, pCovid));
        double d = Math.log(p / (1 - p)) / temperature;
        double q = 1 / (1 + Math.exp(-d));
        return new float[] {(float) q, (float) (1 - q)};
    }
}
