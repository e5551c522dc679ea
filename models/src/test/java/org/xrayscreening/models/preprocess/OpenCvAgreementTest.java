package org.xrayscreening.models.preprocess;

import static org.assertj.core.api.Assertions.assertThat;

import java.awt.image.BufferedImage;
import java.io.InputStream;
import javax.imageio.ImageIO;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.xrayscreening.models.synthetic.SyntheticChestXray;

/**
 * Equalisation and CLAHE agree with OpenCV's (test resources {@code opencv/}, made by OpenCV 4.6.0 on the same
 * synthetic image; see the README there). OpenCV rounds each tile's mapping to 8 bits before blending and the
 * result again; this implementation keeps floats, so CLAHE may differ by one gray level after rounding.
 */
class OpenCvAgreementTest {
    private static final int SIDE = 96;

    @ParameterizedTest
    @CsvSource({"equalizeHist.png, EQUALIZE, 2.0, 8, 0", "clahe-2.0-8x8.png, CLAHE, 2.0, 8, 1",
            "clahe-4.0-7x7.png, CLAHE, 4.0, 7, 1"})
    void matchesOpenCv(String reference, IntensityMethod method, double clip, int tiles, int tolerance)
            throws Exception {
        BufferedImage expected;
        try (InputStream in = getClass().getResourceAsStream("/opencv/" + reference)) {
            expected = ImageIO.read(in);
        }
        BufferedImage image = SyntheticChestXray.positive(7, SIDE).gray8();
        float[] ours = new Preprocessor(Normalization.ZERO_TO_ONE, SIDE,
                new PreprocessingOptions(method, clip, tiles, 0, false)).toChw(image);
        int off = 0;
        int maxDiff = 0;
        for (int y = 0; y < SIDE; y++) {
            for (int x = 0; x < SIDE; x++) {
                int mine = Math.round(ours[y * SIDE + x] * 255f);
                int diff = Math.abs(mine - expected.getRaster().getSample(x, y, 0));
                maxDiff = Math.max(maxDiff, diff);
                off += diff > 0 ? 1 : 0;
            }
        }
        assertThat(maxDiff).as(reference).isLessThanOrEqualTo(tolerance);
        // rounding differences only, not a systematic shift
        assertThat(off).as(reference).isLessThan(SIDE * SIDE / 3);
    }
}
