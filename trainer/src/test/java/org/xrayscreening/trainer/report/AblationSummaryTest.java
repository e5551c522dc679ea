package org.xrayscreening.trainer.report;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xrayscreening.trainer.dataset.Dataset;
import org.xrayscreening.trainer.dataset.DatasetEntry;
import org.xrayscreening.trainer.dataset.Label;
import org.xrayscreening.trainer.evaluation.Bootstrap;

class AblationSummaryTest {
    private static final String MIXED = "mixed/repo";

    /**
     * 60 images of a single-label source per class and a mixed source of 40 COVID-19 and 20 other images. Arm
     * "same" repeats the baseline's scores, arm "better" separates the mixed source perfectly, and arm "worse"
     * calls every image of it COVID-19 with the highest score.
     */
    private static Path report(Path dir, List<DatasetEntry> entries) throws Exception {
        Random random = new Random(5);
        StringBuilder csv = new StringBuilder("file,label,source,m@abl-baseline,m@abl-same,m@abl-better,m@abl-worse,"
                + "ensemble (mean of 4)\n");
        for (int i = 0; i < 180; i++) {
            Label label;
            String source;
            if (i < 60) {
                label = Label.COVID;
                source = "covid/repo";
            } else if (i < 120) {
                label = Label.NON_COVID;
                source = "other/repo";
            } else {
                label = i < 160 ? Label.COVID : Label.NON_COVID;
                source = MIXED;
            }
            // a comma in a file name must not shift the columns
            String name = (label.isCovid() ? "covid/" : "non-covid/") + "img," + i + ".jpg";
            entries.add(new DatasetEntry(name, dir.resolve(name), label, "p" + (i / 2), source));
            double base = source.equals(MIXED) ? random.nextDouble() : label.isCovid() ? 0.9 : 0.1;
            double better = source.equals(MIXED) ? (label.isCovid() ? 0.8 + 0.1 * random.nextDouble() : 0.05) : base;
            double worse = source.equals(MIXED) ? 0.99 : base;
            csv.append(name).append(',').append(label.id())
                    .append(',').append(source);
            for (double s : new double[] {base, base, better, worse, (base + base + better + worse) / 4}) {
                csv.append(String.format(Locale.ROOT, ",%.6f", s));
            }
            csv.append('\n');
        }
        Files.writeString(dir.resolve("predictions.csv"), csv.toString());
        Files.writeString(dir.resolve("metrics.json"), "{\"models\": ["
                + "{\"model\": \"m@abl-baseline\", \"chosenThreshold\": 0.5}, {\"model\": \"m@abl-same\", \"chosenThreshold\": 0.5},"
                + "{\"model\": \"m@abl-better\", \"chosenThreshold\": 0.5}, {\"model\": \"m@abl-worse\", \"chosenThreshold\": 0.5},"
                + "{\"model\": \"ensemble (mean of 4)\", \"chosenThreshold\": 0.5}]}");
        return dir;
    }

    @Test
    void pairedDifferencesSeparateABetterAndAWorseArmFromTheBaselineAndAnEqualOneSitsAtZero(@TempDir Path tmp)
            throws Exception {
        List<DatasetEntry> entries = new ArrayList<>();
        Path dir = report(tmp, entries);
        Dataset data = new Dataset(tmp, "test", entries, List.of());
        List<AblationSummary.Arm> arms = AblationSummary.compute(dir, data, "m@abl-baseline", MIXED,
                new Bootstrap(400, 1));
        assertThat(arms).extracting(AblationSummary.Arm::model)
                .containsExactly("m@abl-baseline", "m@abl-same", "m@abl-better", "m@abl-worse");
        AblationSummary.Arm baseline = arms.get(0);
        assertThat(baseline.deltaMixedAuc()).isNull();
        AblationSummary.Arm same = arms.get(1);
        assertThat(same.deltaMixedAuc().estimate()).isZero();
        assertThat(same.deltaMixedAuc().low()).isZero();
        assertThat(same.deltaMixedAuc().high()).isZero();
        AblationSummary.Arm better = arms.get(2);
        assertThat(better.mixedAuc().estimate()).isEqualTo(1.0);
        assertThat(better.deltaMixedAuc().low()).isGreaterThan(0);
        assertThat(better.deltaSpecificity().low()).isGreaterThan(0);
        AblationSummary.Arm worse = arms.get(3);
        assertThat(worse.specificity().estimate()).isLessThan(baseline.specificity().estimate());
        assertThat(worse.deltaSpecificity().high()).isLessThan(0);
        // paired: an arm equal to the baseline differs by exactly 0 in every replicate, although each arm's own
        // interval is wide (two unpaired intervals would suggest a difference of up to their width)
        assertThat(baseline.mixedAuc().width()).isGreaterThan(0.1);

        String md = AblationSummary.markdown(arms, MIXED);
        assertThat(md).contains("| m@abl-better |").contains("(better)").contains("(worse)")
                .doesNotContain("ensemble");
        Path png = tmp.resolve("chart.png");
        AblationSummary.chart(png, "test", arms, MIXED);
        assertThat(Files.size(png)).isGreaterThan(2000);
        assertThat(Files.size(tmp.resolve("chart-vs-baseline.png"))).isGreaterThan(2000);
    }

    @Test
    void aBaselineThatIsNotInTheReportIsRefused(@TempDir Path tmp) throws Exception {
        List<DatasetEntry> entries = new ArrayList<>();
        Path dir = report(tmp, entries);
        Dataset data = new Dataset(tmp, "test", entries, List.of());
        assertThatThrownBy(() -> AblationSummary.compute(dir, data, "m@abl-nothing", MIXED, new Bootstrap(10, 1)))
                .hasMessageContaining("m@abl-baseline");
    }
}
