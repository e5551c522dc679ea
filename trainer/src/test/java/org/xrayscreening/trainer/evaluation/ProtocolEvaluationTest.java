package org.xrayscreening.trainer.evaluation;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xrayscreening.trainer.dataset.DatasetEntry;
import org.xrayscreening.trainer.dataset.Label;
import org.xrayscreening.trainer.report.EvaluationReport;

class ProtocolEvaluationTest {
    private static DatasetEntry e(String name, boolean covid, String source) {
        return new DatasetEntry(name, Path.of(name), covid ? Label.COVID : Label.NON_COVID, "p-" + name, source);
    }

    /**
     * "mixed" holds both labels (COVID-19 at 0.9 and 0.4, others at 0.5 and 0.1: 3 of 4 pairs ordered, AUC 0.75);
     * "adult" only non-COVID (0.6, 0.2); "kids" only non-COVID (0.05, 0.05). Across all images the AUC is
     * higher (the two non-COVID sources score low), which is the source shortcut the within-source AUC exposes.
     */
    private static ModelScores scores() {
        List<DatasetEntry> entries = List.of(e("a", true, "mixed"), e("b", true, "mixed"), e("c", false, "mixed"),
                e("d", false, "mixed"), e("f", false, "adult"), e("g", false, "adult"), e("h", false, "kids"),
                e("i", false, "kids"));
        float[] s = {0.9f, 0.4f, 0.5f, 0.1f, 0.6f, 0.2f, 0.05f, 0.05f};
        return new ModelScores("m@v", entries, s, entries, s, null);
    }

    @Test
    void withinSourceAucOnlyWhereBothLabelsAndRatesAtTheModelsThreshold() {
        ProtocolEvaluation p = ProtocolEvaluation.of(scores(), 0.45, "registry metadata", new Bootstrap(200, 1), 10);
        assertThat(p.threshold()).isEqualTo(0.45);
        assertThat(p.covid()).isEqualTo(2);
        assertThat(p.nonCovid()).isEqualTo(6);
        // overall: positives 0.9, 0.4 vs six negatives: 0.9 beats all 6, 0.4 beats 0.1, 0.2, 0.05, 0.05 -> 10/12
        assertThat(p.auc().estimate()).isCloseTo(10.0 / 12, org.assertj.core.api.Assertions.within(1e-9));
        assertThat(p.perSource()).extracting(ProtocolEvaluation.SourceProtocol::source)
                .containsExactly("adult", "kids", "mixed");
        ProtocolEvaluation.SourceProtocol mixed = p.perSource().get(2);
        assertThat(mixed.hasBothLabels()).isTrue();
        assertThat(mixed.auc().estimate()).isEqualTo(0.75);
        assertThat(mixed.auc().contains(0.75)).isTrue();
        assertThat(mixed.sensitivity().estimate()).isEqualTo(0.5); // 0.9 >= 0.45, 0.4 < 0.45
        assertThat(mixed.specificity().estimate()).isEqualTo(0.5); // 0.5 >= 0.45 is a false positive
        ProtocolEvaluation.SourceProtocol adult = p.perSource().get(0);
        assertThat(adult.hasBothLabels()).isFalse();
        assertThat(adult.auc().estimate()).isNaN();
        assertThat(adult.sensitivity().estimate()).isNaN();
        assertThat(adult.specificity().estimate()).isEqualTo(0.5); // 0.6 is called COVID-19
        assertThat(p.perSource().get(1).specificity().estimate()).isEqualTo(1.0);
        assertThat(p.calibration().images()).isEqualTo(8);
    }

    @Test
    void reportShowsTheProtocolAndDrawsTheReliabilityPlot(@TempDir Path dir) throws Exception {
        ModelScores s = scores();
        ProtocolEvaluation p = ProtocolEvaluation.of(s, 0.45, "registry metadata", new Bootstrap(200, 1), 10);
        EvaluationReport.write(dir, new EvaluationReport.Context("trainer evaluate ...", "data", "test", "spec",
                "sha256:x", List.of()), List.of(s), List.of(ModelEvaluation.of(s, 0.95)),
                new EvaluationReport.Protocol(List.of(p), 200, 1, 10));
        String md = Files.readString(dir.resolve("report.md"));
        assertThat(md).contains("## Evaluation protocol").contains("### Within-source ROC AUC")
                .contains("| m@v | mixed | 2 | 2 | 0.750 [").contains("0.4500 (registry metadata)")
                .contains("![reliability](reliability.png)");
        // a source with one label has no row in the within-source table
        String within = md.substring(md.indexOf("### Within-source"), md.indexOf("### Per source"));
        assertThat(within).doesNotContain("| adult |");
        assertThat(Files.size(dir.resolve("reliability.png"))).isGreaterThan(1000);
        String json = Files.readString(dir.resolve("metrics.json"));
        assertThat(json).contains("\"protocol\"").contains("\"bootstrapReplicates\" : 200")
                .contains("\"thresholdOrigin\" : \"registry metadata\"");
    }
}
