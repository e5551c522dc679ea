package org.xrayscreening.trainer.training;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.xrayscreening.models.preprocess.Normalization;
import org.xrayscreening.models.preprocess.Preprocessor;
import org.xrayscreening.models.synthetic.SyntheticChestXray;
import org.xrayscreening.trainer.training.Augmenter.Strength;

class AugmenterTest {
    private static final int SIZE = 64;

    private static float[] chest(Normalization normalization, long seed) {
        return new Preprocessor(normalization, SIZE).toChw(SyntheticChestXray.of(seed, SIZE, true).gray8());
    }

    private static double[] range(Normalization n) {
        return switch (n) {
            case MINUS_ONE_TO_ONE -> new double[] {-1, 1};
            case ZERO_TO_ONE -> new double[] {0, 1};
            case CAFFE -> new double[] {-123.68, 255 - 103.939};
        };
    }

    @Test
    void strongKeepsTheShapeAndTheNormalizedRangeForEveryNormalization() {
        for (Normalization n : Normalization.values()) {
            float[] in = chest(n, 3);
            Augmenter strong = new Augmenter(n, SIZE, Strength.STRONG);
            double[] r = range(n);
            for (int seed = 0; seed < 30; seed++) {
                float[] out = strong.apply(in, new Random(seed));
                assertThat(out).hasSize(in.length);
                for (float v : out) {
                    assertThat(Float.isFinite(v)).isTrue();
                    assertThat((double) v).as(n.name()).isBetween(r[0] - 1e-4, r[1] + 1e-4);
                }
            }
        }
    }

    @Test
    void strongIsDeterministicBySeedAndDiffersFromLightAndFromTheInput() {
        float[] in = chest(Normalization.MINUS_ONE_TO_ONE, 5);
        float[] original = in.clone();
        Augmenter strong = new Augmenter(Normalization.MINUS_ONE_TO_ONE, SIZE, Strength.STRONG);
        Augmenter light = new Augmenter(Normalization.MINUS_ONE_TO_ONE, SIZE, Strength.LIGHT);
        float[] a = strong.apply(in, new Random(11));
        assertThat(strong.apply(in, new Random(11))).isEqualTo(a);
        assertThat(strong.apply(in, new Random(12))).isNotEqualTo(a);
        assertThat(a).isNotEqualTo(light.apply(in, new Random(11)));
        assertThat(a).isNotEqualTo(in);
        assertThat(in).isEqualTo(original); // the cached input is never modified
        // the two-argument constructor is light, and none hands the input through
        assertThat(new Augmenter(Normalization.MINUS_ONE_TO_ONE, SIZE).apply(in, new Random(11)))
                .isEqualTo(light.apply(in, new Random(11)));
        assertThat(new Augmenter(Normalization.MINUS_ONE_TO_ONE, SIZE, Strength.NONE).apply(in, new Random(1)))
                .isSameAs(in);
    }

    @Test
    void strongMovesPixelsFurtherThanLightOnAverage() {
        float[] in = chest(Normalization.MINUS_ONE_TO_ONE, 9);
        Augmenter strong = new Augmenter(Normalization.MINUS_ONE_TO_ONE, SIZE, Strength.STRONG);
        Augmenter light = new Augmenter(Normalization.MINUS_ONE_TO_ONE, SIZE, Strength.LIGHT);
        double strongChange = 0;
        double lightChange = 0;
        for (int seed = 0; seed < 40; seed++) {
            strongChange += meanAbsDifference(in, strong.apply(in, new Random(seed)));
            lightChange += meanAbsDifference(in, light.apply(in, new Random(seed)));
        }
        assertThat(strongChange).isGreaterThan(1.5 * lightChange);
    }

