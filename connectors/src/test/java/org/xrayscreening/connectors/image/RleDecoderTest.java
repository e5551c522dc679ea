package org.xrayscreening.connectors.image;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.util.Arrays;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.xrayscreening.connectors.event.DeadLetterReason;
import org.xrayscreening.connectors.event.InvalidEventException;

class RleDecoderTest {

    @Test
    void packBitsLiteralReplicateAndNoOp() throws Exception {
        // literal 3 bytes, no-op, replicate 0x7F four times, literal 1 byte
        byte[] in = {2, 10, 20, 30, -128, -3, 0x7F, 0, 99};
        byte[] out = new byte[8];
        RleDecoder.unpackBits(in, 0, in.length, out);
        assertThat(out).containsExactly(10, 20, 30, 0x7F, 0x7F, 0x7F, 0x7F, 99);
    }

    @Test
    void packBitsIgnoresPaddingAfterAFullPlaneAndRefusesShortSegments() throws Exception {
        byte[] out = new byte[2];
        RleDecoder.unpackBits(new byte[] {1, 5, 6, 0}, 0, 4, out);
        assertThat(out).containsExactly(5, 6);
        for (byte[] bad : new byte[][] {{1, 5}, {-5}, {0, 1}}) {
            InvalidEventException e = catchThrowableOfType(InvalidEventException.class,
                    () -> RleDecoder.unpackBits(bad, 0, bad.length, new byte[4]));
            assertThat(e.reason()).as(Arrays.toString(bad)).isEqualTo(DeadLetterReason.UNDECODABLE_IMAGE);
        }
    }

    @Test
    void roundTripsRandomAndRunHeavy8And16BitAndRgb() throws Exception {
        Random random = new Random(42);
        for (int trial = 0; trial < 50; trial++) {
            int rows = 1 + random.nextInt(40);
            int cols = 1 + random.nextInt(40);
            int samples = trial % 3 == 0 ? 3 : 1;
            int bytes = samples == 3 ? 1 : 1 + random.nextInt(2);
            int n = rows * cols;
            int[] planes = new int[n * samples];
            int max = bytes == 1 ? 255 : 65535;
            for (int i = 0; i < planes.length; i++) {
                // half the trials have long runs, the rest noise
                planes[i] = trial % 2 == 0 ? random.nextInt(max + 1) : (i / 37) * 997 % (max + 1);
            }
            byte[] frame = RleEncoder.encode(planes, n, samples, bytes);
            assertThat(RleDecoder.decode(frame, rows, cols, samples, bytes)).as("trial " + trial)
                    .containsExactly(planes);
        }
    }

    @Test
    void corruptFramesAreRefused() throws Exception {
        int[] planes = new int[64];
        Arrays.fill(planes, 1234);
        byte[] good = RleEncoder.encode(planes, 64, 1, 2);
        byte[] wrongCount = good.clone();
        wrongCount[0] = 3;
        byte[] offsetOutside = good.clone();
        offsetOutside[8] = (byte) 0xFF;
        offsetOutside[9] = (byte) 0xFF;
        for (byte[] bad : new byte[][] {new byte[10], wrongCount, offsetOutside, Arrays.copyOf(good, good.length - 3)}) {
            InvalidEventException e = catchThrowableOfType(InvalidEventException.class,
                    () -> RleDecoder.decode(bad, 8, 8, 1, 2));
            assertThat(e).isNotNull();
            assertThat(e.detail()).contains("RLE");
        }
    }

    @Test
    void agreesWithDcmtksEncoder() throws Exception {
        Dcmtk.assumeAvailable();
        int w = 37;
        int h = 23;
        short[] px = new short[w * h];
        for (int i = 0; i < px.length; i++) {
            px[i] = (short) ((i % w < 10 ? 500 : i * 7) & 0xFFF);
        }
        byte[] rle = Dcmtk.convert(DicomWriter.gray16(w, h, px).bitsStored(12).toBytes(), "dcmcrle");
        DicomHeader header = DicomHeader.parse(rle);
        assertThat(header.codec).isEqualTo(DicomHeader.Codec.RLE);
        int[] decoded = RleDecoder.decode(DicomPixels.firstFrame(rle, header), h, w, 1, 2);
        for (int i = 0; i < px.length; i++) {
            assertThat(decoded[i]).isEqualTo(px[i] & 0xFFFF);
        }
    }
}
