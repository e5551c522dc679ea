package org.xrayscreening.trainer.evaluation;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.xrayscreening.trainer.dataset.DatasetEntry;
import org.xrayscreening.trainer.dataset.Label;
import org.xrayscreening.trainer.evaluation.HeatmapReview.Cell;

class HeatmapReviewTest {
    private static DatasetEntry entry(String name, Label label) {
        return new DatasetEntry(name, Path.of(name), label, null, "s");
    }

    @Test
    void picksTheMostConfidentCasesPerCellWithTiesByName() {
        List<DatasetEntry> entries = new ArrayList<>();
        // covid: 0.9 0.8 0.8 0.7 (called) and 0.2 0.1 (missed); other: 0.95 0.6 (false alarms), 0.3 0.05 0.05
        String[] names = {"c1", "c3", "c2", "c4", "c5", "c6", "o1", "o2", "o3", "o5", "o4"};
        float[] scores = {0.9f, 0.8f, 0.8f, 0.7f, 0.2f, 0.1f, 0.95f, 0.6f, 0.3f, 0.05f, 0.05f};
        for (int i = 0; i < names.length; i++) {
            entries.add(entry(names[i], names[i].startsWith("c") ? Label.COVID : Label.NON_COVID));
        }
        List<Integer> all = java.util.stream.IntStream.range(0, names.length).boxed().toList();

        Map<Cell, List<Integer>> picked = HeatmapReview.pick(entries, scores, 0.5, all, 3);

        assertThat(names(picked.get(Cell.TP), names)).containsExactly("c1", "c2", "c3");
        assertThat(names(picked.get(Cell.FN), names)).containsExactly("c6", "c5");
        assertThat(names(picked.get(Cell.FP), names)).containsExactly("o1", "o2");
        assertThat(names(picked.get(Cell.TN), names)).containsExactly("o4", "o5", "o3");
        // only the candidates (one source) are considered
        assertThat(HeatmapReview.pick(entries, scores, 0.5, List.of(3, 8), 3).get(Cell.TP)).containsExactly(3);
    }

    @Test
    void spreadsTheMeasuredImagesEvenlyAndTakesAllWhenAllowed() {
        assertThat(HeatmapReview.spread(10, 0)).containsExactly(0, 1, 2, 3, 4, 5, 6, 7, 8, 9);
        assertThat(HeatmapReview.spread(4, 10)).containsExactly(0, 1, 2, 3);
        assertThat(HeatmapReview.spread(10, 4)).containsExactly(0, 2, 5, 7);
    }

    private static List<String> names(List<Integer> idx, String[] names) {
        return idx.stream().map(i -> names[i]).toList();
    }
}
