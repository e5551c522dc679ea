package org.xrayscreening.connectors.image;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.awt.image.BufferedImage;

import org.junit.jupiter.api.Test;

/** The Modality LUT / VOI LUT / presentation maths of {@link DicomIntensity}. */
class DicomIntensityTest {

    private static int[] gray8(int[] stored, DicomIntensity.Params p) {
        BufferedImage out = DicomIntensity.toGray8(stored, stored.length, 1, p);
        assertThat(out.getType()).isEqualTo(BufferedImage.TYPE_BYTE_GRAY);
        return out.getRaster().getSamples(0, 0, stored.length, 1, 0, (int[]) null);
    }

    private static DicomIntensity.Params params(int bits, boolean signed, double slope, double intercept,
            double center, double width, String function, boolean mono1) {
        return new DicomIntensity.Params(bits, signed, slope, intercept, center, width, function, mono1);
    }

    @Test
    void storedValueMasksToBitsStoredAndSignExtends() {
        assertThat(DicomIntensity.storedValue(0xF005, 12, 11, false)).isEqualTo(5);
        assertThat(DicomIntensity.storedValue(0x0FFF, 12, 11, false)).isEqualTo(4095);
        // 12-bit two's complement: 0x800 is -2048, 0xFFF is -1
        assertThat(DicomIntensity.storedValue(0x0800, 12, 11, true)).isEqualTo(-2048);
        assertThat(DicomIntensity.storedValue(0x0FFF, 12, 11, true)).isEqualTo(-1);
        assertThat(DicomIntensity.storedValue(0x07FF, 12, 11, true)).isEqualTo(2047);
        assertThat(DicomIntensity.storedValue(0xFFFF, 16, 15, true)).isEqualTo(-1);
        assertThat(DicomIntensity.storedValue(0x8000, 16, 15, true)).isEqualTo(-32768);
        assertThat(DicomIntensity.storedValue(0x8000, 16, 15, false)).isEqualTo(32768);
        // High Bit above Bits Stored - 1: the stored bits sit higher in the word
        assertThat(DicomIntensity.storedValue(0x0FF0, 8, 11, false)).isEqualTo(0xFF);
    }

    @Test
    void modalityLutIsSlopeTimesStoredPlusIntercept() {
        assertThat(DicomIntensity.modality(1000, 1, -1024)).isEqualTo(-24);
        assertThat(DicomIntensity.modality(-5, 2.5, 10)).isEqualTo(-2.5);
        assertThat(DicomIntensity.modality(100, -1, 4095)).isEqualTo(3995);
    }

    @Test
    void linearVoiFollowsPs33C11212() {
        // the standard's example: c = 2048, w = 4096 -> x <= 0 black, x > 4095 white
        assertThat(DicomIntensity.voi(0, 2048, 4096, "")).isZero();
        assertThat(DicomIntensity.voi(4096, 2048, 4096, "LINEAR")).isEqualTo(1.0);
        assertThat(DicomIntensity.voi(2047.5, 2048, 4096, "LINEAR")).isCloseTo(0.5, within(1e-12));
        assertThat(DicomIntensity.voi(4095, 2048, 4096, null)).isCloseTo(1.0, within(1e-12));
        // narrow window: c = 40, w = 400 (a CT soft-tissue window) -> -160 .. 239
        assertThat(DicomIntensity.voi(-160, 40, 400, "LINEAR")).isZero();
        assertThat(DicomIntensity.voi(240, 40, 400, "LINEAR")).isEqualTo(1.0);
        assertThat(DicomIntensity.voi(40, 40, 400, "LINEAR")).isCloseTo(0.50125, within(1e-5));
    }

    @Test
    void linearExactAndSigmoidVoi() {
        assertThat(DicomIntensity.voi(40, 40, 400, "LINEAR_EXACT")).isEqualTo(0.5);
        assertThat(DicomIntensity.voi(-160, 40, 400, "LINEAR_EXACT")).isEqualTo(0.0);
        assertThat(DicomIntensity.voi(240, 40, 400, "linear_exact")).isEqualTo(1.0);
        assertThat(DicomIntensity.voi(40, 40, 400, "SIGMOID")).isEqualTo(0.5);
        assertThat(DicomIntensity.voi(240, 40, 400, "SIGMOID")).isCloseTo(1 / (1 + Math.exp(-2)), within(1e-12));
        assertThat(DicomIntensity.voi(-1e9, 40, 400, "SIGMOID")).isCloseTo(0, within(1e-9));
    }

    @Test
    void headerWindowIsAppliedInModalityUnits() {
        // stored 0..4000, modality = stored - 1000, window -1000..3000 -> full 0..255
        int[] stored = {0, 1000, 2000, 4000};
        int[] out = gray8(stored, params(12, false, 1, -1000, 1000.5, 4001, "", false));
        assertThat(out).containsExactly(0, 64, 128, 255);
        // a negative slope reverses the scale before the window: no separate inversion
        int[] rev = gray8(new int[] {0, 4095}, params(12, false, -1, 4095, 2048, 4096, "", false));
        assertThat(rev).containsExactly(255, 0);
    }

