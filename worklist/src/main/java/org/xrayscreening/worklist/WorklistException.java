package org.xrayscreening.worklist;

/** A request the worklist refuses or cannot serve, with the HTTP status and a message for the user (no patient data). */
public final class WorklistException extends Exception {
    private final int status;

    public WorklistException(int status, String message) {
        super(message);
        this.status = status;
    }

    public int status() {
        return status;
    }
}
