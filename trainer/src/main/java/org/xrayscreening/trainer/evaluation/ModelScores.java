package org.xrayscreening.trainer.evaluation;

import java.util.List;
import org.xrayscreening.trainer.dataset.DatasetEntry;

/**
 * P(COVID-19) of one model (or the ensemble) on the evaluated images and on the validation images (for the
 * threshold choice), aligned with the entry lists.
 *
 * @param name e.g. {@code mobilenet@cxrdev-scratch-128} or {@code ensemble}
 * @param note anything the report must say about this model (e.g. a training-data digest mismatch)
 */
public record ModelScores(String name, List<DatasetEntry> entries, float[] scores, List<DatasetEntry> validationEntries,
        float[] validationScores, String note) {
    public ModelScores {
        if (entries.size() != scores.length || validationEntries.size() != validationScores.length) {
            throw new IllegalArgumentException("scores and entries differ in length");
        }
    }
}
