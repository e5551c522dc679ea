package org.xrayscreening.trainer.report;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.xrayscreening.trainer.Json;
import org.xrayscreening.trainer.dataset.Dataset;
import org.xrayscreening.trainer.dataset.DatasetEntry;
import org.xrayscreening.trainer.evaluation.Bootstrap;
import org.xrayscreening.trainer.evaluation.Bootstrap.Interval;

/**
 * The ablation table of an {@code evaluate} report with several models (arms of one study): per arm the overall
 * ROC AUC, the ROC AUC inside one mixed source, and sensitivity and specificity at the threshold that {@code evaluate}
 * chose on the validation split for its target sensitivity (metrics.json {@code chosenThreshold}), each with its
 * patient bootstrap 95% interval; and for every arm but the
 * baseline the <b>paired</b> difference to the baseline with its interval. Paired: each replicate draws one set of
 * patients and computes the metric for both arms on it, so the interval of a difference is much narrower than the
 * two arms' intervals side by side suggest (the arms share most of their errors), and an interval that excludes 0
 * is the evidence an option needs. Draws as in {@code evaluate} (patients, COVID-19 / other strata, seed
 * {@link Bootstrap#DEFAULT_SEED}). Writes the Markdown table and a chart (JFreeChart) of the within-source AUC and
 * the specificity per arm, and one of the paired differences ({@code <chart>-vs-baseline.png}).
 *
 * <pre>
 * java -cp trainer.jar org.xrayscreening.trainer.report.AblationSummary REPORT_DIR DATA BASELINE_MODEL OUT.md OUT.png
 *     [MIXED_SOURCE] [TITLE]
 * </pre>
 */
public final class AblationSummary {
    public static final String DEFAULT_MIXED_SOURCE = "s-mostafa-a/covid-chestxray-dataset";

    private AblationSummary() {}

    /** One arm's numbers; the deltas are null for the baseline. */
    public record Arm(String model, double threshold, Interval auc, Interval mixedAuc, Interval sensitivity,
            Interval specificity, Interval deltaMixedAuc, Interval deltaSpecificity, Interval deltaAuc) {}

    public static void main(String[] args) throws IOException {
        if (args.length < 5) {
            System.err.println("usage: AblationSummary REPORT_DIR DATA BASELINE_MODEL OUT.md OUT.png [MIXED_SOURCE] [TITLE]");
            System.exit(2);
        }
        Path report = Path.of(args[0]);
        String mixed = args.length > 5 ? args[5] : DEFAULT_MIXED_SOURCE;
        String title = args.length > 6 ? args[6] : "ablation, " + report.getFileName();
        List<Arm> arms = compute(report, Dataset.load(Path.of(args[1])), args[2], mixed,
                new Bootstrap(Bootstrap.DEFAULT_REPLICATES, Bootstrap.DEFAULT_SEED));
        String md = markdown(arms, mixed);
        Files.writeString(Path.of(args[3]), md);
        chart(Path.of(args[4]), title, arms, mixed);
        System.out.print(md);
    }

