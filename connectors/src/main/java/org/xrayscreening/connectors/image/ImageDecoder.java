package org.xrayscreening.connectors.image;

import static org.xrayscreening.connectors.event.DeadLetterReason.UNDECODABLE_IMAGE;
import static org.xrayscreening.connectors.event.DeadLetterReason.UNKNOWN_CONTENT_TYPE;

import java.awt.image.BufferedImage;
import java.awt.image.DataBufferByte;
import java.awt.image.DataBufferInt;
import java.awt.image.DataBufferUShort;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;

import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import javax.imageio.stream.MemoryCacheImageInputStream;

import ij.Prefs;
import ij.plugin.DICOM;
import ij.process.ByteProcessor;
import ij.process.ColorProcessor;
import ij.process.ImageProcessor;
import ij.process.ShortProcessor;
import org.xrayscreening.connectors.event.ImageReference;
import org.xrayscreening.connectors.event.InvalidEventException;

/**
 * Decodes image bytes into a {@link BufferedImage}, refusing anything over {@link ImageLimits} before the
 * pixels are decoded.
 *
 * <ul>
 * <li>PNG and JPEG: through ImageIO. Width and height are read from the header first. The image type is what
 * ImageIO gives (8-bit gray PNG: {@code TYPE_BYTE_GRAY}, 16-bit gray PNG: {@code TYPE_USHORT_GRAY}, colour:
 * an RGB type). A JPEG that ImageIO decodes only with a warning (e.g. "Premature end of JPEG file", which
 * would leave part of the image gray) is refused.
 * <li>DICOM, uncompressed (implicit or explicit VR, little or big endian), single- or multi-frame (the first
 * frame is used): the header is checked first by a small bounds-checked parser (transfer syntax, size, pixel
 * data length), then the pixels are read by ImageJ's {@code ij.plugin.DICOM}. MONOCHROME 8-bit comes out as
 * {@code TYPE_BYTE_GRAY}, 16-bit as {@code TYPE_USHORT_GRAY} with the stored values unchanged (full range, no
 * window applied: the window is a display hint, and a linear rescale does not change what a model sees after
 * its own normalization). Bits above Bits Stored are cleared. Signed 16-bit data are shifted by +32768 into
 * the unsigned range (ImageJ's convention; order is kept). MONOCHROME1 (and a negative rescale slope) is
 * inverted so that, as in MONOCHROME2, higher is brighter. RGB 8-bit comes out as {@code TYPE_INT_RGB}.
 * JPEG/RLE/deflate-compressed DICOM, PALETTE COLOR, YBR and 32-bit data are refused with a clear detail.
 * </ul>
 * Failures throw {@link InvalidEventException}: {@code IMAGE_TOO_LARGE}, {@code UNDECODABLE_IMAGE} (anything
 * a corrupt file can cause) or {@code UNKNOWN_CONTENT_TYPE}. Details hold no image bytes.
 *
 * <p>Thread-safe. ImageJ keeps static, unsynchronized state in its DICOM decoder, so DICOM pixel reading is
 * serialized JVM-wide (a few milliseconds per image); PNG/JPEG decoding runs in parallel. ImageJ's global
 * preference {@code Prefs.ignoreRescaleSlope} is set to true (otherwise ImageJ converts rescaled images to
 * 32-bit through its GUI command layer, which fails headless).
 */
public final class ImageDecoder implements Serializable {

    private static final long serialVersionUID = 1L;
    private static final Object IMAGEJ_LOCK = new Object();
    /** ImageJ marks its input stream with this read limit and resets to it after reading the header. */
    private static final int IMAGEJ_MARK_LIMIT = 400_000;

    /** DICOM's private {@code showErrors}: when true, ImageJ prints its errors to stdout (headless). */
    private static final java.lang.reflect.Field SHOW_ERRORS = showErrorsField();

    private final ImageLimits limits;

    public ImageDecoder() {
        this(ImageLimits.DEFAULTS);
    }

    public ImageDecoder(ImageLimits limits) {
        this.limits = Objects.requireNonNull(limits, "limits");
    }

    public ImageLimits limits() {
        return limits;
    }

