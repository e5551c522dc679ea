package org.xrayscreening.stream.accuracy;

/**
 * One model's call on one study whose true label is now known. The ensemble appears as model "ensemble", so
 * the decision clinicians see is measured too.
 */
public class ModelVerdict {
    public String model;
    public String version;
    public boolean predictedCovid;
    public boolean actuallyCovid;

    public ModelVerdict() {}

    public ModelVerdict(String model, String version, boolean predictedCovid, boolean actuallyCovid) {
        this.model = model;
        this.version = version;
        this.predictedCovid = predictedCovid;
        this.actuallyCovid = actuallyCovid;
    }

    public String modelVersion() {
        return model + "@" + version;
    }

    @Override
    public String toString() {
        return "ModelVerdict{" + modelVersion() + ", predicted=" + predictedCovid + ", actual=" + actuallyCovid + "}";
    }
}
