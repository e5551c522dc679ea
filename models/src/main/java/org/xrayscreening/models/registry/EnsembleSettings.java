package org.xrayscreening.models.registry;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonValue;
import java.io.IOException;
import java.io.Serializable;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import org.xrayscreening.models.Architecture;

/**
 * How the models' P(COVID-19) become one decision, fit on a validation split (issue 10 item 5) and published to the
 * registry next to the model versions it was fit for ({@link EnsembleRegistry}). The trainer writes it
 * ({@code trainer fit-ensemble}) and evaluates it; the stream job decides with it. Both call the methods here, so
 * production computes exactly what was measured.
 *
 * <ul>
 *   <li>each model's probability is calibrated by Platt scaling, {@code sigmoid(a * logit(p) + b)};
 *   <li>{@link Combination#CALIBRATED_MEAN}: the mean of the calibrated probabilities of the models that answered;
 *       {@link Combination#STACKED}: {@code sigmoid(bias + sum(weight_k * logit(p_k)))} on the models' own
 *       probabilities (a logistic regression; Platt is an affine map of the logit, which a stack weight absorbs),
 *       which needs every model;
 *   <li>the indeterminate band {@code [indeterminateLow, indeterminateHigh)}: below it NO_COVID_FINDINGS, from its
 *       upper edge COVID_SUSPECTED, in between INDETERMINATE. The lower edge was chosen on validation so that the
 *       share of COVID-19 images flagged (suspected or indeterminate) reaches {@code targetSensitivity}; the upper
 *       edge where validation specificity reaches {@code targetSpecificity}. {@code threshold} is the point at
 *       which a study starts reaching a clinician (the lower edge).
 * </ul>
 *
 * @param schemaVersion {@link #SCHEMA_VERSION}; a reader refuses a newer major schema
 * @param version filled in by {@link EnsembleRegistry#publish}
 * @param models one entry per model the settings were fit for, each naming the exact model version
 * @param stackedBias the stack's bias ({@link Combination#STACKED} only)
 * @param validationMetrics what the settings achieved on the split they were fit on (and the other combination's
 *     numbers, prefixed by its id, for comparison)
 * @param dataDigest digest of the dataset split the settings were fit on
 * @param split the split they were fit on ({@code validation})
 * @param command the command line that fit them, for reproduction
 */
