package org.xrayscreening.trainer.dataset;

import java.util.Locale;

/** The two classes, in the network's output order: index 0 is COVID-19 (as {@code ModelMetadata.COVID_INDEX}). */
public enum Label {
    COVID("covid"),
    NON_COVID("non-covid");

    private final String id;

    Label(String id) {
        this.id = id;
    }

    /** The folder / manifest name: {@code covid} or {@code non-covid}. */
    public String id() {
        return id;
    }

    /** Network output index: 0 for COVID-19, 1 otherwise. */
    public int index() {
        return ordinal();
    }

    public boolean isCovid() {
        return this == COVID;
    }

    /** Accepts {@code covid}, {@code non-covid}, {@code non_covid}, {@code noncovid}, {@code 1}/{@code 0} (1 = COVID). */
    public static Label parse(String value) {
        String v = value.trim().toLowerCase(Locale.ROOT).replace('_', '-');
        switch (v) {
            case "covid", "covid-19", "covid19", "positive", "1":
                return COVID;
            case "non-covid", "noncovid", "non-covid-19", "negative", "normal", "0":
                return NON_COVID;
            default:
                throw new IllegalArgumentException("unknown label '" + value + "'; expected covid or non-covid");
        }
    }
}
