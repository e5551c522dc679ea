package org.xrayscreening.models.preprocess;

import static org.assertj.core.api.Assertions.assertThat;

import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.awt.image.DataBufferByte;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.xrayscreening.models.synthetic.SyntheticChestXray;

/**
 * Masks and intensity equalisation of {@link Preprocessor}. With the input size equal to the image side the
 * bilinear resize is the identity, so a ZERO_TO_ONE preprocessor shows the conditioned gray plane itself
 * (value / 255) and tests can look at single pixels.
 */
class ImageConditioningTest {
    private static final int SIDE = 256;

    private static float[] plane(BufferedImage image, PreprocessingOptions options) {
        float[] chw = new Preprocessor(Normalization.ZERO_TO_ONE, image.getWidth(), options).toChw(image);
        float[] gray = Arrays.copyOf(chw, image.getWidth() * image.getHeight());
        for (int i = 0; i < gray.length; i++) {
            gray[i] *= 255f;
        }
        return gray;
    }

    private static BufferedImage xray(long seed) {
        return SyntheticChestXray.negative(seed, SIDE).gray8();
    }

    private static BufferedImage uniform(int side, int value) {
        BufferedImage image = new BufferedImage(side, side, BufferedImage.TYPE_BYTE_GRAY);
        Arrays.fill(((DataBufferByte) image.getRaster().getDataBuffer()).getData(), (byte) value);
        return image;
    }

    private static double std(float[] v) {
        double mean = 0;
        for (float x : v) {
            mean += x;
        }
        mean /= v.length;
        double s = 0;
        for (float x : v) {
            s += (x - mean) * (x - mean);
        }
        return Math.sqrt(s / v.length);
    }

    /** Distance between the 5th and the 95th percentile. */
    private static double spread(float[] v) {
        float[] sorted = v.clone();
        Arrays.sort(sorted);
        return sorted[(int) (0.95 * (v.length - 1))] - sorted[(int) (0.05 * (v.length - 1))];
    }

    private static float min(float[] v) {
        float m = Float.POSITIVE_INFINITY;
        for (float x : v) {
            m = Math.min(m, x);
        }
        return m;
    }

    private static float max(float[] v) {
        float m = Float.NEGATIVE_INFINITY;
        for (float x : v) {
            m = Math.max(m, x);
        }
        return m;
    }

    @Test
    void noOptionsLeaveThePixelsExactlyAsBefore() {
        BufferedImage image = xray(3);
        float[] before = new Preprocessor(Normalization.MINUS_ONE_TO_ONE, 64).toChw(image);
        float[] none = new Preprocessor(Normalization.MINUS_ONE_TO_ONE, 64, PreprocessingOptions.NONE).toChw(image);
        assertThat(none).containsExactly(before);
        assertThat(new Preprocessor(Normalization.MINUS_ONE_TO_ONE, 64, PreprocessingOptions.NONE))
                .isEqualTo(new Preprocessor(Normalization.MINUS_ONE_TO_ONE, 64));
    }

    @Test
    void equalizationSpreadsTheHistogramOverTheFullRange() {
        for (long seed = 1; seed <= 3; seed++) {
            float[] original = plane(xray(seed), PreprocessingOptions.NONE);
            float[] equalized = plane(xray(seed), PreprocessingOptions.of(IntensityMethod.EQUALIZE, 0, false));
            assertThat(min(equalized)).isEqualTo(0f);
            assertThat(max(equalized)).isEqualTo(255f);
            assertThat(spread(equalized)).isGreaterThan(1.3 * spread(original));
            assertThat(std(equalized)).isGreaterThan(std(original));
            // monotone: a brighter pixel never becomes darker than a dimmer one
            for (int i = 1; i < original.length; i++) {
                if (original[i] > original[i - 1]) {
                    assertThat(equalized[i]).isGreaterThanOrEqualTo(equalized[i - 1]);
                }
            }
        }
    }