    public static List<Arm> compute(Path report, Dataset data, String baseline, String mixedSource, Bootstrap bootstrap)
            throws IOException {
        Map<String, DatasetEntry> byName = new HashMap<>();
        data.entries().forEach(e -> byName.put(e.name(), e));
        List<String> lines = Files.readAllLines(report.resolve("predictions.csv"));
        String[] header = lines.get(0).split(",");
        List<String> models = List.of(header).subList(3, header.length);
        int k = models.size();
        List<DatasetEntry> entries = new ArrayList<>();
        List<float[]> rows = new ArrayList<>();
        for (String line : lines.subList(1, lines.size())) {
            if (line.isBlank()) {
                continue;
            }
            String[] f = line.split(",");
            // the file name may hold commas: the scores, source and label are counted from the right
            String name = String.join(",", java.util.Arrays.copyOf(f, f.length - k - 2));
            DatasetEntry e = byName.get(name);
            if (e == null) {
                throw new IllegalArgumentException(name + " of " + report + " is not in " + data.origin());
            }
            entries.add(e);
            float[] s = new float[k];
            for (int m = 0; m < k; m++) {
                s[m] = Float.parseFloat(f[f.length - k + m]);
            }
            rows.add(s);
        }
        // the threshold evaluate chose on its own validation scores for the target sensitivity: on the validation
        // split the specificity there is "specificity at sensitivity >= 0.95"; the registry's threshold was chosen
        // on the training run's scores of the same images, which can differ in the last bits and move the
        // boundary image across it
        Map<String, Double> thresholds = new LinkedHashMap<>();
        for (JsonNode m : Json.MAPPER.readTree(report.resolve("metrics.json").toFile()).path("models")) {
            // predictions.csv holds scores rounded to 6 decimals (and a float's rounding need not match the
            // double's): half a unit of the 6th decimal below the threshold keeps the boundary image above it
            thresholds.put(m.get("model").asText(), m.get("chosenThreshold").asDouble() - 5e-7);
        }
        int base = models.indexOf(baseline);
        if (base < 0) {
            throw new IllegalArgumentException("baseline " + baseline + " is not among " + models);
        }
        List<Integer> mixedIdx = new ArrayList<>();
        for (int i = 0; i < entries.size(); i++) {
            if (mixedSource.equals(entries.get(i).source())) {
                mixedIdx.add(i);
            }
        }
        List<DatasetEntry> mixedEntries = mixedIdx.stream().map(entries::get).toList();
        List<Arm> arms = new ArrayList<>();
        for (int m = 0; m < k; m++) {
            String model = models.get(m);
            if (model.startsWith("ensemble")) {
                continue;
            }
            Double t = thresholds.get(model);
            if (t == null) {
                throw new IllegalArgumentException("metrics.json of " + report + " has no threshold for " + model);
            }
            double threshold = t;
            double baseThreshold = thresholds.get(baseline);
            float[] all = column(rows, m, null);
            float[] mixedScores = column(rows, m, mixedIdx);
            Interval auc = bootstrap.interval(entries, all, Bootstrap.auc());
            Interval mixedAuc = bootstrap.interval(mixedEntries, mixedScores, Bootstrap.auc());
            Interval sens = bootstrap.interval(entries, all, Bootstrap.sensitivityAt(threshold));
            Interval spec = bootstrap.interval(entries, all, Bootstrap.specificityAt(threshold));
            Interval dMixed = null;
            Interval dSpec = null;
            Interval dAuc = null;
            if (m != base) {
                float[] baseAll = column(rows, base, null);
                float[] baseMixed = column(rows, base, mixedIdx);
                dAuc = paired(bootstrap, entries, all, baseAll, Bootstrap.auc(), Bootstrap.auc());
                dMixed = paired(bootstrap, mixedEntries, mixedScores, baseMixed, Bootstrap.auc(), Bootstrap.auc());
                dSpec = paired(bootstrap, entries, all, baseAll, Bootstrap.specificityAt(threshold),
                        Bootstrap.specificityAt(baseThreshold));
            }
            arms.add(new Arm(model, threshold, auc, mixedAuc, sens, spec, dMixed, dSpec, dAuc));
        }
        return arms;
    }

    /**
     * Interval of {@code statistic(a) - statistic(b)} with both taken on the same patient draws: the bootstrap sees
     * each image's index as its "score" and looks the two models' scores up by it.
     */
    static Interval paired(Bootstrap bootstrap, List<DatasetEntry> entries, float[] a, float[] b,
            Bootstrap.Statistic statA, Bootstrap.Statistic statB) {
        if (entries.isEmpty()) {
            return Interval.undefined(bootstrap.replicates());
        }
        float[] index = new float[entries.size()];
        for (int i = 0; i < index.length; i++) {
            index[i] = i; // exact in a float up to 2^24 images
        }
        return bootstrap.interval(entries, index, (idx, positive) -> {
            float[] sa = new float[idx.length];
            float[] sb = new float[idx.length];
            for (int i = 0; i < idx.length; i++) {
                sa[i] = a[(int) idx[i]];
                sb[i] = b[(int) idx[i]];
            }
            return statA.of(sa, positive) - statB.of(sb, positive);
        });
    }