    /**
     * Decodes {@code bytes} of the given content type ({@link ImageReference#PNG}, {@link ImageReference#JPEG}
     * or {@link ImageReference#DICOM}).
     */
    public BufferedImage decode(byte[] bytes, String contentType) throws InvalidEventException {
        Objects.requireNonNull(bytes, "bytes");
        limits.checkBytes(bytes.length, "image");
        if (bytes.length == 0) {
            throw new InvalidEventException(UNDECODABLE_IMAGE, "image is empty");
        }
        String ct = contentType == null ? "" : contentType.trim().toLowerCase(java.util.Locale.ROOT);
        try {
            return switch (ct) {
                case ImageReference.PNG -> decodeImageIo(bytes, "png", "PNG");
                case ImageReference.JPEG, "image/jpg" -> decodeImageIo(bytes, "jpeg", "JPEG");
                case ImageReference.DICOM -> decodeDicom(bytes);
                default -> throw new InvalidEventException(UNKNOWN_CONTENT_TYPE,
                        "cannot decode content type; supported: " + ImageReference.SUPPORTED_CONTENT_TYPES);
            };
        } catch (InvalidEventException e) {
            throw e;
        } catch (VirtualMachineError e) {
            throw e;
        } catch (Exception | Error e) {
            // corrupt input can make codecs throw nearly anything (IIOException, IndexOutOfBounds,
            // NegativeArraySize, IllegalArgument, IllegalState, ...)
            throw new InvalidEventException(UNDECODABLE_IMAGE, "corrupt " + label(ct) + " ("
                    + e.getClass().getSimpleName() + ")");
        }
    }

    private static String label(String ct) {
        return switch (ct) {
            case ImageReference.PNG -> "PNG";
            case ImageReference.DICOM -> "DICOM";
            default -> "JPEG";
        };
    }

    // ------------------------------------------------------------------------------------- PNG / JPEG

    private BufferedImage decodeImageIo(byte[] bytes, String format, String name)
            throws InvalidEventException, IOException {
        String actual = sniff(bytes);
        if (!actual.equals(name)) {
            throw new InvalidEventException(UNDECODABLE_IMAGE, "content type says " + name + " but the bytes "
                    + (actual.isEmpty() ? "are not a " + name : "look like " + actual));
        }
        Iterator<ImageReader> readers = ImageIO.getImageReadersByFormatName(format);
        if (!readers.hasNext()) {
            throw new InvalidEventException(UNDECODABLE_IMAGE, "no " + name + " reader available");
        }
        ImageReader reader = readers.next();
        List<String> warnings = new ArrayList<>();
        try (ImageInputStream in = new MemoryCacheImageInputStream(new ByteArrayInputStream(bytes))) {
            reader.setInput(in, true, true);
            reader.addIIOReadWarningListener((source, warning) -> warnings.add(warning));
            limits.checkDimensions(reader.getWidth(0), reader.getHeight(0));
            BufferedImage image = reader.read(0);
            if (!warnings.isEmpty()) {
                throw new InvalidEventException(UNDECODABLE_IMAGE, "corrupt " + name + ": " + warnings.get(0));
            }
            return image;
        } finally {
            reader.dispose();
        }
    }

    /** "PNG", "JPEG", "DICOM" from magic bytes, or "". */
    static String sniff(byte[] b) {
        if (b.length >= 8 && (b[0] & 0xFF) == 0x89 && b[1] == 'P' && b[2] == 'N' && b[3] == 'G') {
            return "PNG";
        }
        if (b.length >= 3 && (b[0] & 0xFF) == 0xFF && (b[1] & 0xFF) == 0xD8 && (b[2] & 0xFF) == 0xFF) {
            return "JPEG";
        }
        if (DicomHeader.looksLikeDicom(b)) {
            return "DICOM";
        }
        return "";
    }

    // ------------------------------------------------------------------------------------------ DICOM

    private BufferedImage decodeDicom(byte[] bytes) throws InvalidEventException {
        DicomHeader h = DicomHeader.parse(bytes);
        checkSupported(h);
        limits.checkDimensions(h.columns, h.rows);
        int bytesPerSample = h.bitsAllocated / 8;
        long frameBytes = (long) h.rows * h.columns * h.samplesPerPixel * bytesPerSample;
        long available = Math.min(h.pixelDataLength, bytes.length - (long) h.pixelDataOffset);
        if (h.numberOfFrames > available / frameBytes) { // no overflow: frames x frameBytes is never computed
            throw new InvalidEventException(UNDECODABLE_IMAGE, "truncated DICOM pixel data: " + available
                    + " bytes for " + h.columns + "x" + h.rows + "x" + h.numberOfFrames + " at " + h.bitsAllocated
                    + " bits");
        }
        if (h.pixelDataOffset > IMAGEJ_MARK_LIMIT - 1024) {
            throw new InvalidEventException(UNDECODABLE_IMAGE, "DICOM header is too large ("
                    + h.pixelDataOffset + " bytes before the pixel data)");
        }

        ImageProcessor ip;
        synchronized (IMAGEJ_LOCK) {
            Prefs.ignoreRescaleSlope = true;
            Prefs.openDicomsAsFloat = false;
            DICOM dicom = new DICOM(new ByteArrayInputStream(bytes));
            silence(dicom);
            dicom.run("image.dcm");
            if (dicom.getWidth() != h.columns || dicom.getHeight() != h.rows) {
                throw new InvalidEventException(UNDECODABLE_IMAGE, "the DICOM reader could not decode the image");
            }
            ij.io.FileInfo fi = dicom.getOriginalFileInfo();
            if (fi != null && fi.offset != h.pixelDataOffset) {
                throw new InvalidEventException(UNDECODABLE_IMAGE, "ambiguous DICOM header: the DICOM reader found"
                        + " the pixel data at another offset");
            }
            ip = dicom.getStackSize() > 1 ? dicom.getStack().getProcessor(1) : dicom.getProcessor();
        }
        boolean invert = h.photometric.equals("MONOCHROME1") ^ h.rescaleSlope < 0;
        return toBufferedImage(ip, h, invert);
    }

