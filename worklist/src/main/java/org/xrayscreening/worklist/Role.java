package org.xrayscreening.worklist;

import java.util.Locale;

/** What a worklist user may do. A radiologist may also do everything a viewer may. */
public enum Role {
    /** Sees the list, the images and the heatmaps (e.g. the infection-control nurse). */
    VIEWER,
    /** Also confirms or refutes a flag, which publishes a confirmed label. */
    RADIOLOGIST;

    /** Parses a role name as written in the users file ({@code viewer}, {@code radiologist}). */
    public static Role parse(String name) {
        try {
            return valueOf(name.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown role \"" + name.trim() + "\" (known: viewer, radiologist)");
        }
    }
}
