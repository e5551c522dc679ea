package org.xrayscreening.connectors.event;

import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

/**
 * An alert on {@code xray.alerts}. Fields that do not apply to a type are null: clinical alerts carry the
 * study, patient reference, decision and probability; model alerts carry the model and version. Build them
 * with the static factories.
 */
public record Alert(
        int schemaVersion,
        AlertType type,
        String studyId,
        String patientRef,
        Decision decision,
        Double probability,
        String model,
        String version,
        String message,
        Instant createdAt) {

    /**
     * The clinical alert for a recommendation, or empty when its decision needs none
     * ({@link Decision#NO_COVID_FINDINGS}).
     */
    public static Optional<Alert> forRecommendation(Recommendation r, Instant createdAt) {
        return r.decision() == Decision.NO_COVID_FINDINGS ? Optional.empty() : Optional.of(clinical(r, createdAt));
    }

    /** {@link #clinical(Recommendation, Instant)} stamped with the recommendation's own time (or now). */
    public static Alert clinical(Recommendation r) {
        return clinical(r, r.recommendedAt() != null ? r.recommendedAt() : Instant.now());
    }

    /**
     * A clinical alert for a {@link Decision#COVID_SUSPECTED} or {@link Decision#INDETERMINATE} recommendation.
     *
     * @throws IllegalArgumentException for {@link Decision#NO_COVID_FINDINGS}
     */
    public static Alert clinical(Recommendation r, Instant createdAt) {
        Objects.requireNonNull(r, "recommendation");
        AlertType type = switch (r.decision()) {
            case COVID_SUSPECTED -> AlertType.CLINICAL_COVID_SUSPECTED;
            case INDETERMINATE -> AlertType.CLINICAL_INDETERMINATE;
            case NO_COVID_FINDINGS -> throw new IllegalArgumentException("no alert for NO_COVID_FINDINGS");
        };
        String message = (type == AlertType.CLINICAL_COVID_SUSPECTED
                ? "COVID-19 suspected: ensemble probability %.3f >= threshold %.3f"
                : "Indeterminate: ensemble probability %.3f near threshold %.3f")
                .formatted(r.ensembleProbability(), r.threshold())
                + (r.reason() != null && !r.reason().isBlank() ? " (" + r.reason() + ")" : "")
                + "; a clinician decides";
        return new Alert(EventCodec.SCHEMA_VERSION, type, r.studyId(), r.patientRef(), r.decision(),
                r.ensembleProbability(), null, null, message, createdAt);
    }

    /** A model's measured sensitivity fell below the agreed floor. */
    public static Alert sensitivityBelowFloor(String model, String version, double sensitivity, double floor,
                                              Instant createdAt) {
        return new Alert(EventCodec.SCHEMA_VERSION, AlertType.MODEL_SENSITIVITY_BELOW_FLOOR, null, null, null,
                sensitivity, model, version,
                "sensitivity %.3f below floor %.3f".formatted(sensitivity, floor), createdAt);
    }

    /** A model update could not be loaded or checked; the old version keeps serving. */
    public static Alert modelUpdateFailed(String model, String version, String message, Instant createdAt) {
        return new Alert(EventCodec.SCHEMA_VERSION, AlertType.MODEL_UPDATE_FAILED, null, null, null, null, model,
                version, message, createdAt);
    }

    /** Without the patient reference. */
    @Override
    public String toString() {
        return "Alert[schemaVersion=" + schemaVersion + ", type=" + type + ", studyId=" + studyId + ", decision="
                + decision + ", probability=" + probability + ", model=" + model + ", version=" + version
                + ", message=" + message + ", createdAt=" + createdAt + "]";
    }
}
