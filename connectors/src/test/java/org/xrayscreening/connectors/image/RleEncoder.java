package org.xrayscreening.connectors.image;

import java.io.ByteArrayOutputStream;

/** A test-only DICOM RLE encoder (PS3.5 Annex G), to make RLE frames without dcmtk. */
final class RleEncoder {

    private RleEncoder() {
    }

    /** One frame of planar {@code planes} (samples x pixels values), {@code bytesPerSample} 1 or 2. */
    static byte[] encode(int[] planes, int pixels, int samples, int bytesPerSample) {
        int segments = samples * bytesPerSample;
        byte[][] encoded = new byte[segments][];
        for (int seg = 0; seg < segments; seg++) {
            int sample = seg / bytesPerSample;
            int shift = 8 * (bytesPerSample - 1 - seg % bytesPerSample);
            byte[] plane = new byte[pixels];
            for (int i = 0; i < pixels; i++) {
                plane[i] = (byte) (planes[sample * pixels + i] >>> shift);
            }
            encoded[seg] = packBits(plane);
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] header = new byte[64];
        putU32(header, 0, segments);
        int offset = 64;
        for (int seg = 0; seg < segments; seg++) {
            putU32(header, 4 + 4 * seg, offset);
            offset += encoded[seg].length;
        }
        out.writeBytes(header);
        for (byte[] e : encoded) {
            out.writeBytes(e);
        }
        return out.toByteArray();
    }

    /** PackBits, with replicate runs of 3 or more, literal runs otherwise; padded to an even length. */
    static byte[] packBits(byte[] in) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int i = 0;
        while (i < in.length) {
            int run = 1;
            while (i + run < in.length && run < 128 && in[i + run] == in[i]) {
                run++;
            }
            if (run >= 3) {
                out.write(1 - run);
                out.write(in[i]);
                i += run;
                continue;
            }
            int start = i;
            int len = 0;
            while (i < in.length && len < 128) {
                if (i + 2 < in.length && in[i] == in[i + 1] && in[i] == in[i + 2]) {
                    break;
                }
                i++;
                len++;
            }
            out.write(len - 1);
            out.write(in, start, len);
        }
        if (out.size() % 2 != 0) {
            out.write(-128); // no-op padding
        }
        return out.toByteArray();
    }

    private static void putU32(byte[] b, int at, long v) {
        b[at] = (byte) v;
        b[at + 1] = (byte) (v >>> 8);
        b[at + 2] = (byte) (v >>> 16);
        b[at + 3] = (byte) (v >>> 24);
    }
}