    private static float[] column(List<float[]> rows, int m, List<Integer> only) {
        if (only == null) {
            float[] c = new float[rows.size()];
            for (int i = 0; i < c.length; i++) {
                c[i] = rows.get(i)[m];
            }
            return c;
        }
        float[] c = new float[only.size()];
        for (int i = 0; i < c.length; i++) {
            c[i] = rows.get(only.get(i))[m];
        }
        return c;
    }

    static String ci(Interval i) {
        if (i == null) {
            return "-";
        }
        if (!Double.isFinite(i.estimate())) {
            return "n/a";
        }
        return String.format(Locale.ROOT, "%s [%s, %s]", EvaluationReport.f(i.estimate()), EvaluationReport.f(i.low()),
                EvaluationReport.f(i.high()));
    }

    static String delta(Interval i) {
        if (i == null) {
            return "-";
        }
        if (!Double.isFinite(i.estimate())) {
            return "n/a";
        }
        String mark = i.low() > 0 ? " (better)" : i.high() < 0 ? " (worse)" : "";
        return String.format(Locale.ROOT, "%+.3f [%+.3f, %+.3f]%s", i.estimate(), i.low(), i.high(), mark);
    }

    public static String markdown(List<Arm> arms, String mixedSource) {
        StringBuilder sb = new StringBuilder();
        sb.append("| arm | threshold | ROC AUC | AUC within ").append(mixedSource)
                .append(" | sensitivity | specificity | Δ AUC within vs baseline | Δ specificity vs baseline"
                        + " | Δ ROC AUC vs baseline |\n| --- | ---: | --- | --- | --- | --- | --- | --- | --- |\n");
        for (Arm a : arms) {
            sb.append(String.format(Locale.ROOT, "| %s | %.4f | %s | %s | %s | %s | %s | %s | %s |%n", a.model(),
                    a.threshold(), ci(a.auc()), ci(a.mixedAuc()), ci(a.sensitivity()), ci(a.specificity()),
                    delta(a.deltaMixedAuc()), delta(a.deltaSpecificity()), delta(a.deltaAuc())));
        }
        return sb.toString();
    }

    static void chart(Path file, String title, List<Arm> arms, String mixedSource) throws IOException {
        List<String> names = arms.stream().map(a -> a.model().replaceFirst("^[a-z0-9]+@(abl-)?", "")).toList();
        Map<String, List<Interval>> series = new LinkedHashMap<>();
        series.put("ROC AUC within " + mixedSource, arms.stream().map(Arm::mixedAuc).toList());
        series.put("specificity at the arm's threshold (sensitivity >= 0.95 on validation)",
                arms.stream().map(Arm::specificity).toList());
        Charts.intervals(file, title, names, series, "estimate with 95% patient bootstrap interval");
        // the paired differences, which decide: an interval that excludes 0 is an effect of the option
        List<Arm> others = arms.subList(1, arms.size());
        if (others.isEmpty()) {
            return;
        }
        Map<String, List<Interval>> deltas = new LinkedHashMap<>();
        deltas.put("Δ ROC AUC within " + mixedSource, others.stream().map(Arm::deltaMixedAuc).toList());
        deltas.put("Δ specificity", others.stream().map(Arm::deltaSpecificity).toList());
        String name = file.getFileName().toString();
        Charts.intervals(file.resolveSibling(name.replaceFirst("(\\.png)?$", "-vs-baseline.png")),
                title + ": paired difference to " + names.get(0), names.subList(1, names.size()), deltas,
                "arm minus baseline, 95% paired bootstrap interval", -0.6, 0.6, 0);
    }
}
