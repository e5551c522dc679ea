package org.xrayscreening.stream.intake;

import org.xrayscreening.connectors.image.CanonicalImage;
import java.util.Arrays;
import java.util.Objects;

/**
 * A validated, decoded study on its way to the model operators: the image as 16-bit grayscale at a bounded
 * size (each model operator resizes and normalizes it for its own network).
 *
 * <p>A POJO rather than a record so that Flink serializes it with its POJO serializer on every Flink version.
 * Shipping 16-bit gray keeps DICOM's dynamic range; bounding the side (see {@link CanonicalImage}) keeps a
 * 3000x3000 detector image from costing 18 MB per hop.
 */
public class StudyImage {
    public String studyId;
    /** Travels with the study into the recommendation payload; never logged or used as a metric label. */
    public String patientRef;
    public long acquiredAtMillis;
    public long ingestedAtMillis;
    public int width;
    public int height;
    public short[] pixels;
    /** Where the study's record came from (journal key of the model operators); null when not from Kafka. */
    public String sourceTopic;
    public int sourcePartition;
    public long sourceOffset;

    public StudyImage() {}

    public StudyImage(String studyId, String patientRef, long acquiredAtMillis, long ingestedAtMillis,
                      int width, int height, short[] pixels) {
        this.studyId = studyId;
        this.patientRef = patientRef;
        this.acquiredAtMillis = acquiredAtMillis;
        this.ingestedAtMillis = ingestedAtMillis;
        this.width = width;
        this.height = height;
        this.pixels = pixels;
    }

    /** The same study, marked with its record's Kafka coordinates. */
    public StudyImage from(String topic, int partition, long offset) {
        this.sourceTopic = topic;
        this.sourcePartition = partition;
        this.sourceOffset = offset;
        return this;
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof StudyImage other)) {
            return false;
        }
        return acquiredAtMillis == other.acquiredAtMillis && width == other.width && height == other.height
                && Objects.equals(studyId, other.studyId) && Arrays.equals(pixels, other.pixels);
    }

    @Override
    public int hashCode() {
        return Objects.hash(studyId, acquiredAtMillis, width, height);
    }

    @Override
    public String toString() {
        return "StudyImage{studyId=" + studyId + ", " + width + "x" + height + "}";
    }
}
