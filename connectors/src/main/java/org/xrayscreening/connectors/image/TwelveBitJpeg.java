package org.xrayscreening.connectors.image;

import static org.xrayscreening.connectors.event.DeadLetterReason.UNDECODABLE_IMAGE;

import org.xrayscreening.connectors.event.InvalidEventException;

/**
 * Decodes 12-bit lossy JPEG (ITU T.81 extended sequential DCT, Huffman coded, one component): what DICOM's JPEG
 * Extended transfer syntax (1.2.840.10008.1.2.4.51) carries for 12-bit CR/DX images.
 *
 * <p>Written here because no maintained Java library decodes it: TwelveMonkeys imageio-jpeg hands DCT decoding
 * to the JDK's libjpeg, which is built for 8-bit samples only, and the other Java DICOM toolkits use native
 * codecs. The scope is deliberately narrow (one component, Huffman, sequential, 8- or 16-bit quantization
 * tables, restart intervals); everything else is refused with a reason. Correctness is checked against dcmtk's
 * decoder (libijg12) in the tests.
 */
final class TwelveBitJpeg {
    /** Natural (row-major) position of the k-th coefficient in zig-zag order. */
    private static final int[] ZIGZAG = {
        0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14,
        21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53,
        60, 61, 54, 47, 55, 62, 63};
    /** IDCT basis: COS[x][u] = C(u) cos((2x + 1) u pi / 16) / 2, C(0) = 1/sqrt(2), else 1. */
    private static final double[][] COS = new double[8][8];

    static {
        for (int x = 0; x < 8; x++) {
            for (int u = 0; u < 8; u++) {
                double c = u == 0 ? Math.sqrt(0.5) : 1.0;
                COS[x][u] = c * Math.cos((2 * x + 1) * u * Math.PI / 16) / 2;
            }
        }
    }

    private TwelveBitJpeg() {}

    /** One Huffman table, canonical codes by length (T.81 Annex C / F.2.2.3). */
    private static final class Huffman {
        final int[] maxCode = new int[18];
        final int[] valPtr = new int[17];
        final int[] minCode = new int[17];
        final int[] values;

        Huffman(int[] counts, int[] values) {
            this.values = values;
            int code = 0;
            int k = 0;
            for (int len = 1; len <= 16; len++) {
                valPtr[len] = k;
                minCode[len] = code;
                code += counts[len - 1];
                k += counts[len - 1];
                maxCode[len] = counts[len - 1] == 0 ? -1 : code - 1;
                code <<= 1;
            }
            maxCode[17] = Integer.MAX_VALUE;
        }
    }

    /** Reads the entropy-coded segment bit by bit, undoing 0xFF00 stuffing and stopping at markers. */
    private static final class Bits {
        final byte[] d;
        int pos;
        int acc;
        int count;

        Bits(byte[] d, int pos) {
            this.d = d;
            this.pos = pos;
        }

        int bit() {
            if (count == 0) {
                int b = 0;
                if (pos < d.length) {
                    b = d[pos] & 0xFF;
                    if (b == 0xFF) {
                        int next = pos + 1 < d.length ? d[pos + 1] & 0xFF : 0xD9;
                        if (next == 0) {
                            pos += 2;
                        } else {
                            b = 0; // a marker: feed zeros, leave pos on it
                        }
                    } else {
                        pos++;
                    }
                }
                acc = b;
                count = 8;
            }
            count--;
            return (acc >> count) & 1;
        }

        int bits(int n) {
            int v = 0;
            for (int i = 0; i < n; i++) {
                v = v << 1 | bit();
            }
            return v;
        }

        /** At a restart interval: drop the partial byte and step over the RSTn marker. */
        void restart() throws InvalidEventException {
            count = 0;
            if (pos + 1 < d.length && (d[pos] & 0xFF) == 0xFF && (d[pos + 1] & 0xFF) >= 0xD0 && (d[pos + 1] & 0xFF) <= 0xD7) {
                pos += 2;
            } else {
                throw corrupt("a restart marker is missing");
            }
        }

        int decode(Huffman h) throws InvalidEventException {
            int code = 0;
            for (int len = 1; len <= 16; len++) {
                code = code << 1 | bit();
                if (code <= h.maxCode[len]) {
                    int i = h.valPtr[len] + code - h.minCode[len];
                    if (i < 0 || i >= h.values.length) {
                        throw corrupt("a Huffman code points outside its table");
                    }
                    return h.values[i];
                }
            }
            throw corrupt("an invalid Huffman code");
        }

