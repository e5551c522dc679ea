package org.xrayscreening.models.registry;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Objects;
import java.util.regex.Pattern;
import org.xrayscreening.models.Architecture;

/**
 * A model named as text, {@code "<architecture id>@<version | alias | latest>"}, e.g.
 * {@code "mobilenet@20261126T054717Z-3f2a9c1d"} or {@code "mobilenet@production"}: the form used in
 * events, recommendations and on the command line. Without {@code "@..."} it means {@code latest}.
 */
public record ModelRef(Architecture architecture, String ref) {
    /** Versions and aliases are single, plain path segments: no separators, no leading dot or underscore. */
    static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");

    public ModelRef {
        Objects.requireNonNull(architecture, "architecture");
        checkName(ref, "ref");
    }

    public static ModelRef of(Architecture architecture, String ref) {
        return new ModelRef(architecture, ref);
    }

    public static ModelRef latest(Architecture architecture) {
        return new ModelRef(architecture, ModelRegistry.LATEST);
    }

    @JsonCreator
    public static ModelRef parse(String text) {
        Objects.requireNonNull(text, "text");
        int at = text.indexOf('@');
        if (at < 0) {
            return latest(Architecture.fromId(text));
        }
        if (text.indexOf('@', at + 1) >= 0) {
            throw new IllegalArgumentException("model ref '" + text + "' has more than one '@'");
        }
        return new ModelRef(Architecture.fromId(text.substring(0, at)), text.substring(at + 1).trim());
    }

    public boolean isLatest() {
        return ModelRegistry.LATEST.equals(ref);
    }

    @JsonValue
    @Override
    public String toString() {
        return architecture.id() + "@" + ref;
    }

    static String checkName(String name, String what) {
        if (name == null || !NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("invalid " + what + " '" + name + "': expected letters, digits,"
                    + " '.', '_' or '-', starting with a letter or digit, at most 128 characters");
        }
        return name;
    }
}
