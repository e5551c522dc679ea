package org.xrayscreening.connectors.image;

import java.awt.image.BufferedImage;
import java.awt.image.DataBufferByte;
import java.awt.image.DataBufferUShort;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Objects;
import java.util.UUID;

/**
 * Writes a single-frame DICOM Part 10 file holding one 8- or 16-bit grayscale image, as a Digital X-Ray (DX)
 * object: uncompressed (Explicit VR Little Endian, transfer syntax 1.2.840.10008.1.2.1), or with a frame the
 * caller compressed as encapsulated pixel data ({@link #encapsulated}).
 *
 * <p>It exists because no DICOM writing library is available to this project (dcm4che is not served by the
 * package registry it builds from; ImageJ only reads). It is deliberately small: enough for test fixtures in
 * every module and for the demo, not a general DICOM toolkit. It writes the file meta group, the SOP
 * class/instance, modality and the image pixel module; no patient or study attributes. Files it writes decode
 * through {@link ImageDecoder}, the uncompressed ones also through {@code ij.plugin.DICOM} (tested), and dcmtk
 * converts them to every other transfer syntax (the tests do).
 *
 * <pre>
 * byte[] dcm = DicomWriter.gray16(w, h, pixels).bitsStored(12).toBytes();
 * DicomWriter.of(bufferedImage).monochrome1(true).write(path);
 * </pre>
 */
public final class DicomWriter {

    /** Explicit VR Little Endian. */
    public static final String EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1";
    /** Digital X-Ray Image Storage - For Presentation. */
    public static final String DX_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.1";
    private static final String IMPLEMENTATION_CLASS_UID = "2.25.143386508393117360367046744541637582891";
    private static final String IMPLEMENTATION_VERSION = "XRAYSCREEN_1";

    private final int width;
    private final int height;
    private final int bitsAllocated;
    private final byte[] pixels8;
    private final short[] pixels16;
    private int bitsStored;
    private boolean monochrome1;
    private boolean signed;
    private Double rescaleIntercept;
    private Double rescaleSlope;
    private Double windowCenter;
    private Double windowWidth;
    private String sopInstanceUid;
    private String compressedSyntax;
    private byte[] compressedFrame;
    private int fragmentSize;

    private DicomWriter(int width, int height, int bitsAllocated, byte[] pixels8, short[] pixels16) {
        if (width <= 0 || height <= 0 || width > 0xFFFF || height > 0xFFFF) {
            throw new IllegalArgumentException("width and height must be in 1..65535: " + width + "x" + height);
        }
        int n = pixels8 != null ? pixels8.length : pixels16.length;
        if (n != width * height) {
            throw new IllegalArgumentException("expected " + width * height + " pixels, got " + n);
        }
        this.width = width;
        this.height = height;
        this.bitsAllocated = bitsAllocated;
        this.bitsStored = bitsAllocated;
        this.pixels8 = pixels8;
        this.pixels16 = pixels16;
    }

    /** An 8-bit image; {@code pixels} row by row, one unsigned byte each. */
    public static DicomWriter gray8(int width, int height, byte[] pixels) {
        return new DicomWriter(width, height, 8, Objects.requireNonNull(pixels, "pixels"), null);
    }

    /**
     * A 16-bit image; {@code pixels} row by row, unsigned (read each with {@code & 0xFFFF}) unless
     * {@link #signed(boolean)}.
     */
    public static DicomWriter gray16(int width, int height, short[] pixels) {
        return new DicomWriter(width, height, 16, null, Objects.requireNonNull(pixels, "pixels"));
    }

    /** From a {@link BufferedImage#TYPE_BYTE_GRAY} or {@link BufferedImage#TYPE_USHORT_GRAY} image. */
    public static DicomWriter of(BufferedImage image) {
        int w = image.getWidth();
        int h = image.getHeight();
        return switch (image.getType()) {
            case BufferedImage.TYPE_BYTE_GRAY -> gray8(w, h, ((DataBufferByte) copy(image).getRaster()
                    .getDataBuffer()).getData());
            case BufferedImage.TYPE_USHORT_GRAY -> gray16(w, h, ((DataBufferUShort) copy(image).getRaster()
                    .getDataBuffer()).getData());
            default -> throw new IllegalArgumentException(
                    "only TYPE_BYTE_GRAY and TYPE_USHORT_GRAY images can be written, not type " + image.getType());
        };
    }

    /** A compact copy (no sub-image offsets or strides) of a gray image. */
    private static BufferedImage copy(BufferedImage image) {
        BufferedImage c = new BufferedImage(image.getWidth(), image.getHeight(), image.getType());
        c.setData(image.getRaster());
        return c;
    }

