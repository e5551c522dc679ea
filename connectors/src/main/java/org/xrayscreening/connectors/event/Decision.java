package org.xrayscreening.connectors.event;

/** What the ensemble recommends for one study. A clinician decides. */
public enum Decision {
    COVID_SUSPECTED,
    NO_COVID_FINDINGS,
    INDETERMINATE
}
