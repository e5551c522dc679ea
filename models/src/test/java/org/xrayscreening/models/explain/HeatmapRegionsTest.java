package org.xrayscreening.models.explain;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.util.Arrays;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.xrayscreening.models.synthetic.SyntheticChestXray;

class HeatmapRegionsTest {
    private static final int SIZE = 128;

    /** A Gaussian blob of evidence centred at (cx, cy), as Grad-CAM gives for a localised finding. */
    private static Heatmap blob(int size, double cx, double cy, double sigma) {
        float[] v = new float[size * size];
        for (int y = 0; y < size; y++) {
            for (int x = 0; x < size; x++) {
                double d2 = Math.pow(x + 0.5 - cx, 2) + Math.pow(y + 0.5 - cy, 2);
                v[y * size + x] = (float) Math.exp(-d2 / (2 * sigma * sigma));
            }
        }
        return new Heatmap(size, size, v, 1);
    }

    /** The centre of mass of one lung of the synthetic image (left half of the mask). */
    private static double[] leftLungCentre(boolean[] lungs, int size) {
        double sx = 0, sy = 0, n = 0;
        for (int y = 0; y < size; y++) {
            for (int x = 0; x < size / 2; x++) {
                if (lungs[y * size + x]) {
                    sx += x + 0.5;
                    sy += y + 0.5;
                    n++;
                }
            }
        }
        return new double[] {sx / n, sy / n};
    }

    @Test
    void evidenceInsideTheLungsHasLungShareNearOneAndLittleBorderOrCorner() {
        SyntheticChestXray xray = SyntheticChestXray.positive(11, SIZE);
        boolean[] lungs = xray.lungField();
        double[] c = leftLungCentre(lungs, SIZE);
        Heatmap map = blob(SIZE, c[0], c[1], SIZE * 0.03);

        assertThat(HeatmapRegions.shareInside(map, lungs)).isGreaterThan(0.95);
        assertThat(HeatmapRegions.cornerShare(map, HeatmapRegions.DEFAULT_BAND)).isLessThan(0.01);
        assertThat(HeatmapRegions.borderShare(map, HeatmapRegions.DEFAULT_BAND)).isLessThan(0.05);
    }

    @Test
    void evidenceOnACornerMarkerHasLungShareNearZeroAndHighCornerShare() {
        boolean[] lungs = SyntheticChestXray.negative(11, SIZE).lungField();
        // a burned-in side letter near the top-right corner
        Heatmap map = blob(SIZE, SIZE - 6, 6, SIZE * 0.03);

        assertThat(HeatmapRegions.shareInside(map, lungs)).isLessThan(0.01);
        assertThat(HeatmapRegions.cornerShare(map, HeatmapRegions.DEFAULT_BAND)).isGreaterThan(0.9);
        assertThat(HeatmapRegions.borderShare(map, HeatmapRegions.DEFAULT_BAND)).isGreaterThan(0.95);
    }

    @Test
    void aUniformMapSharesByArea() {
        float[] ones = new float[64 * 48];
        Arrays.fill(ones, 0.5f);
        Heatmap uniform = new Heatmap(64, 48, ones, 1);
        // band 8 px of 64, 6 px of 48: inner 48x36 of 64x48
        assertThat(HeatmapRegions.borderShare(uniform, 0.125)).isCloseTo(1 - 48.0 * 36 / (64 * 48), within(1e-9));
        assertThat(HeatmapRegions.cornerShare(uniform, 0.125)).isCloseTo(4.0 * 8 * 6 / (64 * 48), within(1e-9));
    }

    @Test
    void aMapWithoutEvidenceHasNoShare() {
        Heatmap empty = new Heatmap(8, 8, new float[64], 0);
        assertThat(HeatmapRegions.borderShare(empty, 0.125)).isNaN();
    }

    @Test
    void aMaskOfAnotherSizeAndEncodingIsResizedToTheMap() throws Exception {
        SyntheticChestXray xray = SyntheticChestXray.negative(5, 256);
        // through PNG, as a manifest's mask file arrives: 1-bit, then as 8-bit 0/255
        BufferedImage binary = roundTrip(xray.lungMask());
        BufferedImage gray = new BufferedImage(256, 256, BufferedImage.TYPE_BYTE_GRAY);
        gray.getGraphics().drawImage(binary, 0, 0, null);

        boolean[] truth = SyntheticChestXray.negative(5, 64).lungField();
        for (BufferedImage mask : new BufferedImage[] {binary, roundTrip(gray)}) {
            boolean[] small = HeatmapRegions.maskAt(mask, 64, 64);
            int agree = 0;
            for (int i = 0; i < truth.length; i++) {
                agree += small[i] == truth[i] ? 1 : 0;
            }
            // the same anatomy drawn at 64 px: only edge pixels may differ
            assertThat(agree / (double) truth.length).isGreaterThan(0.97);
            assertThat(count(small)).isBetween(400, 64 * 64 / 2);
        }
    }

    @Test
    void aMaskOfTheWrongSizeIsRefused() {
        Heatmap map = blob(16, 8, 8, 2);
        assertThatThrownBy(() -> HeatmapRegions.shareInside(map, new boolean[10]))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("16x16");
    }

    private static int count(boolean[] b) {
        int n = 0;
        for (boolean v : b) {
            n += v ? 1 : 0;
        }
        return n;
    }

    private static BufferedImage roundTrip(BufferedImage image) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(image, "png", out);
        return ImageIO.read(new ByteArrayInputStream(out.toByteArray()));
    }
}