    /** Bits Stored (default: all allocated bits); High Bit is {@code bitsStored - 1}. */
    public DicomWriter bitsStored(int bits) {
        if (bits < 1 || bits > bitsAllocated) {
            throw new IllegalArgumentException("bitsStored must be in 1.." + bitsAllocated);
        }
        this.bitsStored = bits;
        return this;
    }

    /** Photometric Interpretation MONOCHROME1 (0 is white) instead of MONOCHROME2 (0 is black). */
    public DicomWriter monochrome1(boolean monochrome1) {
        this.monochrome1 = monochrome1;
        return this;
    }

    /**
     * Pixel Representation 1: the 16-bit values are two's complement (a {@code short} as is) instead of
     * unsigned.
     */
    public DicomWriter signed(boolean signed) {
        if (signed && bitsAllocated != 16) {
            throw new IllegalArgumentException("only 16-bit images can be written as signed");
        }
        this.signed = signed;
        return this;
    }

    /** Rescale Intercept and Slope (modality LUT). */
    public DicomWriter rescale(double intercept, double slope) {
        this.rescaleIntercept = intercept;
        this.rescaleSlope = slope;
        return this;
    }

    /** Window Center and Width (VOI LUT, a display hint). */
    public DicomWriter window(double center, double width) {
        this.windowCenter = center;
        this.windowWidth = width;
        return this;
    }

    /**
     * Writes {@code frame}, the image already compressed in {@code transferSyntaxUid} (e.g. a JPEG 2000
     * codestream or a DICOM RLE frame), as encapsulated pixel data: an empty Basic Offset Table, then the frame
     * split into fragments of at most {@code fragmentSize} bytes (0: one fragment). The image pixel module
     * (size, bits, photometric, rescale, window) is still the one this writer was made with; the pixels given
     * to the factory method are not written.
     */
    public DicomWriter encapsulated(String transferSyntaxUid, byte[] frame, int fragmentSize) {
        this.compressedSyntax = Objects.requireNonNull(transferSyntaxUid, "transferSyntaxUid");
        this.compressedFrame = Objects.requireNonNull(frame, "frame").clone();
        this.fragmentSize = fragmentSize;
        return this;
    }

    /** The SOP Instance UID (default: a fresh {@code 2.25.<uuid>} UID). */
    public DicomWriter sopInstanceUid(String uid) {
        this.sopInstanceUid = uid;
        return this;
    }

    /** Writes the file to {@code path}. */
    public Path write(Path path) throws IOException {
        Files.write(path, toBytes());
        return path;
    }

    /** The whole Part 10 file. */
    public byte[] toBytes() {
        String instanceUid = sopInstanceUid != null ? sopInstanceUid : uuidUid(UUID.randomUUID());

        Elements meta = new Elements();
        meta.ob(0x0002, 0x0001, new byte[] {0, 1});
        meta.ui(0x0002, 0x0002, DX_FOR_PRESENTATION);
        meta.ui(0x0002, 0x0003, instanceUid);
        meta.ui(0x0002, 0x0010, compressedSyntax != null ? compressedSyntax : EXPLICIT_VR_LITTLE_ENDIAN);
        meta.ui(0x0002, 0x0012, IMPLEMENTATION_CLASS_UID);
        meta.string(0x0002, 0x0013, "SH", IMPLEMENTATION_VERSION);
        byte[] metaBytes = meta.toBytes();

        Elements data = new Elements();
        data.string(0x0008, 0x0008, "CS", "ORIGINAL\\PRIMARY");
        data.ui(0x0008, 0x0016, DX_FOR_PRESENTATION);
        data.ui(0x0008, 0x0018, instanceUid);
        data.string(0x0008, 0x0060, "CS", "DX");
        data.string(0x0008, 0x0068, "CS", "FOR PRESENTATION");
        data.us(0x0028, 0x0002, 1);
        data.string(0x0028, 0x0004, "CS", monochrome1 ? "MONOCHROME1" : "MONOCHROME2");
        data.us(0x0028, 0x0010, height);
        data.us(0x0028, 0x0011, width);
        data.us(0x0028, 0x0100, bitsAllocated);
        data.us(0x0028, 0x0101, bitsStored);
        data.us(0x0028, 0x0102, bitsStored - 1);
        data.us(0x0028, 0x0103, signed ? 1 : 0);
        if (windowCenter != null) {
            data.string(0x0028, 0x1050, "DS", ds(windowCenter));
            data.string(0x0028, 0x1051, "DS", ds(windowWidth));
        }
        if (rescaleIntercept != null) {
            data.string(0x0028, 0x1052, "DS", ds(rescaleIntercept));
            data.string(0x0028, 0x1053, "DS", ds(rescaleSlope));
        }
        if (compressedSyntax != null) {
            data.encapsulated(compressedFrame, fragmentSize);
        } else if (bitsAllocated == 8) {
            data.ob(0x7FE0, 0x0010, pixels8);
        } else {
            byte[] le = new byte[pixels16.length * 2];
            for (int i = 0; i < pixels16.length; i++) {
                le[2 * i] = (byte) pixels16[i];
                le[2 * i + 1] = (byte) (pixels16[i] >>> 8);
            }
            data.ow(0x7FE0, 0x0010, le);
        }

        ByteArrayOutputStream out = new ByteArrayOutputStream(132 + 12 + metaBytes.length + data.size());
        out.writeBytes(new byte[128]);
        out.writeBytes("DICM".getBytes(StandardCharsets.US_ASCII));
        Elements groupLength = new Elements();
        groupLength.ul(0x0002, 0x0000, metaBytes.length);
        out.writeBytes(groupLength.toBytes());
        out.writeBytes(metaBytes);
        out.writeBytes(data.toBytes());
        return out.toByteArray();
    }

