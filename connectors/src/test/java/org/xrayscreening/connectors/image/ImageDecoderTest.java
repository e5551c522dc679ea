package org.xrayscreening.connectors.image;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.awt.image.BufferedImage;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.xrayscreening.connectors.event.DeadLetterReason;
import org.xrayscreening.connectors.event.ImageReference;
import org.xrayscreening.connectors.event.InvalidEventException;

class ImageDecoderTest {

    final ImageDecoder decoder = new ImageDecoder();

    // ------------------------------------------------------------------------------------- PNG / JPEG

    @Test
    void png8BitGray() throws Exception {
        BufferedImage src = Images.gray8(37, 23);
        BufferedImage out = decoder.decode(Images.encode(src, "png"), ImageReference.PNG);
        assertThat(out.getType()).isEqualTo(BufferedImage.TYPE_BYTE_GRAY);
        assertThat(out.getWidth()).isEqualTo(37);
        assertThat(out.getHeight()).isEqualTo(23);
        assertThat(samples(out)).containsExactly(samples(src));
    }

    @Test
    void png16BitGrayKeepsFullRange() throws Exception {
        BufferedImage src = Images.gray16(40, 30);
        BufferedImage out = decoder.decode(Images.encode(src, "png"), ImageReference.PNG);
        assertThat(out.getType()).isEqualTo(BufferedImage.TYPE_USHORT_GRAY);
        assertThat(samples(out)).containsExactly(samples(src));
        assertThat(out.getRaster().getSample(39, 29, 0)).isEqualTo(65535);
    }

    @Test
    void pngRgb() throws Exception {
        BufferedImage src = new BufferedImage(8, 8, BufferedImage.TYPE_INT_RGB);
        src.setRGB(3, 4, 0x123456);
        BufferedImage out = decoder.decode(Images.encode(src, "png"), "image/png");
        assertThat(out.getRGB(3, 4) & 0xFFFFFF).isEqualTo(0x123456);
    }

    @Test
    void jpeg() throws Exception {
        BufferedImage src = new BufferedImage(64, 48, BufferedImage.TYPE_BYTE_GRAY);
        for (int y = 0; y < 48; y++) {
            for (int x = 0; x < 64; x++) {
                src.getRaster().setSample(x, y, 0, x < 32 ? 40 : 200);
            }
        }
        BufferedImage out = decoder.decode(Images.encode(src, "jpeg"), "image/jpeg");
        assertThat(out.getWidth()).isEqualTo(64);
        assertThat(out.getHeight()).isEqualTo(48);
        assertThat(out.getType()).isEqualTo(BufferedImage.TYPE_BYTE_GRAY);
        assertThat(out.getRaster().getSample(10, 10, 0)).isBetween(35, 45);
        assertThat(out.getRaster().getSample(50, 10, 0)).isBetween(195, 205);
    }

    @Test
    void oversizePngRefusedFromItsHeader() throws Exception {
        // 60000 x 60000 8-bit would need 3.6 GB; the file is 45 bytes and has no pixel data at all
        byte[] png = Images.pngHeaderOnly(60_000, 60_000);
        assertReason(png, ImageReference.PNG, DeadLetterReason.IMAGE_TOO_LARGE, "60000x60000");
        // one side over the limit, few pixels
        assertReason(Images.pngHeaderOnly(9000, 10), ImageReference.PNG, DeadLetterReason.IMAGE_TOO_LARGE, "9000");
        // within limits the same header-only file is simply corrupt
        assertReason(Images.pngHeaderOnly(100, 100), ImageReference.PNG, DeadLetterReason.UNDECODABLE_IMAGE, "PNG");
    }

    @Test
    void oversizeJpegRefusedFromItsHeader() throws Exception {
        byte[] jpeg = Images.patchJpegSize(Images.encode(Images.gray8(16, 16), "jpeg"), 60_000, 60_000);
        assertReason(jpeg, ImageReference.JPEG, DeadLetterReason.IMAGE_TOO_LARGE, "60000x60000");
    }

