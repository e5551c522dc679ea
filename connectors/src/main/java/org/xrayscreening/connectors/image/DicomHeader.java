package org.xrayscreening.connectors.image;

import static org.xrayscreening.connectors.event.DeadLetterReason.UNDECODABLE_IMAGE;

import java.nio.charset.StandardCharsets;
import java.util.Set;
import java.util.regex.Pattern;

import org.xrayscreening.connectors.event.InvalidEventException;

/**
 * The few attributes of a DICOM Part 10 file needed to check and decode its pixels: transfer syntax (and so
 * the {@link Codec}), image pixel module, Modality LUT (rescale), VOI LUT (window) and where the pixel data
 * are (native, or the items of encapsulated pixel data). A bounds-checked walk over the elements
 * up to Pixel Data (sequences, also of undefined length, are skipped); it allocates nothing large and never
 * reads past the input.
 */
final class DicomHeader {

    static final String IMPLICIT_VR_LE = "1.2.840.10008.1.2";
    static final String EXPLICIT_VR_LE = "1.2.840.10008.1.2.1";
    static final String EXPLICIT_VR_BE = "1.2.840.10008.1.2.2";
    static final String DEFLATED_EXPLICIT_VR_LE = "1.2.840.10008.1.2.1.99";
    static final String JPEG_BASELINE = "1.2.840.10008.1.2.4.50";
    static final String JPEG_EXTENDED = "1.2.840.10008.1.2.4.51";
    static final String JPEG_LOSSLESS = "1.2.840.10008.1.2.4.57";
    static final String JPEG_LOSSLESS_SV1 = "1.2.840.10008.1.2.4.70";
    static final String JPEG_2000_LOSSLESS = "1.2.840.10008.1.2.4.90";
    static final String JPEG_2000 = "1.2.840.10008.1.2.4.91";
    static final String RLE_LOSSLESS = "1.2.840.10008.1.2.5";

    /** How the pixel data of a transfer syntax are encoded. */
    enum Codec {
        NATIVE, JPEG, JPEG_2000, RLE
    }

    /** Names of transfer syntaxes that are refused, for the dead-letter detail. */
    private static final java.util.Map<String, String> UNSUPPORTED = java.util.Map.of(
            "1.2.840.10008.1.2.4.80", "JPEG-LS Lossless",
            "1.2.840.10008.1.2.4.81", "JPEG-LS Near-Lossless",
            "1.2.840.10008.1.2.4.92", "JPEG 2000 Part 2 Multi-component Lossless",
            "1.2.840.10008.1.2.4.93", "JPEG 2000 Part 2 Multi-component",
            "1.2.840.10008.1.2.4.94", "JPIP Referenced",
            "1.2.840.10008.1.2.4.95", "JPIP Referenced Deflate",
            "1.2.840.10008.1.2.4.100", "MPEG2 video",
            "1.2.840.10008.1.2.4.102", "MPEG-4 video",
            "1.2.840.10008.1.2.4.201", "High-Throughput JPEG 2000 Lossless",
            "1.2.840.10008.1.2.4.203", "High-Throughput JPEG 2000");

    /** The transfer syntaxes {@link ImageDecoder} decodes, for messages. */
    static final String SUPPORTED = "implicit/explicit VR little endian, explicit VR big endian, JPEG baseline"
            + " (.4.50), JPEG extended 8-bit and 12-bit grayscale (.4.51), JPEG lossless (.4.57, .4.70), JPEG 2000 (.4.90, .4.91),"
            + " RLE lossless (.5)";

    private static final int PIXEL_DATA = 0x7FE00010;
    private static final int ITEM = 0xFFFEE000;
    private static final int ITEM_DELIMITER = 0xFFFEE00D;
    private static final int SEQUENCE_DELIMITER = 0xFFFEE0DD;
    private static final long UNDEFINED = 0xFFFFFFFFL;
    private static final int MAX_DEPTH = 16;
    private static final Set<String> LONG_VRS = Set.of("OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN",
            "UR", "UT", "UV");
    private static final Pattern UID = Pattern.compile("[0-9.]{1,64}");

