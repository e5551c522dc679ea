package org.xrayscreening.connectors.image;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;

import ij.plugin.DICOM;
import ij.process.ImageProcessor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The writer's files must decode through ImageJ's own reader, not only through ours. */
class DicomWriterTest {

    @Test
    void sixteenBitFileDecodesThroughImageJ(@TempDir Path dir) throws Exception {
        short[] px = new short[6 * 4];
        for (int i = 0; i < px.length; i++) {
            px[i] = (short) (i * 2800);
        }
        Path file = DicomWriter.gray16(6, 4, px).write(dir.resolve("x.dcm"));
        DICOM dicom = new DICOM();
        dicom.open(file.toString());
        assertThat(dicom.getWidth()).isEqualTo(6);
        assertThat(dicom.getHeight()).isEqualTo(4);
        assertThat(dicom.getBitDepth()).isEqualTo(16);
        ImageProcessor ip = dicom.getProcessor();
        for (int i = 0; i < px.length; i++) {
            assertThat(ip.get(i)).isEqualTo(px[i] & 0xFFFF);
        }
        String info = (String) dicom.getProperty("Info");
        assertThat(info).contains("MONOCHROME2").contains("DX").contains(DicomWriter.DX_FOR_PRESENTATION);
    }

    @Test
    void eightBitFileDecodesThroughImageJ() {
        byte[] px = {0, 10, 20, (byte) 130, (byte) 250, (byte) 255};
        DICOM dicom = new DICOM(new ByteArrayInputStream(DicomWriter.gray8(2, 3, px).monochrome1(true).toBytes()));
        dicom.run("x.dcm");
        assertThat(dicom.getWidth()).isEqualTo(2);
        assertThat(dicom.getHeight()).isEqualTo(3);
        assertThat(dicom.getBitDepth()).isEqualTo(8);
        assertThat(dicom.getProcessor().isInvertedLut()).as("ImageJ shows MONOCHROME1 inverted").isTrue();
        for (int i = 0; i < px.length; i++) {
            assertThat(dicom.getProcessor().get(i)).isEqualTo(px[i] & 0xFF);
        }
    }

    @Test
    void uidsAreValid() {
        String uid = DicomWriter.uuidUid(UUID.randomUUID());
        assertThat(uid).matches("2\\.25\\.[1-9][0-9]*").hasSizeLessThanOrEqualTo(64);
        assertThat(DicomWriter.uuidUid(new UUID(-1, -1))).isEqualTo("2.25." + "340282366920938463463374607431768211455");
    }

    @Test
    void oddLengthsArePaddedAndElementsEven() {
        byte[] b = DicomWriter.gray8(3, 1, new byte[] {1, 2, 3}).sopInstanceUid("1.2.3").toBytes();
        assertThat(b.length % 2).isZero();
        assertThat(new String(b, 128, 4, java.nio.charset.StandardCharsets.US_ASCII)).isEqualTo("DICM");
    }

    @Test
    void rejectsBadInput() {
        assertThatThrownBy(() -> DicomWriter.gray8(2, 2, new byte[3])).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> DicomWriter.gray16(2, 2, new short[4]).bitsStored(17))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> DicomWriter.of(new java.awt.image.BufferedImage(2, 2,
                java.awt.image.BufferedImage.TYPE_INT_RGB))).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void writesToFile(@TempDir Path dir) throws Exception {
        Path p = DicomWriter.of(Images.gray8(5, 5)).write(dir.resolve("a.dcm"));
        assertThat(Files.size(p)).isGreaterThan(25 + 132);
    }
}