    @Test
    void limitsAreConfigurable() throws Exception {
        ImageDecoder small = new ImageDecoder(new ImageLimits(1 << 20, 100, 10));
        byte[] png = Images.encode(Images.gray8(11, 5), "png");
        InvalidEventException e = catchThrowableOfType(InvalidEventException.class,
                () -> small.decode(png, ImageReference.PNG));
        assertThat(e.reason()).isEqualTo(DeadLetterReason.IMAGE_TOO_LARGE);
        ImageDecoder tiny = new ImageDecoder(new ImageLimits(10, 100, 100));
        e = catchThrowableOfType(InvalidEventException.class, () -> tiny.decode(png, ImageReference.PNG));
        assertThat(e.reason()).isEqualTo(DeadLetterReason.IMAGE_TOO_LARGE);
        assertThat(e.detail()).contains("bytes");
    }

    @Test
    void corruptBytesAreUndecodable() throws Exception {
        byte[] random = new byte[5000];
        new Random(7).nextBytes(random);
        assertReason(random, ImageReference.PNG, DeadLetterReason.UNDECODABLE_IMAGE, "PNG");
        assertReason(random, ImageReference.JPEG, DeadLetterReason.UNDECODABLE_IMAGE, "JPEG");
        assertReason(random, ImageReference.DICOM, DeadLetterReason.UNDECODABLE_IMAGE, "DICM");
        assertReason(new byte[0], ImageReference.PNG, DeadLetterReason.UNDECODABLE_IMAGE, "empty");

        byte[] png = Images.encode(Images.gray8(64, 64), "png");
        for (int i = 60; i < png.length - 20; i++) {
            png[i] ^= (byte) 0x5A; // scramble the compressed pixel data
        }
        assertReason(png, ImageReference.PNG, DeadLetterReason.UNDECODABLE_IMAGE, "PNG");

        byte[] jpeg = Images.encode(Images.gray8(64, 64), "jpeg");
        assertReason(Arrays.copyOf(jpeg, jpeg.length / 2), ImageReference.JPEG, DeadLetterReason.UNDECODABLE_IMAGE,
                "JPEG");
        byte[] pngTruncated = Images.encode(Images.gray8(64, 64), "png");
        assertReason(Arrays.copyOf(pngTruncated, pngTruncated.length / 2), ImageReference.PNG,
                DeadLetterReason.UNDECODABLE_IMAGE, "PNG");
    }

    @Test
    void contentTypeMustMatchTheBytes() throws Exception {
        byte[] png = Images.encode(Images.gray8(8, 8), "png");
        assertReason(png, ImageReference.JPEG, DeadLetterReason.UNDECODABLE_IMAGE, "look like PNG");
        assertReason(png, ImageReference.DICOM, DeadLetterReason.UNDECODABLE_IMAGE, "DICM");
        assertReason(png, "image/gif", DeadLetterReason.UNKNOWN_CONTENT_TYPE, "image/png");
    }

    // ------------------------------------------------------------------------------------------ DICOM

    @Test
    void dicom8Bit() throws Exception {
        BufferedImage src = Images.gray8(31, 17);
        BufferedImage out = decoder.decode(DicomWriter.of(src).toBytes(), ImageReference.DICOM);
        assertThat(out.getType()).isEqualTo(BufferedImage.TYPE_BYTE_GRAY);
        assertThat(out.getWidth()).isEqualTo(31);
        assertThat(out.getHeight()).isEqualTo(17);
        assertThat(samples(out)).containsExactly(samples(src));
    }