    String transferSyntaxUid;
    int rows;
    int columns;
    int samplesPerPixel = 1;
    String photometric = "";
    int bitsAllocated;
    int bitsStored;
    int pixelRepresentation;
    int numberOfFrames = 1;
    int planarConfiguration;
    double rescaleSlope = 1.0;
    double rescaleIntercept;
    int highBit = -1;
    /** First Window Center / Width (VOI LUT), or NaN if absent. */
    double windowCenter = Double.NaN;
    double windowWidth = Double.NaN;
    /** VOI LUT Function (LINEAR, LINEAR_EXACT, SIGMOID); "" if absent (LINEAR). */
    String voiLutFunction = "";
    Codec codec = Codec.NATIVE;
    /** For {@link Codec#NATIVE}: the pixel data value; otherwise the first item tag of the encapsulated data. */
    int pixelDataOffset = -1;
    /** Length of native pixel data; -1 (undefined) for encapsulated pixel data. */
    long pixelDataLength = -1;

    private final byte[] b;
    private int pos;
    private boolean explicitVr = true;
    private boolean bigEndian;

    private DicomHeader(byte[] bytes) {
        this.b = bytes;
    }

    /** True for Explicit VR Big Endian (native pixel data are big endian then). */
    boolean bigEndian() {
        return bigEndian;
    }

    /** True if {@code bytes} start like a DICOM Part 10 file (preamble + "DICM"). */
    static boolean looksLikeDicom(byte[] bytes) {
        return bytes.length >= 132 && bytes[128] == 'D' && bytes[129] == 'I' && bytes[130] == 'C'
                && bytes[131] == 'M';
    }

    static DicomHeader parse(byte[] bytes) throws InvalidEventException {
        if (!looksLikeDicom(bytes)) {
            throw undecodable("not a DICOM Part 10 file (no \"DICM\" marker at offset 128)");
        }
        DicomHeader h = new DicomHeader(bytes);
        try {
            h.pos = 132;
            h.readMetaGroup();
            h.chooseEncoding();
            h.readDataset(0, Integer.MAX_VALUE, false);
        } catch (IndexOutOfBoundsException | NumberFormatException e) {
            throw undecodable("truncated or corrupt DICOM header");
        }
        if (h.pixelDataOffset < 0) {
            throw undecodable("DICOM file has no pixel data");
        }
        return h;
    }

    private void readMetaGroup() throws InvalidEventException {
        while (pos + 4 <= b.length && u16le(pos) == 0x0002) {
            int tag = (u16le(pos) << 16) | u16le(pos + 2);
            String vr = ascii(pos + 4, 2);
            long len;
            int valueAt;
            if (LONG_VRS.contains(vr)) {
                len = u32le(pos + 8);
                valueAt = pos + 12;
            } else {
                len = u16le(pos + 6);
                valueAt = pos + 8;
            }
            if (len == UNDEFINED || valueAt + len > b.length) {
                throw undecodable("corrupt DICOM file meta information");
            }
            if (tag == 0x00020010) {
                transferSyntaxUid = trimValue(ascii(valueAt, (int) len));
            }
            pos = valueAt + (int) len;
        }
        if (transferSyntaxUid == null || transferSyntaxUid.isEmpty()) {
            throw undecodable("DICOM file meta information has no transfer syntax");
        }
    }

