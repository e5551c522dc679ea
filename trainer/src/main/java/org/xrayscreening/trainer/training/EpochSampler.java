package org.xrayscreening.trainer.training;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import org.xrayscreening.trainer.dataset.DatasetEntry;

/**
 * Which training images an epoch visits, and in what order ({@code train --sampling}).
 *
 * <ul>
 *   <li>{@link Sampling#UNIFORM}: every image once, shuffled (the trainer's behaviour before sampling existed).</li>
 *   <li>{@link Sampling#SOURCE_BALANCED}: as many draws as there are images, with replacement, so that every
 *       (source, label) cell of the training split carries the same expected share of the epoch. On cxr-dev the
 *       sources nearly equal the labels (pediatric and NIH archives hold only non-COVID images, Hannover only
 *       COVID-19), so a uniform epoch rewards telling archives apart; balanced, the ieee8023 non-COVID cell (a few
 *       dozen adult pneumonias) weighs as much as the 700 pediatric images, and a model gains as much from
 *       separating COVID-19 from other pneumonia inside ieee8023 as from separating archives.</li>
 * </ul>
 *
 * <p>A cell with fewer than {@link #MIN_CELL} images weighs {@code n / MIN_CELL} of a full cell, so no image is
 * drawn more often than one in a {@value #MIN_CELL}-image cell: cxr-dev files 3 ieee8023 COVID-19 images under the
 * NIH repository, and an equal share for that cell would show each of them to the network about a hundred times an
 * epoch. Images without a source form one cell per label ("unknown").
 *
 * <p>Class weights follow the sampling ({@link #classWeights()}): weight of class c = 1 / (2 q_c), where q_c is
 * the expected share of class c among the draws. Under uniform sampling q_c = n_c / n, which is the preset's
 * {@code n / (2 n_c)}; under source-balanced sampling q_c is the summed weight of the class's cells, so both
 * classes again contribute equally to the expected loss, with neither the imbalance counted twice nor ignored.
 */
public final class EpochSampler {
    /** Cells smaller than this are weighted down in proportion (see the class comment). */
    public static final int MIN_CELL = 20;

    public enum Sampling {
        UNIFORM("uniform"),
        SOURCE_BALANCED("source-balanced");

        private final String id;

        Sampling(String id) {
            this.id = id;
        }

        public String id() {
            return id;
        }

        public static Sampling parse(String value) {
            String v = value == null ? "uniform" : value.trim().toLowerCase(Locale.ROOT);
            for (Sampling s : values()) {
                if (s.id.equals(v)) {
                    return s;
                }
            }
            throw new IllegalArgumentException("unknown sampling '" + value + "'; expected uniform or source-balanced");
        }
    }

    private final Sampling sampling;
    private final List<DatasetEntry> entries;
    /** Probability of drawing image i in one draw; sums to 1. */
    private final double[] probability;
    /** Cumulative probabilities, for drawing by binary search. */
    private final double[] cumulative;
    private final Map<String, Integer> cellSizes;

    public EpochSampler(Sampling sampling, List<DatasetEntry> entries) {
        if (entries.isEmpty()) {
            throw new IllegalArgumentException("no training images to sample from");
        }
        this.sampling = sampling;
        this.entries = List.copyOf(entries);
        int n = entries.size();
        cellSizes = new LinkedHashMap<>();
        for (DatasetEntry e : entries) {
            cellSizes.merge(cell(e), 1, Integer::sum);
        }
        probability = new double[n];
        if (sampling == Sampling.UNIFORM) {
            java.util.Arrays.fill(probability, 1.0 / n);
        } else {
            double total = 0;
            for (int size : cellSizes.values()) {
                total += Math.min(1.0, size / (double) MIN_CELL);
            }
            for (int i = 0; i < n; i++) {
                int size = cellSizes.get(cell(entries.get(i)));
                double cellWeight = Math.min(1.0, size / (double) MIN_CELL) / total;
                probability[i] = cellWeight / size;
            }
        }
        cumulative = new double[n];
        double sum = 0;
        for (int i = 0; i < n; i++) {
            sum += probability[i];
            cumulative[i] = sum;
        }
    }

    /** The cell of an image: its source and label. */
    public static String cell(DatasetEntry e) {
        return (e.source() == null ? "unknown" : e.source()) + " / " + e.label().id();
    }

    public Sampling sampling() {
        return sampling;
    }

    /**
     * The images of one epoch, {@code size()} of them: uniform, a permutation (the same Fisher-Yates shuffle, and
     * so the same order for a seed, as before sampling existed); source-balanced, independent weighted draws.
     */
    public int[] epochOrder(Random random) {
        int n = entries.size();
        int[] order = new int[n];
        if (sampling == Sampling.UNIFORM) {
            for (int i = 0; i < n; i++) {
                order[i] = i;
            }
            for (int i = n - 1; i > 0; i--) {
                int j = random.nextInt(i + 1);
                int t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
            return order;
        }
        for (int k = 0; k < n; k++) {
            order[k] = draw(random.nextDouble());
        }
        return order;
    }

    private int draw(double u) {
        double target = u * cumulative[cumulative.length - 1];
        int lo = 0;
        int hi = cumulative.length - 1;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (cumulative[mid] > target) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        // skip zero-probability entries at the boundary (there are none today, but a draw must never land on one)
        while (probability[lo] == 0 && lo < probability.length - 1) {
            lo++;
        }
        return lo;
    }

    /** Probability that one draw picks image {@code i}. */
    public double probability(int i) {
        return probability[i];
    }

    /** Expected share of COVID-19 images among the draws. */
    public double covidShare() {
        double q = 0;
        for (int i = 0; i < probability.length; i++) {
            if (entries.get(i).label().isCovid()) {
                q += probability[i];
            }
        }
        return q;
    }

    /** {covid, non-covid} loss weights, 1 / (2 q_c) for the expected class shares q_c of the draws. */
    public float[] classWeights() {
        if (sampling == Sampling.UNIFORM) {
            // the preset's n / (2 n_c), computed as before sampling existed so that uniform runs are unchanged
            int covid = (int) entries.stream().filter(e -> e.label().isCovid()).count();
            int non = entries.size() - covid;
            float n = entries.size();
            return new float[] {covid == 0 ? 1f : n / (2f * covid), non == 0 ? 1f : n / (2f * non)};
        }
        double q = covidShare();
        return new float[] {q <= 0 ? 1f : (float) (1 / (2 * q)), q >= 1 ? 1f : (float) (1 / (2 * (1 - q)))};
    }

    /** Cells and their image counts, in order of first appearance. */
    public Map<String, Integer> cellSizes() {
        return cellSizes;
    }

    /** One line per cell: images and expected share of an epoch, for the training log. */
    public List<String> describe() {
        Map<String, Double> share = new LinkedHashMap<>();
        for (int i = 0; i < entries.size(); i++) {
            share.merge(cell(entries.get(i)), probability[i], Double::sum);
        }
        List<String> lines = new ArrayList<>();
        share.forEach((c, s) -> lines.add(String.format(Locale.ROOT, "%s: %d images, %.1f%% of each epoch", c,
                cellSizes.get(c), 100 * s)));
        return lines;
    }
}