    @Test
    void dicom16BitWithoutWindowGetsAPercentileWindow() throws Exception {
        BufferedImage src = Images.gray16(50, 20); // a ramp over 0..65535
        BufferedImage out = decoder.decode(DicomWriter.of(src).toBytes(), ImageReference.DICOM);
        assertThat(out.getType()).isEqualTo(BufferedImage.TYPE_BYTE_GRAY);
        int[] s = samples(out);
        // the lowest and highest 0.5 % are clipped to black and white, the rest spread over 0..255
        assertThat(s[0]).isZero();
        assertThat(s[s.length - 1]).isEqualTo(255);
        assertThat(s[s.length / 2]).isBetween(126, 129);
        for (int i = 1; i < s.length; i++) {
            assertThat(s[i]).isGreaterThanOrEqualTo(s[i - 1]);
        }
    }

    @Test
    void dicom12BitUsesTheHeaderWindowInModalityUnits() throws Exception {
        short[] px = {0, 1, 2047, 4095, 100, (short) 0xF000 | 5};
        // modality value = stored - 1024; the window 1024 +- 2048 covers stored 0..4095
        byte[] dcm = DicomWriter.gray16(3, 2, px).bitsStored(12).window(1024, 4096).rescale(-1024, 1).toBytes();
        BufferedImage out = decoder.decode(dcm, ImageReference.DICOM);
        assertThat(out.getType()).isEqualTo(BufferedImage.TYPE_BYTE_GRAY);
        // round(stored * 255 / 4095); bits above Bits Stored cleared (0xF005 is 5)
        assertThat(samples(out)).containsExactly(0, 0, 127, 255, 6, 0);
        // a narrower window clips: 1000..1100 stored -> 0..255
        byte[] narrow = DicomWriter.gray16(3, 1, new short[] {900, 1050, 1200}).bitsStored(12).window(1050, 100)
                .toBytes();
        assertThat(samples(decoder.decode(narrow, ImageReference.DICOM))).containsExactly(0, 129, 255);
        // 8-bit data without a window are display values already, whatever the range they use
        byte[] plain8 = DicomWriter.gray8(2, 1, new byte[] {3, 4}).toBytes();
        assertThat(samples(decoder.decode(plain8, ImageReference.DICOM))).containsExactly(3, 4);
    }

    @Test
    void dicomMonochrome1IsInverted() throws Exception {
        byte[] m8 = DicomWriter.gray8(3, 1, new byte[] {0, 100, (byte) 255}).monochrome1(true).toBytes();
        BufferedImage out8 = decoder.decode(m8, ImageReference.DICOM);
        assertThat(out8.getType()).isEqualTo(BufferedImage.TYPE_BYTE_GRAY);
        assertThat(samples(out8)).containsExactly(255, 155, 0);

        byte[] m16 = DicomWriter.gray16(3, 1, new short[] {0, 1000, (short) 65535}).monochrome1(true).toBytes();
        assertThat(samples(decoder.decode(m16, ImageReference.DICOM))).containsExactly(255, 251, 0);

        byte[] m12 = DicomWriter.gray16(3, 1, new short[] {0, 1000, 4095}).bitsStored(12).monochrome1(true)
                .window(2048, 4096).toBytes();
        assertThat(samples(decoder.decode(m12, ImageReference.DICOM))).containsExactly(255, 193, 0);
    }

    @Test
    void dicomSigned16BitKeepsOrder() throws Exception {
        byte[] dcm = DicomWriter.gray16(4, 1, new short[] {-32768, -1, 0, 32767}).signed(true).toBytes();
        BufferedImage out = decoder.decode(dcm, ImageReference.DICOM);
        assertThat(out.getType()).isEqualTo(BufferedImage.TYPE_BYTE_GRAY);
        assertThat(samples(out)).containsExactly(0, 127, 128, 255);
    }