    @Test
    void neverMirrorsTheImage() {
        // a film with a bright band on the left (the patient's right) and a marker in the top left corner
        float[] in = new float[3 * SIZE * SIZE];
        for (int ch = 0; ch < 3; ch++) {
            for (int y = 0; y < SIZE; y++) {
                for (int x = 0; x < SIZE; x++) {
                    double pixel = x < SIZE / 3 ? 210 : 60 + x;
                    if (x > 4 && x < 14 && y > 4 && y < 14) {
                        pixel = 255;
                    }
                    in[ch * SIZE * SIZE + y * SIZE + x] = (float) (pixel / 127.5 - 1);
                }
            }
        }
        float[] mirrored = new float[in.length];
        for (int ch = 0; ch < 3; ch++) {
            for (int y = 0; y < SIZE; y++) {
                for (int x = 0; x < SIZE; x++) {
                    mirrored[ch * SIZE * SIZE + y * SIZE + x] = in[ch * SIZE * SIZE + y * SIZE + (SIZE - 1 - x)];
                }
            }
        }
        Augmenter strong = new Augmenter(Normalization.MINUS_ONE_TO_ONE, SIZE, Strength.STRONG);
        double margin = 0;
        int images = 200;
        for (int seed = 0; seed < images; seed++) {
            float[] out = strong.apply(in, new Random(seed));
            double toOriginal = correlation(out, in);
            double toMirror = correlation(out, mirrored);
            assertThat(toOriginal).as("seed " + seed).isGreaterThan(toMirror);
            margin += toOriginal - toMirror;
        }
        // a flip with probability 1/2 would bring the mean margin near 0
        assertThat(margin / images).isGreaterThan(0.8);
    }

    @Test
    void grayStaysGrayAndAboutHalfTheImagesGetAnErasedRectangle() {
        // a mid-gray textured input, so that neither clamping nor the picture itself makes large flat areas
        float[] in = new float[3 * SIZE * SIZE];
        Random texture = new Random(3);
        for (int i = 0; i < SIZE * SIZE; i++) {
            float v = (float) ((100 + texture.nextInt(50)) / 127.5 - 1);
            in[i] = v;
            in[SIZE * SIZE + i] = v;
            in[2 * SIZE * SIZE + i] = v;
        }
        Augmenter strong = new Augmenter(Normalization.MINUS_ONE_TO_ONE, SIZE, Strength.STRONG);
        int erased = 0;
        int images = 400;
        for (int seed = 0; seed < images; seed++) {
            float[] out = strong.apply(in, new Random(seed));
            Map<Float, Integer> counts = new HashMap<>();
            for (int i = 0; i < SIZE * SIZE; i++) {
                assertThat(out[SIZE * SIZE + i]).isEqualTo(out[i]);
                assertThat(out[2 * SIZE * SIZE + i]).isEqualTo(out[i]);
                counts.merge(out[i], 1, Integer::sum);
            }
            int largestFlat = counts.values().stream().max(Integer::compare).orElse(0);
            if (largestFlat >= Augmenter.ERASE_MIN_AREA * SIZE * SIZE * 0.9) {
                erased++;
            }
        }
        assertThat(erased / (double) images).isBetween(Augmenter.ERASE_PROBABILITY - 0.1,
                Augmenter.ERASE_PROBABILITY + 0.1);
    }

    @Test
    void unknownStrengthIsRefusedWithTheChoices() {
        assertThatThrownBy(() -> Strength.parse("heavy")).hasMessageContaining("none, light or strong");
        assertThat(Strength.parse(" Strong ")).isEqualTo(Strength.STRONG);
    }

    private static double meanAbsDifference(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += Math.abs(a[i] - b[i]);
        }
        return s / a.length;
    }

    private static double correlation(float[] a, float[] b) {
        double ma = 0;
        double mb = 0;
        for (int i = 0; i < a.length; i++) {
            ma += a[i];
            mb += b[i];
        }
        ma /= a.length;
        mb /= b.length;
        double sab = 0;
        double saa = 0;
        double sbb = 0;
        for (int i = 0; i < a.length; i++) {
            sab += (a[i] - ma) * (b[i] - mb);
            saa += (a[i] - ma) * (a[i] - ma);
            sbb += (b[i] - mb) * (b[i] - mb);
        }
        return sab / Math.sqrt(saa * sbb);
    }
}
