package org.xrayscreening.connectors.event;

/** Why a record went to {@code xray.dead-letter}. */
public enum DeadLetterReason {
    MALFORMED_JSON,
    MISSING_FIELD,
    INVALID_FIELD,
    UNSUPPORTED_SCHEMA_VERSION,
    UNKNOWN_CONTENT_TYPE,
    IMAGE_TOO_LARGE,
    UNDECODABLE_IMAGE,
    IMAGE_UNREACHABLE,
    INFERENCE_FAILED
}
