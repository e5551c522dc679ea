package org.xrayscreening.trainer.evaluation;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import org.xrayscreening.models.registry.EnsembleSettings;
import org.xrayscreening.models.registry.EnsembleSettings.Combination;
import org.xrayscreening.models.registry.EnsembleSettings.ModelCalibration;
import org.xrayscreening.models.registry.EnsembleSettings.Zone;

/**
 * Turns the models' validation scores into {@link EnsembleSettings}: {@link EnsembleFit}'s Platt scaling per model
 * and logistic stack, and for each combination the indeterminate band chosen on validation
 * ({@link EnsembleFit.Band}). Both combinations are fit so that they can be compared side by side; one is chosen.
 * The validation probabilities and the reported outcome are computed by the settings themselves
 * ({@link EnsembleSettings#probability}, {@link EnsembleSettings#zone}), the code the stream job decides with.
 */
public final class EnsembleFitting {
    private EnsembleFitting() {}

    /** One model's P(COVID-19) on the validation images, with the exact registry version that produced it. */
    public record ModelValidationScores(String model, String version, float[] scores) {
        public ModelValidationScores {
            Objects.requireNonNull(model, "model");
            Objects.requireNonNull(version, "version");
            Objects.requireNonNull(scores, "scores");
        }
    }

    /**
     * One combination, fit and measured on validation.
     *
     * @param probabilities the combined validation probabilities (as the stream job would compute them)
     */
    public record Candidate(EnsembleSettings settings, float[] probabilities, int images, long covid,
            long indeterminate, double sensitivity, double specificity, double auc, double ece) {}

    /** Both combinations (in {@link Combination} order) and the chosen one's settings, not yet published. */
    public record Result(EnsembleSettings chosen, Map<Combination, Candidate> candidates) {
        /** A Markdown table of the two combinations' validation numbers, side by side. */
        public String comparisonTable() {
            StringBuilder sb = new StringBuilder("| validation |");
            StringBuilder rule = new StringBuilder("| --- |");
            candidates.keySet().forEach(c -> {
                sb.append(' ').append(c.id()).append(c == chosen.combination() ? " (chosen)" : "").append(" |");
                rule.append(" ---: |");
            });
            sb.append('\n').append(rule).append('\n');
            row(sb, "ROC AUC", c -> f(c.auc()));
            row(sb, "expected calibration error", c -> f(c.ece()));
            row(sb, "band low (= threshold)", c -> f(c.settings().indeterminateLow()));
            row(sb, "band high", c -> f(c.settings().indeterminateHigh()));
            row(sb, "sensitivity (suspected or indeterminate)", c -> f(c.sensitivity()));
            row(sb, "specificity (no findings)", c -> f(c.specificity()));
            row(sb, "indeterminate", c -> String.format(Locale.ROOT, "%d of %d (%.1f%%)", c.indeterminate(),
                    c.images(), 100.0 * c.indeterminate() / Math.max(1, c.images())));
            return sb.toString();
        }

        private void row(StringBuilder sb, String name, java.util.function.Function<Candidate, String> value) {
            sb.append("| ").append(name).append(" |");
            candidates.values().forEach(c -> sb.append(' ').append(value.apply(c)).append(" |"));
            sb.append('\n');
        }
    }

