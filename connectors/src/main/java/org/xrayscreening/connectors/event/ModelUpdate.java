package org.xrayscreening.connectors.event;

import java.time.Instant;

/**
 * "Serve this model version now", on {@code xray.model-updates}. Published by the trainer on promotion, or by
 * an engineer to roll back (an update naming an older version). Kafka key: the model.
 *
 * @param model architecture id, e.g. "resnet50"; required
 * @param version registry version; required
 * @param location where the version lives (registry root or a URI), informational; optional
 * @param sha256 sha256 of the version's metadata.json, which itself lists the sha256 of every file: one digest
 *     pins the whole version. Optional; when present a mismatch refuses the version.
 * @param publishedAt when the update was issued; optional
 * @param reason why (promotion, rollback, ...); optional, free text for the audit trail
 */
public record ModelUpdate(
        int schemaVersion,
        String model,
        String version,
        String location,
        String sha256,
        Instant publishedAt,
        String reason) {

    public static ModelUpdate of(String model, String version, String location, String sha256, String reason) {
        return new ModelUpdate(EventCodec.SCHEMA_VERSION, model, version, location, sha256, Instant.now(), reason);
    }
}
