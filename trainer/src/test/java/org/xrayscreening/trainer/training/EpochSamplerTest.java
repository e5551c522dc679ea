package org.xrayscreening.trainer.training;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.xrayscreening.trainer.dataset.DatasetEntry;
import org.xrayscreening.trainer.dataset.Label;

class EpochSamplerTest {

    /** A training split shaped like cxr-dev's: sources that nearly equal the labels, one mixed source, one tiny cell. */
    static List<DatasetEntry> cxrDevLike() {
        List<DatasetEntry> e = new ArrayList<>();
        add(e, "kermany", Label.NON_COVID, 600);
        add(e, "nih", Label.NON_COVID, 400);
        add(e, "hannover", Label.COVID, 100);
        add(e, "ieee8023", Label.COVID, 130);
        add(e, "ieee8023", Label.NON_COVID, 40);
        add(e, "nih", Label.COVID, 2); // ieee8023 images filed under the NIH repository: below MIN_CELL
        return e;
    }

    private static void add(List<DatasetEntry> e, String source, Label label, int n) {
        for (int i = 0; i < n; i++) {
            String name = source + "-" + label.id() + "-" + i + ".png";
            e.add(new DatasetEntry(name, Path.of(name), label, source + ":p" + i, source));
        }
    }

    @Test
    void sourceBalancedDrawsGiveEveryFullCellTheSameShareAndTinyCellsLess() {
        List<DatasetEntry> entries = cxrDevLike();
        EpochSampler sampler = new EpochSampler(EpochSampler.Sampling.SOURCE_BALANCED, entries);
        Random random = new Random(1);
        Map<String, Integer> draws = new HashMap<>();
        int epochs = 200;
        for (int k = 0; k < epochs; k++) {
            int[] order = sampler.epochOrder(random);
            assertThat(order).hasSize(entries.size()); // epoch length unchanged
            for (int i : order) {
                draws.merge(EpochSampler.cell(entries.get(i)), 1, Integer::sum);
            }
        }
        double total = (double) epochs * entries.size();
        // five full cells weigh 1 each, the 2-image cell 2/20: expected share 1 / 5.1 and 0.1 / 5.1
        double full = 1 / 5.1;
        for (String cell : List.of("kermany / non-covid", "nih / non-covid", "hannover / covid", "ieee8023 / covid",
                "ieee8023 / non-covid")) {
            assertThat(draws.get(cell) / total).as(cell).isCloseTo(full, within(0.005));
        }
        assertThat(draws.get("nih / covid") / total).isCloseTo(0.1 / 5.1, within(0.002));
        // uniform would give the 40 ieee8023 non-COVID images 40 / 1272 = 3% of an epoch; balanced, about 20%
        assertThat(draws.get("ieee8023 / non-covid") / total).isGreaterThan(5 * 40.0 / entries.size());
    }

    @Test
    void noImageOfATinyCellIsDrawnMoreOftenThanOneOfAMinimumSizeCell() {
        EpochSampler sampler = new EpochSampler(EpochSampler.Sampling.SOURCE_BALANCED, cxrDevLike());
        List<DatasetEntry> entries = cxrDevLike();
        double tiny = sampler.probability(entries.size() - 1);
        double ieeeNonCovid = sampler.probability(entries.size() - 3);
        assertThat(tiny).isCloseTo(1 / (EpochSampler.MIN_CELL * 5.1), within(1e-12));
        // an equal share for the 2-image cell would draw each of its images 1 / (2 * 6) of the time
        assertThat(tiny).isLessThan(1 / 12.0 / 5);
        assertThat(ieeeNonCovid).isCloseTo(1 / (40 * 5.1), within(1e-12));
        double sum = 0;
        for (int i = 0; i < entries.size(); i++) {
            sum += sampler.probability(i);
        }
        assertThat(sum).isCloseTo(1, within(1e-9));
    }

