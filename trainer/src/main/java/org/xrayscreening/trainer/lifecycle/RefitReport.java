package org.xrayscreening.trainer.lifecycle;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import org.xrayscreening.trainer.Json;

/** Writes a refit's {@code report.md} (for people) and {@code refit.json} (the same, for tools). */
final class RefitReport {
    private RefitReport() {}

    static void write(Refitter.Result r, TrainingStore.Snapshot s, Refitter.Settings settings) throws IOException {
        StringBuilder sb = new StringBuilder();
        sb.append("# Refit ").append(r.id()).append("\n\n");
        sb.append("- trigger: ").append(r.trigger()).append('\n');
        sb.append("- started ").append(r.startedAt()).append(", finished ").append(r.finishedAt()).append('\n');
        sb.append(String.format(Locale.ROOT, "- training store: %d studies, digest `%s`%n", r.storeStudies(), r.storeDigest()));
        sb.append(String.format(Locale.ROOT, "- snapshot: train + validation %d studies (%d covid) in `%s`; held out %d"
                + " (%d covid) in `%s` (patients hashed below %.2f, stable as the store grows)%n", s.trainStudies(),
                s.trainCovid(), s.trainManifest().getFileName(), s.holdoutStudies(), s.holdoutCovid(),
                s.holdoutManifest().getFileName(), settings.holdoutFraction()));
        sb.append("- evaluation set: ").append(!settings.evalData().isEmpty()
                ? "`" + settings.evalDataDescription() + "`"
                : "the held-out snapshot").append('\n');
        sb.append(String.format(Locale.ROOT, "- training: from the production weights, %d epochs max, batch %d, lr %s,"
                + " batch-norm momentum %.2f, augmentation %s, validation %.2f of the snapshot (best epoch kept)%n",
                settings.epochs(), settings.batchSize(), settings.learningRate(), settings.bnMomentum(),
                settings.augment() ? "on" : "off", settings.validationFraction()));
        sb.append("- promotion rule: ").append(settings.policy())
                .append(", compared at the champion's decision threshold on the evaluation set\n\n");

        sb.append("## Decisions\n\n");
        sb.append("| model | champion (").append(settings.alias()).append(") | challenger | decision | why | model update sent |\n");
        sb.append("| --- | --- | --- | --- | --- | --- |\n");
        for (Refitter.ModelOutcome o : r.outcomes()) {
            sb.append("| ").append(o.model()).append(" | ").append(nz(o.champion())).append(" | ")
                    .append(nz(o.challenger())).append(" | **").append(o.status()).append("** | ")
                    .append(o.reason().replace("|", "/")).append(" | ").append(o.updateSent() ? "yes" : "no").append(" |\n");
        }
        for (Refitter.ModelOutcome o : r.outcomes()) {
            if (o.challenger() == null) {
                continue;
            }
            sb.append("\n## ").append(o.model()).append("\n\n");
            sb.append(String.format(Locale.ROOT, "At the champion's decision threshold %.4f on the evaluation set:%n%n",
                    o.threshold()));
            sb.append("| metric | champion ").append(o.champion()).append(" | challenger ").append(o.challenger())
                    .append(" | difference | criterion |\n| --- | --- | --- | --- | --- |\n");
            for (String m : PromotionPolicy.METRICS) {
                double a = o.championMetrics().getOrDefault(m, Double.NaN);
                double b = o.challengerMetrics().getOrDefault(m, Double.NaN);
                String criterion = o.comparisons().stream().filter(c -> c.metric().equals(m)).findFirst()
                        .map(c -> (c.notWorse() ? "not worse" : "**worse**") + " (#"
                                + (settings.policy().criteria().indexOf(m) + 1) + ")").orElse("");
                sb.append("| ").append(m).append(" | ").append(f(a)).append(" | ").append(f(b)).append(" | ")
                        .append(Double.isFinite(a) && Double.isFinite(b) ? String.format(Locale.ROOT, "%+.4f", b - a) : "n/a")
                        .append(" | ").append(criterion).append(" |\n");
            }
            sb.append(String.format(Locale.ROOT, "| TP / TN / FP / FN | %s | %s | | |%n", counts(o.championMetrics()),
                    counts(o.challengerMetrics())));
            sb.append("\nDecision: **").append(o.status()).append("**: ").append(o.reason()).append('\n');
            if (o.updateSent()) {
                sb.append("\n`ModelUpdate` sent for ").append(o.challenger()).append(", metadata sha256 `")
                        .append(o.metadataSha256()).append("`.\n");
            }
            sb.append("\nTraining run: `").append(o.trainingRun()).append("`. Full evaluation (threshold 0.5 and"
                    + " validation-chosen, per label source): [").append(o.model()).append("/report.md](")
                    .append(o.model()).append("/report.md)\n\n");
            sb.append("![ROC](").append(o.model()).append("/roc-all.png)\n");
        }
        Files.writeString(r.report(), sb.toString());
        Json.write(r.dir().resolve("refit.json"), r);
    }

    private static String counts(Map<String, Double> m) {
        if (!m.containsKey("tp")) {
            return "n/a";
        }
        return String.format(Locale.ROOT, "%.0f / %.0f / %.0f / %.0f", m.get("tp"), m.get("tn"), m.get("fp"), m.get("fn"));
    }

    private static String nz(String s) {
        return s == null ? "-" : s;
    }

    private static String f(double v) {
        return Double.isFinite(v) ? String.format(Locale.ROOT, "%.4f", v) : "n/a";
    }
}
