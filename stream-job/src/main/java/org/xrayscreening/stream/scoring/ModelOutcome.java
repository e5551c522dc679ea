package org.xrayscreening.stream.scoring;

import java.util.Objects;

/**
 * One model's answer for one study. A failed inference is an outcome too (with {@code error} set), so the
 * ensemble can name the model as missing at once instead of waiting for its timeout.
 */
public class ModelOutcome {
    public String studyId;
    public String patientRef;
    public long acquiredAtMillis;
    public long ingestedAtMillis;
    /** Architecture id, e.g. "mobilenet". */
    public String model;
    /** Exact registry version that produced the probability. */
    public String version;
    public double probability;
    public double inferenceMillis;
    /** The serving version's decision threshold from its registry metadata; NaN when unknown (failures). */
    public double decisionThreshold = Double.NaN;
    /** Null on success; a short, patient-free reason otherwise. */
    public String error;
    /**
     * The model was not run because running it on this image ended the worker too often (see
     * {@code AttemptJournal}): the ensemble turns the study into an IMAGE_CRASHED_WORKER dead letter.
     */
    public boolean crashedWorker;
    /** The study's record, for that dead letter. */
    public String sourceTopic;
    public int sourcePartition;
    public long sourceOffset;

    public ModelOutcome() {}

    public static ModelOutcome scored(String studyId, String patientRef, long acquiredAtMillis,
                                      long ingestedAtMillis, String model, String version,
                                      double probability, double inferenceMillis) {
        ModelOutcome o = new ModelOutcome();
        o.studyId = studyId;
        o.patientRef = patientRef;
        o.acquiredAtMillis = acquiredAtMillis;
        o.ingestedAtMillis = ingestedAtMillis;
        o.model = model;
        o.version = version;
        o.probability = probability;
        o.inferenceMillis = inferenceMillis;
        return o;
    }

    public static ModelOutcome failed(String studyId, String patientRef, long acquiredAtMillis,
                                      long ingestedAtMillis, String model, String version, String error) {
        ModelOutcome o = scored(studyId, patientRef, acquiredAtMillis, ingestedAtMillis, model, version,
                Double.NaN, 0);
        o.error = error;
        return o;
    }

    /** Refused without running: {@code crashes} earlier attempts on this image never returned. */
    public static ModelOutcome crashedWorker(String studyId, String patientRef, long acquiredAtMillis,
                                             long ingestedAtMillis, String model, String version, int crashes,
                                             String sourceTopic, int sourcePartition, long sourceOffset) {
        ModelOutcome o = failed(studyId, patientRef, acquiredAtMillis, ingestedAtMillis, model, version,
                model + " ended the worker " + crashes + " time(s) on this image (out of memory or a native crash);"
                        + " not run again");
        o.crashedWorker = true;
        o.sourceTopic = sourceTopic;
        o.sourcePartition = sourcePartition;
        o.sourceOffset = sourceOffset;
        return o;
    }

    public boolean succeeded() {
        return error == null;
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof ModelOutcome other)) {
            return false;
        }
        return Objects.equals(studyId, other.studyId) && Objects.equals(model, other.model)
                && Objects.equals(version, other.version) && Double.compare(probability, other.probability) == 0
                && Objects.equals(error, other.error);
    }

    @Override
    public int hashCode() {
        return Objects.hash(studyId, model, version);
    }

    @Override
    public String toString() {
        return "ModelOutcome{" + studyId + ", " + model + "@" + version + ", p=" + probability
                + (error == null ? "" : ", error=" + error) + "}";
    }
}
