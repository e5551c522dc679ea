package org.xrayscreening.connectors.image;

import static org.xrayscreening.connectors.event.DeadLetterReason.UNDECODABLE_IMAGE;
import static org.xrayscreening.connectors.event.DeadLetterReason.UNKNOWN_CONTENT_TYPE;

import java.awt.image.BufferedImage;
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

import org.xrayscreening.connectors.event.ImageReference;
import org.xrayscreening.connectors.event.InvalidEventException;

/**
 * Decodes image bytes into a {@link BufferedImage}, refusing anything over {@link ImageLimits} before the
 * pixels are decoded.
 *
 * <ul>
 * <li>PNG and JPEG: through ImageIO (JPEG always through TwelveMonkeys' reader, which hands baseline decoding
 * to the JDK's and gave identical pixels on 153 sampled cxr-dev JPEGs). Width and height are read from the header first. The image type is what
 * ImageIO gives (8-bit gray PNG: {@code TYPE_BYTE_GRAY}, 16-bit gray PNG: {@code TYPE_USHORT_GRAY}, colour:
 * an RGB type). A JPEG that ImageIO decodes only with a warning (e.g. "Premature end of JPEG file", which
 * would leave part of the image gray) is refused.
 * <li>DICOM (single- or multi-frame: the first frame is used): the header is checked first by a small
 * bounds-checked parser (transfer syntax, size, pixel data), then the pixels are read by {@link DicomPixels}:
 * uncompressed (implicit/explicit VR little endian, explicit VR big endian) by this project's code, JPEG
 * baseline/extended (8-bit) and JPEG lossless (process 14, SV1; up to 16 bits) through TwelveMonkeys
 * {@code imageio-jpeg}, JPEG 2000 (.90/.91) through {@code jai-imageio-jpeg2000}, RLE lossless through the
 * hand-written {@link RleDecoder}; encapsulated data may be split over several fragments. Monochrome images go
 * through the DICOM intensity pipeline of {@link DicomIntensity} (Bits Stored, Pixel Representation, Modality
 * LUT, VOI LUT window from the header or a percentile window, MONOCHROME1 inversion) and come out as 8-bit
 * {@code TYPE_BYTE_GRAY}, the form the training JPEGs have; RGB (and YBR in JPEG) as {@code TYPE_INT_RGB}.
 * Other transfer syntaxes (JPEG-LS, deflate, 12-bit lossy JPEG in colour, ...), PALETTE COLOR and 32-bit data are
 * refused with a detail that names the transfer syntax or attribute.
 * </ul>
 * Failures throw {@link InvalidEventException}: {@code IMAGE_TOO_LARGE}, {@code UNDECODABLE_IMAGE} (anything
 * a corrupt file can cause) or {@code UNKNOWN_CONTENT_TYPE}. Details hold no image bytes.
 *
 * <p>Thread-safe: every call makes its own codec instances; decoding runs in parallel.
 */
public final class ImageDecoder implements Serializable {