    /**
     * Fits both combinations on the validation scores and returns them with the chosen one.
     *
     * @param models every model's scores on the same validation images, in the same order as {@code positive}
     * @param positive whether each validation image is COVID-19 (at least one must be)
     * @param chosen the combination to publish, or null for the {@link #best} one on validation
     * @param dataDigest the split's digest, recorded in the settings
     * @param command the command line, recorded in the settings
     */
    public static Result fit(List<ModelValidationScores> models, boolean[] positive, Combination chosen,
            double targetSensitivity, double targetSpecificity, String dataDigest, String command) {
        if (models.isEmpty()) {
            throw new IllegalArgumentException("no models to combine");
        }
        if (!(targetSensitivity > 0 && targetSensitivity <= 1) || !(targetSpecificity > 0 && targetSpecificity <= 1)) {
            throw new IllegalArgumentException("target sensitivity and specificity must be in (0, 1]");
        }
        boolean anyCovid = false;
        for (boolean p : positive) {
            anyCovid |= p;
        }
        if (!anyCovid) {
            throw new IllegalArgumentException("the validation images hold no COVID-19 image: no sensitivity to fit"
                    + " the band for");
        }
        List<String> seen = new ArrayList<>();
        for (ModelValidationScores m : models) {
            if (m.scores().length != positive.length) {
                throw new IllegalArgumentException(m.model() + "@" + m.version() + " scored " + m.scores().length
                        + " validation images, expected " + positive.length);
            }
            if (seen.contains(m.model())) {
                throw new IllegalArgumentException("model " + m.model() + " is given twice");
            }
            seen.add(m.model());
        }
        List<EnsembleFit.Platt> platts = models.stream().map(m -> EnsembleFit.Platt.fit(m.scores(), positive)).toList();
        EnsembleFit.Stacked stack = EnsembleFit.Stacked.fit(models.stream().map(ModelValidationScores::scores).toList(),
                positive);
        Map<Combination, Candidate> candidates = new EnumMap<>(Combination.class);
        for (Combination c : Combination.values()) {
            List<ModelCalibration> calibrations = new ArrayList<>();
            for (int k = 0; k < models.size(); k++) {
                calibrations.add(new ModelCalibration(models.get(k).model(), models.get(k).version(),
                        platts.get(k).a(), platts.get(k).b(), c == Combination.STACKED ? stack.weights()[k] : null));
            }
            Double bias = c == Combination.STACKED ? stack.bias() : null;
            // the band is not known before the probabilities are: a draft with the whole range as band computes them
            EnsembleSettings draft = settings(c, calibrations, bias, 0, 0, 1, targetSensitivity, targetSpecificity,
                    Map.of(), dataDigest, command);
            float[] p = probabilities(draft, models);
            EnsembleFit.Band band = EnsembleFit.Band.choose(p, positive, targetSensitivity, targetSpecificity);
            EnsembleSettings fitted = settings(c, calibrations, bias, band.low(), band.low(), band.high(),
                    targetSensitivity, targetSpecificity, Map.of(), dataDigest, command);
            candidates.put(c, measure(fitted, p, positive));
        }
        Combination picked = chosen != null ? chosen : best(candidates, targetSensitivity);
        Map<String, Double> metrics = new LinkedHashMap<>();
        Candidate pick = candidates.get(picked);
        putMetrics(metrics, "", pick);
        candidates.forEach((c, cand) -> putMetrics(metrics, c.id() + ".", cand));
        EnsembleSettings s = pick.settings();
        EnsembleSettings withMetrics = settings(picked, s.models(), s.stackedBias(), s.threshold(), s.indeterminateLow(),
                s.indeterminateHigh(), targetSensitivity, targetSpecificity, metrics, dataDigest, command);
        Map<Combination, Candidate> out = new EnumMap<>(candidates);
        out.put(picked, new Candidate(withMetrics, pick.probabilities(), pick.images(), pick.covid(),
                pick.indeterminate(), pick.sensitivity(), pick.specificity(), pick.auc(), pick.ece()));
        return new Result(withMetrics, out);
    }

    /**
     * The combination that serves screening best on validation: among those whose band keeps the target
     * sensitivity, the one that clears the most non-COVID images (specificity), then the one that leaves fewer
     * studies indeterminate; the calibrated mean when they tie, because it has fewer fitted parameters.
     */
    /** {@code best} (null: {@link #best} picks on validation) or a combination's id. */
    public static Combination choice(String text) {
        return "best".equalsIgnoreCase(text.trim()) ? null : Combination.parse(text);
    }

    static Combination best(Map<Combination, Candidate> candidates, double targetSensitivity) {
        return candidates.entrySet().stream()
                .sorted(java.util.Comparator.<Map.Entry<Combination, Candidate>>comparingInt(
                                e -> e.getValue().sensitivity() >= targetSensitivity - 1e-12 ? 0 : 1)
                        .thenComparing(e -> -e.getValue().specificity())
                        .thenComparingLong(e -> e.getValue().indeterminate())
                        .thenComparing(Map.Entry::getKey))
                .findFirst().orElseThrow().getKey();
    }