    private static java.lang.reflect.Field showErrorsField() {
        try {
            java.lang.reflect.Field f = DICOM.class.getDeclaredField("showErrors");
            f.setAccessible(true);
            return f;
        } catch (ReflectiveOperationException | RuntimeException e) {
            return null; // another ImageJ version: errors are printed, decoding still works
        }
    }

    private static void silence(DICOM dicom) {
        if (SHOW_ERRORS != null) {
            try {
                SHOW_ERRORS.setBoolean(dicom, false);
            } catch (IllegalAccessException | RuntimeException e) {
                // printed errors are only noise
            }
        }
    }

    private static void checkSupported(DicomHeader h) throws InvalidEventException {
        String pi = h.photometric;
        boolean mono = pi.equals("MONOCHROME1") || pi.equals("MONOCHROME2");
        if (mono && h.samplesPerPixel == 1) {
            if (h.bitsAllocated != 8 && h.bitsAllocated != 16) {
                throw new InvalidEventException(UNDECODABLE_IMAGE, "DICOM with " + h.bitsAllocated
                        + " bits allocated is not supported (8 or 16)");
            }
        } else if (pi.equals("RGB") && h.samplesPerPixel == 3) {
            if (h.bitsAllocated != 8) {
                throw new InvalidEventException(UNDECODABLE_IMAGE, "RGB DICOM must have 8 bits a sample");
            }
        } else {
            String shown = pi.matches("[A-Z0-9_ ]{0,16}") ? pi : "(not shown)";
            throw new InvalidEventException(UNDECODABLE_IMAGE, "DICOM photometric interpretation \"" + shown
                    + "\" with " + h.samplesPerPixel + " samples per pixel is not supported"
                    + " (MONOCHROME1, MONOCHROME2, RGB)");
        }
        if (h.bitsStored <= 0 || h.bitsStored > h.bitsAllocated) {
            h.bitsStored = h.bitsAllocated;
        }
    }

    private static BufferedImage toBufferedImage(ImageProcessor ip, DicomHeader h, boolean invert)
            throws InvalidEventException {
        int w = ip.getWidth();
        int hgt = ip.getHeight();
        if (ip instanceof ByteProcessor && h.bitsAllocated == 8 && h.samplesPerPixel == 1) {
            byte[] src = (byte[]) ip.getPixels();
            BufferedImage out = new BufferedImage(w, hgt, BufferedImage.TYPE_BYTE_GRAY);
            byte[] dst = ((DataBufferByte) out.getRaster().getDataBuffer()).getData();
            int mask = (1 << h.bitsStored) - 1;
            for (int i = 0; i < dst.length; i++) {
                int v = src[i] & mask;
                dst[i] = (byte) (invert ? mask - v : v);
            }
            return out;
        }
        if (ip instanceof ShortProcessor && h.bitsAllocated == 16 && h.samplesPerPixel == 1) {
            short[] src = (short[]) ip.getPixels();
            BufferedImage out = new BufferedImage(w, hgt, BufferedImage.TYPE_USHORT_GRAY);
            short[] dst = ((DataBufferUShort) out.getRaster().getDataBuffer()).getData();
            // signed data arrive shifted into 0..65535 by ImageJ; keep all 16 bits then
            int mask = h.pixelRepresentation == 1 ? 0xFFFF : (1 << h.bitsStored) - 1;
            for (int i = 0; i < dst.length; i++) {
                int v = src[i] & mask;
                dst[i] = (short) (invert ? mask - v : v);
            }
            return out;
        }
        if (ip instanceof ColorProcessor && h.samplesPerPixel == 3) {
            int[] src = (int[]) ip.getPixels();
            BufferedImage out = new BufferedImage(w, hgt, BufferedImage.TYPE_INT_RGB);
            int[] dst = ((DataBufferInt) out.getRaster().getDataBuffer()).getData();
            for (int i = 0; i < dst.length; i++) {
                dst[i] = src[i] & 0xFFFFFF;
            }
            return out;
        }
        throw new InvalidEventException(UNDECODABLE_IMAGE, "the DICOM reader returned an unexpected pixel type ("
                + ip.getClass().getSimpleName() + ")");
    }
}
