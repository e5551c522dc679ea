package org.xrayscreening.connectors.event;

import java.util.Objects;

/**
 * An input record (or the image it points to) that cannot be processed. Carries the dead-letter reason and a
 * detail that never contains the patient reference nor image bytes, so it may be logged. Stack traces are not
 * filled: these are expected outcomes of bad input, not bugs.
 */
public class InvalidEventException extends Exception {

    private final DeadLetterReason reason;
    private final String detail;

    public InvalidEventException(DeadLetterReason reason, String detail) {
        super(reason + ": " + detail, null, false, false);
        this.reason = Objects.requireNonNull(reason, "reason");
        this.detail = detail;
    }

    public DeadLetterReason reason() {
        return reason;
    }

    public String detail() {
        return detail;
    }
}