    /** A UID under the UUID-derived root 2.25 (ISO/IEC 9834-8). */
    public static String uuidUid(UUID uuid) {
        BigInteger hi = BigInteger.valueOf(uuid.getMostSignificantBits()).and(BigInteger.ONE.shiftLeft(64)
                .subtract(BigInteger.ONE));
        BigInteger lo = BigInteger.valueOf(uuid.getLeastSignificantBits()).and(BigInteger.ONE.shiftLeft(64)
                .subtract(BigInteger.ONE));
        return "2.25." + hi.shiftLeft(64).or(lo);
    }

    /** A decimal string of at most 16 characters (DS). */
    private static String ds(double v) {
        String s = v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v)
                : String.format(Locale.ROOT, "%.6g", v).trim();
        if (s.length() > 16) {
            s = String.format(Locale.ROOT, "%.8e", v);
        }
        return s;
    }

    /** Explicit VR little-endian data elements, written in the order given (callers keep tag order). */
    private static final class Elements {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        void us(int group, int element, int value) {
            header(group, element, "US", 2);
            u16(value);
        }

        void ul(int group, int element, long value) {
            header(group, element, "UL", 4);
            u32(value);
        }

        void ui(int group, int element, String uid) {
            byte[] b = uid.getBytes(StandardCharsets.US_ASCII);
            value(group, element, "UI", b, (byte) 0);
        }

        void string(int group, int element, String vr, String s) {
            value(group, element, vr, s.getBytes(StandardCharsets.US_ASCII), (byte) ' ');
        }

        void ob(int group, int element, byte[] b) {
            longValue(group, element, "OB", b);
        }

        void ow(int group, int element, byte[] b) {
            longValue(group, element, "OW", b);
        }

        /** Pixel Data of undefined length: an empty offset table item, fragments, a sequence delimiter. */
        void encapsulated(byte[] frame, int fragmentSize) {
            u16(0x7FE0);
            u16(0x0010);
            out.writeBytes("OB".getBytes(StandardCharsets.US_ASCII));
            u16(0);
            u32(0xFFFFFFFFL);
            item(new byte[0], 0, 0);
            // fragments but the last have an even length: a pad byte inside the frame would corrupt it
            int step = fragmentSize > 0 ? Math.max(2, fragmentSize & ~1) : Math.max(1, frame.length);
            for (int at = 0; at < frame.length; at += step) {
                item(frame, at, Math.min(step, frame.length - at));
            }
            u16(0xFFFE);
            u16(0xE0DD);
            u32(0);
        }

        private void item(byte[] b, int at, int len) {
            u16(0xFFFE);
            u16(0xE000);
            u32(len + (len & 1));
            out.write(b, at, len);
            if ((len & 1) != 0) {
                out.write(0);
            }
        }

        private void value(int group, int element, String vr, byte[] b, byte pad) {
            int len = b.length + (b.length & 1);
            if (len > 0xFFFF) {
                throw new IllegalArgumentException("value too long for " + vr);
            }
            header(group, element, vr, len);
            out.writeBytes(b);
            if ((b.length & 1) != 0) {
                out.write(pad);
            }
        }

        private void longValue(int group, int element, String vr, byte[] b) {
            int len = b.length + (b.length & 1);
            u16(group);
            u16(element);
            out.writeBytes(vr.getBytes(StandardCharsets.US_ASCII));
            u16(0);
            u32(len);
            out.writeBytes(b);
            if ((b.length & 1) != 0) {
                out.write(0);
            }
        }

        private void header(int group, int element, String vr, int len) {
            u16(group);
            u16(element);
            out.writeBytes(vr.getBytes(StandardCharsets.US_ASCII));
            u16(len);
        }

        private void u16(int v) {
            out.write(v & 0xFF);
            out.write((v >>> 8) & 0xFF);
        }

        private void u32(long v) {
            u16((int) (v & 0xFFFF));
            u16((int) ((v >>> 16) & 0xFFFF));
        }

        int size() {
            return out.size();
        }

        byte[] toBytes() {
            return out.toByteArray();
        }
    }
}
