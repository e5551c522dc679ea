package org.xrayscreening.models.registry;

import java.io.IOException;

/**
 * A published version whose files do not match its {@code metadata.json}: it must not be loaded. Names
 * the file and both digests so an operator can tell a truncated copy from a replaced file.
 */
public class ModelIntegrityException extends IOException {
    private static final long serialVersionUID = 1L;

    private final String model;
    private final String file;
    private final String expectedSha256;
    private final String actualSha256;

    public ModelIntegrityException(String model, String file, String expectedSha256, String actualSha256,
            String problem) {
        super("model " + model + " failed verification: " + problem);
        this.model = model;
        this.file = file;
        this.expectedSha256 = expectedSha256;
        this.actualSha256 = actualSha256;
    }

    /** The version, as {@code "mobilenet@<version>"}. */
    public String model() {
        return model;
    }

    /** Path relative to the version directory, or null when the problem is not about one file. */
    public String file() {
        return file;
    }

    /** Digest recorded at publish time, or null for a file that should not be there. */
    public String expectedSha256() {
        return expectedSha256;
    }

    /** Digest found now, or null for a missing file. */
    public String actualSha256() {
        return actualSha256;
    }
}
