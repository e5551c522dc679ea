package org.xrayscreening.connectors.image;

import static org.xrayscreening.connectors.event.DeadLetterReason.UNDECODABLE_IMAGE;

import java.awt.image.BufferedImage;
import java.awt.image.DataBufferInt;
import java.awt.image.Raster;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

import javax.imageio.ImageReader;
import javax.imageio.spi.IIORegistry;
import javax.imageio.spi.ImageReaderSpi;
import javax.imageio.stream.ImageInputStream;
import javax.imageio.stream.MemoryCacheImageInputStream;

import com.github.jaiimageio.jpeg2000.impl.J2KImageReaderSpi;
import com.twelvemonkeys.imageio.plugins.jpeg.JPEGImageReaderSpi;
import org.xrayscreening.connectors.event.InvalidEventException;

/**
 * The first frame of a DICOM file's pixel data as an image, for every transfer syntax {@link DicomHeader}
 * accepts:
 * <ul>
 * <li>native (uncompressed) 8/16-bit data, little or big endian, read here;
 * <li>encapsulated data (Basic Offset Table item, then fragments; a frame may span several fragments):
 * JPEG baseline/extended (8-bit; 12-bit grayscale through the project's {@link TwelveBitJpeg}) and lossless (process 14 and SV1, 2-16 bits) through TwelveMonkeys
 * {@code imageio-jpeg}, JPEG 2000 through {@code jai-imageio-jpeg2000}, RLE through {@link RleDecoder}.
 * </ul>
 * Monochrome images go through {@link DicomIntensity} (Modality LUT, VOI LUT, MONOCHROME1, 8 bits) and come
 * out as {@link BufferedImage#TYPE_BYTE_GRAY}; colour images (RGB, or YBR in JPEG) as
 * {@link BufferedImage#TYPE_INT_RGB}.
 *
 * <p>The codecs are instantiated directly from their service providers (not looked up through ImageIO's
 * plugin scan, which depends on the thread's class loader and differs on a Flink cluster).
 */
final class DicomPixels {

    private static final int ITEM = 0xFFFEE000;
    private static final int SEQUENCE_DELIMITER = 0xFFFEE0DD;
    private static final Object JPEG_REGISTRATION = new Object();

    private DicomPixels() {
    }

    static BufferedImage decodeFirstFrame(byte[] bytes, DicomHeader h) throws InvalidEventException, IOException {
        boolean mono = h.photometric.startsWith("MONOCHROME");
        return switch (h.codec) {
            case NATIVE -> fromNative(bytes, h, mono);
            case RLE -> {
                int[] planes = RleDecoder.decode(firstFrame(bytes, h), h.rows, h.columns, h.samplesPerPixel,
                        h.bitsAllocated / 8);
                yield mono ? gray(planes, h, false) : rgbPlanar(planes, h.columns, h.rows);
            }
            case JPEG -> jpeg(firstFrame(bytes, h), h, mono);
            case JPEG_2000 -> fromCodec(new J2KImageReaderSpi().createReaderInstance(), firstFrame(bytes, h), h,
                    mono);
        };
    }

    // ------------------------------------------------------------------------------------------ native

    private static BufferedImage fromNative(byte[] b, DicomHeader h, boolean mono) throws InvalidEventException {
        int n = h.rows * h.columns;
        int at = h.pixelDataOffset;
        if (mono) {
            int[] raw = new int[n];
            if (h.bitsAllocated == 8) {
                for (int i = 0; i < n; i++) {
                    raw[i] = b[at + i] & 0xFF;
                }
            } else if (h.bigEndian()) {
                for (int i = 0; i < n; i++) {
                    raw[i] = (b[at + 2 * i] & 0xFF) << 8 | (b[at + 2 * i + 1] & 0xFF);
                }
            } else {
                for (int i = 0; i < n; i++) {
                    raw[i] = (b[at + 2 * i] & 0xFF) | (b[at + 2 * i + 1] & 0xFF) << 8;
                }
            }
            return gray(raw, h, true);
        }
        // RGB, 8 bits a sample: interleaved (planar configuration 0) or planar (1)
        BufferedImage out = new BufferedImage(h.columns, h.rows, BufferedImage.TYPE_INT_RGB);
        int[] dst = ((DataBufferInt) out.getRaster().getDataBuffer()).getData();
        for (int i = 0; i < n; i++) {
            int r;
            int g;
            int bl;
            if (h.planarConfiguration == 1) {
                r = b[at + i] & 0xFF;
                g = b[at + n + i] & 0xFF;
                bl = b[at + 2 * n + i] & 0xFF;
            } else {
                r = b[at + 3 * i] & 0xFF;
                g = b[at + 3 * i + 1] & 0xFF;
                bl = b[at + 3 * i + 2] & 0xFF;
            }
            dst[i] = r << 16 | g << 8 | bl;
        }
        return out;
    }

