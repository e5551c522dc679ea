package org.xrayscreening.connectors.image;

import static org.xrayscreening.connectors.event.DeadLetterReason.UNDECODABLE_IMAGE;

import org.xrayscreening.connectors.event.InvalidEventException;

/**
 * Decodes one frame of DICOM RLE Lossless (transfer syntax 1.2.840.10008.1.2.5; DICOM PS3.5 Annex G).
 *
 * <p>Hand-written on purpose: the format is a 64-byte header (number of segments, then 15 little-endian
 * segment offsets) followed by PackBits-compressed byte planes, about fifty lines of code, and no library on
 * the package registry this project builds from decodes it (dcm4che is not served; TwelveMonkeys' PackBits
 * decoder works on TIFF strips and does not know the DICOM segment layout). Every length is checked: corrupt
 * input throws {@link InvalidEventException}, never reads past the array and never allocates more than the
 * frame it was asked for.
 *
 * <p>Segment order (PS3.5 G.2): for each sample (R, G, B or the one gray sample), one segment per byte of the
 * sample, most significant byte first. The result is planar: {@code samples} planes of {@code rows * columns}
 * unsigned values each.
 */
final class RleDecoder {

    private RleDecoder() {
    }

    /**
     * @param frame the frame's bytes (all fragments of the frame, concatenated)
     * @param bytesPerSample 1 or 2 (8 or 16 bits allocated)
     * @return planar unsigned sample values, {@code samples * rows * columns} of them
     */
    static int[] decode(byte[] frame, int rows, int columns, int samples, int bytesPerSample)
            throws InvalidEventException {
        if (frame.length < 64) {
            throw corrupt("RLE frame shorter than its 64-byte header");
        }
        int segments = (int) u32le(frame, 0);
        int expected = samples * bytesPerSample;
        if (segments != expected) {
            throw corrupt("RLE frame has " + segments + " segments, expected " + expected);
        }
        int pixels = Math.multiplyExact(rows, columns);
        int[] out = new int[Math.multiplyExact(pixels, samples)];
        byte[] plane = new byte[pixels];
        for (int seg = 0; seg < segments; seg++) {
            long start = u32le(frame, 4 + 4 * seg);
            long end = seg + 1 < segments ? u32le(frame, 8 + 4 * seg) : frame.length;
            if (start < 64 || end > frame.length || start > end) {
                throw corrupt("RLE segment " + (seg + 1) + " lies outside the frame");
            }
            unpackBits(frame, (int) start, (int) end, plane);
            int sample = seg / bytesPerSample;
            int shift = 8 * (bytesPerSample - 1 - seg % bytesPerSample);
            int base = sample * pixels;
            for (int i = 0; i < pixels; i++) {
                out[base + i] |= (plane[i] & 0xFF) << shift;
            }
        }
        return out;
    }

    /**
     * PackBits: a header byte n; 0..127: copy the next n + 1 bytes; -127..-1: repeat the next byte 1 - n
     * times; -128: no operation. Fills {@code out} exactly (a segment may carry one padding byte more, which
     * is ignored); a segment that ends before {@code out} is full is corrupt.
     */
    static void unpackBits(byte[] in, int from, int to, byte[] out) throws InvalidEventException {
        int o = 0;
        int i = from;
        while (o < out.length) {
            if (i >= to) {
                throw corrupt("RLE segment ends after " + o + " of " + out.length + " bytes");
            }
            int n = in[i++];
            if (n >= 0) {
                int count = n + 1;
                if (i + count > to) {
                    throw corrupt("RLE literal run past the end of its segment");
                }
                int copy = Math.min(count, out.length - o);
                System.arraycopy(in, i, out, o, copy);
                o += copy;
                i += count;
            } else if (n != -128) {
                if (i >= to) {
                    throw corrupt("RLE replicate run past the end of its segment");
                }
                int count = 1 - n;
                byte v = in[i++];
                int fill = Math.min(count, out.length - o);
                java.util.Arrays.fill(out, o, o + fill, v);
                o += fill;
            }
        }
    }

    private static long u32le(byte[] b, int at) {
        return (b[at] & 0xFFL) | (b[at + 1] & 0xFFL) << 8 | (b[at + 2] & 0xFFL) << 16 | (b[at + 3] & 0xFFL) << 24;
    }

    private static InvalidEventException corrupt(String detail) {
        return new InvalidEventException(UNDECODABLE_IMAGE, "corrupt DICOM RLE data: " + detail);
    }
}
