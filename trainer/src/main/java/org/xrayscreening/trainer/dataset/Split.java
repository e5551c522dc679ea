package org.xrayscreening.trainer.dataset;

import java.util.Locale;

/** Where an image goes: training, validation (model selection, threshold choice) or the held-out test. */
public enum Split {
    TRAIN("train"),
    VALIDATION("validation"),
    TEST("test");

    private final String id;

    Split(String id) {
        this.id = id;
    }

    public String id() {
        return id;
    }

    public static Split parse(String value) {
        String v = value.trim().toLowerCase(Locale.ROOT);
        for (Split s : values()) {
            if (s.id.equals(v) || (s == VALIDATION && v.equals("val"))) {
                return s;
            }
        }
        throw new IllegalArgumentException("unknown split '" + value + "'; expected train, validation or test");
    }
}