    /** Stored values (raw sample bits; {@code withHighBit}: honour High Bit) to the 8-bit display image. */
    private static BufferedImage gray(int[] raw, DicomHeader h, boolean withHighBit) {
        int highBit = withHighBit && h.highBit >= h.bitsStored - 1 && h.highBit < h.bitsAllocated
                ? h.highBit : h.bitsStored - 1;
        boolean signed = h.pixelRepresentation == 1;
        int n = h.rows * h.columns;
        int[] stored = raw.length == n ? raw : java.util.Arrays.copyOf(raw, n);
        if (withHighBit || signed) {
            for (int i = 0; i < n; i++) {
                stored[i] = DicomIntensity.storedValue(stored[i], h.bitsStored, highBit, signed);
            }
        } else {
            // decoded by a codec: a lossy codec may overshoot, or its precision exceed Bits Stored; clamp
            // rather than cut bits (masking 4097 to 12 bits would turn white into black)
            int max = (1 << h.bitsStored) - 1;
            for (int i = 0; i < n; i++) {
                stored[i] = Math.max(0, Math.min(max, stored[i]));
            }
        }
        return DicomIntensity.toGray8(stored, h.columns, h.rows, params(h));
    }

    static DicomIntensity.Params params(DicomHeader h) {
        return new DicomIntensity.Params(h.bitsStored, h.pixelRepresentation == 1, h.rescaleSlope,
                h.rescaleIntercept, h.windowCenter, h.windowWidth, h.voiLutFunction,
                h.photometric.equals("MONOCHROME1"));
    }

    private static BufferedImage rgbPlanar(int[] planes, int w, int hgt) {
        int n = w * hgt;
        BufferedImage out = new BufferedImage(w, hgt, BufferedImage.TYPE_INT_RGB);
        int[] dst = ((DataBufferInt) out.getRaster().getDataBuffer()).getData();
        for (int i = 0; i < n; i++) {
            dst[i] = (planes[i] & 0xFF) << 16 | (planes[n + i] & 0xFF) << 8 | (planes[2 * n + i] & 0xFF);
        }
        return out;
    }

    // ------------------------------------------------------------------------------------- encapsulated

    /**
     * The bytes of frame 1 of encapsulated pixel data: all fragments for a single-frame image; for a
     * multi-frame image the fragments the Basic Offset Table assigns to frame 1, or (empty table) the first
     * fragment if there is one fragment per frame, else all (a JPEG or JPEG 2000 decoder stops at the end of
     * the first image).
     */
    static byte[] firstFrame(byte[] b, DicomHeader h) throws InvalidEventException {
        int pos = h.pixelDataOffset;
        if (tag(b, pos) != ITEM) {
            throw corrupt("encapsulated pixel data do not start with an item");
        }
        long botLength = u32le(b, pos + 4);
        pos += 8;
        if (botLength > b.length - pos || botLength % 4 != 0) {
            throw corrupt("basic offset table");
        }
        long[] offsets = new long[(int) botLength / 4];
        for (int i = 0; i < offsets.length; i++) {
            offsets[i] = u32le(b, pos + 4 * i);
        }
        pos += (int) botLength;
        int firstFragment = pos;
        List<int[]> fragments = new ArrayList<>(); // {relative offset of the item, value at, length}
        while (true) {
            if (pos + 8 > b.length) {
                throw corrupt("encapsulated pixel data end without a sequence delimiter");
            }
            int tag = tag(b, pos);
            long len = u32le(b, pos + 4);
            if (tag == SEQUENCE_DELIMITER) {
                break;
            }
            if (tag != ITEM || len > b.length - pos - 8) {
                throw corrupt("fragment " + (fragments.size() + 1));
            }
            fragments.add(new int[] {pos - firstFragment, pos + 8, (int) len});
            pos += 8 + (int) len;
        }
        if (fragments.isEmpty()) {
            throw corrupt("no fragments");
        }
        List<int[]> frame = new ArrayList<>();
        if (h.numberOfFrames <= 1) {
            frame = fragments;
        } else if (offsets.length >= 1) {
            long start = offsets[0];
            long end = offsets.length > 1 ? offsets[1] : Long.MAX_VALUE;
            for (int[] f : fragments) {
                if (f[0] >= start && f[0] < end) {
                    frame.add(f);
                }
            }
            if (frame.isEmpty()) {
                throw corrupt("the basic offset table points at no fragment");
            }
        } else if (fragments.size() == h.numberOfFrames) {
            frame.add(fragments.get(0));
        } else {
            frame = fragments;
        }
        if (frame.size() == 1) {
            int[] f = frame.get(0);
            return java.util.Arrays.copyOfRange(b, f[1], f[1] + f[2]);
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int[] f : frame) {
            out.write(b, f[1], f[2]);
        }
        return out.toByteArray();
    }

    // ------------------------------------------------------------------------------------------- codecs

