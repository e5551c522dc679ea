package org.xrayscreening.models.synthetic;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.awt.image.BufferedImage;
import java.awt.image.DataBufferByte;
import java.io.File;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SyntheticChestXrayTest {

    @Test
    void sameSeedGivesIdenticalPixels() {
        byte[] a = pixels(SyntheticChestXray.positive(42, 128).gray8());
        byte[] b = pixels(SyntheticChestXray.positive(42, 128).gray8());
        assertThat(a).isEqualTo(b);
    }

    @Test
    void differentSeedsGiveDifferentImages() {
        byte[] a = pixels(SyntheticChestXray.negative(1, 96).gray8());
        byte[] b = pixels(SyntheticChestXray.negative(2, 96).gray8());
        assertThat(a).isNotEqualTo(b);
    }

    @Test
    void sizeAndTypeAreAsRequested() {
        BufferedImage g8 = SyntheticChestXray.negative(3, 80).gray8();
        BufferedImage g16 = SyntheticChestXray.negative(3, 80).gray16();
        assertThat(g8.getWidth()).isEqualTo(80);
        assertThat(g8.getHeight()).isEqualTo(80);
        assertThat(g8.getType()).isEqualTo(BufferedImage.TYPE_BYTE_GRAY);
        assertThat(g16.getType()).isEqualTo(BufferedImage.TYPE_USHORT_GRAY);
        // The 16-bit image is the same picture at a finer scale, not a different one.
        int x = 40, y = 40;
        double v8 = g8.getRaster().getSample(x, y, 0) / 255.0;
        double v16 = g16.getRaster().getSample(x, y, 0) / 65535.0;
        assertThat(v16).isCloseTo(v8, org.assertj.core.data.Offset.offset(0.01));
    }

    @Test
    void lungsAreDarkerThanMediastinumAndOutsideIsDarkest() {
        double[] v = SyntheticChestXray.negative(7, 128).render();
        double centre = mean(v, 128, 60, 64, 4); // mediastinum
        double leftLung = mean(v, 128, 60, 40, 4);
        double corner = mean(v, 128, 2, 2, 2); // air outside the body
        assertThat(leftLung).isLessThan(centre);
        assertThat(corner).isLessThan(leftLung + 0.05);
    }

    @Test
    void positiveVariantHasDenserLungsThanNegativeOfSameSeed() {
        for (long seed = 0; seed < 20; seed++) {
            double[] neg = SyntheticChestXray.negative(seed, 128).render();
            double[] pos = SyntheticChestXray.positive(seed, 128).render();
            // Opacities only add density, and only inside the lungs.
            double sumNeg = 0, sumPos = 0;
            for (int i = 0; i < neg.length; i++) {
                sumNeg += neg[i];
                sumPos += pos[i];
            }
            assertThat(sumPos).as("seed %d", seed).isGreaterThan(sumNeg * 1.01);
        }
    }

    @Test
    void writesAsPngAndJpeg(@TempDir File dir) throws Exception {
        BufferedImage image = SyntheticChestXray.positive(5, 64).gray8();
        assertThat(ImageIO.write(image, "png", new File(dir, "a.png"))).isTrue();
        assertThat(ImageIO.write(image, "jpeg", new File(dir, "a.jpg"))).isTrue();
        assertThat(ImageIO.read(new File(dir, "a.png")).getRaster().getSample(10, 10, 0))
                .isEqualTo(image.getRaster().getSample(10, 10, 0));
    }

    @Test
    void refusesAbsurdSizes() {
        assertThatThrownBy(() -> SyntheticChestXray.negative(1, 4)).isInstanceOf(IllegalArgumentException.class);
    }

    private static byte[] pixels(BufferedImage image) {
        return ((DataBufferByte) image.getRaster().getDataBuffer()).getData().clone();
    }

    private static double mean(double[] v, int size, int cy, int cx, int r) {
        double sum = 0;
        int n = 0;
        for (int y = cy - r; y <= cy + r; y++) {
            for (int x = cx - r; x <= cx + r; x++) {
                sum += v[y * size + x];
                n++;
            }
        }
        return sum / n;
    }

    @Test
    void lungMaskIsDeterministicCoversBothDarkLungFieldsAndIgnoresTheFinding() {
        SyntheticChestXray negative = SyntheticChestXray.negative(9, 128);
        boolean[] lungs = negative.lungField();
        assertThat(SyntheticChestXray.negative(9, 128).lungField()).isEqualTo(lungs);
        assertThat(SyntheticChestXray.positive(9, 128).lungField()).isEqualTo(lungs);
        assertThat(SyntheticChestXray.negative(10, 128).lungField()).isNotEqualTo(lungs);

        double[] v = negative.render();
        double inside = 0, outside = 0;
        int nIn = 0, left = 0, right = 0;
        for (int y = 0; y < 128; y++) {
            for (int x = 0; x < 128; x++) {
                int i = y * 128 + x;
                if (lungs[i]) {
                    inside += v[i];
                    nIn++;
                    if (x < 64) {
                        left++;
                    } else {
                        right++;
                    }
                } else if (Math.abs(x - 64) < 40 && y > 20 && y < 110) {
                    outside += v[i]; // the chest around the lungs: mediastinum, ribs, diaphragm
                }
            }
        }
        // two lungs of similar size, each a real part of the image, and radiolucent (darker than the chest around)
        assertThat(left).isGreaterThan(128 * 128 / 20);
        assertThat((double) right / left).isBetween(0.8, 1.25);
        long around = java.util.stream.IntStream.range(0, 128 * 128).filter(i -> !lungs[i]
                && Math.abs(i % 128 - 64) < 40 && i / 128 > 20 && i / 128 < 110).count();
        assertThat(inside / nIn).isLessThan(outside / around - 0.1);

        BufferedImage mask = negative.lungMask();
        assertThat(mask.getType()).isEqualTo(BufferedImage.TYPE_BYTE_BINARY);
        for (int i = 0; i < lungs.length; i++) {
            assertThat(mask.getRaster().getSample(i % 128, i / 128, 0)).isEqualTo(lungs[i] ? 1 : 0);
        }
    }
}
