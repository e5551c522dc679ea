package org.xrayscreening.stream;

import java.io.Serializable;
import org.xrayscreening.models.Architecture;

/** Which registry version a model operator serves at start: "resnet50@production", "xception@20261126T...". */
public record ModelSpec(Architecture architecture, String ref) implements Serializable {

    public static ModelSpec parse(String text) {
        int at = text.indexOf('@');
        if (at < 0) {
            return new ModelSpec(Architecture.fromId(text), "production");
        }
        return new ModelSpec(Architecture.fromId(text.substring(0, at)), text.substring(at + 1));
    }

    @Override
    public String toString() {
        return architecture.id() + "@" + ref;
    }
}
