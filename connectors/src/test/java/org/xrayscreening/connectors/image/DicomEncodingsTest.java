package org.xrayscreening.connectors.image;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.awt.image.BufferedImage;
import java.util.List;
import java.util.LinkedHashMap;
import java.util.Map;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.xrayscreening.connectors.event.DeadLetterReason;
import org.xrayscreening.connectors.event.ImageReference;
import org.xrayscreening.connectors.event.InvalidEventException;

/**
 * One 8-bit image encoded as DICOM in every supported way decodes to that same 8-bit image: exactly for
 * lossless encodings, closely for lossy ones.
 */
class DicomEncodingsTest {

    private static final ImageDecoder DECODER = new ImageDecoder();
    private static BufferedImage source;

    @BeforeAll
    static void image() {
        // smooth, like a radiograph (lossy codecs are then close), spanning the whole 8-bit range
        int w = 96;
        int h = 80;
        source = new BufferedImage(w, h, BufferedImage.TYPE_BYTE_GRAY);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                double v = 0.5 + 0.5 * Math.sin(x / 9.0) * Math.cos(y / 13.0);
                source.getRaster().setSample(x, y, 0, (int) Math.round(255 * v));
            }
        }
    }

    private static int[] decoded(byte[] dcm) throws InvalidEventException {
        BufferedImage out = DECODER.decode(dcm, ImageReference.DICOM);
        assertThat(out.getType()).isEqualTo(BufferedImage.TYPE_BYTE_GRAY);
        assertThat(out.getWidth()).isEqualTo(source.getWidth());
        assertThat(out.getHeight()).isEqualTo(source.getHeight());
        return out.getRaster().getSamples(0, 0, out.getWidth(), out.getHeight(), 0, (int[]) null);
    }

    private static int[] expected() {
        return source.getRaster().getSamples(0, 0, source.getWidth(), source.getHeight(), 0, (int[]) null);
    }

    @Test
    void everyPixelModuleVariantDecodesToTheSameImage() throws Exception {
        for (Map.Entry<String, byte[]> e : DicomEncodings.bases(source).entrySet()) {
            assertThat(decoded(e.getValue())).as(e.getKey()).containsExactly(expected());
        }
    }

    @Test
    void uncompressedTransferSyntaxesFromDcmtk() throws Exception {
        Dcmtk.assumeAvailable();
        for (Map.Entry<String, byte[]> e : DicomEncodings.bases(source).entrySet()) {
            byte[] implicit = Dcmtk.convert(e.getValue(), "dcmconv", "+ti");
            byte[] bigEndian = Dcmtk.convert(e.getValue(), "dcmconv", "+tb");
            assertThat(DicomHeader.parse(implicit).transferSyntaxUid).isEqualTo(DicomHeader.IMPLICIT_VR_LE);
            assertThat(DicomHeader.parse(bigEndian).transferSyntaxUid).isEqualTo(DicomHeader.EXPLICIT_VR_BE);
            assertThat(decoded(implicit)).as(e.getKey() + " implicit VR LE").containsExactly(expected());
            assertThat(decoded(bigEndian)).as(e.getKey() + " explicit VR BE").containsExactly(expected());
        }
    }

    @Test
    void losslessCompressionFromDcmtkIsExact() throws Exception {
        Dcmtk.assumeAvailable();
        Map<String, String[]> syntaxes = new LinkedHashMap<>();
        syntaxes.put(DicomHeader.JPEG_LOSSLESS, new String[] {"dcmcjpeg", "+el"});
        syntaxes.put(DicomHeader.JPEG_LOSSLESS_SV1, new String[] {"dcmcjpeg", "+e1"});
        syntaxes.put(DicomHeader.RLE_LOSSLESS, new String[] {"dcmcrle"});
        for (Map.Entry<String, byte[]> e : DicomEncodings.bases(source).entrySet()) {
            for (Map.Entry<String, String[]> ts : syntaxes.entrySet()) {
                String[] cmd = ts.getValue();
                byte[] dcm = Dcmtk.convert(e.getValue(), cmd[0], java.util.Arrays.copyOfRange(cmd, 1, cmd.length));
                assertThat(DicomHeader.parse(dcm).transferSyntaxUid).isEqualTo(ts.getKey());
                assertThat(decoded(dcm)).as(e.getKey() + " " + ts.getKey()).containsExactly(expected());
            }
        }
    }

    @Test
    void multiFragmentJpegLosslessWithAndWithoutOffsetTable() throws Exception {
        Dcmtk.assumeAvailable();
        byte[] base = DicomEncodings.bases(source).get("12-bit MONOCHROME1");
        for (String table : new String[] {"+ot", "-ot"}) {
            byte[] dcm = Dcmtk.convert(base, "dcmcjpeg", "+e1", "+fs", "1", table);
            assertThat(DicomPixels.firstFrame(dcm, DicomHeader.parse(dcm)).length).isGreaterThan(1024);
            assertThat(decoded(dcm)).as(table).containsExactly(expected());
        }
    }

    @Test
    void lossy8BitJpegFromDcmtkIsClose() throws Exception {
        Dcmtk.assumeAvailable();
        for (String base : new String[] {"8-bit MONOCHROME2", "8-bit MONOCHROME1"}) {
            for (String[] opt : new String[][] {{"+eb"}, {"+ee"}}) {
                byte[] dcm = Dcmtk.convert(DicomEncodings.bases(source).get(base), "dcmcjpeg", opt);
                assertClose(decoded(dcm), base + " " + opt[0], 24);
            }
        }
    }

    @Test
    void twelveBitLossyJpegDecodesAsDcmtkDoes() throws Exception {
        Dcmtk.assumeAvailable();
        // the shared source, and an odd size whose last row and column of 8x8 blocks are partly outside the image
        BufferedImage odd = new BufferedImage(101, 75, BufferedImage.TYPE_BYTE_GRAY);
        for (int y = 0; y < odd.getHeight(); y++) {
            for (int x = 0; x < odd.getWidth(); x++) {
                odd.getRaster().setSample(x, y, 0, (int) Math.round(255 * (0.5 + 0.5 * Math.sin(x / 7.0 + y / 11.0))));
            }
        }
        for (BufferedImage image : List.of(source, odd)) {
            for (String base : List.of("12-bit MONOCHROME2", "12-bit MONOCHROME1")) {
                byte[] dcm = Dcmtk.convert(DicomEncodings.bases(image).get(base), "dcmcjpeg", "+ee");
                assertThat(DicomHeader.parse(dcm).transferSyntaxUid).isEqualTo(DicomHeader.JPEG_EXTENDED);
                // dcmtk's own 12-bit decoder (libijg12), written out uncompressed: the reference
                byte[] reference = Dcmtk.convert(dcm, "dcmdjpeg");
                assertThat(DicomHeader.parse(reference).transferSyntaxUid).isNotEqualTo(DicomHeader.JPEG_EXTENDED);
                int[] ours = DECODER.decode(dcm, ImageReference.DICOM).getRaster().getSamples(0, 0,
                        image.getWidth(), image.getHeight(), 0, (int[]) null);
                int[] theirs = DECODER.decode(reference, ImageReference.DICOM).getRaster().getSamples(0, 0,
                        image.getWidth(), image.getHeight(), 0, (int[]) null);
                int[] original = DECODER.decode(DicomEncodings.bases(image).get(base), ImageReference.DICOM)
                        .getRaster().getSamples(0, 0, image.getWidth(), image.getHeight(), 0, (int[]) null);
                int maxVsDcmtk = 0;
                double meanVsOriginal = 0;
                for (int i = 0; i < ours.length; i++) {
                    maxVsDcmtk = Math.max(maxVsDcmtk, Math.abs(ours[i] - theirs[i]));
                    meanVsOriginal += Math.abs(ours[i] - original[i]) / (double) ours.length;
                }
                // libijg12 uses an integer IDCT, this decoder a floating-point one: they may round apart by one
                // 12-bit step, which is at most one 8-bit display level
                assertThat(maxVsDcmtk).as("%dx%d %s vs dcmdjpeg", image.getWidth(), image.getHeight(), base)
                        .isLessThanOrEqualTo(1);
                assertThat(meanVsOriginal).as("lossy, but close to the uncompressed image").isLessThan(1.0);
            }
        }
    }

    @Test
    void truncatedTwelveBitLossyJpegIsADeadLetterNotACrash() throws Exception {
        Dcmtk.assumeAvailable();
        byte[] dcm = Dcmtk.convert(DicomEncodings.bases(source).get("12-bit MONOCHROME2"), "dcmcjpeg", "+ee");
        byte[] jpeg = DicomPixels.firstFrame(dcm, DicomHeader.parse(dcm));
        for (int cut : new int[] {3, 20, jpeg.length / 3}) {
            InvalidEventException e = catchThrowableOfType(InvalidEventException.class,
                    () -> TwelveBitJpeg.decode(java.util.Arrays.copyOf(jpeg, cut), source.getWidth(), source.getHeight()));
            if (e != null) { // a cut inside the entropy-coded data may still decode (to zeros): never a crash
                assertThat(e.reason()).isEqualTo(DeadLetterReason.UNDECODABLE_IMAGE);
            }
        }
        // random corruption (fixed seed): a dead letter or an image, never another exception, never a hang
        java.util.Random random = new java.util.Random(13);
        for (int i = 0; i < 500; i++) {
            byte[] bad = jpeg.clone();
            for (int f = 0; f < 1 + random.nextInt(8); f++) {
                bad[2 + random.nextInt(bad.length - 2)] = (byte) random.nextInt(256);
            }
            try {
                int[] samples = TwelveBitJpeg.decode(bad, source.getWidth(), source.getHeight());
                assertThat(samples).hasSize(source.getWidth() * source.getHeight());
            } catch (InvalidEventException e) {
                assertThat(e.reason()).isEqualTo(DeadLetterReason.UNDECODABLE_IMAGE);
            }
        }
        InvalidEventException wrongSize = catchThrowableOfType(InvalidEventException.class,
                () -> TwelveBitJpeg.decode(jpeg, source.getWidth() + 1, source.getHeight()));
        assertThat(wrongSize.detail()).contains("but the header says");
    }

    @Test
    void jpeg2000LosslessAndLossy() throws Exception {
        BufferedImage twelve = DicomEncodings.twelveBit(source);
        byte[] j2kLossless12 = DicomEncodings.jpeg2000(twelve, true);
        short[] unused = new short[source.getWidth() * source.getHeight()];
        byte[] dcm = DicomWriter.gray16(source.getWidth(), source.getHeight(), unused).bitsStored(12)
                .window(2048, 4096).encapsulated(DicomHeader.JPEG_2000_LOSSLESS, j2kLossless12, 1000).toBytes();
        assertThat(decoded(dcm)).as("12-bit JPEG 2000 lossless, fragments").containsExactly(expected());

        byte[] dcm8 = DicomWriter.gray8(source.getWidth(), source.getHeight(), new byte[unused.length])
                .encapsulated(DicomHeader.JPEG_2000_LOSSLESS, DicomEncodings.jpeg2000(source, true), 0).toBytes();
        assertThat(decoded(dcm8)).as("8-bit JPEG 2000 lossless").containsExactly(expected());

        byte[] lossy = DicomWriter.gray16(source.getWidth(), source.getHeight(), unused).bitsStored(12)
                .window(2048, 4096).encapsulated(DicomHeader.JPEG_2000, DicomEncodings.jpeg2000(twelve, false), 0)
                .toBytes();
        assertClose(decoded(lossy), "12-bit JPEG 2000 lossy", 48);
    }

    @Test
    void rleFromTheTestEncoderWithoutDcmtk() throws Exception {
        BufferedImage twelve = DicomEncodings.twelveBit(source);
        int n = source.getWidth() * source.getHeight();
        int[] stored = twelve.getRaster().getSamples(0, 0, source.getWidth(), source.getHeight(), 0, (int[]) null);
        byte[] frame = RleEncoder.encode(stored, n, 1, 2);
        byte[] dcm = DicomWriter.gray16(source.getWidth(), source.getHeight(), new short[n]).bitsStored(12)
                .window(2048, 4096).encapsulated(DicomHeader.RLE_LOSSLESS, frame, 500).toBytes();
        assertThat(decoded(dcm)).containsExactly(expected());
    }

    @Test
    void unsupportedTransferSyntaxesAreRefusedByName() throws Exception {
        byte[] any = DicomEncodings.jpeg2000(source, true);
        for (String[] ts : new String[][] {{"1.2.840.10008.1.2.4.80", "JPEG-LS Lossless"},
                {"1.2.840.10008.1.2.4.81", "JPEG-LS Near-Lossless"},
                {"1.2.840.10008.1.2.1.99", "Deflated"}, {"1.2.840.10008.1.2.4.201", "High-Throughput"},
                {"1.2.3.4", "unknown"}}) {
            byte[] dcm = DicomWriter.gray8(2, 2, new byte[4]).encapsulated(ts[0], any, 0).toBytes();
            InvalidEventException e = catchThrowableOfType(InvalidEventException.class,
                    () -> DECODER.decode(dcm, ImageReference.DICOM));
            assertThat(e.reason()).isEqualTo(DeadLetterReason.UNDECODABLE_IMAGE);
            assertThat(e.detail()).contains(ts[0]).contains(ts[1]).contains("not supported");
        }
    }

    @Test
    void fuzzedCompressedDicomNeverEscapesAsAnotherException() throws Exception {
        BufferedImage twelve = DicomEncodings.twelveBit(source);
        int n = source.getWidth() * source.getHeight();
        int[] stored = twelve.getRaster().getSamples(0, 0, source.getWidth(), source.getHeight(), 0, (int[]) null);
        java.util.List<byte[]> goods = new java.util.ArrayList<>();
        goods.add(DicomWriter.gray16(source.getWidth(), source.getHeight(), new short[n]).bitsStored(12)
                .encapsulated(DicomHeader.RLE_LOSSLESS, RleEncoder.encode(stored, n, 1, 2), 700).toBytes());
        goods.add(DicomWriter.gray16(source.getWidth(), source.getHeight(), new short[n]).bitsStored(12)
                .encapsulated(DicomHeader.JPEG_2000_LOSSLESS, DicomEncodings.jpeg2000(twelve, true), 700).toBytes());
        if (Dcmtk.available()) {
            goods.add(Dcmtk.convert(DicomEncodings.bases(source).get("12-bit MONOCHROME1"), "dcmcjpeg", "+e1"));
            goods.add(Dcmtk.convert(DicomEncodings.bases(source).get("8-bit MONOCHROME2"), "dcmcjpeg", "+eb"));
        }
        java.util.Random r = new java.util.Random(13);
        for (byte[] good : goods) {
            for (int round = 0; round < 150; round++) {
                byte[] b = good.clone();
                for (int k = 0; k < 1 + r.nextInt(6); k++) {
                    b[132 + r.nextInt(b.length - 132)] = (byte) r.nextInt();
                }
                if (round % 10 == 0) {
                    b = java.util.Arrays.copyOf(b, 132 + r.nextInt(b.length - 132));
                }
                try {
                    DECODER.decode(b, ImageReference.DICOM);
                } catch (InvalidEventException e) {
                    assertThat(e.reason()).isIn(DeadLetterReason.UNDECODABLE_IMAGE, DeadLetterReason.IMAGE_TOO_LARGE);
                }
            }
        }
    }

    /** Lossy: mean absolute difference under 2 gray levels, none over {@code maxDiff}. */
    private static void assertClose(int[] actual, String what, int maxDiff) {
        int[] exp = expected();
        double sum = 0;
        int max = 0;
        for (int i = 0; i < exp.length; i++) {
            int d = Math.abs(actual[i] - exp[i]);
            sum += d;
            max = Math.max(max, d);
        }
        assertThat(sum / exp.length).as(what + " mean abs diff").isLessThan(2.0);
        assertThat(max).as(what + " max abs diff").isLessThanOrEqualTo(maxDiff);
    }
}