    @Test
    void theSameSeedDrawsTheSameEpochAndAnotherSeedAnotherOne() {
        EpochSampler sampler = new EpochSampler(EpochSampler.Sampling.SOURCE_BALANCED, cxrDevLike());
        int[] a = sampler.epochOrder(new Random(42));
        int[] b = sampler.epochOrder(new Random(42));
        int[] c = sampler.epochOrder(new Random(43));
        assertThat(a).isEqualTo(b);
        assertThat(a).isNotEqualTo(c);
        // with replacement: some image repeats within an epoch
        assertThat(Arrays.stream(a).distinct().count()).isLessThan(a.length);
    }

    @Test
    void uniformIsAPermutationInTheShuffleOrderTheTrainerAlwaysUsed() {
        List<DatasetEntry> entries = cxrDevLike();
        EpochSampler sampler = new EpochSampler(EpochSampler.Sampling.UNIFORM, entries);
        int[] order = sampler.epochOrder(new Random(7));
        assertThat(Arrays.stream(order).sorted().toArray())
                .isEqualTo(java.util.stream.IntStream.range(0, entries.size()).toArray());
        // the Fisher-Yates shuffle the trainer used before sampling existed, so uniform runs repeat old ones
        Random r = new Random(7);
        int[] expected = java.util.stream.IntStream.range(0, entries.size()).toArray();
        for (int i = expected.length - 1; i > 0; i--) {
            int j = r.nextInt(i + 1);
            int t = expected[i];
            expected[i] = expected[j];
            expected[j] = t;
        }
        assertThat(order).isEqualTo(expected);
    }

    @Test
    void classWeightsBalanceTheClassesUnderTheSamplingInUse() {
        List<DatasetEntry> entries = cxrDevLike();
        int covid = (int) entries.stream().filter(e -> e.label().isCovid()).count();
        int n = entries.size();
        float[] uniform = new EpochSampler(EpochSampler.Sampling.UNIFORM, entries).classWeights();
        assertThat(uniform[0]).isCloseTo(n / (2f * covid), within(1e-5f));
        assertThat(uniform[1]).isCloseTo(n / (2f * (n - covid)), within(1e-5f));

        EpochSampler balanced = new EpochSampler(EpochSampler.Sampling.SOURCE_BALANCED, entries);
        float[] w = balanced.classWeights();
        double q = balanced.covidShare();
        // covid cells: hannover, ieee8023 covid (full) and the tiny nih covid cell: (2 + 0.1) / 5.1
        assertThat(q).isCloseTo(2.1 / 5.1, within(1e-9));
        // each class then carries half of the expected weighted loss
        assertThat(q * w[0]).isCloseTo(0.5, within(1e-6));
        assertThat((1 - q) * w[1]).isCloseTo(0.5, within(1e-6));
        // and the weights differ from the uniform ones: the imbalance is not counted twice
        assertThat(w[0]).isLessThan(uniform[0]);
    }

    @Test
    void imagesWithoutASourceFormOneCellPerLabelAndBadValuesAreRefused() {
        List<DatasetEntry> entries = new ArrayList<>();
        for (int i = 0; i < 30; i++) {
            entries.add(new DatasetEntry("a" + i, Path.of("a" + i), i < 8 ? Label.COVID : Label.NON_COVID, null, null));
        }
        EpochSampler sampler = new EpochSampler(EpochSampler.Sampling.SOURCE_BALANCED, entries);
        assertThat(sampler.cellSizes()).containsExactly(Map.entry("unknown / covid", 8),
                Map.entry("unknown / non-covid", 22));
        assertThat(sampler.covidShare()).isCloseTo(0.4 / 1.4, within(1e-9)); // the 8-image cell weighs 8/20
        assertThatThrownBy(() -> EpochSampler.Sampling.parse("balanced")).hasMessageContaining("source-balanced");
        assertThatThrownBy(() -> new EpochSampler(EpochSampler.Sampling.UNIFORM, List.of()))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
