package org.xrayscreening.trainer.evaluation;

import java.util.List;
import java.util.Locale;

/**
 * How far a model's answers move when it computes in another precision (bf16) than the one it was trained in
 * (fp32), on the same images: the bar a lower precision must pass before it may serve (issue 11: sensitivity
 * and specificity at the model's own decision threshold within 0.005, ROC AUC within 0.002).
 *
 * @param threshold the model's decision threshold from its registry metadata (what the stream job uses)
 */
public record PrecisionAgreement(String model, String precision, int images, double threshold, double aucDelta,
                                 double sensitivityDelta, double specificityDelta, double maxProbabilityDelta,
                                 double meanProbabilityDelta, long decisionsChanged) {
    public static final double MAX_RATE_DELTA = 0.005;
    public static final double MAX_AUC_DELTA = 0.002;

    /** {@code other} minus {@code reference}, image by image (both must score the same images in order). */
    public static PrecisionAgreement of(String model, String precision, ModelScores reference, ModelScores other,
                                        double threshold) {
        if (!reference.entries().equals(other.entries())) {
            throw new IllegalArgumentException("the two precisions scored different images");
        }
        boolean[] positive = ModelEvaluation.positives(reference.entries());
        float[] a = reference.scores();
        float[] b = other.scores();
        ConfusionMatrix ca = ConfusionMatrix.at(a, positive, threshold);
        ConfusionMatrix cb = ConfusionMatrix.at(b, positive, threshold);
        double max = 0;
        double sum = 0;
        long changed = 0;
        for (int i = 0; i < a.length; i++) {
            double d = Math.abs(a[i] - b[i]);
            max = Math.max(max, d);
            sum += d;
            if ((a[i] >= threshold) != (b[i] >= threshold)) {
                changed++;
            }
        }
        return new PrecisionAgreement(model, precision, a.length, threshold,
                RocCurve.of(b, positive).auc() - RocCurve.of(a, positive).auc(),
                cb.recall() - ca.recall(), cb.specificity() - ca.specificity(), max,
                a.length == 0 ? 0 : sum / a.length, changed);
    }

    public boolean passes() {
        return Math.abs(sensitivityDelta) < MAX_RATE_DELTA && Math.abs(specificityDelta) < MAX_RATE_DELTA
                && Math.abs(aucDelta) < MAX_AUC_DELTA;
    }

    public static String markdown(List<PrecisionAgreement> rows) {
        StringBuilder sb = new StringBuilder("| model | precision vs fp32 | images | threshold | Δ sensitivity | Δ specificity"
                + " | Δ ROC AUC | decisions changed | max / mean abs Δp | within the bar (0.005 / 0.002) |\n"
                + "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n");
        for (PrecisionAgreement r : rows) {
            sb.append(String.format(Locale.ROOT, "| %s | %s | %d | %.3f | %+.4f | %+.4f | %+.4f | %d | %.4f / %.5f | %s |%n",
                    r.model(), r.precision(), r.images(), r.threshold(), r.sensitivityDelta(), r.specificityDelta(),
                    r.aucDelta(), r.decisionsChanged(), r.maxProbabilityDelta(), r.meanProbabilityDelta(),
                    r.passes() ? "yes" : "**no**"));
        }
        return sb.toString();
    }
}
