package org.xrayscreening.models.preprocess;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.awt.Transparency;
import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ComponentColorModel;
import java.awt.image.DataBuffer;
import java.awt.image.WritableRaster;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.xrayscreening.models.Architecture;

class PreprocessorTest {
    private static final int S = 16;
    private static final Preprocessor TF = Preprocessor.forArchitecture(Architecture.MOBILENET, S);
    private static final Preprocessor CAFFE = Preprocessor.forArchitecture(Architecture.RESNET50, S);

    @Test
    void architectureDefaults() {
        assertThat(Preprocessor.forArchitecture(Architecture.INCEPTION_V3).inputSize()).isEqualTo(299);
        assertThat(Preprocessor.forArchitecture(Architecture.RESNET50).normalization()).isEqualTo(Normalization.CAFFE);
        assertThat(TF.length()).isEqualTo(3 * S * S);
        assertThat(TF.shape()).isEqualTo(new Shape(3, S, S));
    }

    @Test
    void eightBitGrayWhiteAndBlackMapToExactlyPlusMinusOne() {
        assertThat(TF.toChw(gray8(40, 30, 255))).hasSize(3 * S * S).containsOnly(1f);
        assertThat(TF.toChw(gray8(40, 30, 0))).hasSize(3 * S * S).containsOnly(-1f);
    }

    @Test
    void sixteenBitGrayIsScaledByItsOwnRangeNot255() {
        assertThat(TF.toChw(gray16(50, 50, 65535))).containsOnly(1f);
        assertThat(TF.toChw(gray16(50, 50, 0))).containsOnly(-1f);
        // 32768 / 65535 of full scale is mid-gray, i.e. ~0 (dividing by 255 would saturate it to +1).
        float[] mid = TF.toChw(gray16(50, 50, 32768));
        assertThat(mid[0]).isCloseTo(0f, within(1e-3f));
        // and a 255 in 16-bit is almost black, not white
        assertThat(TF.toChw(gray16(50, 50, 255))[0]).isCloseTo(-1f + 2f * 255 / 65535, within(1e-5f));
    }

    @Test
    void twelveBitGrayDeclaredByItsColorModelUsesTwelveBits() {
        ComponentColorModel cm = new ComponentColorModel(ColorSpace.getInstance(ColorSpace.CS_GRAY),
                new int[] {12}, false, false, Transparency.OPAQUE, DataBuffer.TYPE_USHORT);
        WritableRaster raster = cm.createCompatibleWritableRaster(8, 8);
        fill(raster, 4095);
        BufferedImage img = new BufferedImage(cm, raster, false, null);
        assertThat(TF.toChw(img)).containsOnly(1f);
    }

    @Test
    void grayIsReadWithoutGammaConversion() {
        // getRGB() on TYPE_BYTE_GRAY would turn 128 into ~186
        assertThat(TF.toChw(gray8(8, 8, 128))).containsOnly(128f / 127.5f - 1f);
    }

    @Test
    void zeroToOneIsPixelOver255AsNsfwjsFeedsItsInceptionV3() {
        Preprocessor unit = new Preprocessor(Normalization.ZERO_TO_ONE, S);
        assertThat(unit.toChw(gray8(20, 20, 255))).containsOnly(1f);
        assertThat(unit.toChw(gray8(20, 20, 0))).containsOnly(0f);
        assertThat(unit.toChw(gray8(20, 20, 51))).containsOnly(51f / 255f);
        // channel order stays RGB: pure red lights plane 0 only
        float[] red = unit.toChw(rgb(20, 20, 0xff0000));
        assertThat(plane(red, 0)).containsOnly(1f);
        assertThat(plane(red, 1)).containsOnly(0f);
        assertThat(plane(red, 2)).containsOnly(0f);
    }

    @Test
    void caffeWhiteAndBlackAreMeanSubtractedPerBgrChannel() {
        for (BufferedImage white : new BufferedImage[] {gray8(20, 20, 255), gray16(20, 20, 65535), rgb(20, 20, 0xffffff)}) {
            float[] chw = CAFFE.toChw(white);
            assertThat(plane(chw, 0)).containsOnly(255f - 103.939f);
            assertThat(plane(chw, 1)).containsOnly(255f - 116.779f);
            assertThat(plane(chw, 2)).containsOnly(255f - 123.68f);
        }
        for (BufferedImage black : new BufferedImage[] {gray8(20, 20, 0), gray16(20, 20, 0), rgb(20, 20, 0)}) {
            float[] chw = CAFFE.toChw(black);
            assertThat(plane(chw, 0)).containsOnly(-103.939f);
            assertThat(plane(chw, 1)).containsOnly(-116.779f);
            assertThat(plane(chw, 2)).containsOnly(-123.68f);
        }
    }

    @Test
    void channelOrderIsRgbForTfStyleAndBgrForCaffe() {
        BufferedImage red = rgb(10, 10, 0xff0000);
        float[] tf = TF.toChw(red);
        assertThat(plane(tf, 0)).containsOnly(1f);
        assertThat(plane(tf, 1)).containsOnly(-1f);
        assertThat(plane(tf, 2)).containsOnly(-1f);

        float[] caffe = CAFFE.toChw(red);
        assertThat(plane(caffe, 0)).containsOnly(-103.939f); // B
        assertThat(plane(caffe, 1)).containsOnly(-116.779f); // G
        assertThat(plane(caffe, 2)).containsOnly(255f - 123.68f); // R
    }

