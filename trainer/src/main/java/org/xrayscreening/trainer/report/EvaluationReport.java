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
import org.xrayscreening.trainer.evaluation.Bootstrap;
import org.xrayscreening.trainer.evaluation.Calibration;
import org.xrayscreening.trainer.evaluation.ConfusionMatrix;
import org.xrayscreening.trainer.evaluation.ProtocolEvaluation;
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

    /**
     * The source-robust protocol's numbers (intervals, within-source AUC, calibration) for the report, and how
     * the bootstrap was run.
     */
    public record Protocol(List<ProtocolEvaluation> models, int replicates, long seed, int calibrationBins) {
        public Protocol {
            models = List.copyOf(models);
        }
    }

    public static void write(Path dir, Context context, List<ModelScores> scores, List<ModelEvaluation> evaluations)
            throws IOException {
        write(dir, context, scores, evaluations, null);
    }

    /** As {@link #write(Path, Context, List, List)}, plus the protocol's sections, reliability.png and JSON. */
    public static void write(Path dir, Context context, List<ModelScores> scores, List<ModelEvaluation> evaluations,
            Protocol protocol) throws IOException {
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
        String md = markdown(context, evaluations);
        Map<String, Object> json = metrics(context, evaluations);
        if (protocol != null && !protocol.models().isEmpty()) {
            Charts.reliability(dir.resolve(RELIABILITY_PNG), "Reliability, " + context.split() + " split",
                    protocol.models().stream().map(ProtocolEvaluation::name).toList(),
                    protocol.models().stream().map(ProtocolEvaluation::calibration).toList());
            md = md + "\n" + protocolMarkdown(protocol);
            json.put("protocol", protocolJson(protocol));
        }
        Files.writeString(dir.resolve("report.md"), md);
        Json.write(dir.resolve("metrics.json"), json);
        Files.writeString(dir.resolve("predictions.csv"), predictions(scores));
    }

    public static final String RELIABILITY_PNG = "reliability.png";

    /** "0.912 [0.871, 0.948]"; "n/a" when undefined. */
    public static String ci(Bootstrap.Interval i) {
        if (!Double.isFinite(i.estimate())) {
            return "n/a";
        }
        return Double.isFinite(i.low()) ? String.format(Locale.ROOT, "%.3f [%.3f, %.3f]", i.estimate(), i.low(), i.high())
                : f(i.estimate());
    }

    /** The protocol's sections: overall with intervals, within-source, per source at the threshold, calibration. */
    public static String protocolMarkdown(Protocol p) {
        StringBuilder sb = new StringBuilder();
        sb.append("## Evaluation protocol: intervals, within-source AUC, calibration\n\n");
        sb.append(String.format(Locale.ROOT, "95%% intervals: percentile bootstrap over patients (not images), %d"
                + " replicates, seed %d, COVID-19 and other patients resampled separately; the same draws for every"
                + " model. Sensitivity and specificity are taken at each model's own decision threshold (the one the"
                + " stream job uses).%n%n", p.replicates(), p.seed()));
        sb.append("| model | images (covid / non-covid) | threshold | ROC AUC | sensitivity | specificity | ECE |"
                + " Brier |\n");
        sb.append("| --- | --- | ---: | --- | --- | --- | --- | ---: |\n");
        for (ProtocolEvaluation m : p.models()) {
            sb.append(String.format(Locale.ROOT, "| %s | %d (%d / %d) | %.4f (%s) | %s | %s | %s | %s | %.4f |%n",
                    m.name(), m.images(), m.covid(), m.nonCovid(), m.threshold(), m.thresholdOrigin(), ci(m.auc()),
                    ci(m.sensitivity()), ci(m.specificity()), ci(m.ece()), m.calibration().brierScore()));
        }
        boolean within = p.models().stream().flatMap(m -> m.perSource().stream())
                .anyMatch(ProtocolEvaluation.SourceProtocol::hasBothLabels);
        sb.append("\n### Within-source ROC AUC\n\n");
        if (!within) {
            sb.append("No source of this split holds both labels: a within-source AUC cannot be computed.\n");
        } else {
            sb.append("Only sources that hold both labels: here a model cannot score by recognising where an image"
                    + " came from.\n\n");
            sb.append("| model | source | covid | non-covid | ROC AUC [95% CI] | sensitivity | specificity |\n");
            sb.append("| --- | --- | ---: | ---: | --- | --- | --- |\n");
            for (ProtocolEvaluation m : p.models()) {
                for (ProtocolEvaluation.SourceProtocol s : m.perSource()) {
                    if (s.hasBothLabels()) {
                        sb.append(String.format(Locale.ROOT, "| %s | %s | %d | %d | %s | %s | %s |%n", m.name(),
                                s.source(), s.covid(), s.nonCovid(), ci(s.auc()), ci(s.sensitivity()),
                                ci(s.specificity())));
                    }
                }
            }
        }
        if (p.models().stream().anyMatch(m -> !m.perSource().isEmpty())) {
            sb.append("\n### Per source at the model's threshold\n\n");
            sb.append("Sensitivity where a source has COVID-19 images, specificity where it has others. On a"
                    + " leave-one-source-out run (`--split excluded`) these are the numbers on a source the model"
                    + " never saw.\n\n");
            sb.append("| model | source | images | covid | non-covid | sensitivity [95% CI] | specificity [95% CI] |"
                    + " mean P(covid) |\n");
            sb.append("| --- | --- | ---: | ---: | ---: | --- | --- | ---: |\n");
            for (ProtocolEvaluation m : p.models()) {
                for (ProtocolEvaluation.SourceProtocol s : m.perSource()) {
                    sb.append(String.format(Locale.ROOT, "| %s | %s | %d | %d | %d | %s | %s | %.3f |%n", m.name(),
                            s.source(), s.images(), s.covid(), s.nonCovid(), ci(s.sensitivity()), ci(s.specificity()),
                            s.meanScore()));
                }
            }
        }
        sb.append(String.format(Locale.ROOT, "%n### Calibration%n%n%d equal-width bins of P(COVID-19); ECE = image-weighted"
                + " mean |share of COVID-19 - mean score| over the bins.%n%n![reliability](%s)%n%n", p.calibrationBins(),
                RELIABILITY_PNG));
        sb.append("| model | bin | images | mean P(covid) | observed COVID-19 share |\n| --- | --- | ---: | ---: | ---: |\n");
        for (ProtocolEvaluation m : p.models()) {
            for (Calibration.Bin b : m.calibration().bins()) {
                sb.append(String.format(Locale.ROOT, "| %s | %.1f-%.1f | %d | %.3f | %.3f |%n", m.name(), b.low(),
                        b.high(), b.images(), b.meanScore(), b.observedRate()));
            }
        }
        return sb.toString();
    }

    static Map<String, Object> protocolJson(Protocol p) {
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("bootstrapReplicates", p.replicates());
        root.put("bootstrapSeed", p.seed());
        root.put("resampling", "patients, stratified by COVID-19 / other");
        root.put("calibrationBins", p.calibrationBins());
        List<Object> models = new ArrayList<>();
        for (ProtocolEvaluation m : p.models()) {
            Map<String, Object> mm = new LinkedHashMap<>();
            mm.put("model", m.name());
            mm.put("images", m.images());
            mm.put("threshold", m.threshold());
            mm.put("thresholdOrigin", m.thresholdOrigin());
            mm.put("auc", interval(m.auc()));
            mm.put("sensitivity", interval(m.sensitivity()));
            mm.put("specificity", interval(m.specificity()));
            mm.put("ece", interval(m.ece()));
            mm.put("brier", num(m.calibration().brierScore()));
            mm.put("reliabilityBins", m.calibration().bins());
            Map<String, Object> sources = new LinkedHashMap<>();
            for (ProtocolEvaluation.SourceProtocol s : m.perSource()) {
                Map<String, Object> sm = new LinkedHashMap<>();
                sm.put("images", s.images());
                sm.put("covid", s.covid());
                sm.put("nonCovid", s.nonCovid());
                sm.put("auc", interval(s.auc()));
                sm.put("sensitivity", interval(s.sensitivity()));
                sm.put("specificity", interval(s.specificity()));
                sm.put("meanScore", s.meanScore());
                sources.put(s.source(), sm);
            }
            mm.put("perSource", sources);
            models.add(mm);
        }
        root.put("models", models);
        return root;
    }

    private static Map<String, Object> interval(Bootstrap.Interval i) {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("estimate", num(i.estimate()));
        r.put("low", num(i.low()));
        r.put("high", num(i.high()));
        r.put("replicatesDefined", i.defined());
        return r;
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
