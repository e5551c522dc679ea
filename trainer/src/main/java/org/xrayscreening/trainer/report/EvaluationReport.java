package org.xrayscreening.trainer.report;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.xrayscreening.trainer.Json;
import org.xrayscreening.trainer.dataset.DatasetEntry;
import org.xrayscreening.trainer.evaluation.ConfusionMatrix;
import org.xrayscreening.trainer.evaluation.ModelEvaluation;
import org.xrayscreening.trainer.evaluation.ModelScores;
import org.xrayscreening.trainer.evaluation.RocCurve;

/**
 * Writes an evaluation run folder: {@code report.md} (the paper's table at 0.5 and at the validation-chosen
 * threshold, ROC AUC, per-source tables), {@code metrics.json} (the same numbers), {@code predictions.csv}
 * (every image's score per model) and per model {@code <slug>-confusion.png} and {@code <slug>-roc.png}, plus
 * {@code roc-all.png}.
 */
public final class EvaluationReport {
    private EvaluationReport() {}

    /** What was evaluated, for the report's header. */
    public record Context(String command, String data, String split, String splitSpec, String digest,
            List<String> skipped) {}

    public static void write(Path dir, Context context, List<ModelScores> scores, List<ModelEvaluation> evaluations)
            throws IOException {
        Files.createDirectories(dir);
        List<String> names = new ArrayList<>();
        List<RocCurve> curves = new ArrayList<>();
        for (ModelEvaluation e : evaluations) {
            String slug = slug(e.name());
            Charts.confusionMatrix(dir.resolve(slug + "-confusion.png"), e.name() + " @ 0.5", e.atHalf());
            Charts.roc(dir.resolve(slug + "-roc.png"), e.name(), List.of(e.name()), List.of(e.roc()));
            names.add(e.name());
            curves.add(e.roc());
        }
        Charts.roc(dir.resolve("roc-all.png"), "ROC, " + context.split() + " split", names, curves);
        Files.writeString(dir.resolve("report.md"), markdown(context, evaluations));
        Json.write(dir.resolve("metrics.json"), metrics(context, evaluations));
        Files.writeString(dir.resolve("predictions.csv"), predictions(scores));
    }

    static String markdown(Context c, List<ModelEvaluation> evaluations) {
        StringBuilder sb = new StringBuilder();
        sb.append("# Evaluation\n\n");
        sb.append("- command: `").append(c.command()).append("`\n");
        sb.append("- data: ").append(c.data()).append(", split **").append(c.split()).append("** (").append(c.splitSpec())
                .append(")\n");
        sb.append("- split digest: `").append(c.digest()).append("`\n");
        if (!evaluations.isEmpty()) {
            ModelEvaluation first = evaluations.get(0);
            sb.append(String.format(Locale.ROOT, "- images: %d (%d COVID-19, %d non-COVID)%n", first.images(),
                    first.atHalf().positives(), first.atHalf().negatives()));
        }
        if (!c.skipped().isEmpty()) {
            sb.append("- skipped (unreadable): ").append(c.skipped().size()).append('\n');
            c.skipped().forEach(s -> sb.append("  - ").append(s).append('\n'));
        }
        for (ModelEvaluation e : evaluations) {
            if (e.note() != null) {
                sb.append("- **").append(e.name()).append("**: ").append(e.note()).append('\n');
            }
        }
        sb.append("\n## At threshold 0.5 (the paper's table)\n\n");
        table(sb, evaluations, true);
        sb.append(String.format(Locale.ROOT, "%n## At the threshold chosen on the validation split for sensitivity >= %.2f%n%n",
                evaluations.isEmpty() ? 0.95 : evaluations.get(0).targetSensitivity()));
        table(sb, evaluations, false);
        boolean anySource = evaluations.stream().anyMatch(e -> !e.perSource().isEmpty());
        if (anySource) {
            sb.append("\n## Per data source (threshold 0.5)\n\n");
            sb.append("Within one source, a model that only recognised the source would score every image alike:"
                    + " compare the mean P(COVID-19) across sources with the labels each source carries.\n\n");
            sb.append("| model | source | images | covid | non-covid | TP | TN | FP | FN | accuracy | sensitivity |"
                    + " specificity | AUC | mean P(covid) |\n");
            sb.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
            for (ModelEvaluation e : evaluations) {
                for (ModelEvaluation.SourceMetrics s : e.perSource().values()) {
                    ConfusionMatrix m = s.atHalf();
                    sb.append(String.format(Locale.ROOT, "| %s | %s | %d | %d | %d | %d | %d | %d | %d | %s | %s | %s | %s | %.3f |%n",
                            e.name(), s.source(), s.images(), s.covid(), s.nonCovid(), m.tp(), m.tn(), m.fp(), m.fn(),
                            f(m.accuracy()), f(m.recall()), f(m.specificity()), f(s.auc()), s.meanScore()));
                }
            }
        }
        sb.append("\n## Plots\n\n");
        sb.append("![ROC, all models](roc-all.png)\n\n");
        for (ModelEvaluation e : evaluations) {
            String slug = slug(e.name());
            sb.append("![").append(e.name()).append(" confusion matrix](").append(slug).append("-confusion.png) ");
            sb.append("![").append(e.name()).append(" ROC](").append(slug).append("-roc.png)\n\n");
        }
        sb.append("Undefined metrics (a zero denominator) are shown as n/a.\n");
        return sb.toString();
    }