    private static final long serialVersionUID = 1L;
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
            return decodeUnwrapped(bytes, ct);
        } catch (InvalidEventException e) {
            throw e;
        } catch (VirtualMachineError e) {
            throw e;
        } catch (Exception | Error e) {
            // corrupt input can make codecs throw nearly anything (IIOException, IndexOutOfBounds,
            // NegativeArraySize, IllegalArgument, IllegalState, ...)
            throw new InvalidEventException(UNDECODABLE_IMAGE, "corrupt " + label(ct) + " ("
                    + e.getClass().getSimpleName() + explain(e) + ")");
        }
    }

    /**
     * ": message[: cause's message]" of a codec's exception, so that the dead letter says what is wrong (e.g.
     * "Error reading PNG image data: invalid stored block lengths") rather than only an exception class. The
     * codecs decode bytes, not files, so their messages name no path; they are cut to printable ASCII and a
     * bounded length all the same.
     */
    static String explain(Throwable e) {
        StringBuilder s = new StringBuilder();
        for (Throwable t = e; t != null && s.length() < 160; t = t.getCause() == t ? null : t.getCause()) {
            String m = t.getMessage();
            if (m != null && !m.isBlank()) {
                String clean = m.replaceAll("[^\\x20-\\x7E]", "?").strip();
                s.append(": ").append(clean, 0, Math.min(clean.length(), 100));
            }
        }
        return s.toString();
    }

    /**
     * {@link #decode} without turning unexpected exceptions into {@code UNDECODABLE_IMAGE}: the fuzz tests call
     * this to tell a codec library's complaint about corrupt input from a bug in this package's own parsing.
     */
    BufferedImage decodeUnwrapped(byte[] bytes, String ct) throws InvalidEventException, IOException {
        return switch (ct) {
            case ImageReference.PNG -> decodeImageIo(bytes, "png", "PNG");
            case ImageReference.JPEG, "image/jpg" -> decodeImageIo(bytes, "jpeg", "JPEG");
            case ImageReference.DICOM -> decodeDicom(bytes);
            default -> throw new InvalidEventException(UNKNOWN_CONTENT_TYPE,
                    "cannot decode content type; supported: " + ImageReference.SUPPORTED_CONTENT_TYPES);
        };
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
        ImageReader reader;
        if (name.equals("JPEG")) {
            // always TwelveMonkeys' reader (as for JPEG in DICOM), not whichever ImageIO's plugin scan finds
            // first, which depends on the class loader (e.g. on a Flink cluster)
            reader = DicomPixels.jpegReader();
        } else {
            Iterator<ImageReader> readers = ImageIO.getImageReadersByFormatName(format);
            if (!readers.hasNext()) {
                throw new InvalidEventException(UNDECODABLE_IMAGE, "no " + name + " reader available");
            }
            reader = readers.next();
        }
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

    /**
     * The content type ({@link ImageReference#PNG}, {@link ImageReference#JPEG}, {@link ImageReference#DICOM})
     * that {@code bytes} have by their magic numbers, or null: for files named without a telling extension
     * (DICOM files from a PACS export often have none).
     */
    public static String contentTypeOf(byte[] bytes) {
        return switch (sniff(bytes)) {
            case "PNG" -> ImageReference.PNG;
            case "JPEG" -> ImageReference.JPEG;
            case "DICOM" -> ImageReference.DICOM;
            default -> null;
        };
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

    private BufferedImage decodeDicom(byte[] bytes) throws InvalidEventException, IOException {
        DicomHeader h = DicomHeader.parse(bytes);
        checkSupported(h);
        limits.checkDimensions(h.columns, h.rows);
        if (h.codec == DicomHeader.Codec.NATIVE) {
            int bytesPerSample = h.bitsAllocated / 8;
            long frameBytes = (long) h.rows * h.columns * h.samplesPerPixel * bytesPerSample;
            long available = Math.min(h.pixelDataLength, bytes.length - (long) h.pixelDataOffset);
            if (h.numberOfFrames > available / frameBytes) { // no overflow: frames x frameBytes is never computed
                throw new InvalidEventException(UNDECODABLE_IMAGE, "truncated DICOM pixel data: " + available
                        + " bytes for " + h.columns + "x" + h.rows + "x" + h.numberOfFrames + " at "
                        + h.bitsAllocated + " bits");
            }
        }
        return DicomPixels.decodeFirstFrame(bytes, h);
    }

    private static void checkSupported(DicomHeader h) throws InvalidEventException {
        String pi = h.photometric;
        boolean mono = pi.equals("MONOCHROME1") || pi.equals("MONOCHROME2");
        if (h.rows <= 0 || h.columns <= 0) {
            throw new InvalidEventException(UNDECODABLE_IMAGE, "DICOM image has no rows or columns");
        }
        if (mono && h.samplesPerPixel == 1) {
            if (h.bitsAllocated != 8 && h.bitsAllocated != 16) {
                throw new InvalidEventException(UNDECODABLE_IMAGE, "DICOM with " + h.bitsAllocated
                        + " bits allocated is not supported (8 or 16)");
            }
        } else if (h.samplesPerPixel == 3 && (pi.equals("RGB")
                || (h.codec == DicomHeader.Codec.JPEG || h.codec == DicomHeader.Codec.JPEG_2000)
                        && (pi.startsWith("YBR_") ))) {
            if (h.bitsAllocated != 8) {
                throw new InvalidEventException(UNDECODABLE_IMAGE, "colour DICOM must have 8 bits a sample");
            }
        } else {
            String shown = pi.matches("[A-Z0-9_ ]{0,16}") ? pi : "(not shown)";
            throw new InvalidEventException(UNDECODABLE_IMAGE, "DICOM photometric interpretation \"" + shown
                    + "\" with " + h.samplesPerPixel + " samples per pixel is not supported"
                    + " (MONOCHROME1, MONOCHROME2, RGB; YBR in JPEG/JPEG 2000)");
        }
        if (h.bitsStored <= 0 || h.bitsStored > h.bitsAllocated) {
            h.bitsStored = h.bitsAllocated;
        }
    }
}