    /** A new TwelveMonkeys JPEG reader (baseline, extended, progressive, lossless). */
    static ImageReader jpegReader() throws IOException {
        ImageReaderSpi spi;
        synchronized (JPEG_REGISTRATION) {
            IIORegistry registry = IIORegistry.getDefaultInstance();
            spi = registry.getServiceProviderByClass(JPEGImageReaderSpi.class);
            if (spi == null) {
                // registering makes TwelveMonkeys find the JDK's reader it delegates baseline decoding to
                registry.registerServiceProvider(new JPEGImageReaderSpi());
                spi = registry.getServiceProviderByClass(JPEGImageReaderSpi.class);
            }
        }
        return spi.createReaderInstance();
    }

    /** The sample precision of a lossy (DCT) JPEG, or 0 for lossless or when no frame header is found. */
    private static int lossyPrecision(byte[] jpeg) {
        int pos = 2;
        while (pos + 4 < jpeg.length && (jpeg[pos] & 0xFF) == 0xFF) {
            int marker = jpeg[pos + 1] & 0xFF;
            if (marker == 0xFF) {
                pos++;
                continue;
            }
            boolean sof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
            if (sof) {
                boolean lossless = marker == 0xC3 || marker == 0xC7 || marker == 0xCB || marker == 0xCF;
                return lossless ? 0 : jpeg[pos + 4] & 0xFF;
            }
            if (marker == 0xDA) {
                return 0;
            }
            pos += 2 + ((jpeg[pos + 2] & 0xFF) << 8 | (jpeg[pos + 3] & 0xFF));
        }
        return 0;
    }

    /**
     * JPEG in any process TwelveMonkeys reads (baseline, extended 8-bit, lossless), and 12-bit grayscale lossy
     * JPEG through {@link TwelveBitJpeg}: TwelveMonkeys hands DCT decoding to the JDK's 8-bit libjpeg.
     */
    private static BufferedImage jpeg(byte[] jpeg, DicomHeader h, boolean mono) throws InvalidEventException, IOException {
        if (jpeg.length < 4 || (jpeg[0] & 0xFF) != 0xFF || (jpeg[1] & 0xFF) != 0xD8) {
            throw corrupt("a JPEG fragment does not start with an SOI marker");
        }
        int precision = lossyPrecision(jpeg);
        if (precision <= 8) {
            return fromCodec(jpegReader(), jpeg, h, mono);
        }
        if (!mono) {
            throw new InvalidEventException(UNDECODABLE_IMAGE, "DICOM transfer syntax " + h.transferSyntaxUid
                    + " with " + precision + "-bit lossy JPEG (DCT) in colour is not supported; send JPEG lossless"
                    + " (.4.70), JPEG 2000 or uncompressed");
        }
        return gray(TwelveBitJpeg.decode(jpeg, h.columns, h.rows), h, false);
    }

    private static BufferedImage fromCodec(ImageReader reader, byte[] encoded, DicomHeader h, boolean mono)
            throws InvalidEventException, IOException {
        List<String> warnings = new ArrayList<>();
        BufferedImage image;
        try (ImageInputStream in = new MemoryCacheImageInputStream(new ByteArrayInputStream(encoded))) {
            reader.setInput(in, true, true);
            reader.addIIOReadWarningListener((source, warning) -> warnings.add(warning));
            if (reader.getWidth(0) != h.columns || reader.getHeight(0) != h.rows) {
                throw corrupt("the compressed image is " + reader.getWidth(0) + "x" + reader.getHeight(0)
                        + " but the header says " + h.columns + "x" + h.rows);
            }
            image = reader.read(0);
        } finally {
            reader.dispose();
        }
        if (!warnings.isEmpty()) {
            throw corrupt(warnings.get(0));
        }
        Raster raster = image.getRaster();
        if (!mono) {
            BufferedImage rgb = new BufferedImage(h.columns, h.rows, BufferedImage.TYPE_INT_RGB);
            rgb.getGraphics().drawImage(image, 0, 0, null);
            return rgb;
        }
        if (raster.getNumBands() != 1) {
            throw corrupt("a monochrome image decoded to " + raster.getNumBands() + " bands");
        }
        int[] raw = raster.getSamples(0, 0, h.columns, h.rows, 0, new int[h.rows * h.columns]);
        return gray(raw, h, false);
    }

    /** An item tag (group, element), always little endian in encapsulated pixel data. */
    private static int tag(byte[] b, int at) {
        long v = u32le(b, at);
        return (int) ((v & 0xFFFF) << 16 | v >>> 16);
    }

    private static long u32le(byte[] b, int at) {
        if (at < 0 || at + 4 > b.length) {
            throw new IndexOutOfBoundsException();
        }
        return (b[at] & 0xFFL) | (b[at + 1] & 0xFFL) << 8 | (b[at + 2] & 0xFFL) << 16 | (b[at + 3] & 0xFFL) << 24;
    }

    private static InvalidEventException corrupt(String detail) {
        return new InvalidEventException(UNDECODABLE_IMAGE, "corrupt encapsulated DICOM pixel data: " + detail);
    }
}