    /** The two tables only, for the console. */
    public static String markdownTables(List<ModelEvaluation> evaluations) {
        StringBuilder sb = new StringBuilder("threshold 0.5:\n");
        table(sb, evaluations, true);
        sb.append("threshold chosen on validation:\n");
        table(sb, evaluations, false);
        return sb.toString();
    }

    private static void table(StringBuilder sb, List<ModelEvaluation> evaluations, boolean half) {
        sb.append("| model | threshold | TP | TN | FP | FN | accuracy | specificity | precision | recall | F1 | ROC AUC |\n");
        sb.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
        for (ModelEvaluation e : evaluations) {
            ConfusionMatrix m = half ? e.atHalf() : e.atChosen();
            sb.append(String.format(Locale.ROOT, "| %s | %s | %d | %d | %d | %d | %s | %s | %s | %s | %s | %s |%n",
                    e.name(), half ? "0.5" : String.format(Locale.ROOT, "%.4f", e.chosenThreshold()), m.tp(), m.tn(),
                    m.fp(), m.fn(), f(m.accuracy()), f(m.specificity()), f(m.precision()), f(m.recall()), f(m.f1()),
                    f(e.auc())));
        }
    }

    static Map<String, Object> metrics(Context c, List<ModelEvaluation> evaluations) {
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("command", c.command());
        root.put("data", c.data());
        root.put("split", c.split());
        root.put("splitSpec", c.splitSpec());
        root.put("digest", c.digest());
        root.put("skipped", c.skipped());
        List<Object> models = new ArrayList<>();
        for (ModelEvaluation e : evaluations) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("model", e.name());
            m.put("images", e.images());
            m.put("auc", num(e.auc()));
            m.put("threshold0.5", cm(e.atHalf()));
            m.put("chosenThreshold", e.chosenThreshold());
            m.put("targetSensitivity", e.targetSensitivity());
            m.put("atChosenThreshold", cm(e.atChosen()));
            Map<String, Object> sources = new LinkedHashMap<>();
            for (ModelEvaluation.SourceMetrics s : e.perSource().values()) {
                Map<String, Object> sm = new LinkedHashMap<>();
                sm.put("images", s.images());
                sm.put("auc", num(s.auc()));
                sm.put("meanScore", s.meanScore());
                sm.put("threshold0.5", cm(s.atHalf()));
                sm.put("atChosenThreshold", cm(s.atChosen()));
                sources.put(s.source(), sm);
            }
            m.put("perSource", sources);
            if (e.note() != null) {
                m.put("note", e.note());
            }
            models.add(m);
        }
        root.put("models", models);
        return root;
    }

    private static Map<String, Object> cm(ConfusionMatrix m) {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("tp", m.tp());
        r.put("tn", m.tn());
        r.put("fp", m.fp());
        r.put("fn", m.fn());
        r.put("accuracy", num(m.accuracy()));
        r.put("specificity", num(m.specificity()));
        r.put("precision", num(m.precision()));
        r.put("recall", num(m.recall()));
        r.put("f1", num(m.f1()));
        return r;
    }

    /** JSON has no NaN: undefined metrics become null. */
    private static Double num(double v) {
        return Double.isFinite(v) ? v : null;
    }

    static String predictions(List<ModelScores> scores) {
        StringBuilder sb = new StringBuilder("file,label,source");
        for (ModelScores s : scores) {
            sb.append(',').append(s.name().replace(',', ' '));
        }
        sb.append('\n');
        if (scores.isEmpty()) {
            return sb.toString();
        }
        List<DatasetEntry> entries = scores.get(0).entries();
        for (int i = 0; i < entries.size(); i++) {
            DatasetEntry e = entries.get(i);
            sb.append(e.name()).append(',').append(e.label().id()).append(',').append(e.source() == null ? "" : e.source());
            for (ModelScores s : scores) {
                sb.append(',').append(String.format(Locale.ROOT, "%.6f", s.scores()[i]));
            }
            sb.append('\n');
        }
        return sb.toString();
    }

    /** Three decimals, as the paper; n/a when undefined. */
    public static String f(double v) {
        return Double.isFinite(v) ? String.format(Locale.ROOT, "%.3f", v) : "n/a";
    }

    public static String slug(String name) {
        String s = name.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9.]+", "-").replaceAll("^-+|-+$", "");
        return s.isEmpty() ? "model" : s;
    }
}