    @Test
    void claheIncreasesContrastWithinRangeAndMoreWithAHigherClipLimit() {
        BufferedImage image = xray(5);
        float[] original = plane(image, PreprocessingOptions.NONE);
        float[] clahe = plane(image, PreprocessingOptions.of(IntensityMethod.CLAHE, 0, false));
        float[] gentle = plane(image, new PreprocessingOptions(IntensityMethod.CLAHE, 1.0, 8, 0, false));
        float[] strong = plane(image, new PreprocessingOptions(IntensityMethod.CLAHE, 8.0, 8, 0, false));
        assertThat(min(clahe)).isGreaterThanOrEqualTo(0f);
        assertThat(max(clahe)).isLessThanOrEqualTo(255f);
        assertThat(spread(clahe)).isGreaterThan(spread(original));
        // local contrast: the spread inside one lung-field window grows, and grows with the clip limit
        assertThat(spread(window(clahe, 64, 80, 48))).isGreaterThan(spread(window(original, 64, 80, 48)));
        assertThat(spread(window(strong, 64, 80, 48))).isGreaterThan(spread(window(gentle, 64, 80, 48)));
        // a 16-bit rendering of the same picture (read at its own depth, binned to the same 256 levels) agrees
        // closely: pixels move at most one bin, and tile histograms shift a little with them
        float[] deep = plane(SyntheticChestXray.negative(5, SIDE).gray16(),
                PreprocessingOptions.of(IntensityMethod.CLAHE, 0, false));
        double sum = 0;
        for (int i = 0; i < deep.length; i++) {
            float d = Math.abs(deep[i] - clahe[i]);
            sum += d;
            assertThat(d).as("pixel %d", i).isLessThan(6f);
        }
        assertThat(sum / deep.length).isLessThan(2.0); // measured 1.1: half a bin on average times a slope of ~2
    }

    private static float[] window(float[] plane, int x0, int y0, int side) {
        float[] w = new float[side * side];
        for (int y = 0; y < side; y++) {
            System.arraycopy(plane, (y0 + y) * SIDE + x0, w, y * side, side);
        }
        return w;
    }

    @Test
    void aUniformImageStaysUniform() {
        for (IntensityMethod method : IntensityMethod.values()) {
            for (int value : new int[] {0, 77, 255}) {
                float[] out = plane(uniform(50, value), PreprocessingOptions.of(method, 0.1, true));
                float first = out[0];
                assertThat(out).as("%s on uniform %d", method, value).containsOnly(first);
                assertThat(first).isBetween(0f, 255f);
            }
        }
        // equalisation leaves a one-level image as it is (OpenCV's equalizeHist does too)
        assertThat(plane(uniform(20, 77), PreprocessingOptions.of(IntensityMethod.EQUALIZE, 0, false)))
                .containsOnly(77f);
    }

    @Test
    void borderMaskSetsExactlyTheBorderToTheBackground() {
        BufferedImage image = SyntheticChestXray.negative(9, 100).gray8();
        float[] original = plane(image, PreprocessingOptions.NONE);
        float[] masked = plane(image, PreprocessingOptions.of(IntensityMethod.NONE, 0.1, false));
        // the background: 1st percentile of the pixels that stay visible (the interior 80 x 80)
        float[] interior = new float[80 * 80];
        int n = 0;
        for (int y = 0; y < 100; y++) {
            for (int x = 0; x < 100; x++) {
                int i = y * 100 + x;
                boolean border = x < 10 || x >= 90 || y < 10 || y >= 90;
                if (border) {
                    continue;
                }
                interior[n++] = original[i];
                assertThat(masked[i]).as("interior pixel %d,%d", x, y).isEqualTo(original[i]);
            }
        }
        Arrays.sort(interior);
        float background = interior[(int) Math.floor(0.01 * (interior.length - 1))];
        assertThat(background).isLessThan(40f); // air, not tissue
        for (int y = 0; y < 100; y++) {
            for (int x = 0; x < 100; x++) {
                if (x < 10 || x >= 90 || y < 10 || y >= 90) {
                    assertThat(masked[y * 100 + x]).as("border pixel %d,%d", x, y).isEqualTo(background);
                }
            }
        }
        // through the normal resize too: the corner of a 32 px input is pure background
        float[] small = new Preprocessor(Normalization.ZERO_TO_ONE, 32,
                PreprocessingOptions.of(IntensityMethod.NONE, 0.1, false)).toChw(image);
        assertThat(small[0] * 255f).isCloseTo(background, org.assertj.core.data.Offset.offset(1e-3f));
    }

