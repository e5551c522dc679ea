package org.xrayscreening.connectors.event;

import java.time.Instant;

/**
 * One newly acquired chest X-ray, as sent by a modality or PACS gateway to {@code xray.acquired}. Kafka key:
 * {@code studyId}. Parse untrusted bytes with {@link EventCodec#parseAcquired(byte[])}, which validates.
 *
 * @param schemaVersion {@link EventCodec#SCHEMA_VERSION}
 * @param studyId required; the Kafka key
 * @param patientRef the hospital's patient reference; travels in payloads only, never in logs or metrics
 * @param acquiredAt required
 * @param view e.g. PA, AP, LATERAL; optional
 * @param source the sending system; optional
 * @param image required
 */
public record XrayAcquired(
        int schemaVersion,
        String studyId,
        String patientRef,
        Instant acquiredAt,
        String view,
        String source,
        ImageReference image) {

    /** Without the patient reference. */
    @Override
    public String toString() {
        return "XrayAcquired[schemaVersion=" + schemaVersion + ", studyId=" + studyId + ", acquiredAt=" + acquiredAt
                + ", view=" + view + ", source=" + source + ", image=" + image + "]";
    }
}
