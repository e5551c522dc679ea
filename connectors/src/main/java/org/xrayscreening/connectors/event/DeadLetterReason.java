package org.xrayscreening.connectors.event;

/**
 * Why a record went to {@code xray.dead-letter}. Each reason is a stable code (it is a metric label and what
 * consumers of the dead-letter topic switch on); the accompanying detail never names a patient, a file path or
 * a host.
 */
public enum DeadLetterReason {
    MALFORMED_JSON,
    MISSING_FIELD,
    INVALID_FIELD,
    UNSUPPORTED_SCHEMA_VERSION,
    UNKNOWN_CONTENT_TYPE,
    IMAGE_TOO_LARGE,
    UNDECODABLE_IMAGE,
    IMAGE_UNREACHABLE,
    INFERENCE_FAILED,
    /**
     * The image's claim-check URI is outside the configured file roots / URL prefixes, or its host resolves to an
     * address that is refused (see {@code ImageSourcePolicy}). Appended last: ordinals stay stable.
     */
    IMAGE_SOURCE_NOT_ALLOWED,
    /**
     * Processing this record ended the worker (an {@code OutOfMemoryError}, a crash in native code) as many times as
     * the job allows ({@code --max-worker-crashes}); it is not tried again. Appended last: ordinals stay stable.
     */
    IMAGE_CRASHED_WORKER
}
