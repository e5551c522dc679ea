package org.xrayscreening.stream.ensemble;

import java.io.Serializable;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import org.xrayscreening.connectors.event.Decision;
import org.xrayscreening.connectors.event.ModelScore;
import org.xrayscreening.models.registry.EnsembleSettings;

/**
 * Decides a study with the published {@link EnsembleSettings} (calibrate each model, combine, the validation band)
 * when they apply to the model versions that scored it, and with the flag-configured {@link EnsemblePolicy} (mean of
 * the raw probabilities, symmetric band, disagreement rule) otherwise. Without settings it is exactly that policy.
 *
 * <p>Settings apply when every answering model is one they were fit for, at that exact version (a model hot-swapped
 * to another version has other probabilities: its calibration would be wrong), and, for a stack, every model
 * answered. Otherwise the study falls back to the policy, and the outcome says why ({@link Outcome#fallback}), so
 * that the caller can count and log it.
 *
 * <p>With settings the disagreement rule is not applied: the band was chosen on validation without it, and the
 * numbers measured there (sensitivity, specificity) are what the job should deliver. The minimum number of models
 * still applies.
 */
public final class EnsembleDecider implements Serializable {
    private static final long serialVersionUID = 1L;

    /** Why settings did not decide a study; the metric label. */
    public enum Fallback {
        /** a model answered with a version the settings were not fit for */
        VERSION_MISMATCH("version_mismatch"),
        /** a model the settings were not fit for answered */
        MODEL_NOT_IN_SETTINGS("model_not_in_settings"),
        /** a stack needs every model and one did not answer */
        STACK_MODEL_MISSING("stack_model_missing");

        private final String label;

        Fallback(String label) {
            this.label = label;
        }

        public String label() {
            return label;
        }
    }

    /**
     * @param threshold, low, high what the recommendation reports: the settings' or the policy's
     * @param settingsVersion the settings that decided, or null when the policy did
     * @param fallback why settings were present but did not decide, or null
     * @param fallbackDetail the models and versions behind {@code fallback} (no patient data), or null
     */
    public record Outcome(Decision decision, double probability, String reason, double threshold, double low,
            double high, String settingsVersion, Fallback fallback, String fallbackDetail) {}

    private final EnsemblePolicy policy;
    private final EnsembleSettings settings;

    /** @param settings null: the policy decides every study */
    public EnsembleDecider(EnsemblePolicy policy, EnsembleSettings settings) {
        this.policy = Objects.requireNonNull(policy, "policy");
        this.settings = settings;
    }

    public EnsemblePolicy policy() {
        return policy;
    }

    /** The settings, or null. */
    public EnsembleSettings settings() {
        return settings;
    }

    public Outcome decide(List<ModelScore> scores) {
        if (settings == null || scores.isEmpty()) {
            return byPolicy(scores, null, null);
        }
        Map<String, String> versions = new LinkedHashMap<>();
        Map<String, Double> probabilities = new LinkedHashMap<>();
        for (ModelScore s : scores) {
            versions.put(s.model(), s.version());
            probabilities.put(s.model(), s.probability());
        }
        Optional<String> why = settings.inapplicability(versions);
        if (why.isPresent()) {
            return byPolicy(scores, classify(versions), why.get());
        }
        double p = settings.probability(probabilities);
        Decision decision;
        String reason;
        if (scores.size() < policy.minModels()) {
            decision = Decision.INDETERMINATE;
            reason = "only " + scores.size() + " model(s) answered, " + policy.minModels() + " needed";
        } else {
            switch (settings.zone(p)) {
                case ABOVE -> {
                    decision = Decision.COVID_SUSPECTED;
                    reason = "above threshold";
                }
                case BAND -> {
                    decision = Decision.INDETERMINATE;
                    reason = "near threshold";
                }
                default -> {
                    decision = Decision.NO_COVID_FINDINGS;
                    reason = "below threshold";
                }
            }
        }
        return new Outcome(decision, p, reason + " (ensemble@" + settings.version() + ")", settings.threshold(),
                settings.indeterminateLow(), settings.indeterminateHigh(), settings.version(), null, null);
    }

    private Outcome byPolicy(List<ModelScore> scores, Fallback fallback, String detail) {
        EnsemblePolicy.Outcome o = policy.decide(scores.stream().map(ModelScore::probability).toList());
        String reason = fallback == null ? o.reason()
                : o.reason() + " (uncalibrated: ensemble@" + settings.version() + " not applicable)";
        return new Outcome(o.decision(), o.probability(), reason, policy.threshold(), policy.indeterminateLow(),
                policy.indeterminateHigh(), null, fallback, detail);
    }

    private Fallback classify(Map<String, String> versions) {
        Fallback notInSettings = null;
        for (Map.Entry<String, String> e : versions.entrySet()) {
            Optional<EnsembleSettings.ModelCalibration> fit = settings.calibration(e.getKey());
            if (fit.isEmpty()) {
                notInSettings = Fallback.MODEL_NOT_IN_SETTINGS;
            } else if (!fit.get().version().equals(e.getValue())) {
                return Fallback.VERSION_MISMATCH;
            }
        }
        return notInSettings != null ? notInSettings : Fallback.STACK_MODEL_MISSING;
    }
}