    @Test
    void maskedRegionsStayUniformAfterClahe() {
        BufferedImage image = xray(4);
        float[] out = plane(image, new PreprocessingOptions(IntensityMethod.CLAHE, 2.0, 8, 0.05, false));
        int band = (int) Math.round(0.05 * SIDE);
        float corner = out[0];
        for (int y = 0; y < SIDE; y++) {
            for (int x = 0; x < SIDE; x++) {
                if (x < band || x >= SIDE - band || y < band || y >= SIDE - band) {
                    assertThat(out[y * SIDE + x]).isEqualTo(corner);
                }
            }
        }
    }

    /** "L" and "R" side markers (8% of the height, strokes ~1.5%) in the upper corners and an annotation in a lower corner, as burned in by devices. */
    private static BufferedImage withMarkers(BufferedImage clean) {
        BufferedImage marked = new BufferedImage(clean.getWidth(), clean.getHeight(), BufferedImage.TYPE_BYTE_GRAY);
        Graphics2D g = marked.createGraphics();
        try {
            g.drawImage(clean, 0, 0, null);
            g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            g.setColor(Color.WHITE);
            g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 22));
            g.drawString("L", 12, 34);
            g.drawString("R", SIDE - 30, 34);
            g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
            // in the lower left corner, over air; text on bright bone or the diaphragm barely stands out and is a
            // documented limit of the detector
            g.drawString("AP 12/03", 4, SIDE - 6);
        } finally {
            g.dispose();
        }
        return marked;
    }

    @Test
    void burnedInTextIsRemovedWhileLungTextureIsKept() {
        for (long seed = 1; seed <= 4; seed++) {
            BufferedImage clean = xray(seed);
            BufferedImage marked = withMarkers(clean);
            float[] cleanPlane = plane(clean, PreprocessingOptions.NONE);
            float[] markedPlane = plane(marked, PreprocessingOptions.NONE);
            float[] out = plane(marked, PreprocessingOptions.of(IntensityMethod.NONE, 0, true));

            int textPixels = 0;
            double errorBefore = 0;
            double errorAfter = 0;
            for (int i = 0; i < out.length; i++) {
                if (markedPlane[i] - cleanPlane[i] > 60) { // where a glyph was drawn
                    textPixels++;
                    errorBefore += markedPlane[i] - cleanPlane[i];
                    float after = Math.abs(out[i] - cleanPlane[i]);
                    errorAfter += after;
                    // replaced by its surroundings (the opening: a local lower envelope, so below a bright
                    // gradient it can be darker than the picture was): the mark is at least mostly gone everywhere
                    assertThat(after).as("seed %d, glyph pixel %d", seed, i)
                            .isLessThan(0.6f * (markedPlane[i] - cleanPlane[i]));
                }
            }
            assertThat(textPixels).isGreaterThan(150);
            assertThat(errorBefore / textPixels).isGreaterThan(100);
            assertThat(errorAfter / textPixels).as("seed %d: mean error on glyph pixels", seed).isLessThan(12);

            // the lung fields and the rest of the picture are untouched: every pixel outside the glyphs and their
            // halo keeps its value, and at most a sliver of the image is masked besides the text
            int changedElsewhere = 0;
            for (int y = 0; y < SIDE; y++) {
                for (int x = 0; x < SIDE; x++) {
                    int i = y * SIDE + x;
                    if (!nearText(markedPlane, cleanPlane, x, y, 4) && out[i] != cleanPlane[i]) {
                        changedElsewhere++;
                    }
                }
            }
            assertThat(changedElsewhere).as("seed %d: pixels changed away from the text", seed)
                    .isLessThan(SIDE * SIDE / 200);
            float[] lungBefore = window(cleanPlane, 60, 80, 60);
            float[] lungAfter = window(out, 60, 80, 60);
            assertThat(lungAfter).containsExactly(lungBefore);
        }
    }

    private static boolean nearText(float[] marked, float[] clean, int x, int y, int r) {
        for (int dy = -r; dy <= r; dy++) {
            for (int dx = -r; dx <= r; dx++) {
                int xx = x + dx;
                int yy = y + dy;
                if (xx >= 0 && yy >= 0 && xx < SIDE && yy < SIDE && marked[yy * SIDE + xx] != clean[yy * SIDE + xx]) {
                    return true;
                }
            }
        }
        return false;
    }

    @Test
    void aCleanImageLosesAlmostNothingToTheTextMask() {
        for (long seed = 10; seed < 14; seed++) {
            for (BufferedImage image : List.of(SyntheticChestXray.negative(seed, SIDE).gray8(),
                    SyntheticChestXray.positive(seed, SIDE).gray8())) {
                float[] original = plane(image, PreprocessingOptions.NONE);
                float[] out = plane(image, PreprocessingOptions.of(IntensityMethod.NONE, 0, true));
                int changed = 0;
                for (int i = 0; i < out.length; i++) {
                    changed += out[i] != original[i] ? 1 : 0;
                }
                assertThat(changed).as("seed %d", seed).isLessThan(out.length / 500);
            }
        }
    }

    @Test
    void squareFiltersMatchTheirDefinition() {
        Random random = new Random(1);
        int w = 37;
        int h = 23;
        float[] src = new float[w * h];
        for (int i = 0; i < src.length; i++) {
            src[i] = random.nextInt(256);
        }
        for (int k : new int[] {1, 3, 5, 9, 41}) {
            for (boolean isMax : new boolean[] {false, true}) {
                float[] fast = BurnedInTextMask.filter2d(src, w, h, k, isMax);
                for (int y = 0; y < h; y++) {
                    for (int x = 0; x < w; x++) {
                        float expected = isMax ? Float.NEGATIVE_INFINITY : Float.POSITIVE_INFINITY;
                        for (int yy = Math.max(0, y - k / 2); yy <= Math.min(h - 1, y + k / 2); yy++) {
                            for (int xx = Math.max(0, x - k / 2); xx <= Math.min(w - 1, x + k / 2); xx++) {
                                expected = isMax ? Math.max(expected, src[yy * w + xx]) : Math.min(expected, src[yy * w + xx]);
                            }
                        }
                        assertThat(fast[y * w + x]).as("k=%d max=%s at %d,%d", k, isMax, x, y).isEqualTo(expected);
                    }
                }
            }
        }
    }

    @Test
    void deterministicAcrossThreadsAndAfterSerialization() throws Exception {
        Preprocessor p = new Preprocessor(Normalization.MINUS_ONE_TO_ONE, 96,
                new PreprocessingOptions(IntensityMethod.CLAHE, 2.0, 8, 0.03, true));
        List<BufferedImage> images = List.of(withMarkers(xray(1)), withMarkers(xray(2)), xray(3), xray(4));
        List<float[]> expected = new ArrayList<>();
        for (BufferedImage image : images) {
            expected.add(p.toChw(image));
        }
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(p);
        }
        Preprocessor copy;
        try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
            copy = (Preprocessor) in.readObject();
        }
        assertThat(copy).isEqualTo(p);
        assertThat(copy.options()).isEqualTo(p.options());
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<float[]>> results = new ArrayList<>();
            for (int round = 0; round < 3; round++) {
                for (BufferedImage image : images) {
                    Preprocessor use = round % 2 == 0 ? p : copy;
                    results.add(pool.submit(() -> use.toChw(image)));
                }
            }
            for (int i = 0; i < results.size(); i++) {
                assertThat(results.get(i).get()).containsExactly(expected.get(i % images.size()));
            }
        } finally {
            pool.shutdownNow();
        }
        assertThat(p.toString()).contains("clahe2.0x8+border0.03+text");
    }
}