public record EnsembleSettings(
        int schemaVersion,
        String version,
        Instant createdAt,
        Combination combination,
        List<ModelCalibration> models,
        Double stackedBias,
        double threshold,
        double indeterminateLow,
        double indeterminateHigh,
        double targetSensitivity,
        double targetSpecificity,
        Map<String, Double> validationMetrics,
        String dataDigest,
        String split,
        String command,
        String notes) implements Serializable {

    private static final long serialVersionUID = 1L;
    public static final int SCHEMA_VERSION = 1;
    /** Probabilities are clamped to [EPS, 1 - EPS] before the logit, as in the trainer's fits. */
    public static final double EPS = 1e-6;

    /** How the calibrated model probabilities are combined. */
    public enum Combination {
        CALIBRATED_MEAN("calibrated-mean"),
        STACKED("stacked");

        private final String id;

        Combination(String id) {
            this.id = id;
        }

        @JsonValue
        public String id() {
            return id;
        }

        @JsonCreator
        public static Combination parse(String text) {
            for (Combination c : values()) {
                if (c.id.equalsIgnoreCase(text.trim()) || c.name().equalsIgnoreCase(text.trim())) {
                    return c;
                }
            }
            throw new IllegalArgumentException("unknown combination '" + text + "': expected calibrated-mean or stacked");
        }
    }

    /**
     * One model's part: the exact version the settings were fit for, its Platt scaling, and its stack weight.
     *
     * @param model architecture id ({@code mobilenet}, ...)
     * @param stackedWeight weight of this model's logit ({@link Combination#STACKED} only; null otherwise)
     */
    public record ModelCalibration(String model, String version, double plattA, double plattB, Double stackedWeight)
            implements Serializable {
        private static final long serialVersionUID = 1L;

        public ModelCalibration {
            Architecture.fromId(Objects.requireNonNull(model, "model"));
            ModelRef.checkName(version, "model version");
            if (!Double.isFinite(plattA) || !Double.isFinite(plattB)) {
                throw new IllegalArgumentException("Platt parameters of " + model + " must be finite");
            }
            if (stackedWeight != null && !Double.isFinite(stackedWeight)) {
                throw new IllegalArgumentException("stack weight of " + model + " must be finite");
            }
        }

        /** The calibrated probability {@code sigmoid(a * logit(p) + b)}. */
        public double calibrate(double p) {
            return sigmoid(plattA * logit(p) + plattB);
        }

        /** As recorded in recommendations: {@code mobilenet@<version>}. */
        @Override
        public String toString() {
            return model + "@" + version;
        }
    }

    /** Where a combined probability falls with respect to the band. */
    public enum Zone {
        /** below the band: NO_COVID_FINDINGS */
        BELOW,
        /** inside the band: INDETERMINATE */
        BAND,
        /** at or above the band's upper edge: COVID_SUSPECTED */
        ABOVE
    }

    public EnsembleSettings {
        if (schemaVersion != SCHEMA_VERSION) {
            throw new IllegalArgumentException("ensemble settings schema version " + schemaVersion
                    + " is not supported (this reader knows " + SCHEMA_VERSION + ")");
        }
        if (version != null) {
            ModelRef.checkName(version, "ensemble settings version");
        }
        Objects.requireNonNull(combination, "combination");
        if (models == null || models.isEmpty()) {
            throw new IllegalArgumentException("ensemble settings need at least one model");
        }
        models = List.copyOf(models);
        Set<String> seen = new HashSet<>();
        for (ModelCalibration m : models) {
            if (!seen.add(m.model())) {
                throw new IllegalArgumentException("model " + m.model() + " appears twice in the ensemble settings");
            }
            if ((combination == Combination.STACKED) != (m.stackedWeight() != null)) {
                throw new IllegalArgumentException(combination == Combination.STACKED
                        ? "stacked settings need a weight for " + m.model()
                        : "calibrated-mean settings must not carry a stack weight (" + m.model() + ")");
            }
        }
        if ((combination == Combination.STACKED) != (stackedBias != null)
                || (stackedBias != null && !Double.isFinite(stackedBias))) {
            throw new IllegalArgumentException(combination == Combination.STACKED
                    ? "stacked settings need a finite bias" : "calibrated-mean settings must not carry a stack bias");
        }
        if (!(indeterminateLow >= 0 && indeterminateLow <= threshold && threshold <= indeterminateHigh
                && indeterminateHigh <= 1)) {
            throw new IllegalArgumentException("expected 0 <= indeterminateLow <= threshold <= indeterminateHigh <= 1,"
                    + " was " + indeterminateLow + ", " + threshold + ", " + indeterminateHigh);
        }
        if (!(targetSensitivity > 0 && targetSensitivity <= 1) || !(targetSpecificity > 0 && targetSpecificity <= 1)) {
            throw new IllegalArgumentException("target sensitivity and specificity must be in (0, 1]");
        }
        validationMetrics = validationMetrics == null ? Map.of()
                : Collections.unmodifiableMap(new TreeMap<>(validationMetrics));
    }

    public EnsembleSettings withVersion(String newVersion, Instant newCreatedAt) {
        return new EnsembleSettings(schemaVersion, newVersion, newCreatedAt, combination, models, stackedBias, threshold,
                indeterminateLow, indeterminateHigh, targetSensitivity, targetSpecificity, validationMetrics, dataDigest,
                split, command, notes);
    }

    /** The entry of one model, if the settings were fit for it. */
    public Optional<ModelCalibration> calibration(String model) {
        return models.stream().filter(m -> m.model().equals(model)).findFirst();
    }

    /** Architecture id to exact version, in the settings' model order. */
    @JsonIgnore
    public Map<String, String> modelVersions() {
        Map<String, String> out = new java.util.LinkedHashMap<>();
        models.forEach(m -> out.put(m.model(), m.version()));
        return out;
    }

    /**
     * Why these settings cannot decide a study that these model versions answered, or empty when they can: every
     * answering model must be one the settings were fit for, at that exact version, and a stack needs every model.
     *
     * @param answered architecture id to the exact version that scored the study
     */
    public Optional<String> inapplicability(Map<String, String> answered) {
        List<String> problems = new ArrayList<>();
        for (Map.Entry<String, String> e : new TreeMap<>(answered).entrySet()) {
            Optional<ModelCalibration> fit = calibration(e.getKey());
            if (fit.isEmpty()) {
                problems.add(e.getKey() + " is not in the settings");
            } else if (!fit.get().version().equals(e.getValue())) {
                problems.add(e.getKey() + "@" + e.getValue() + " scored, settings fit for " + fit.get());
            }
        }
        if (problems.isEmpty() && combination == Combination.STACKED) {
            List<String> missing = models.stream().map(ModelCalibration::model).filter(m -> !answered.containsKey(m))
                    .toList();
            if (!missing.isEmpty()) {
                problems.add("the stack needs every model, missing " + String.join(", ", missing));
            }
        }
        return problems.isEmpty() ? Optional.empty() : Optional.of(String.join("; ", problems));
    }

    /**
     * The combined P(COVID-19) of the models that answered (architecture id to the model's own probability). Models
     * are taken in the settings' order, so the sum is the same wherever it is computed.
     *
     * @throws IllegalArgumentException when {@link #inapplicability} would name a model (versions are not checked
     *     here: that is the caller's {@link #inapplicability} call)
     */
    public double probability(Map<String, Double> byModel) {
        for (String model : byModel.keySet()) {
            if (calibration(model).isEmpty()) {
                throw new IllegalArgumentException("model " + model + " is not in the ensemble settings");
            }
        }
        if (byModel.isEmpty()) {
            throw new IllegalArgumentException("no model probabilities to combine");
        }
        if (combination == Combination.STACKED) {
            double z = stackedBias;
            for (ModelCalibration m : models) {
                Double p = byModel.get(m.model());
                if (p == null) {
                    throw new IllegalArgumentException("the stack needs every model, " + m.model() + " is missing");
                }
                z += m.stackedWeight() * logit(p);
            }
            return sigmoid(z);
        }
        double sum = 0;
        int n = 0;
        for (ModelCalibration m : models) {
            Double p = byModel.get(m.model());
            if (p != null) {
                sum += m.calibrate(p);
                n++;
            }
        }
        return sum / n;
    }

    /**
     * Where {@code p} lies against the band. Compared at float precision: the band's edges were chosen among
     * validation probabilities held as floats, so a study exactly on an edge gets the decision it got there.
     */
    public Zone zone(double p) {
        if (Double.isNaN(p)) {
            throw new IllegalArgumentException("probability is NaN");
        }
        float q = (float) p;
        if (q < (float) indeterminateLow) {
            return Zone.BELOW;
        }
        return q < (float) indeterminateHigh ? Zone.BAND : Zone.ABOVE;
    }

    public static double logit(double p) {
        double q = Math.min(1 - EPS, Math.max(EPS, p));
        return Math.log(q / (1 - q));
    }

    public static double sigmoid(double z) {
        return 1 / (1 + Math.exp(-z));
    }

    public String toJson() {
        try {
            return ModelMetadata.objectMapper().writeValueAsString(this);
        } catch (IOException e) {
            throw new IllegalStateException("cannot serialize ensemble settings", e);
        }
    }

    public static EnsembleSettings fromJson(byte[] json) throws IOException {
        return ModelMetadata.objectMapper().readValue(json, EnsembleSettings.class);
    }

    /** {@code ensemble@<version>}, the combination and the models, for logs (no patient data here). */
    public String describe() {
        return "ensemble@" + version + " (" + combination.id() + " of " + models + ", band ["
                + String.format(java.util.Locale.ROOT, "%.4f, %.4f", indeterminateLow, indeterminateHigh) + "))";
    }
}
