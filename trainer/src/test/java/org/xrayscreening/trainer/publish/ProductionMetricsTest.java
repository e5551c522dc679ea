package org.xrayscreening.trainer.publish;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.xrayscreening.trainer.dataset.DatasetEntry;
import org.xrayscreening.trainer.dataset.Label;
import org.xrayscreening.trainer.evaluation.Bootstrap;
import org.xrayscreening.trainer.evaluation.ModelScores;

class ProductionMetricsTest {

    /** Source "mixed": 4 COVID-19 scored 0.9 and 4 non-COVID scored 0.1; source "kids": 4 non-COVID scored 0.6. */
    private static ModelScores scores() {
        List<DatasetEntry> entries = new ArrayList<>();
        List<Float> p = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            entries.add(new DatasetEntry("c" + i, Path.of("c" + i), Label.COVID, "pc" + i, "mixed"));
            p.add(0.9f);
            entries.add(new DatasetEntry("n" + i, Path.of("n" + i), Label.NON_COVID, "pn" + i, "mixed"));
            p.add(0.1f);
            entries.add(new DatasetEntry("k" + i, Path.of("k" + i), Label.NON_COVID, "pk" + i, "kids"));
            p.add(0.6f);
        }
        float[] a = new float[p.size()];
        for (int i = 0; i < a.length; i++) {
            a[i] = p.get(i);
        }
        return new ModelScores("m", entries, a, entries, a, null);
    }

    @Test
    void metricsAtTheThresholdWithIntervalsOverallAndPerSource() {
        Map<String, Double> m = ProductionMetrics.of("test", scores(), 0.5, new Bootstrap(200, 7), 10);
        assertThat(m.get("test.images")).isEqualTo(12.0);
        assertThat(m.get("test.covid")).isEqualTo(4.0);
        // at 0.5 all COVID-19 flagged; the 4 "kids" images (0.6) are false positives
        assertThat(m.get("test.sensitivity")).isEqualTo(1.0);
        assertThat(m.get("test.specificity")).isEqualTo(0.5);
        assertThat(m.get("test.fp")).isEqualTo(4.0);
        assertThat(m.get("test.specificity.ci_low")).isLessThanOrEqualTo(0.5);
        assertThat(m.get("test.specificity.ci_high")).isGreaterThanOrEqualTo(0.5);
        assertThat(m.get("test.auc")).isEqualTo(1.0);
        assertThat(m.get("test.source.mixed.auc")).isEqualTo(1.0);
        assertThat(m.get("test.source.kids.specificity")).isEqualTo(0.0);
        // a one-label source has no AUC and no sensitivity: absent, not NaN
        assertThat(m).doesNotContainKeys("test.source.kids.auc", "test.source.kids.sensitivity");
        assertThat(ProductionMetrics.sources(m, "test")).containsExactly("kids", "mixed");
        assertThat(ProductionMetrics.withInterval(m, "test.source.kids.auc")).isEqualTo("n/a");
        assertThat(ProductionMetrics.withInterval(m, "test.auc")).isEqualTo("1.000 [1.000, 1.000]");
    }
}
