package org.xrayscreening.models.preprocess;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * How the gray levels of an X-ray are redistributed before the network sees them. Exposure, detector and
 * post-processing differ between hospitals; equalising the histogram takes part of that source signature away.
 */
public enum IntensityMethod {
    /** The pixels as decoded (the behaviour of every model trained before this option existed). */
    NONE,
    /** Global histogram equalisation, as OpenCV's {@code equalizeHist}. */
    EQUALIZE,
    /** Contrast-limited adaptive histogram equalisation, as OpenCV's {@code createCLAHE(clipLimit, tileGrid)}. */
    CLAHE;

    /** The id used on the command line and in {@code metadata.json}: {@code none}, {@code equalize}, {@code clahe}. */
    @JsonValue
    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    @JsonCreator
    public static IntensityMethod fromId(String id) {
        for (IntensityMethod m : values()) {
            if (m.id().equalsIgnoreCase(id == null ? "" : id.trim())) {
                return m;
            }
        }
        throw new IllegalArgumentException("unknown intensity method '" + id + "'; expected one of "
                + Arrays.stream(values()).map(IntensityMethod::id).collect(Collectors.joining(", ")));
    }
}