    /** The combined probability of every image, computed by the settings (architecture id to scores). */
    public static float[] probabilities(EnsembleSettings settings, List<ModelValidationScores> models) {
        int n = models.get(0).scores().length;
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            Map<String, Double> byModel = new LinkedHashMap<>();
            for (ModelValidationScores m : models) {
                byModel.put(m.model(), (double) m.scores()[i]);
            }
            out[i] = (float) settings.probability(byModel);
        }
        return out;
    }

    /**
     * Published settings applied to the scores of the models they were fit for (as the stream job applies them).
     *
     * @param models scores named {@code <arch>@<exact version>}, as {@code evaluate} names them
     * @throws IllegalArgumentException when the models are not exactly the versions the settings were fit for
     */
    public static ModelScores apply(EnsembleSettings settings, List<ModelScores> models) {
        Map<String, ModelScores> byModel = new LinkedHashMap<>();
        Map<String, String> versions = new LinkedHashMap<>();
        for (ModelScores m : models) {
            if (!m.entries().equals(models.get(0).entries())
                    || !m.validationEntries().equals(models.get(0).validationEntries())) {
                throw new IllegalArgumentException("models were scored on different images: " + m.name());
            }
            int at = m.name().indexOf('@');
            String model = at < 0 ? m.name() : m.name().substring(0, at);
            byModel.put(model, m);
            versions.put(model, at < 0 ? "" : m.name().substring(at + 1));
        }
        settings.inapplicability(versions).ifPresent(why -> {
            throw new IllegalArgumentException("ensemble settings " + settings.version() + " do not fit the evaluated"
                    + " models: " + why + " (give --model " + String.join(" --model ", settings.models().stream()
                    .map(Object::toString).toList()) + ")");
        });
        List<ModelValidationScores> eval = new ArrayList<>();
        List<ModelValidationScores> validation = new ArrayList<>();
        byModel.forEach((model, s) -> {
            eval.add(new ModelValidationScores(model, versions.get(model), s.scores()));
            validation.add(new ModelValidationScores(model, versions.get(model), s.validationScores()));
        });
        ModelScores first = models.get(0);
        return new ModelScores("ensemble@" + settings.version() + " (" + settings.combination().id() + ")",
                first.entries(), probabilities(settings, eval), first.validationEntries(),
                probabilities(settings, validation), null);
    }

    /** Outcome of the settings' own decision ({@link EnsembleSettings#zone}) on combined probabilities. */
    public static Candidate measure(EnsembleSettings settings, float[] p, boolean[] positive) {
        long covid = 0;
        long flaggedCovid = 0;
        long other = 0;
        long clearedOther = 0;
        long indeterminate = 0;
        for (int i = 0; i < p.length; i++) {
            Zone z = settings.zone(p[i]);
            if (z == Zone.BAND) {
                indeterminate++;
            }
            if (positive[i]) {
                covid++;
                flaggedCovid += z != Zone.BELOW ? 1 : 0;
            } else {
                other++;
                clearedOther += z == Zone.BELOW ? 1 : 0;
            }
        }
        return new Candidate(settings, p, p.length, covid, indeterminate,
                covid == 0 ? Double.NaN : (double) flaggedCovid / covid,
                other == 0 ? Double.NaN : (double) clearedOther / other, RocCurve.of(p, positive).auc(),
                Calibration.of(p, positive, Calibration.DEFAULT_BINS).expectedCalibrationError());
    }

    private static void putMetrics(Map<String, Double> metrics, String prefix, Candidate c) {
        metrics.put(prefix + "images", (double) c.images());
        metrics.put(prefix + "covid", (double) c.covid());
        metrics.put(prefix + "indeterminate", (double) c.indeterminate());
        put(metrics, prefix + "sensitivity", c.sensitivity());
        put(metrics, prefix + "specificity", c.specificity());
        put(metrics, prefix + "auc", c.auc());
        put(metrics, prefix + "ece", c.ece());
        metrics.put(prefix + "bandLow", c.settings().indeterminateLow());
        metrics.put(prefix + "bandHigh", c.settings().indeterminateHigh());
    }

    private static void put(Map<String, Double> metrics, String key, double value) {
        if (Double.isFinite(value)) { // JSON has no NaN
            metrics.put(key, value);
        }
    }

    private static EnsembleSettings settings(Combination c, List<ModelCalibration> models, Double bias, double threshold,
            double low, double high, double targetSensitivity, double targetSpecificity, Map<String, Double> metrics,
            String dataDigest, String command) {
        return new EnsembleSettings(EnsembleSettings.SCHEMA_VERSION, null, null, c, models, bias, threshold, low, high,
                targetSensitivity, targetSpecificity, metrics, dataDigest, "validation", command, null);
    }

    private static String f(double v) {
        return Double.isNaN(v) ? "n/a" : String.format(Locale.ROOT, "%.4f", v);
    }
}
