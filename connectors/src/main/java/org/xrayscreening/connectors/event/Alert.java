package org.xrayscreening.connectors.event;

import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

/**
 * An alert on {@code xray.alerts}. Fields that do not apply to a type are null: clinical alerts carry the
 * study, patient reference, decision and probability; model alerts carry the model and version. Build them
 * with the static factories.
 *
 * <p>{@code heatmapUri} (clinical alerts only, optional, added in place in schema version 1: readers that do not
 * know it ignore it) points at the Grad-CAM heatmap of the study in the heatmap store: an overlay PNG whose raw map
 * lies beside it. When the heatmap could not be made, {@code heatmapUri} is null and {@code heatmapMissing} says
 * why (never with patient data); both null means no heatmap was asked for.
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
        Instant createdAt,
        String heatmapUri,
        String heatmapMissing) {

    /** An alert without heatmap fields (model alerts, and clinical alerts before a heatmap is attached). */
    public Alert(int schemaVersion, AlertType type, String studyId, String patientRef, Decision decision,
                 Double probability, String model, String version, String message, Instant createdAt) {
        this(schemaVersion, type, studyId, patientRef, decision, probability, model, version, message, createdAt,
                null, null);
    }

    /** This alert pointing at its heatmap. */
    public Alert withHeatmap(String uri) {
        return new Alert(schemaVersion, type, studyId, patientRef, decision, probability, model, version, message,
                createdAt, java.util.Objects.requireNonNull(uri, "uri"), null);
    }

    /** This alert saying its heatmap is missing and why ({@code reason} must hold no patient data). */
    public Alert withHeatmapMissing(String reason) {
        return new Alert(schemaVersion, type, studyId, patientRef, decision, probability, model, version, message,
                createdAt, null, java.util.Objects.requireNonNull(reason, "reason"));
    }

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
                + ", message=" + message + ", createdAt=" + createdAt + ", heatmapUri=" + heatmapUri
                + ", heatmapMissing=" + heatmapMissing + "]";
    }
}