    @Test
    void dicomImplicitVrWithSequencesBeforePixels() throws Exception {
        for (String ts : new String[] {DicomHeader.IMPLICIT_VR_LE, DicomHeader.EXPLICIT_VR_LE}) {
            byte[] px = new byte[2 * 3 * 2];
            for (int i = 0; i < 6; i++) {
                px[2 * i] = (byte) (i * 10);
                px[2 * i + 1] = 1; // + 256
            }
            byte[] dcm = new TestDicom(ts)
                    .str(0x0008, 0x0060, "CS", "DX")
                    .undefinedLengthSequence(0x0008, 0x1140)
                    .image(2, 3, 16, "MONOCHROME2")
                    .undefinedLengthSequence(0x0040, 0x0275)
                    .pixels(px).toBytes();
            BufferedImage out = decoder.decode(dcm, ImageReference.DICOM);
            assertThat(out.getWidth()).as(ts).isEqualTo(3);
            assertThat(out.getHeight()).isEqualTo(2);
            // stored 256..306, no window: the percentile window spreads them over 0..255
            assertThat(samples(out)).containsExactly(0, 51, 102, 153, 204, 255);
        }
    }

    @Test
    void jpegCompressedDicomDecodesAndMismatchedEncodingsAreRefused() throws Exception {
        BufferedImage src = Images.gray8(16, 16);
        byte[] jpeg = Images.encode(src, "jpeg");
        byte[] dcm = new TestDicom("1.2.840.10008.1.2.4.50").image(16, 16, 8, "MONOCHROME2")
                .encapsulated(jpeg).toBytes();
        assertThat(samples(decoder.decode(dcm, ImageReference.DICOM)))
                .containsExactly(samples(decoder.decode(jpeg, ImageReference.JPEG)));
        assertReason(new TestDicom("1.2.840.10008.1.2.5").image(2, 2, 8, "MONOCHROME2").pixels(new byte[4])
                .toBytes(), ImageReference.DICOM, DeadLetterReason.UNDECODABLE_IMAGE, "not encapsulated");
        assertReason(new TestDicom(DicomHeader.EXPLICIT_VR_LE).image(16, 16, 8, "MONOCHROME2").encapsulated(jpeg)
                .toBytes(), ImageReference.DICOM, DeadLetterReason.UNDECODABLE_IMAGE, "encapsulated");
        // a JPEG of another size than the header says
        assertReason(new TestDicom("1.2.840.10008.1.2.4.50").image(8, 16, 8, "MONOCHROME2").encapsulated(jpeg)
                .toBytes(), ImageReference.DICOM, DeadLetterReason.UNDECODABLE_IMAGE, "16x16");
    }

    @Test
    void oversizeDicomRefusedFromItsHeader() throws Exception {
        // the header claims 60000 x 60000; only a few pixel bytes follow
        byte[] dcm = new TestDicom(DicomHeader.EXPLICIT_VR_LE).image(60_000, 60_000, 16, "MONOCHROME2")
                .pixels(new byte[16]).toBytes();
        assertReason(dcm, ImageReference.DICOM, DeadLetterReason.IMAGE_TOO_LARGE, "60000x60000");
        ImageDecoder small = new ImageDecoder(new ImageLimits(1 << 20, 1000, 1000));
        InvalidEventException e = catchThrowableOfType(InvalidEventException.class,
                () -> small.decode(DicomWriter.of(Images.gray8(40, 30)).toBytes(), ImageReference.DICOM));
        assertThat(e.reason()).isEqualTo(DeadLetterReason.IMAGE_TOO_LARGE);
    }

