package org.xrayscreening.models;

import java.util.Arrays;
import java.util.Locale;
import org.xrayscreening.models.preprocess.Normalization;

/**
 * The four networks of Sethi et al. 2020, with what each one's Keras original expects as input.
 *
 * <p>The id is the stable name used in the registry layout ({@code <root>/<id>/<version>/}), in events and
 * on the command line, so it must never change once models are published.
 */
public enum Architecture {
    MOBILENET("mobilenet", 224, Normalization.MINUS_ONE_TO_ONE),
    RESNET50("resnet50", 224, Normalization.CAFFE),
    INCEPTION_V3("inceptionv3", 299, Normalization.MINUS_ONE_TO_ONE),
    XCEPTION("xception", 299, Normalization.MINUS_ONE_TO_ONE);

    private final String id;
    private final int nativeInputSize;
    private final Normalization normalization;

    Architecture(String id, int nativeInputSize, Normalization normalization) {
        this.id = id;
        this.nativeInputSize = nativeInputSize;
        this.normalization = normalization;
    }

    public String id() {
        return id;
    }

    /** Square input side the Keras original was designed (and ImageNet-trained) for. */
    public int nativeInputSize() {
        return nativeInputSize;
    }

    public Normalization normalization() {
        return normalization;
    }

    /** Accepts the registry id ("inceptionv3") as well as the enum name ("INCEPTION_V3"), case-insensitive. */
    public static Architecture fromId(String value) {
        String v = value.trim().toLowerCase(Locale.ROOT);
        for (Architecture a : values()) {
            if (a.id.equals(v) || a.name().toLowerCase(Locale.ROOT).equals(v)) {
                return a;
            }
        }
        throw new IllegalArgumentException(
                "unknown architecture '" + value + "'; expected one of " + Arrays.toString(ids()));
    }

    public static String[] ids() {
        return Arrays.stream(values()).map(Architecture::id).toArray(String[]::new);
    }
}
