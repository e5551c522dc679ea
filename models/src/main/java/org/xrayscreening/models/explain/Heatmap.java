package org.xrayscreening.models.explain;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * A class-activation map over an image: row-major values in [0, 1], 1 where the model found most evidence for
 * the class. {@code peakActivation} is the un-normalised maximum of the map before scaling (0 when the ReLU left
 * nothing: the model found no positive evidence anywhere, and every value is 0).
 */
public record Heatmap(int width, int height, float[] values, double peakActivation) {

    public Heatmap {
        Objects.requireNonNull(values, "values");
        if (width <= 0 || height <= 0 || values.length != (long) width * height) {
            throw new IllegalArgumentException("values do not match " + width + "x" + height);
        }
    }

    public float at(int x, int y) {
        return values[y * width + x];
    }

    /** True when the model found no positive evidence (the map is all zero). */
    public boolean isEmpty() {
        return peakActivation <= 0;
    }

    /**
     * The mean of several maps of the same size (e.g. of the models that voted), normalised again to [0, 1] so
     * that the combined map reads like a single one.
     */
    public static Heatmap mean(List<Heatmap> maps) {
        if (maps.isEmpty()) {
            throw new IllegalArgumentException("no heatmaps to combine");
        }
        Heatmap first = maps.get(0);
        float[] sum = new float[first.values.length];
        double peak = 0;
        for (Heatmap map : maps) {
            if (map.width != first.width || map.height != first.height) {
                throw new IllegalArgumentException("heatmaps differ in size: " + first.width + "x" + first.height
                        + " and " + map.width + "x" + map.height);
            }
            for (int i = 0; i < sum.length; i++) {
                sum[i] += map.values[i] / maps.size();
            }
            peak = Math.max(peak, map.peakActivation);
        }
        float max = 0;
        for (float v : sum) {
            max = Math.max(max, v);
        }
        if (max > 0) {
            for (int i = 0; i < sum.length; i++) {
                sum[i] /= max;
            }
        }
        return new Heatmap(first.width, first.height, sum, max > 0 ? peak : 0);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Heatmap other && width == other.width && height == other.height
                && Double.compare(peakActivation, other.peakActivation) == 0 && Arrays.equals(values, other.values);
    }

    @Override
    public int hashCode() {
        return Objects.hash(width, height, peakActivation, Arrays.hashCode(values));
    }

    @Override
    public String toString() {
        return "Heatmap[" + width + "x" + height + ", peakActivation=" + peakActivation + "]";
    }
}