    @Test
    void signedDataWithRescale() {
        // CT-like: signed stored values, intercept 0, slope 1; window c = 40, w = 400
        int[] out = gray8(new int[] {-1000, -160, 40, 239, 3000},
                params(16, true, 1, 0, 40, 400, "LINEAR", false));
        assertThat(out).containsExactly(0, 0, 128, 255, 255);
        // same picture stored unsigned with intercept -1024
        int[] unsigned = gray8(new int[] {24, 864, 1064, 1263, 4024},
                params(12, false, 1, -1024, 40, 400, "LINEAR", false));
        assertThat(unsigned).containsExactly(out);
    }

    @Test
    void monochrome1IsInvertedAfterTheWindow() {
        DicomIntensity.Params mono2 = params(12, false, 1, 0, 2048, 4096, "", false);
        DicomIntensity.Params mono1 = params(12, false, 1, 0, 2048, 4096, "", true);
        int[] stored = {0, 100, 2048, 4095};
        int[] a = gray8(stored, mono2);
        int[] b = gray8(stored, mono1);
        for (int i = 0; i < stored.length; i++) {
            assertThat(a[i] + b[i]).isEqualTo(255);
        }
    }

    @Test
    void withoutAWindowDeepDataGetThePercentileWindow() {
        // 1000 values: 10 outliers at each end must not set the window
        int[] stored = new int[1000];
        for (int i = 0; i < stored.length; i++) {
            stored[i] = 1000 + i;
        }
        for (int i = 0; i < 10; i++) {
            stored[i] = 0;
            stored[999 - i] = 4095;
        }
        double[] w = DicomIntensity.percentileWindow(stored, 1, 0);
        assertThat(w[0]).isBetween(0.0, 1015.0);
        assertThat(w[1]).isBetween(1984.0, 4095.0);
        double[] robust = DicomIntensity.percentileWindow(stored, 2, -100);
        assertThat(robust[0]).isEqualTo(2 * DicomIntensity.percentileWindow(stored, 1, 0)[0] - 100);
        // a few outliers (< 0.5 %) are ignored entirely
        int[] few = stored.clone();
        for (int i = 0; i < 10; i++) {
            few[i] = 1000 + 10;
            few[999 - i] = 1000 + 989;
        }
        few[0] = 0;
        few[999] = 4095;
        double[] ignoring = DicomIntensity.percentileWindow(few, 1, 0);
        assertThat(ignoring[0]).isGreaterThanOrEqualTo(1000);
        assertThat(ignoring[1]).isLessThanOrEqualTo(1999);
        int[] out = gray8(few, params(12, false, 1, 0, Double.NaN, Double.NaN, "", false));
        assertThat(out[0]).isZero();
        assertThat(out[999]).isEqualTo(255);
        assertThat(out[500]).isBetween(120, 136);
        // negative slope: the window is ordered low..high in modality units
        double[] neg = DicomIntensity.percentileWindow(stored, -1, 0);
        assertThat(neg[0]).isLessThan(neg[1]);
    }

    @Test
    void headerWindowWinsOverThePercentileWindow() {
        int[] stored = {1000, 1500, 2000};
        int[] fromHeader = gray8(stored, params(12, false, 1, 0, 2048, 4096, "", false));
        int[] fromPercentiles = gray8(stored, params(12, false, 1, 0, Double.NaN, Double.NaN, "", false));
        assertThat(fromHeader).containsExactly(62, 93, 125);
        assertThat(fromPercentiles).containsExactly(0, 128, 255);
        // a width below 1 is not a usable LINEAR window: percentiles again
        assertThat(gray8(stored, params(12, false, 1, 0, 1500, 0.5, "", false))).containsExactly(fromPercentiles);
    }

    @Test
    void eightBitDataWithoutWindowAreDisplayValues() {
        int[] stored = {3, 4, 200};
        assertThat(gray8(stored, params(8, false, 1, 0, Double.NaN, Double.NaN, "", false)))
                .containsExactly(3, 4, 200);
        assertThat(gray8(stored, params(8, false, 1, 0, Double.NaN, Double.NaN, "", true)))
                .containsExactly(252, 251, 55);
        // but 8-bit data with a rescale get the percentile window
        assertThat(gray8(stored, params(8, false, 2, 0, Double.NaN, Double.NaN, "", false)))
                .containsExactly(0, 1, 255);
    }

    @Test
    void constantImageIsMidGray() {
        assertThat(gray8(new int[] {7, 7, 7}, params(12, false, 1, 0, Double.NaN, Double.NaN, "", false)))
                .containsExactly(128, 128, 128);
    }
}
