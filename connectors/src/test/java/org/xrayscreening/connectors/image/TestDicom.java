package org.xrayscreening.connectors.image;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Hand-built DICOM files for the cases {@link DicomWriter} does not make: implicit VR, sequences before the
 * pixel data, encapsulated (compressed) pixel data, arbitrary transfer syntaxes. Little endian only.
 */
final class TestDicom {

    private final ByteArrayOutputStream data = new ByteArrayOutputStream();
    private final String transferSyntax;
    private final boolean explicit;

    TestDicom(String transferSyntax) {
        this.transferSyntax = transferSyntax;
        this.explicit = !transferSyntax.equals(DicomHeader.IMPLICIT_VR_LE);
    }

    /** A monochrome image pixel module (all but pixel data). */
    TestDicom image(int rows, int columns, int bitsAllocated, String photometric) {
        us(0x0028, 0x0002, 1);
        str(0x0028, 0x0004, "CS", photometric);
        us(0x0028, 0x0010, rows);
        us(0x0028, 0x0011, columns);
        us(0x0028, 0x0100, bitsAllocated);
        us(0x0028, 0x0101, bitsAllocated);
        us(0x0028, 0x0102, bitsAllocated - 1);
        us(0x0028, 0x0103, 0);
        return this;
    }

    TestDicom us(int group, int element, int v) {
        header(group, element, "US", 2);
        u16(data, v);
        return this;
    }

    TestDicom str(int group, int element, String vr, String s) {
        byte[] b = s.getBytes(StandardCharsets.US_ASCII);
        int len = b.length + (b.length & 1);
        header(group, element, vr, len);
        data.writeBytes(b);
        if ((b.length & 1) != 0) {
            data.write(vr.equals("UI") ? 0 : ' ');
        }
        return this;
    }

    /** A sequence of undefined length holding one item of undefined length with one string element. */
    TestDicom undefinedLengthSequence(int group, int element) {
        if (explicit) {
            u16(data, group);
            u16(data, element);
            data.writeBytes("SQ".getBytes(StandardCharsets.US_ASCII));
            u16(data, 0);
        } else {
            u16(data, group);
            u16(data, element);
        }
        u32(data, 0xFFFFFFFFL);
        u16(data, 0xFFFE);
        u16(data, 0xE000);
        u32(data, 0xFFFFFFFFL);
        str(0x0008, 0x0100, "SH", "CODE");
        // an element in group 0028 inside the item must not be taken for the image's
        us(0x0028, 0x0010, 9999);
        u16(data, 0xFFFE);
        u16(data, 0xE00D);
        u32(data, 0);
        u16(data, 0xFFFE);
        u16(data, 0xE0DD);
        u32(data, 0);
        return this;
    }

    /** Native pixel data (OB/OW). */
    TestDicom pixels(byte[] b) {
        u16(data, 0x7FE0);
        u16(data, 0x0010);
        if (explicit) {
            data.writeBytes("OW".getBytes(StandardCharsets.US_ASCII));
            u16(data, 0);
        }
        u32(data, b.length);
        data.writeBytes(b);
        return this;
    }

    /** Encapsulated pixel data: empty offset table, one fragment. */
    TestDicom encapsulated(byte[] fragment) {
        u16(data, 0x7FE0);
        u16(data, 0x0010);
        data.writeBytes("OB".getBytes(StandardCharsets.US_ASCII));
        u16(data, 0);
        u32(data, 0xFFFFFFFFL);
        u16(data, 0xFFFE);
        u16(data, 0xE000);
        u32(data, 0);
        u16(data, 0xFFFE);
        u16(data, 0xE000);
        u32(data, fragment.length + (fragment.length & 1));
        data.writeBytes(fragment);
        if ((fragment.length & 1) != 0) {
            data.write(0);
        }
        u16(data, 0xFFFE);
        u16(data, 0xE0DD);
        u32(data, 0);
        return this;
    }

    byte[] toBytes() {
        ByteArrayOutputStream meta = new ByteArrayOutputStream();
        byte[] ts = (transferSyntax + (transferSyntax.length() % 2 == 1 ? "\0" : ""))
                .getBytes(StandardCharsets.US_ASCII);
        u16(meta, 0x0002);
        u16(meta, 0x0010);
        meta.writeBytes("UI".getBytes(StandardCharsets.US_ASCII));
        u16(meta, ts.length);
        meta.writeBytes(ts);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(new byte[128]);
        out.writeBytes("DICM".getBytes(StandardCharsets.US_ASCII));
        u16(out, 0x0002);
        u16(out, 0x0000);
        out.writeBytes("UL".getBytes(StandardCharsets.US_ASCII));
        u16(out, 4);
        u32(out, meta.size());
        out.writeBytes(meta.toByteArray());
        out.writeBytes(data.toByteArray());
        return out.toByteArray();
    }

    private void header(int group, int element, String vr, int len) {
        u16(data, group);
        u16(data, element);
        if (explicit) {
            data.writeBytes(vr.getBytes(StandardCharsets.US_ASCII));
            u16(data, len);
        } else {
            u32(data, len);
        }
    }

    private static void u16(ByteArrayOutputStream o, int v) {
        o.write(v & 0xFF);
        o.write((v >>> 8) & 0xFF);
    }

    private static void u32(ByteArrayOutputStream o, long v) {
        u16(o, (int) (v & 0xFFFF));
        u16(o, (int) ((v >>> 16) & 0xFFFF));
    }
}