        /** T.81 F.2.2.1 EXTEND of an s-bit magnitude category. */
        int receiveExtend(int s) {
            if (s == 0) {
                return 0;
            }
            int v = bits(s);
            return v < 1 << (s - 1) ? v - (1 << s) + 1 : v;
        }
    }

    /**
     * The samples (0..4095, row-major) of a one-component 12-bit sequential DCT JPEG of the given size.
     *
     * @throws InvalidEventException UNDECODABLE_IMAGE for anything malformed or outside the supported scope
     */
    static int[] decode(byte[] d, int width, int height) throws InvalidEventException {
        if (d.length < 4 || (d[0] & 0xFF) != 0xFF || (d[1] & 0xFF) != 0xD8) {
            throw corrupt("no SOI marker");
        }
        int[][] quant = new int[4][];
        Huffman[] dc = new Huffman[4];
        Huffman[] ac = new Huffman[4];
        int restartInterval = 0;
        int precision = 0;
        int frameWidth = -1;
        int frameHeight = -1;
        int quantTable = -1;
        int pos = 2;
        try {
            while (pos + 3 < d.length) {
                if ((d[pos] & 0xFF) != 0xFF) {
                    throw corrupt("a marker was expected at byte " + pos);
                }
                int marker = d[pos + 1] & 0xFF;
                if (marker == 0xFF) {
                    pos++;
                    continue;
                }
                int len = (d[pos + 2] & 0xFF) << 8 | (d[pos + 3] & 0xFF);
                int seg = pos + 4;
                int end = pos + 2 + len;
                if (len < 2 || end > d.length) {
                    throw corrupt("a segment runs past the end");
                }
                if (marker == 0xC0 || marker == 0xC1) {
                    precision = d[seg] & 0xFF;
                    frameHeight = (d[seg + 1] & 0xFF) << 8 | (d[seg + 2] & 0xFF);
                    frameWidth = (d[seg + 3] & 0xFF) << 8 | (d[seg + 4] & 0xFF);
                    int components = d[seg + 5] & 0xFF;
                    if (components != 1) {
                        throw refused(components + "-component 12-bit lossy JPEG");
                    }
                    quantTable = d[seg + 8] & 0x0F;
                } else if (marker >= 0xC2 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC) {
                    throw refused("JPEG process SOF" + (marker - 0xC0) + " (progressive, lossless or arithmetic)");
                } else if (marker == 0xC4) {
                    int p = seg;
                    while (p < end) {
                        int tc = (d[p] & 0xFF) >> 4;
                        int th = d[p] & 0x0F;
                        int[] counts = new int[16];
                        int total = 0;
                        for (int i = 0; i < 16; i++) {
                            counts[i] = d[p + 1 + i] & 0xFF;
                            total += counts[i];
                        }
                        int[] values = new int[total];
                        for (int i = 0; i < total; i++) {
                            values[i] = d[p + 17 + i] & 0xFF;
                        }
                        if (th > 3 || p + 17 + total > end) {
                            throw corrupt("a Huffman table is malformed");
                        }
                        (tc == 0 ? dc : ac)[th] = new Huffman(counts, values);
                        p += 17 + total;
                    }
                } else if (marker == 0xDB) {
                    int p = seg;
                    while (p < end) {
                        int pq = (d[p] & 0xFF) >> 4;
                        int tq = d[p] & 0x0F;
                        if (tq > 3) {
                            throw corrupt("a quantization table id is out of range");
                        }
                        int[] q = new int[64];
                        for (int k = 0; k < 64; k++) {
                            q[k] = pq == 0 ? d[p + 1 + k] & 0xFF
                                    : (d[p + 1 + 2 * k] & 0xFF) << 8 | (d[p + 2 + 2 * k] & 0xFF);
                        }
                        quant[tq] = q;
                        p += 1 + (pq == 0 ? 64 : 128);
                    }
                } else if (marker == 0xDD) {
                    restartInterval = (d[seg] & 0xFF) << 8 | (d[seg + 1] & 0xFF);
                } else if (marker == 0xDA) {
                    if (precision != 12) {
                        throw refused(precision + "-bit samples (this decoder is for 12-bit lossy JPEG)");
                    }
                    if (frameWidth != width || frameHeight != height) {
                        throw corrupt("the compressed image is " + frameWidth + "x" + frameHeight
                                + " but the header says " + width + "x" + height);
                    }
                    if ((d[seg] & 0xFF) != 1) {
                        throw corrupt("a scan with " + (d[seg] & 0xFF) + " components in a one-component image");
                    }
                    int tables = d[seg + 2] & 0xFF;
                    Huffman dcTable = dc[tables >> 4];
                    Huffman acTable = ac[tables & 0x0F];
                    int[] q = quant[quantTable];
                    if (dcTable == null || acTable == null || q == null) {
                        throw corrupt("the scan uses a table that was never defined");
                    }
                    return scan(d, end, width, height, q, dcTable, acTable, restartInterval);
                } else if (marker == 0xD9) {
                    break;
                }
                pos = end;
            }
        } catch (ArrayIndexOutOfBoundsException e) {
            throw corrupt("a marker segment is truncated");
        }
        throw corrupt("no scan");
    }