    @Test
    void corruptDicomIsUndecodable() throws Exception {
        byte[] dcm = DicomWriter.of(Images.gray16(30, 30)).toBytes();
        assertReason(Arrays.copyOf(dcm, dcm.length - 10), ImageReference.DICOM, DeadLetterReason.UNDECODABLE_IMAGE,
                "truncated");
        assertReason(Arrays.copyOf(dcm, 200), ImageReference.DICOM, DeadLetterReason.UNDECODABLE_IMAGE, "DICOM");
        assertReason(new TestDicom(DicomHeader.EXPLICIT_VR_LE).image(4, 4, 8, "PALETTE COLOR").pixels(new byte[16])
                .toBytes(), ImageReference.DICOM, DeadLetterReason.UNDECODABLE_IMAGE, "PALETTE COLOR");
        assertReason(new TestDicom(DicomHeader.EXPLICIT_VR_LE).image(4, 4, 32, "MONOCHROME2").pixels(new byte[64])
                .toBytes(), ImageReference.DICOM, DeadLetterReason.UNDECODABLE_IMAGE, "32 bits");
        // a frame count that would overflow frames x frame size
        assertReason(new TestDicom(DicomHeader.EXPLICIT_VR_LE).image(6000, 1000, 16, "MONOCHROME2")
                .str(0x0028, 0x0008, "IS", "2000000000").pixels(new byte[64]).toBytes(), ImageReference.DICOM,
                DeadLetterReason.UNDECODABLE_IMAGE, "truncated");
        assertReason(new TestDicom(DicomHeader.EXPLICIT_VR_LE).image(4, 4, 8, "MONOCHROME2").toBytes(),
                ImageReference.DICOM, DeadLetterReason.UNDECODABLE_IMAGE, "no pixel data");
        // random bytes after a valid preamble and meta group
        byte[] junk = new TestDicom(DicomHeader.EXPLICIT_VR_LE).toBytes();
        byte[] withJunk = Arrays.copyOf(junk, junk.length + 3000);
        new Random(3).nextBytes(Arrays.copyOfRange(withJunk, junk.length, withJunk.length));
        Random r = new Random(5);
        for (int i = junk.length; i < withJunk.length; i++) {
            withJunk[i] = (byte) r.nextInt();
        }
        assertReason(withJunk, ImageReference.DICOM, DeadLetterReason.UNDECODABLE_IMAGE, "");
    }

    @Test
    void fuzzedDicomNeverEscapesAsAnotherException() throws Exception {
        byte[] good = DicomWriter.of(Images.gray16(16, 16)).window(100, 200).toBytes();
        Random r = new Random(11);
        for (int round = 0; round < 300; round++) {
            byte[] b = good.clone();
            for (int k = 0; k < 4; k++) {
                b[132 + r.nextInt(400)] = (byte) r.nextInt();
            }
            try {
                decoder.decode(b, ImageReference.DICOM);
            } catch (InvalidEventException e) {
                assertThat(e.reason()).isIn(DeadLetterReason.UNDECODABLE_IMAGE, DeadLetterReason.IMAGE_TOO_LARGE);
            }
        }
    }

    @Test
    void dicomDecodesConcurrently() throws Exception {
        byte[] a = DicomWriter.of(Images.gray16(64, 64)).toBytes();
        byte[] b = DicomWriter.of(Images.gray8(48, 32)).monochrome1(true).toBytes();
        int[] expectA = samples(decoder.decode(a, ImageReference.DICOM));
        int[] expectB = samples(decoder.decode(b, ImageReference.DICOM));
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<Boolean>> results = new ArrayList<>();
            for (int i = 0; i < 40; i++) {
                boolean even = i % 2 == 0;
                results.add(pool.submit(() -> Arrays.equals(
                        samples(decoder.decode(even ? a : b, ImageReference.DICOM)), even ? expectA : expectB)));
            }
            for (Future<Boolean> f : results) {
                assertThat(f.get()).isTrue();
            }
        } finally {
            pool.shutdownNow();
        }
    }

    // ---------------------------------------------------------------------------------------- helpers

    static int[] samples(BufferedImage img) {
        return img.getRaster().getSamples(0, 0, img.getWidth(), img.getHeight(), 0, (int[]) null);
    }

    InvalidEventException assertReason(byte[] bytes, String contentType, DeadLetterReason reason, String detailPart) {
        InvalidEventException e = catchThrowableOfType(InvalidEventException.class,
                () -> decoder.decode(bytes, contentType));
        assertThat(e).as("expected " + reason).isNotNull();
        assertThat(e.reason()).as(e.detail()).isEqualTo(reason);
        assertThat(e.detail()).contains(detailPart);
        return e;
    }
}
