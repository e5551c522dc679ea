package org.xrayscreening.connectors.image;

import java.awt.image.BufferedImage;
import java.awt.image.DataBufferByte;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;

import javax.imageio.ImageWriter;
import javax.imageio.stream.MemoryCacheImageOutputStream;
import javax.imageio.IIOImage;

import com.github.jaiimageio.jpeg2000.J2KImageWriteParam;
import com.github.jaiimageio.jpeg2000.impl.J2KImageWriterSpi;

/**
 * One 8-bit gray image encoded as DICOM in many ways, each of which should decode to the same 8-bit display
 * image: the pixel-module variants ("bases": 8/12/16 bits, MONOCHROME1/2, signed, rescaled, each with the
 * window in its header that maps it back onto the 8-bit image) and the transfer syntaxes (made with dcmtk,
 * with the JPEG 2000 writer of jai-imageio, or with the test RLE encoder).
 */
public final class DicomEncodings {

    private DicomEncodings() {
    }

    /** Bases in Explicit VR Little Endian. */
    public static Map<String, byte[]> bases(BufferedImage g8) {
        byte[] g = pixels(g8);
        int w = g8.getWidth();
        int h = g8.getHeight();
        int n = g.length;
        Map<String, byte[]> m = new LinkedHashMap<>();
        m.put("8-bit MONOCHROME2", DicomWriter.gray8(w, h, g.clone()).toBytes());
        byte[] inv = new byte[n];
        short[] s12 = new short[n];
        short[] s12inv = new short[n];
        short[] s16 = new short[n];
        short[] s16signed = new short[n];
        for (int i = 0; i < n; i++) {
            int v = g[i] & 0xFF;
            inv[i] = (byte) (255 - v);
            int twelve = (int) Math.round(v * 4095.0 / 255.0);
            s12[i] = (short) twelve;
            s12inv[i] = (short) (4095 - twelve);
            s16[i] = (short) (v * 257);
            s16signed[i] = (short) (v * 257 - 32768);
        }
        m.put("8-bit MONOCHROME1", DicomWriter.gray8(w, h, inv).monochrome1(true).toBytes());
        m.put("12-bit MONOCHROME2", DicomWriter.gray16(w, h, s12).bitsStored(12).window(2048, 4096).toBytes());
        m.put("12-bit MONOCHROME1", DicomWriter.gray16(w, h, s12inv).bitsStored(12).monochrome1(true)
                .window(2048, 4096).toBytes());
        // modality values 2 * stored - 1000; the window is in modality units
        m.put("12-bit rescaled", DicomWriter.gray16(w, h, s12).bitsStored(12).rescale(-1000, 2)
                .window(3095.5, 8191).toBytes());
        m.put("16-bit MONOCHROME2", DicomWriter.gray16(w, h, s16).window(32768, 65536).toBytes());
        m.put("16-bit signed", DicomWriter.gray16(w, h, s16signed).signed(true).rescale(32768, 1)
                .window(32768, 65536).toBytes());
        return m;
    }

    /** The 12-bit stored values of {@code bases(g8).get("12-bit MONOCHROME2")} as a 16-bit gray image. */
    public static BufferedImage twelveBit(BufferedImage g8) {
        byte[] g = pixels(g8);
        BufferedImage out = new BufferedImage(g8.getWidth(), g8.getHeight(), BufferedImage.TYPE_USHORT_GRAY);
        for (int i = 0; i < g.length; i++) {
            out.getRaster().setSample(i % g8.getWidth(), i / g8.getWidth(), 0,
                    (int) Math.round((g[i] & 0xFF) * 4095.0 / 255.0));
        }
        return out;
    }

    public static byte[] pixels(BufferedImage g8) {
        BufferedImage c = new BufferedImage(g8.getWidth(), g8.getHeight(), BufferedImage.TYPE_BYTE_GRAY);
        c.setData(g8.getRaster());
        return ((DataBufferByte) c.getRaster().getDataBuffer()).getData();
    }

    /** A JPEG 2000 codestream (no JP2 box) of a gray image, lossless (5/3 wavelet) or lossy at 4 bits/pixel. */
    public static byte[] jpeg2000(BufferedImage image, boolean lossless) throws IOException {
        ImageWriter writer = new J2KImageWriterSpi().createWriterInstance();
        try {
            J2KImageWriteParam p = (J2KImageWriteParam) writer.getDefaultWriteParam();
            p.setWriteCodeStreamOnly(true);
            p.setLossless(lossless);
            if (lossless) {
                p.setFilter(J2KImageWriteParam.FILTER_53);
            } else {
                p.setFilter(J2KImageWriteParam.FILTER_97);
                p.setEncodingRate(4.0);
            }
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            try (MemoryCacheImageOutputStream out = new MemoryCacheImageOutputStream(bytes)) {
                writer.setOutput(out);
                writer.write(null, new IIOImage(image, null, null), p);
            }
            return bytes.toByteArray();
        } finally {
            writer.dispose();
        }
    }
}
