package org.xrayscreening.trainer.publish;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.xrayscreening.trainer.evaluation.Bootstrap;
import org.xrayscreening.trainer.evaluation.ConfusionMatrix;
import org.xrayscreening.trainer.evaluation.ModelScores;
import org.xrayscreening.trainer.evaluation.ProtocolEvaluation;

/**
 * A production model's measured numbers as the flat {@code name -> value} map the registry metadata holds
 * ({@link org.xrayscreening.models.registry.ModelMetadata#metrics()}): for a split prefix {@code p} ("test",
 * "validation") the keys {@code p.images}, {@code p.covid}, {@code p.auc}, {@code p.sensitivity},
 * {@code p.specificity}, {@code p.ece} each with {@code .ci_low} / {@code .ci_high} (patient bootstrap 95%), the
 * confusion counts, precision and F1 at the decision threshold, and per data source
 * {@code p.source.<source>.(images|covid|auc|sensitivity|specificity)[.ci_low|.ci_high]}. The model card is
 * generated from these keys, so the card and the registry cannot disagree.
 */
public final class ProductionMetrics {
    private ProductionMetrics() {}

    public static final String CI_LOW = ".ci_low";
    public static final String CI_HIGH = ".ci_high";
    public static final String SOURCE = ".source.";

    /** The metrics of {@code scores} (their evaluated images) at {@code threshold}, under {@code prefix}. */
    public static Map<String, Double> of(String prefix, ModelScores scores, double threshold, Bootstrap bootstrap,
            int calibrationBins) {
        ProtocolEvaluation p = ProtocolEvaluation.of(scores, threshold, "registry metadata", bootstrap, calibrationBins);
        Map<String, Double> m = new LinkedHashMap<>();
        m.put(prefix + ".images", (double) p.images());
        m.put(prefix + ".covid", (double) p.covid());
        interval(m, prefix + ".auc", p.auc());
        interval(m, prefix + ".sensitivity", p.sensitivity());
        interval(m, prefix + ".specificity", p.specificity());
        interval(m, prefix + ".ece", p.ece());
        ConfusionMatrix cm = ConfusionMatrix.at(scores.scores(), positives(scores.entries()), threshold);
        m.put(prefix + ".tp", (double) cm.tp());
        m.put(prefix + ".fp", (double) cm.fp());
        m.put(prefix + ".tn", (double) cm.tn());
        m.put(prefix + ".fn", (double) cm.fn());
        finite(m, prefix + ".precision", cm.precision());
        finite(m, prefix + ".f1", cm.f1());
        for (ProtocolEvaluation.SourceProtocol s : p.perSource()) {
            String k = prefix + SOURCE + s.source();
            m.put(k + ".images", (double) s.images());
            m.put(k + ".covid", (double) s.covid());
            interval(m, k + ".auc", s.auc());
            interval(m, k + ".sensitivity", s.sensitivity());
            interval(m, k + ".specificity", s.specificity());
        }
        return m;
    }

    public static boolean[] positives(List<org.xrayscreening.trainer.dataset.DatasetEntry> entries) {
        boolean[] b = new boolean[entries.size()];
        for (int i = 0; i < b.length; i++) {
            b[i] = entries.get(i).label().isCovid();
        }
        return b;
    }

    /** Estimate and bounds; an undefined one (a source without the class it needs) is left out: JSON has no NaN. */
    static void interval(Map<String, Double> m, String key, Bootstrap.Interval i) {
        if (Double.isFinite(i.estimate())) {
            m.put(key, i.estimate());
            finite(m, key + CI_LOW, i.low());
            finite(m, key + CI_HIGH, i.high());
        }
    }

    private static void finite(Map<String, Double> m, String key, double v) {
        if (Double.isFinite(v)) {
            m.put(key, v);
        }
    }

    /** The data sources with per-source keys under {@code prefix}, in name order. */
    public static List<String> sources(Map<String, Double> metrics, String prefix) {
        TreeSet<String> out = new TreeSet<>();
        String start = prefix + SOURCE;
        for (String k : metrics.keySet()) {
            if (k.startsWith(start) && k.endsWith(".images")) {
                out.add(k.substring(start.length(), k.length() - ".images".length()));
            }
        }
        return new ArrayList<>(out);
    }

    /** "0.912 [0.871, 0.948]" from {@code key} and its bounds; "n/a" when absent (undefined). */
    public static String withInterval(Map<String, Double> m, String key) {
        Double v = m.get(key);
        if (v == null) {
            return "n/a";
        }
        Double lo = m.get(key + CI_LOW);
        Double hi = m.get(key + CI_HIGH);
        return lo == null || hi == null ? String.format(java.util.Locale.ROOT, "%.3f", v)
                : String.format(java.util.Locale.ROOT, "%.3f [%.3f, %.3f]", v, lo, hi);
    }
}