    @Test
    void otherRgbLayoutsGiveTheSameResult() {
        float[] expected = TF.toChw(rgb(10, 10, 0x336699));
        BufferedImage bgr = new BufferedImage(10, 10, BufferedImage.TYPE_3BYTE_BGR);
        BufferedImage argb = new BufferedImage(10, 10, BufferedImage.TYPE_INT_ARGB);
        for (int y = 0; y < 10; y++) {
            for (int x = 0; x < 10; x++) {
                bgr.setRGB(x, y, 0x336699);
                argb.setRGB(x, y, 0x00336699); // fully transparent: alpha is dropped, like PIL convert("RGB")
            }
        }
        assertThat(TF.toChw(bgr)).containsExactly(expected);
        assertThat(TF.toChw(argb)).containsExactly(expected);
        assertThat(plane(expected, 0)).containsOnly(0x33 / 127.5f - 1f);
        assertThat(plane(expected, 2)).containsOnly(0x99 / 127.5f - 1f);
    }

    @Test
    void grayIsReplicatedToThreeEqualChannels() {
        BufferedImage img = gray8(33, 21, 0);
        for (int y = 0; y < 21; y++) {
            for (int x = 0; x < 33; x++) {
                img.getRaster().setSample(x, y, 0, (x * 7 + y * 3) % 256);
            }
        }
        float[] chw = TF.toChw(img);
        assertThat(plane(chw, 1)).containsExactly(plane(chw, 0));
        assertThat(plane(chw, 2)).containsExactly(plane(chw, 0));
    }

    @Test
    void bilinearWithHalfPixelCentres() {
        Preprocessor two = new Preprocessor(Normalization.MINUS_ONE_TO_ONE, 2);
        BufferedImage img = gray8(4, 4, 0);
        int[] columns = {0, 100, 200, 250};
        for (int y = 0; y < 4; y++) {
            for (int x = 0; x < 4; x++) {
                img.getRaster().setSample(x, y, 0, columns[x]);
            }
        }
        // downscale by 2: each output pixel is centred between two source columns
        float[] down = two.toChw(img);
        assertThat(toPixel(down[0])).isCloseTo(50f, within(1e-3f));
        assertThat(toPixel(down[1])).isCloseTo(225f, within(1e-3f));

        // upscale 2 -> 4: the edges are clamped, the inner pixels are 3:1 blends
        Preprocessor four = new Preprocessor(Normalization.MINUS_ONE_TO_ONE, 4);
        BufferedImage small = gray8(2, 2, 0);
        for (int y = 0; y < 2; y++) {
            small.getRaster().setSample(0, y, 0, 0);
            small.getRaster().setSample(1, y, 0, 200);
        }
        float[] up = four.toChw(small);
        assertThat(toPixel(up[0])).isCloseTo(0f, within(1e-3f));
        assertThat(toPixel(up[1])).isCloseTo(50f, within(1e-3f));
        assertThat(toPixel(up[2])).isCloseTo(150f, within(1e-3f));
        assertThat(toPixel(up[3])).isCloseTo(200f, within(1e-3f));
    }

    @Test
    void nonSquareAndLargeImagesComeOutAtTheInputSize() {
        assertThat(TF.toChw(gray16(1200, 900, 1000))).hasSize(3 * S * S);
        assertThat(TF.toChw(rgb(1, 1, 0x808080))).hasSize(3 * S * S);
    }

    @Test
    void ndArrayOutputMatchesTheFloatArray() {
        BufferedImage img = rgb(30, 40, 0x102030);
        try (NDManager manager = NDManager.newBaseManager()) {
            NDArray array = CAFFE.toNDArray(img, manager);
            assertThat(array.getShape()).isEqualTo(new Shape(3, S, S));
            assertThat(array.toFloatArray()).containsExactly(CAFFE.toChw(img));
            assertThat(CAFFE.toNDArray(CAFFE.toChw(img), manager).toFloatArray()).containsExactly(CAFFE.toChw(img));
        }
    }

    @Test
    void wrongLengthIsRejected() {
        assertThatThrownBy(() -> TF.checkLength(new float[3 * 8 * 8]))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("expected " + 3 * S * S);
    }

    @Test
    void survivesJavaSerialization() throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(CAFFE);
        }
        try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
            assertThat(in.readObject()).isEqualTo(CAFFE);
        }
    }

    private static float toPixel(float tf) {
        return (tf + 1f) * 127.5f;
    }

    private static float[] plane(float[] chw, int c) {
        int n = chw.length / 3;
        return Arrays.copyOfRange(chw, c * n, (c + 1) * n);
    }

    private static BufferedImage gray8(int w, int h, int value) {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_BYTE_GRAY);
        fill(img.getRaster(), value);
        return img;
    }

    private static BufferedImage gray16(int w, int h, int value) {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_USHORT_GRAY);
        fill(img.getRaster(), value);
        return img;
    }

    private static BufferedImage rgb(int w, int h, int rgb) {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                img.setRGB(x, y, rgb);
            }
        }
        return img;
    }

    private static void fill(WritableRaster raster, int value) {
        for (int y = 0; y < raster.getHeight(); y++) {
            for (int x = 0; x < raster.getWidth(); x++) {
                raster.setSample(x, y, 0, value);
            }
        }
    }
}