    private void chooseEncoding() throws InvalidEventException {
        String ts = transferSyntaxUid;
        String shown = UID.matcher(ts).matches() ? ts : "(not shown)";
        switch (ts) {
            case IMPLICIT_VR_LE -> explicitVr = false;
            case EXPLICIT_VR_LE -> explicitVr = true;
            case EXPLICIT_VR_BE -> bigEndian = true;
            case JPEG_BASELINE, JPEG_EXTENDED, JPEG_LOSSLESS, JPEG_LOSSLESS_SV1 -> codec = Codec.JPEG;
            case JPEG_2000_LOSSLESS, JPEG_2000 -> codec = Codec.JPEG_2000;
            case RLE_LOSSLESS -> codec = Codec.RLE;
            case DEFLATED_EXPLICIT_VR_LE -> throw unsupported(shown, "Deflated Explicit VR Little Endian");
            default -> {
                String name = UNSUPPORTED.get(ts);
                if (name != null) {
                    throw unsupported(shown, name);
                }
                if (ts.startsWith("1.2.840.10008.1.2.4.")) {
                    throw unsupported(shown, "a compressed transfer syntax");
                }
                throw unsupported(shown, "an unknown transfer syntax");
            }
        }
    }

    private static InvalidEventException unsupported(String shownUid, String name) {
        return undecodable("DICOM transfer syntax " + shownUid + " (" + name + ") is not supported; supported: "
                + SUPPORTED);
    }

    /** Reads elements from {@code pos} until {@code end}, an item delimiter (if in an item) or Pixel Data. */
    private void readDataset(int depth, int end, boolean inItem) throws InvalidEventException {
        if (depth > MAX_DEPTH) {
            throw undecodable("DICOM sequences nested too deeply");
        }
        while (pos < end && pos < b.length) {
            int tag = (u16(pos) << 16) | u16(pos + 2);
            if (tag == ITEM_DELIMITER) {
                pos += 8;
                if (inItem) {
                    return;
                }
                continue;
            }
            String vr = null;
            long len;
            int valueAt;
            if (explicitVr && (tag >>> 16) != 0xFFFE) {
                vr = ascii(pos + 4, 2);
                if (LONG_VRS.contains(vr)) {
                    len = u32(pos + 8);
                    valueAt = pos + 12;
                } else {
                    len = u16(pos + 6);
                    valueAt = pos + 8;
                }
            } else {
                len = u32(pos + 4);
                valueAt = pos + 8;
            }
            if (tag == PIXEL_DATA) {
                if (depth > 0) {
                    throw undecodable("DICOM Pixel Data inside a sequence");
                }
                if (len == UNDEFINED && codec == Codec.NATIVE) {
                    throw undecodable("DICOM pixel data are encapsulated (compressed) although transfer syntax "
                            + "says uncompressed");
                }
                if (len != UNDEFINED && codec != Codec.NATIVE) {
                    throw undecodable("DICOM pixel data are not encapsulated although transfer syntax "
                            + transferSyntaxUid + " says compressed");
                }
                if (len != UNDEFINED && len > b.length - valueAt) {
                    // a file cut short (or a corrupt length): whatever pixels are present cannot be trusted
                    throw undecodable("truncated DICOM pixel data: the stated length runs past the end of the file");
                }
                pixelDataOffset = valueAt;
                pixelDataLength = len;
                pos = valueAt;
                return;
            }
            pos = valueAt;
            if (len == UNDEFINED) {
                skipSequence(depth + 1);
                continue;
            }
            if (len > b.length - valueAt) {
                throw undecodable("truncated DICOM element");
            }
            if ("SQ".equals(vr)) {
                int seqEnd = valueAt + (int) len;
                skipDefinedSequence(depth + 1, seqEnd);
                pos = seqEnd;
                continue;
            }
            if (depth == 0 && (tag >>> 16) == 0x0028) {
                readImageAttribute(tag, valueAt, (int) len);
            }
            pos = valueAt + (int) len;
        }
        if (depth == 0 && !inItem) {
            return; // end of data: caller reports missing pixel data
        }
    }

    /** Items of a sequence of undefined length, up to its delimiter. */
    private void skipSequence(int depth) throws InvalidEventException {
        if (depth > MAX_DEPTH) {
            throw undecodable("DICOM sequences nested too deeply");
        }
        while (true) {
            int tag = (u16(pos) << 16) | u16(pos + 2);
            long len = u32(pos + 4);
            pos += 8;
            if (tag == SEQUENCE_DELIMITER) {
                return;
            }
            if (tag != ITEM) {
                throw undecodable("corrupt DICOM sequence");
            }
            if (len == UNDEFINED) {
                readDataset(depth, Integer.MAX_VALUE, true);
            } else {
                if (len > b.length - pos) {
                    throw undecodable("truncated DICOM sequence item");
                }
                pos += (int) len;
            }
        }
    }

