package org.xrayscreening.models.registry;

import java.io.IOException;

/** A ref that names no published version (unknown version, unset alias, or no versions at all). */
public class ModelNotFoundException extends IOException {
    private static final long serialVersionUID = 1L;

    public ModelNotFoundException(String message) {
        super(message);
    }
}
