package org.xrayscreening.connectors.event;

/** Kinds of {@link Alert}: clinical ones (per study) and operational ones (per model). */
public enum AlertType {
    CLINICAL_COVID_SUSPECTED,
    CLINICAL_INDETERMINATE,
    MODEL_SENSITIVITY_BELOW_FLOOR,
    MODEL_UPDATE_FAILED
}
