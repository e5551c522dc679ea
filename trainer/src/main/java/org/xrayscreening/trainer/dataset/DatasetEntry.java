package org.xrayscreening.trainer.dataset;

import java.nio.file.Path;
import java.util.Objects;

/**
 * One image of a dataset.
 *
 * @param name the path relative to the dataset root, with '/' separators (stable across machines: the
 *     dataset digest is computed over it)
 * @param file where the image is read from
 * @param patientId patient (or patient group) id, or null when unknown: such an image is its own group
 * @param source the data source (e.g. the repository it came from), or null when unknown
 * @param lungMask a binary image of this image's lung fields (any size; see {@link Dataset}), or null when the
 *     dataset has none for it
 */
public record DatasetEntry(String name, Path file, Label label, String patientId, String source, Path lungMask) {
    /** An image without a lung mask. */
    public DatasetEntry(String name, Path file, Label label, String patientId, String source) {
        this(name, file, label, patientId, source, null);
    }

    public DatasetEntry {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(file, "file");
        Objects.requireNonNull(label, "label");
        patientId = blankToNull(patientId);
        source = blankToNull(source);
    }

    /** The key that keeps images of one patient together; an image without a patient id is its own group. */
    public String groupKey() {
        return patientId != null ? "patient:" + patientId : "image:" + name;
    }

    private static String blankToNull(String s) {
        return s == null || s.isBlank() ? null : s.trim();
    }
}
