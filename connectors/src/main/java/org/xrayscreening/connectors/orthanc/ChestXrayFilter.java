package org.xrayscreening.connectors.orthanc;

import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Decides from an instance's DICOM tags whether it is a frontal chest radiograph the models were trained on.
 * A PACS node receives everything a hospital sends (CT, reports, lateral views): the rest is skipped - counted
 * by reason, never dead-lettered, because it is not an error.
 *
 * <ul>
 * <li>Modality (0008,0060) must be CR or DX (DR: a non-standard spelling some vendors use);
 * <li>Body Part Examined (0018,0015) must be CHEST; a missing one is skipped too (a hospital whose modalities
 * leave it empty sets it with an Orthanc routing rule, see the README);
 * <li>View Position (0018,5101) must not be lateral or decubitus (LL, RL, LAT, LATERAL, LLD, RLD): the models
 * score frontal (PA/AP) views; an empty view passes;
 * <li>the instance must have pixels: Rows and Columns present.
 * </ul>
 */
public final class ChestXrayFilter {

    /** Why an instance was skipped: a metric label, so a fixed small set. */
    public enum SkipReason {
        MODALITY, BODY_PART, VIEW, NO_PIXELS;

        public String label() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    static final Set<String> MODALITIES = Set.of("CR", "DX", "DR");
    static final Set<String> NON_FRONTAL_VIEWS = Set.of("LL", "RL", "LAT", "LATERAL", "LLD", "RLD");

    private ChestXrayFilter() {}

    /** Empty for a frontal chest X-ray, otherwise the first rule it fails. */
    public static Optional<SkipReason> skipReason(Map<String, String> tags) {
        if (!MODALITIES.contains(upper(tags.get("Modality")))) {
            return Optional.of(SkipReason.MODALITY);
        }
        if (!upper(tags.get("BodyPartExamined")).equals("CHEST")) {
            return Optional.of(SkipReason.BODY_PART);
        }
        if (NON_FRONTAL_VIEWS.contains(upper(tags.get("ViewPosition")))) {
            return Optional.of(SkipReason.VIEW);
        }
        if (upper(tags.get("Rows")).isEmpty() || upper(tags.get("Columns")).isEmpty()) {
            return Optional.of(SkipReason.NO_PIXELS);
        }
        return Optional.empty();
    }

    private static String upper(String v) {
        return v == null ? "" : v.strip().toUpperCase(Locale.ROOT);
    }
}
