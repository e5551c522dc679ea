package org.xrayscreening.connectors.event;

import java.time.Instant;
import java.util.List;

/**
 * The ensemble's recommendation for one study, on {@code xray.recommendations} (key: {@code studyId}).
 * {@code patientRef} is carried for the clinicians' systems; it never goes into logs or metrics (see
 * {@link #toString()}).
 *
 * @param modelScores one per model that answered, with its exact version
 * @param missingModels architecture ids that did not answer (empty when all four did)
 * @param endToEndMillis recommendedAt - acquiredAt
 * @param reason a short why, e.g. "models disagree", "2 of 4 models missing"
 */
public record Recommendation(
        int schemaVersion,
        String studyId,
        String patientRef,
        Decision decision,
        double ensembleProbability,
        double threshold,
        double indeterminateLow,
        double indeterminateHigh,
        List<ModelScore> modelScores,
        List<String> missingModels,
        Instant acquiredAt,
        Instant recommendedAt,
        long endToEndMillis,
        String reason) {

    public Recommendation {
        modelScores = modelScores == null ? List.of() : List.copyOf(modelScores);
        missingModels = missingModels == null ? List.of() : List.copyOf(missingModels);
    }

    /** Without the patient reference. */
    @Override
    public String toString() {
        return "Recommendation[schemaVersion=" + schemaVersion + ", studyId=" + studyId + ", decision=" + decision
                + ", ensembleProbability=" + ensembleProbability + ", threshold=" + threshold
                + ", indeterminate=[" + indeterminateLow + ", " + indeterminateHigh + "], modelScores=" + modelScores
                + ", missingModels=" + missingModels + ", acquiredAt=" + acquiredAt + ", recommendedAt="
                + recommendedAt + ", endToEndMillis=" + endToEndMillis + ", reason=" + reason + "]";
    }
}
