package org.xrayscreening.connectors.event;

import java.time.Instant;

/**
 * An X-ray with its confirmed diagnosis, on {@code xray.labelled}; the trainer learns from these.
 *
 * @param label {@link #COVID} or {@link #NON_COVID}; required
 * @param labelSource {@link #PCR} or {@link #RADIOLOGIST}; required
 * @param confirmedAt when the label was confirmed; optional
 */
public record XrayLabelled(
        int schemaVersion,
        String studyId,
        String patientRef,
        Instant acquiredAt,
        String view,
        String source,
        ImageReference image,
        String label,
        String labelSource,
        Instant confirmedAt) {

    public static final String COVID = "covid";
    public static final String NON_COVID = "non-covid";
    public static final String PCR = "PCR";
    public static final String RADIOLOGIST = "RADIOLOGIST";

    /** True for {@link #COVID}. Not a bean getter on purpose: not serialized. */
    public boolean hasCovidLabel() {
        return COVID.equals(label);
    }

    /** Without the patient reference. */
    @Override
    public String toString() {
        return "XrayLabelled[schemaVersion=" + schemaVersion + ", studyId=" + studyId + ", acquiredAt=" + acquiredAt
                + ", view=" + view + ", source=" + source + ", image=" + image + ", label=" + label
                + ", labelSource=" + labelSource + ", confirmedAt=" + confirmedAt + "]";
    }
}