    private static int[] scan(byte[] d, int start, int width, int height, int[] q, Huffman dcTable, Huffman acTable,
                              int restartInterval) throws InvalidEventException {
        int blocksWide = (width + 7) / 8;
        int blocksHigh = (height + 7) / 8;
        int[] out = new int[width * height];
        Bits bits = new Bits(d, start);
        double[] coef = new double[64];
        double[] tmp = new double[64];
        int predictor = 0;
        int block = 0;
        for (int by = 0; by < blocksHigh; by++) {
            for (int bx = 0; bx < blocksWide; bx++, block++) {
                if (restartInterval > 0 && block > 0 && block % restartInterval == 0) {
                    bits.restart();
                    predictor = 0;
                }
                java.util.Arrays.fill(coef, 0);
                int s = bits.decode(dcTable);
                if (s > 15) {
                    throw corrupt("a DC difference of category " + s);
                }
                predictor += bits.receiveExtend(s);
                coef[0] = predictor * (double) q[0];
                for (int k = 1; k < 64; ) {
                    int rs = bits.decode(acTable);
                    int r = rs >> 4;
                    int size = rs & 0x0F;
                    if (size == 0) {
                        if (r != 15) {
                            break; // end of block
                        }
                        k += 16;
                        continue;
                    }
                    k += r;
                    if (k > 63) {
                        throw corrupt("AC coefficients run past the end of a block");
                    }
                    coef[ZIGZAG[k]] = bits.receiveExtend(size) * (double) q[k];
                    k++;
                }
                idct(coef, tmp);
                for (int y = 0; y < 8; y++) {
                    int py = by * 8 + y;
                    if (py >= height) {
                        break;
                    }
                    for (int x = 0; x < 8; x++) {
                        int px = bx * 8 + x;
                        if (px >= width) {
                            break;
                        }
                        int v = (int) Math.round(coef[y * 8 + x]) + 2048; // level shift for 12-bit samples
                        out[py * width + px] = Math.max(0, Math.min(4095, v));
                    }
                }
            }
        }
        return out;
    }

    /** In-place separable 8x8 inverse DCT (rows, then columns); {@code tmp} is scratch. */
    private static void idct(double[] c, double[] tmp) {
        for (int v = 0; v < 8; v++) { // each row of coefficients (fixed vertical frequency v)
            for (int x = 0; x < 8; x++) {
                double s = 0;
                for (int u = 0; u < 8; u++) {
                    s += COS[x][u] * c[v * 8 + u];
                }
                tmp[v * 8 + x] = s;
            }
        }
        for (int x = 0; x < 8; x++) {
            for (int y = 0; y < 8; y++) {
                double s = 0;
                for (int v = 0; v < 8; v++) {
                    s += COS[y][v] * tmp[v * 8 + x];
                }
                c[y * 8 + x] = s;
            }
        }
    }

    private static InvalidEventException corrupt(String what) {
        return new InvalidEventException(UNDECODABLE_IMAGE, "corrupt 12-bit lossy JPEG: " + what);
    }

    private static InvalidEventException refused(String what) {
        return new InvalidEventException(UNDECODABLE_IMAGE, "DICOM JPEG Extended (1.2.840.10008.1.2.4.51) with "
                + what + " is not supported");
    }
}