    /** Items of a sequence of defined length (items themselves may be of undefined length). */
    private void skipDefinedSequence(int depth, int end) throws InvalidEventException {
        while (pos < end) {
            int tag = (u16(pos) << 16) | u16(pos + 2);
            long len = u32(pos + 4);
            pos += 8;
            if (tag != ITEM) {
                throw undecodable("corrupt DICOM sequence");
            }
            if (len == UNDEFINED) {
                readDataset(depth, end, true);
            } else {
                pos += (int) Math.min(len, (long) end - pos);
            }
        }
    }

    private void readImageAttribute(int tag, int at, int len) {
        switch (tag) {
            case 0x00280002 -> samplesPerPixel = len >= 2 ? u16(at) : samplesPerPixel;
            case 0x00280004 -> photometric = trimValue(ascii(at, len));
            case 0x00280006 -> planarConfiguration = len >= 2 ? u16(at) : 0;
            case 0x00280008 -> numberOfFrames = (int) Math.max(1, number(ascii(at, len), 1));
            case 0x00280010 -> rows = len >= 2 ? u16(at) : 0;
            case 0x00280011 -> columns = len >= 2 ? u16(at) : 0;
            case 0x00280100 -> bitsAllocated = len >= 2 ? u16(at) : 0;
            case 0x00280101 -> bitsStored = len >= 2 ? u16(at) : 0;
            case 0x00280102 -> highBit = len >= 2 ? u16(at) : -1;
            case 0x00280103 -> pixelRepresentation = len >= 2 ? u16(at) : 0;
            case 0x00281050 -> windowCenter = number(ascii(at, len), Double.NaN);
            case 0x00281051 -> windowWidth = number(ascii(at, len), Double.NaN);
            case 0x00281056 -> voiLutFunction = trimValue(ascii(at, len));
            case 0x00281052 -> rescaleIntercept = number(ascii(at, len), 0);
            case 0x00281053 -> rescaleSlope = number(ascii(at, len), 1);
            default -> {
            }
        }
    }

    /** First value of a DS/IS string, or {@code dflt} if empty or not a number. */
    private static double number(String s, double dflt) {
        String first = trimValue(s);
        int backslash = first.indexOf('\\');
        if (backslash >= 0) {
            first = first.substring(0, backslash).trim();
        }
        if (first.isEmpty()) {
            return dflt;
        }
        try {
            double d = Double.parseDouble(first);
            return Double.isFinite(d) ? d : dflt;
        } catch (NumberFormatException e) {
            return dflt;
        }
    }

    private static String trimValue(String s) {
        int end = s.length();
        while (end > 0 && (s.charAt(end - 1) == 0 || s.charAt(end - 1) == ' ')) {
            end--;
        }
        return s.substring(0, end).trim();
    }

    private String ascii(int at, int len) {
        if (at < 0 || len < 0 || at + len > b.length) {
            throw new IndexOutOfBoundsException();
        }
        return new String(b, at, len, StandardCharsets.US_ASCII);
    }

    private int u16(int at) {
        return bigEndian ? ((b[at] & 0xFF) << 8) | (b[at + 1] & 0xFF) : u16le(at);
    }

    private long u32(int at) {
        if (bigEndian) {
            return ((long) u16(at) << 16) | u16(at + 2);
        }
        return u32le(at);
    }

    private int u16le(int at) {
        return (b[at] & 0xFF) | ((b[at + 1] & 0xFF) << 8);
    }

    private long u32le(int at) {
        return ((long) u16le(at + 2) << 16) | u16le(at);
    }

    private static InvalidEventException undecodable(String detail) {
        return new InvalidEventException(UNDECODABLE_IMAGE, detail);
    }
}
