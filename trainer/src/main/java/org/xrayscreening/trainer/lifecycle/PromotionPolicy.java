package org.xrayscreening.trainer.lifecycle;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.xrayscreening.trainer.evaluation.ConfusionMatrix;
import org.xrayscreening.trainer.evaluation.RocCurve;

/**
 * Champion/challenger rule: the challenger is promoted only if, on the same evaluation set and at the
 * champion's decision threshold, it is not worse than the champion on every criterion, allowing
 * {@code tolerance} (absolute) for noise. The criteria are checked in order and the first one that fails is the
 * reason for a rejection (the report lists all of them). Default: sensitivity first (a missed COVID-19 case
 * costs most), then F1, then ROC AUC, tolerance 0.005.
 */
public record PromotionPolicy(List<String> criteria, double tolerance) {
    /** Metrics a criterion may name. */
    public static final List<String> METRICS = List.of("sensitivity", "specificity", "precision", "f1", "accuracy", "auc");
    public static final String DEFAULT_CRITERIA = "sensitivity,f1,auc";
    public static final double DEFAULT_TOLERANCE = 0.005;

    public PromotionPolicy {
        criteria = List.copyOf(criteria);
        if (criteria.isEmpty()) {
            throw new IllegalArgumentException("at least one criterion is needed");
        }
        for (String c : criteria) {
            if (!METRICS.contains(c)) {
                throw new IllegalArgumentException("unknown criterion '" + c + "'; expected one of " + METRICS);
            }
        }
        if (criteria.stream().distinct().count() != criteria.size()) {
            throw new IllegalArgumentException("a criterion is listed twice: " + criteria);
        }
        if (!(tolerance >= 0 && tolerance < 1)) {
            throw new IllegalArgumentException("tolerance must be in [0, 1): " + tolerance);
        }
    }

    public static PromotionPolicy defaults() {
        return parse(DEFAULT_CRITERIA, DEFAULT_TOLERANCE);
    }

    /** {@code "sensitivity,f1,auc"} (case-insensitive; "recall" means sensitivity, "roc_auc" auc). */
    public static PromotionPolicy parse(String csv, double tolerance) {
        List<String> list = new ArrayList<>();
        for (String s : csv.split(",")) {
            String c = s.trim().toLowerCase(Locale.ROOT).replace('-', '_');
            if (c.isEmpty()) {
                continue;
            }
            list.add(switch (c) {
                case "recall", "tpr" -> "sensitivity";
                case "roc_auc", "rocauc" -> "auc";
                default -> c;
            });
        }
        return new PromotionPolicy(list, tolerance);
    }

    /** One criterion, both values. */
    public record Comparison(String metric, double champion, double challenger, boolean notWorse) {}

    /** The outcome, with every comparison (in criteria order). */
    public record Decision(boolean promoted, String reason, List<Comparison> comparisons) {}

    /** The metrics a criterion may name, for scores at one threshold. */
    public static Map<String, Double> metrics(float[] scores, boolean[] positive, double threshold) {
        ConfusionMatrix cm = ConfusionMatrix.at(scores, positive, threshold);
        Map<String, Double> m = new LinkedHashMap<>();
        m.put("sensitivity", cm.recall());
        m.put("specificity", cm.specificity());
        m.put("precision", cm.precision());
        m.put("f1", cm.f1());
        m.put("accuracy", cm.accuracy());
        m.put("auc", RocCurve.of(scores, positive).auc());
        m.put("tp", (double) cm.tp());
        m.put("tn", (double) cm.tn());
        m.put("fp", (double) cm.fp());
        m.put("fn", (double) cm.fn());
        return m;
    }

    public Decision decide(Map<String, Double> champion, Map<String, Double> challenger) {
        List<Comparison> comparisons = new ArrayList<>();
        String failure = null;
        List<String> better = new ArrayList<>();
        for (String c : criteria) {
            double a = champion.getOrDefault(c, Double.NaN);
            double b = challenger.getOrDefault(c, Double.NaN);
            boolean ok;
            String why = null;
            if (Double.isNaN(b)) {
                ok = false;
                why = c + " of the challenger is undefined on the evaluation set";
            } else if (Double.isNaN(a)) {
                ok = true;
            } else {
                ok = b >= a - tolerance;
                if (!ok) {
                    why = String.format(Locale.ROOT, "%s %.4f is worse than the champion's %.4f (tolerance %.4f)", c, b, a,
                            tolerance);
                } else if (b > a + tolerance) {
                    better.add(String.format(Locale.ROOT, "%s %.4f > %.4f", c, b, a));
                }
            }
            if (!ok && failure == null) {
                failure = why;
            }
            comparisons.add(new Comparison(c, a, b, ok));
        }
        if (failure != null) {
            return new Decision(false, failure, comparisons);
        }
        String reason = "not worse on " + String.join(", ", criteria) + String.format(Locale.ROOT, " (tolerance %.4f)",
                tolerance) + (better.isEmpty() ? "" : "; better on " + String.join(", ", better));
        return new Decision(true, reason, comparisons);
    }

    @Override
    public String toString() {
        return String.join(" > ", criteria) + String.format(Locale.ROOT, ", not worse than the champion by more than %.4f",
                tolerance);
    }
}
