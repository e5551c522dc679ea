package org.xrayscreening.models.registry;

import java.nio.file.Path;
import java.util.Objects;
import org.xrayscreening.models.Architecture;

/** One published, immutable version: where it lives and what its {@code metadata.json} says. */
public record ModelVersion(Architecture architecture, String version, Path directory, ModelMetadata metadata) {
    public ModelVersion {
        Objects.requireNonNull(architecture, "architecture");
        ModelRef.checkName(version, "version");
        Objects.requireNonNull(directory, "directory");
        Objects.requireNonNull(metadata, "metadata");
    }

    /** The exact ref of this version (never an alias), as recorded in recommendations. */
    public ModelRef ref() {
        return new ModelRef(architecture, version);
    }

    @Override
    public String toString() {
        return ref().toString();
    }
}
