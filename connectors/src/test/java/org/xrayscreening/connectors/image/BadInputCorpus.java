package org.xrayscreening.connectors.image;

import java.awt.image.BufferedImage;
import java.awt.image.IndexColorModel;
import java.awt.image.WritableRaster;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Iterator;
import java.util.List;
import java.util.zip.CRC32;
import java.util.zip.Deflater;

import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.stream.MemoryCacheImageOutputStream;

import org.xrayscreening.connectors.event.DeadLetterReason;

/**
 * The bad-input corpus (issue 12 item 5): every kind of broken, hostile or merely unusual {@code xray.acquired}
 * record the job must survive, each with the outcome it must get. Built here, in code, deterministically (same
 * bytes on every run and machine); {@code connectors/src/test/resources/bad-inputs/v1/} holds the files this
 * class writes (see {@link #main}) together with {@code manifest.tsv}, and {@code BadInputCorpusTest} checks
 * that the two agree, so the folder is the versioned, reviewable form and this class its only source.
 *
 * <p>Each {@link Entry} is delivered in one of four ways ({@link Delivery}): a whole record value as written
 * ({@code EVENT}: the JSON cases), an image inline in an otherwise valid event ({@code INLINE}), an image
 * written under the allowed file root and named by a {@code file:} URI ({@code FILE}), or a URI as given
 * ({@code URI}; {@value #ROOT} stands for the allowed file root). An entry whose {@link Entry#expected()} is
 * null is a valid, if unusual, image: it must get a recommendation, not a dead letter.
 *
 * <p>Expectations hold with {@link #LIMITS} and an image-source policy that allows only the file root and the
 * URL prefix {@value #ALLOWED_URL_PREFIX} (a host that never resolves, RFC 6761).
 *
 * <p>Bump the folder to {@code v2} (keep {@code v1}) when an entry's bytes or expectation change.
 */
public final class BadInputCorpus {

    public static final String VERSION = "v1";
    /** Placeholder for the allowed file root ({@code file:///...../}) in {@code URI} entries. */
    public static final String ROOT = "${root}";
    /** The only URL prefix the corpus policy allows: its host cannot resolve, so reaching it fails. */
    public static final String ALLOWED_URL_PREFIX = "http://images.unreachable.invalid/";
    /** 512 KiB, 4 megapixels, 8192 a side: small enough that a Kafka record can carry an over-size image. */
    public static final ImageLimits LIMITS = new ImageLimits(512 * 1024, 4_000_000L, 8192);

    /** How an entry reaches the job. */
    public enum Delivery {
        EVENT, INLINE, FILE, URI
    }

    /**
     * @param name unique, also the Kafka key and the file's base name
     * @param kind what is wrong (or unusual), a short phrase
     * @param expected the dead-letter reason it must get; null: valid, must get a recommendation
     * @param why why that is the right outcome
     */
    public record Entry(String name, String kind, Delivery delivery, String contentType, DeadLetterReason expected,
                        String why, byte[] bytes) {

        public boolean valid() {
            return expected == null;
        }

        public String expectedName() {
            return expected == null ? "RECOMMENDATION" : expected.name();
        }

        public String studyId() {
            return "corpus-" + name;
        }

        public String fileName() {
            String ext = switch (delivery) {
                case EVENT -> ".json";
                case URI -> ".uri";
                default -> switch (contentType) {
                    case "image/png" -> ".png";
                    case "image/jpeg" -> ".jpg";
                    case "application/dicom" -> ".dcm";
                    default -> ".bin";
                };
            };
            return name + ext;
        }

        /**
         * The {@code xray.acquired} record value. {@code FILE} entries must have been written to
         * {@code root.resolve(fileName())} (see {@link #writeImages}).
         */
        public byte[] record(Path root) {
            return switch (delivery) {
                case EVENT -> bytes;
                case INLINE -> event(studyId(), contentType, "\"data\":\"" + Base64.getEncoder().encodeToString(bytes) + "\"");
                case FILE -> event(studyId(), contentType, "\"uri\":\"" + root.resolve(fileName()).toUri() + "\"");
                case URI -> event(studyId(), contentType, "\"uri\":\""
                        + new String(bytes, StandardCharsets.UTF_8).replace(ROOT, rootUri(root)) + "\"");
            };
        }
    }

    private BadInputCorpus() {
    }

    /** Writes the corpus (files + manifest.tsv) into {@code args[0]} (default: this module's test resources). */
    public static void main(String[] args) throws IOException {
        Path dir = Path.of(args.length > 0 ? args[0] : "connectors/src/test/resources/bad-inputs/" + VERSION);
        List<Entry> entries = entries();
        write(entries, dir);
        System.out.println("wrote " + entries.size() + " corpus entries to " + dir.toAbsolutePath());
    }

    /** Every entry's bytes as {@code fileName()}, and {@code manifest.tsv}. */
    public static void write(List<Entry> entries, Path dir) throws IOException {
        Files.createDirectories(dir);
        for (Entry e : entries) {
            Files.write(dir.resolve(e.fileName()), e.bytes());
        }
        Files.writeString(dir.resolve("manifest.tsv"), manifest(entries));
    }

    /** Writes the {@code FILE} entries' images under {@code root}, where their URIs point. */
    public static void writeImages(List<Entry> entries, Path root) throws IOException {
        Files.createDirectories(root);
        for (Entry e : entries) {
            if (e.delivery() == Delivery.FILE) {
                Files.write(root.resolve(e.fileName()), e.bytes());
            }
        }
    }

    public static String manifest(List<Entry> entries) {
        StringBuilder s = new StringBuilder("# bad-input corpus " + VERSION + ", written by "
                + BadInputCorpus.class.getName() + "; limits: " + LIMITS.maxBytes() + " bytes, " + LIMITS.maxPixels()
                + " pixels, " + LIMITS.maxSide() + " a side; allowed: the file root and " + ALLOWED_URL_PREFIX + "\n");
        s.append("file\tkind\tdelivery\tcontent_type\texpected\twhy\n");
        for (Entry e : entries) {
            s.append(String.join("\t", e.fileName(), e.kind(), e.delivery().name(),
                    e.contentType() == null ? "-" : e.contentType(), e.expectedName(), e.why())).append('\n');
        }
        return s.toString();
    }

    static String rootUri(Path root) {
        String u = root.toUri().toString();
        return u.endsWith("/") ? u : u + "/";
    }

    static byte[] event(String studyId, String contentType, String imageSource) {
        return ("{\"schemaVersion\":1,\"studyId\":\"" + studyId + "\",\"patientRef\":\"PATIENT-CORPUS\","
                + "\"acquiredAt\":\"2026-12-03T10:00:00Z\",\"view\":\"PA\",\"source\":\"corpus\","
                + "\"image\":{\"contentType\":\"" + contentType + "\"," + imageSource + "}}")
                .getBytes(StandardCharsets.UTF_8);
    }

    // ------------------------------------------------------------------------------------------ entries

    private static final String PNG = "image/png";
    private static final String JPEG = "image/jpeg";
    private static final String DICOM = "application/dicom";
    private static final DeadLetterReason UNDECODABLE = DeadLetterReason.UNDECODABLE_IMAGE;
    private static final DeadLetterReason TOO_LARGE = DeadLetterReason.IMAGE_TOO_LARGE;

    public static List<Entry> entries() {
        try {
            List<Entry> c = new ArrayList<>();
            png(c);
            jpeg(c);
            dicom(c);
            json(c);
            sources(c);
            return c;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Entry image(String name, String kind, String ct, DeadLetterReason expected, String why, byte[] b) {
        return new Entry(name, kind, Delivery.INLINE, ct, expected, why, b);
    }

    private static void png(List<Entry> c) throws IOException {
        byte[] good = encode(gray8(64, 48), "png");
        c.add(image("png-truncated", "PNG cut in half", PNG, UNDECODABLE,
                "the pixel data end early; a partial image must not be scored", Arrays2.head(good, good.length / 2)));
        c.add(image("png-corrupt-idat", "PNG whose compressed pixel data are overwritten", PNG, UNDECODABLE,
                "the zlib stream is invalid", corruptPngIdat(good)));
        c.add(image("png-dimension-bomb", "1x1 PNG whose IHDR claims 100000x100000", PNG, TOO_LARGE,
                "refused from the header, before a 10-gigapixel buffer is allocated",
                withIhdrSize(encode(gray8(1, 1), "png"), 100_000, 100_000)));
        c.add(image("png-zero-width", "PNG whose IHDR says width 0", PNG, UNDECODABLE,
                "an image with no pixels", withIhdrSize(good, 0, 48)));
        c.add(image("png-zlib-bomb", "3000x3000 all-black PNG, 9 MB of pixels in a few KB", PNG, TOO_LARGE,
                "9 megapixels is over the 4-megapixel limit; refused from the header, not after inflating",
                zlibBombPng(3000, 3000)));
        c.add(image("png-no-chunks", "PNG signature and nothing else", PNG, UNDECODABLE,
                "no IHDR", Arrays2.head(good, 8)));
        c.add(image("png-ztxt-bomb", "valid 64x48 PNG with a zTXt text chunk that inflates to 64 MB", PNG, null,
                "valid: text metadata is not read (ignoreMetadata), so the bomb never inflates",
                withChunkBeforeIend(good, "zTXt", zTxt("Comment", 64 << 20))));
        c.add(image("png-as-jpeg", "PNG bytes declared as image/jpeg", JPEG, UNDECODABLE,
                "content type and bytes disagree: which is wrong cannot be known", good));
        c.add(image("png-16bit-gray", "valid 16-bit grayscale PNG", PNG, null,
                "valid: 16-bit gray is scaled to the canonical 16-bit image", encode(gray16(64, 48), "png")));
        c.add(image("png-palette", "valid palette (indexed) PNG, palette not in index order", PNG, null,
                "valid: the palette's colours, not the indices, are the pixel values", encode(palette(64, 48), "png")));
        c.add(image("png-1bit-gray", "valid 1-bit grayscale PNG", PNG, null,
                "valid: a 1-bit image is black and white, not black and near-black", encode(binary(64, 48), "png")));
        c.add(image("png-gray-alpha", "valid 8-bit gray PNG with an alpha channel", PNG, null,
                "valid: the alpha channel is ignored", encode(grayAlpha(64, 48), "png")));
    }

    private static void jpeg(List<Entry> c) throws IOException {
        byte[] good = encode(gray8(64, 48), "jpeg");
        c.add(image("jpeg-truncated", "JPEG cut in half", JPEG, UNDECODABLE,
                "\"premature end of JPEG file\": the lower half would be gray", Arrays2.head(good, good.length / 2)));
        c.add(image("jpeg-soi-only", "JPEG start-of-image marker and garbage", JPEG, UNDECODABLE,
                "no frame header", Arrays2.concat(Arrays2.head(good, 3), "garbage after the SOI marker".getBytes(StandardCharsets.US_ASCII))));
        c.add(image("jpeg-dimension-bomb", "64x48 JPEG whose SOF claims 65000x65000", JPEG, TOO_LARGE,
                "refused from the frame header before decoding", Images.patchJpegSize(good, 65000, 65000)));
        c.add(image("jpeg-zero-height", "JPEG whose SOF says height 0 (DNL form)", JPEG, UNDECODABLE,
                "height 0 needs a DNL marker that is not there", Images.patchJpegSize(good, 64, 0)));
        c.add(image("jpeg-progressive", "valid progressive JPEG", JPEG, null,
                "valid: progressive JPEG is decoded", jpeg(gray8(64, 48), true)));
        c.add(image("jpeg-cmyk", "valid 4-channel (CMYK/YCCK) JPEG", JPEG, null,
                "valid: TwelveMonkeys converts CMYK to RGB, then to gray", cmykJpeg(64, 48)));
        c.add(image("jpeg-rgb", "valid colour JPEG", JPEG, null,
                "valid: colour is reduced to luminance", encode(rgb(64, 48), "jpeg")));
        byte[] corrupt = good.clone();
        int sos = Arrays2.indexOf(corrupt, new byte[] {(byte) 0xFF, (byte) 0xDA});
        for (int i = sos + 20; i < corrupt.length - 2; i += 3) {
            corrupt[i] = (byte) 0xFF; // marker-like bytes in the entropy-coded data
        }
        c.add(image("jpeg-corrupt-scan", "JPEG with its entropy-coded data overwritten", JPEG, UNDECODABLE,
                "the decoder warns (corrupt data); a partly wrong image must not be scored", corrupt));
    }

    private static void dicom(List<Entry> c) {
        int w = 64;
        int h = 48;
        byte[] px8 = new byte[w * h];
        for (int i = 0; i < px8.length; i++) {
            px8[i] = (byte) (i * 7);
        }
        byte[] good = Dicom.mono(h, w, 8).pixels(px8).toBytes(true);
        c.add(image("dicom-truncated", "DICOM cut in the middle of its pixel data", DICOM, UNDECODABLE,
                "fewer pixel bytes than Rows x Columns needs", Arrays2.head(good, good.length - px8.length / 2)));
        c.add(image("dicom-truncated-header", "DICOM cut inside its header", DICOM, UNDECODABLE,
                "the header ends before Pixel Data", Arrays2.head(good, 160)));
        c.add(image("dicom-rows-huge", "DICOM with Rows and Columns 65535 and 3 KB of pixels", DICOM, TOO_LARGE,
                "4.3 gigapixels: refused from the header", Dicom.mono(65535, 65535, 8).pixels(px8).toBytes(true)));
        c.add(image("dicom-rows-zero", "DICOM with Rows 0", DICOM, UNDECODABLE,
                "an image with no rows", Dicom.mono(0, w, 8).pixels(px8).toBytes(true)));
        c.add(image("dicom-bits-1", "DICOM with Bits Allocated 1", DICOM, UNDECODABLE,
                "1-bit (overlay-like) pixel data are not a radiograph this job reads", Dicom.mono(h, w, 1).pixels(Arrays2.head(px8, w * h / 8)).toBytes(true)));
        c.add(image("dicom-bits-32", "DICOM with Bits Allocated 32", DICOM, UNDECODABLE,
                "32-bit pixel data are not supported (8 or 16)", Dicom.mono(h, w, 32).pixels(new byte[w * h * 4]).toBytes(true)));
        c.add(image("dicom-odd-vr-length", "DICOM whose Photometric Interpretation has odd length 11 (no padding)", DICOM, null,
                "valid enough: DICOM wants even lengths, but the stated length is honest, so it is read as given",
                new Dicom().us(0x00280002, 1).strOdd(0x00280004, "CS", "MONOCHROME2").us(0x00280010, h).us(0x00280011, w)
                        .us(0x00280100, 8).us(0x00280101, 8).us(0x00280102, 7).us(0x00280103, 0).pixels(px8).toBytes(true)));
        c.add(image("dicom-length-past-end", "DICOM element whose length points 2 GB past the end", DICOM, UNDECODABLE,
                "a length past the end of the file: truncated or corrupt",
                Dicom.mono(h, w, 8).rawElement(0x00091010, "UN", 0x7FFFFFF0L, new byte[16]).toBytes(true)));
        c.add(image("dicom-pixel-length-past-end", "DICOM whose Pixel Data length is 2 GB, with 3 KB present", DICOM, UNDECODABLE,
                "the pixel data are shorter than stated and than Rows x Columns needs",
                Dicom.mono(h, w, 8).pixelsDeclared(0x7FFFFFF0L, px8).toBytes(true)));
        c.add(image("dicom-no-pixel-data", "DICOM with an image module and no Pixel Data", DICOM, UNDECODABLE,
                "nothing to decode", Dicom.mono(h, w, 8).toBytes(true)));
        byte[] frames = new byte[w * h * 3];
        for (int i = 0; i < frames.length; i++) {
            frames[i] = (byte) (i % 251);
        }
        c.add(image("dicom-multiframe", "valid 3-frame DICOM", DICOM, null,
                "valid: the first frame is used", Dicom.mono(h, w, 8).str(0x00280008, "IS", "3").pixels(frames).toBytes(true)));
        c.add(image("dicom-frames-lie", "DICOM that claims 1000000 frames and holds one", DICOM, UNDECODABLE,
                "the pixel data hold fewer frames than Number of Frames says",
                Dicom.mono(h, w, 8).str(0x00280008, "IS", "1000000").pixels(px8).toBytes(true)));
        byte[] rgb = new byte[w * h * 3];
        for (int i = 0; i < rgb.length; i++) {
            rgb[i] = (byte) (i * 5);
        }
        c.add(image("dicom-rgb", "valid RGB DICOM (8 bits a sample, interleaved)", DICOM, null,
                "valid: colour is reduced to luminance",
                new Dicom().us(0x00280002, 3).str(0x00280004, "CS", "RGB").us(0x00280006, 0).us(0x00280010, h)
                        .us(0x00280011, w).us(0x00280100, 8).us(0x00280101, 8).us(0x00280102, 7).us(0x00280103, 0)
                        .pixels(rgb).toBytes(true)));
        c.add(image("dicom-no-preamble", "DICOM data set without the 128-byte preamble and DICM marker", DICOM, UNDECODABLE,
                "not a DICOM Part 10 file; guessing the encoding of a bare data set is not safe",
                Dicom.mono(h, w, 8).pixels(px8).toBytes(false)));
        c.add(image("dicom-palette-color", "DICOM with PALETTE COLOR", DICOM, UNDECODABLE,
                "palette colour is not a radiograph form this job reads",
                new Dicom().us(0x00280002, 1).str(0x00280004, "CS", "PALETTE COLOR").us(0x00280010, h).us(0x00280011, w)
                        .us(0x00280100, 8).us(0x00280101, 8).us(0x00280102, 7).us(0x00280103, 0).pixels(px8).toBytes(true)));
        c.add(image("dicom-jpeg-ls", "DICOM in JPEG-LS (transfer syntax 1.2.840.10008.1.2.4.80)", DICOM, UNDECODABLE,
                "no JPEG-LS decoder; the reason names the transfer syntax",
                Dicom.mono(h, w, 8).transferSyntax("1.2.840.10008.1.2.4.80").encapsulated(new byte[] {(byte) 0xFF, (byte) 0xD8, 0, 0}).toBytes(true)));
        c.add(image("dicom-jpeg-garbage", "DICOM JPEG baseline whose fragment is not a JPEG", DICOM, UNDECODABLE,
                "the compressed frame cannot be decoded",
                Dicom.mono(h, w, 8).transferSyntax("1.2.840.10008.1.2.4.50").encapsulated("not a JPEG at all".getBytes(StandardCharsets.US_ASCII)).toBytes(true)));
        byte[] rle = new byte[64 + 8];
        rle[0] = 1; // one segment ...
        rle[4] = (byte) 0x10; // ... at offset 10000, past the end of the frame
        rle[5] = (byte) 0x27;
        c.add(image("dicom-rle-segment-outside", "DICOM RLE whose segment offset points past its frame", DICOM, UNDECODABLE,
                "the RLE header lies about where the data are",
                Dicom.mono(h, w, 8).transferSyntax("1.2.840.10008.1.2.5").encapsulated(rle).toBytes(true)));
        c.add(image("dicom-deep-sequences", "DICOM with 5000 nested sequences of undefined length", DICOM, UNDECODABLE,
                "refused at a nesting limit, not by a stack overflow", Dicom.mono(h, w, 8).nestedSequences(5000).pixels(px8).toBytes(true)));
        c.add(image("dicom-sequence-unterminated", "DICOM whose last sequence has no delimiter", DICOM, UNDECODABLE,
                "the file ends inside a sequence", Dicom.mono(h, w, 8).nestedSequences(1).dropLast(16).toBytes(true)));
        c.add(image("dicom-bad-transfer-syntax", "DICOM whose transfer syntax UID is text", DICOM, UNDECODABLE,
                "an unknown transfer syntax; the UID is not echoed", Dicom.mono(h, w, 8).transferSyntax("PATIENT NAME").pixels(px8).toBytes(true)));
    }

    private static void json(List<Entry> c) {
        String valid = new String(event("corpus-json-x", PNG, "\"uri\":\"" + ROOT + "x.png\""), StandardCharsets.UTF_8);
        c.add(json("json-deeply-nested", "JSON nested 100000 arrays deep", DeadLetterReason.MALFORMED_JSON,
                "refused at the parser's nesting limit, not by a stack overflow",
                "{\"schemaVersion\":1,\"studyId\":\"corpus-json-deeply-nested\",\"x\":" + "[".repeat(100_000) + "]".repeat(100_000) + "}"));
        c.add(json("json-huge-number", "schemaVersion with 5000 digits", DeadLetterReason.MALFORMED_JSON,
                "refused at the parser's number-length limit (no big-number parsing of attacker input)",
                "{\"schemaVersion\":" + "9".repeat(5000) + ",\"studyId\":\"corpus-json-huge-number\"}"));
        c.add(json("json-huge-study-id", "studyId of 300000 characters", DeadLetterReason.INVALID_FIELD,
                "studyId is a Kafka key; over 256 characters is refused",
                valid.replace("corpus-json-x", "S".repeat(300_000))));
        c.add(new Entry("json-huge-inline-image", "inline base64 image of 600 KB (over the 512 KiB limit)", Delivery.INLINE, PNG,
                TOO_LARGE, "refused from the base64 length, before decoding", padToSize(encode(gray8(64, 48)), 600 * 1024)));
        c.add(json("json-duplicate-keys", "two studyId fields", DeadLetterReason.MALFORMED_JSON,
                "parsers disagree on which duplicate wins (first or last): ambiguous input is refused",
                valid.replace("\"studyId\":\"corpus-json-x\"", "\"studyId\":\"corpus-json-duplicate-keys\",\"studyId\":\"other\"")));
        c.add(json("json-schema-version-string", "schemaVersion is the string \"1\"", DeadLetterReason.INVALID_FIELD,
                "wrong JSON type", valid.replace("\"schemaVersion\":1", "\"schemaVersion\":\"1\"")));
        c.add(json("json-image-string", "image is a string, not an object", DeadLetterReason.INVALID_FIELD,
                "wrong JSON type", "{\"schemaVersion\":1,\"studyId\":\"corpus-json-image-string\",\"acquiredAt\":\"2026-12-03T10:00:00Z\",\"image\":\"x.png\"}"));
        c.add(json("json-acquired-at-number", "acquiredAt is a number", DeadLetterReason.INVALID_FIELD,
                "wrong JSON type: an epoch number is ambiguous (seconds or milliseconds)",
                valid.replace("\"2026-12-03T10:00:00Z\"", "1764756000")));
        c.add(json("json-study-id-array", "studyId is an array", DeadLetterReason.INVALID_FIELD,
                "wrong JSON type", valid.replace("\"corpus-json-x\"", "[\"corpus-json-x\"]")));
        c.add(new Entry("json-raw-nul", "a raw NUL byte inside a string", Delivery.EVENT, null, DeadLetterReason.MALFORMED_JSON,
                "JSON forbids unescaped control characters", valid.replace("corpus-json-x", "corpus-json\0raw-nul").getBytes(StandardCharsets.UTF_8)));
        c.add(json("json-escaped-nul-study-id", "studyId holding an escaped NUL (\\u0000)", DeadLetterReason.INVALID_FIELD,
                "control characters in a Kafka key and log-correlated id are refused",
                valid.replace("corpus-json-x", "corpus-json\\u0000escaped")));
        c.add(new Entry("json-leading-nuls", "64 NUL bytes, then a valid event", Delivery.EVENT, null, DeadLetterReason.MALFORMED_JSON,
                "not JSON", Arrays2.concat(new byte[64], valid.getBytes(StandardCharsets.UTF_8))));
        c.add(json("json-trailing-garbage", "a valid event followed by more JSON", DeadLetterReason.MALFORMED_JSON,
                "a second value after the event: which one was meant cannot be known",
                valid + "{\"schemaVersion\":1}"));
        c.add(json("json-array", "a JSON array of events", DeadLetterReason.MALFORMED_JSON, "one record is one event",
                "[" + valid + "]"));
        c.add(new Entry("json-invalid-utf8", "invalid UTF-8 inside a string", Delivery.EVENT, null, DeadLetterReason.MALFORMED_JSON,
                "not UTF-8 JSON", Arrays2.replace(valid.getBytes(StandardCharsets.UTF_8), "json-x".getBytes(StandardCharsets.US_ASCII),
                        new byte[] {'j', (byte) 0xC3, (byte) 0x28, (byte) 0xFF, 'x', 'x'})));
        c.add(json("json-empty-object", "{}", DeadLetterReason.MISSING_FIELD, "no schemaVersion", "{}"));
    }

    private static void sources(List<Entry> c) throws IOException {
        c.add(new Entry("type-gif", "content type image/gif", Delivery.INLINE, "image/gif", DeadLetterReason.UNKNOWN_CONTENT_TYPE,
                "only PNG, JPEG and DICOM are read", "GIF89a".getBytes(StandardCharsets.US_ASCII)));
        c.add(new Entry("type-octet-stream", "content type application/octet-stream", Delivery.INLINE, "application/octet-stream",
                DeadLetterReason.UNKNOWN_CONTENT_TYPE, "no sniffing of undeclared types", encode(gray8(8, 8), "png")));
        c.add(new Entry("type-html", "content type text/html; charset=utf-8", Delivery.INLINE, "text/html; charset=utf-8",
                DeadLetterReason.UNKNOWN_CONTENT_TYPE, "only PNG, JPEG and DICOM are read", "<html></html>".getBytes(StandardCharsets.US_ASCII)));
        c.add(new Entry("file-valid-dicom", "valid 16-bit DICOM by file URI", Delivery.FILE, DICOM, null,
                "valid: the control that file URIs under the root do work", DicomWriter.of(gray16(64, 48)).sopInstanceUid("2.25.1202612030001").toBytes()));
        c.add(new Entry("file-truncated-png", "truncated PNG by file URI", Delivery.FILE, PNG, UNDECODABLE,
                "same as inline", Arrays2.head(encode(gray8(64, 48), "png"), 100)));
        c.add(uri("uri-missing-file", "file URI under the root that does not exist", PNG, DeadLetterReason.IMAGE_UNREACHABLE,
                "allowed but not there", ROOT + "no-such-image.png"));
        c.add(uri("uri-etc-passwd", "file:///etc/passwd", PNG, DeadLetterReason.IMAGE_SOURCE_NOT_ALLOWED,
                "outside the allowed file root; never read", "file:///etc/passwd"));
        c.add(uri("uri-dot-dot", "file URI escaping the root with ..", PNG, DeadLetterReason.IMAGE_SOURCE_NOT_ALLOWED,
                "dot segments are refused", ROOT + "../../etc/passwd"));
        c.add(uri("uri-loopback-metrics", "http://127.0.0.1:9404/metrics", PNG, DeadLetterReason.IMAGE_SOURCE_NOT_ALLOWED,
                "server-side request forgery against the job's own metrics", "http://127.0.0.1:9404/metrics"));
        c.add(uri("uri-cloud-metadata", "http://169.254.169.254/latest/meta-data/", PNG, DeadLetterReason.IMAGE_SOURCE_NOT_ALLOWED,
                "link-local cloud metadata service", "http://169.254.169.254/latest/meta-data/"));
        c.add(uri("uri-unreachable-host", "allowed URL prefix whose host does not resolve", PNG, DeadLetterReason.IMAGE_UNREACHABLE,
                "allowed, but the host cannot be reached", ALLOWED_URL_PREFIX + "study.png"));
        c.add(uri("uri-ftp", "ftp: URI", PNG, DeadLetterReason.INVALID_FIELD, "only file, http and https",
                "ftp://images.unreachable.invalid/x.png"));
        c.add(uri("uri-no-scheme", "relative URI", PNG, DeadLetterReason.INVALID_FIELD, "a claim check must be absolute",
                "images/x.png"));
    }

    private static Entry json(String name, String kind, DeadLetterReason expected, String why, String json) {
        return new Entry(name, kind, Delivery.EVENT, null, expected, why, json.getBytes(StandardCharsets.UTF_8));
    }

    private static Entry uri(String name, String kind, String ct, DeadLetterReason expected, String why, String uri) {
        return new Entry(name, kind, Delivery.URI, ct, expected, why, uri.getBytes(StandardCharsets.UTF_8));
    }

    // ------------------------------------------------------------------------------------------- images

    static BufferedImage gray8(int w, int h) {
        return Images.gray8(w, h);
    }

    static BufferedImage gray16(int w, int h) {
        return Images.gray16(w, h);
    }

    private static byte[] encode(BufferedImage img) {
        try {
            return encode(img, "png");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static byte[] encode(BufferedImage img, String format) throws IOException {
        return Images.encode(img, format);
    }

    /** A palette of grays in reverse order: index i is gray 255 - i, so decoding indices as values shows. */
    static BufferedImage palette(int w, int h) {
        byte[] v = new byte[256];
        for (int i = 0; i < 256; i++) {
            v[i] = (byte) (255 - i);
        }
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_BYTE_INDEXED, new IndexColorModel(8, 256, v, v, v));
        WritableRaster r = img.getRaster();
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                r.setSample(x, y, 0, (x * 4 + y) % 256);
            }
        }
        return img;
    }

    static BufferedImage binary(int w, int h) {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_BYTE_BINARY);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                img.getRaster().setSample(x, y, 0, x < w / 2 ? 0 : 1);
            }
        }
        return img;
    }

    private static BufferedImage grayAlpha(int w, int h) {
        java.awt.color.ColorSpace gray = java.awt.color.ColorSpace.getInstance(java.awt.color.ColorSpace.CS_GRAY);
        java.awt.image.ColorModel cm = new java.awt.image.ComponentColorModel(gray, true, false,
                java.awt.Transparency.TRANSLUCENT, java.awt.image.DataBuffer.TYPE_BYTE);
        WritableRaster r = cm.createCompatibleWritableRaster(w, h);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                r.setSample(x, y, 0, (x * 7 + y * 13) % 256);
                r.setSample(x, y, 1, 200);
            }
        }
        return new BufferedImage(cm, r, false, null);
    }

    private static BufferedImage rgb(int w, int h) {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                img.setRGB(x, y, (x * 4) << 16 | (y * 5) << 8 | 128);
            }
        }
        return img;
    }

    private static byte[] jpeg(BufferedImage img, boolean progressive) throws IOException {
        ImageWriter writer = jdkJpegWriter();
        try {
            ImageWriteParam p = writer.getDefaultWriteParam();
            if (progressive) {
                p.setProgressiveMode(ImageWriteParam.MODE_DEFAULT);
            }
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            try (MemoryCacheImageOutputStream o = new MemoryCacheImageOutputStream(out)) {
                writer.setOutput(o);
                writer.write(null, new IIOImage(img, null, null), p);
            }
            return out.toByteArray();
        } finally {
            writer.dispose();
        }
    }

    /** A 4-component JPEG written from a raster (the JDK writes it with an Adobe marker, no colour transform). */
    private static byte[] cmykJpeg(int w, int h) throws IOException {
        WritableRaster r = java.awt.image.Raster.createInterleavedRaster(java.awt.image.DataBuffer.TYPE_BYTE, w, h, 4, null);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                r.setPixel(x, y, new int[] {x * 3, y * 4, (x + y) % 256, 40});
            }
        }
        ImageWriter writer = jdkJpegWriter();
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            try (MemoryCacheImageOutputStream o = new MemoryCacheImageOutputStream(out)) {
                writer.setOutput(o);
                writer.write(null, new IIOImage(r, null, null), writer.getDefaultWriteParam());
            }
            return out.toByteArray();
        } finally {
            writer.dispose();
        }
    }

    /** The JDK's own JPEG writer (deterministic bytes whichever plugins are on the class path). */
    private static ImageWriter jdkJpegWriter() {
        Iterator<ImageWriter> it = ImageIO.getImageWritersByFormatName("jpeg");
        while (it.hasNext()) {
            ImageWriter w = it.next();
            if (w.getClass().getName().startsWith("com.sun.imageio")) {
                return w;
            }
        }
        throw new IllegalStateException("the JDK's JPEG writer is not available");
    }

    /** A PNG of the same pixels whose IHDR states another size (CRC recomputed, so only the size lies). */
    static byte[] withIhdrSize(byte[] png, int w, int h) {
        byte[] b = png.clone();
        // signature (8), length (4), "IHDR" (4), then width and height
        Images.putInt(b, 16, w);
        Images.putInt(b, 20, h);
        CRC32 crc = new CRC32();
        crc.update(b, 12, 17);
        Images.putInt(b, 29, (int) crc.getValue());
        return b;
    }

    private static byte[] corruptPngIdat(byte[] png) {
        byte[] b = png.clone();
        int idat = Arrays2.indexOf(b, "IDAT".getBytes(StandardCharsets.US_ASCII));
        int len = (b[idat - 4] & 0xFF) << 24 | (b[idat - 3] & 0xFF) << 16 | (b[idat - 2] & 0xFF) << 8 | (b[idat - 1] & 0xFF);
        for (int i = idat + 4 + 2; i < idat + 4 + len; i++) {
            b[i] = (byte) 0xA5;
        }
        CRC32 crc = new CRC32();
        crc.update(b, idat, 4 + len);
        Images.putInt(b, idat + 4 + len, (int) crc.getValue());
        return b;
    }

    /** An all-zero 8-bit gray PNG of w x h written chunk by chunk (never holding the pixels). */
    private static byte[] zlibBombPng(int w, int h) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'});
        byte[] ihdr = new byte[13];
        Images.putInt(ihdr, 0, w);
        Images.putInt(ihdr, 4, h);
        ihdr[8] = 8;
        Images.chunk(out, "IHDR", ihdr);
        Deflater d = new Deflater(9);
        byte[] row = new byte[w + 1]; // filter byte 0 + zero pixels
        ByteArrayOutputStream z = new ByteArrayOutputStream();
        byte[] buf = new byte[1 << 16];
        for (int y = 0; y < h; y++) {
            d.setInput(row);
            while (!d.needsInput()) {
                int n = d.deflate(buf);
                z.write(buf, 0, n);
            }
        }
        d.finish();
        while (!d.finished()) {
            int n = d.deflate(buf);
            z.write(buf, 0, n);
        }
        d.end();
        Images.chunk(out, "IDAT", z.toByteArray());
        Images.chunk(out, "IEND", new byte[0]);
        return out.toByteArray();
    }

    /** The PNG with one more chunk just before IEND. */
    private static byte[] withChunkBeforeIend(byte[] png, String type, byte[] body) {
        int iend = Arrays2.indexOf(png, "IEND".getBytes(StandardCharsets.US_ASCII)) - 4;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(png, 0, iend);
        Images.chunk(out, type, body);
        out.write(png, iend, png.length - iend);
        return out.toByteArray();
    }

    /** A zTXt body: keyword, NUL, compression method 0, then {@code inflatedSize} spaces deflated. */
    private static byte[] zTxt(String keyword, int inflatedSize) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(keyword.getBytes(StandardCharsets.ISO_8859_1));
        out.write(0);
        out.write(0);
        Deflater d = new Deflater(9);
        byte[] block = new byte[1 << 20];
        java.util.Arrays.fill(block, (byte) ' ');
        byte[] buf = new byte[1 << 16];
        for (int i = 0; i < inflatedSize / block.length; i++) {
            d.setInput(block);
            while (!d.needsInput()) {
                out.write(buf, 0, d.deflate(buf));
            }
        }
        d.finish();
        while (!d.finished()) {
            out.write(buf, 0, d.deflate(buf));
        }
        d.end();
        return out.toByteArray();
    }

    /** A valid PNG followed by a large ancillary-free tail (trailing bytes after IEND) to reach {@code size}. */
    private static byte[] padToSize(byte[] png, int size) {
        byte[] b = new byte[size];
        System.arraycopy(png, 0, b, 0, png.length);
        for (int i = png.length; i < size; i++) {
            b[i] = (byte) (i * 31);
        }
        return b;
    }

    // -------------------------------------------------------------------------------------------- DICOM

    /** A little DICOM writer for broken files: explicit VR little endian, any length, any nesting. */
    static final class Dicom {
        private final ByteArrayOutputStream data = new ByteArrayOutputStream();
        private String transferSyntax = "1.2.840.10008.1.2.1";

        static Dicom mono(int rows, int columns, int bits) {
            return new Dicom().us(0x00280002, 1).str(0x00280004, "CS", "MONOCHROME2").us(0x00280010, rows)
                    .us(0x00280011, columns).us(0x00280100, bits).us(0x00280101, bits).us(0x00280102, Math.max(0, bits - 1))
                    .us(0x00280103, 0);
        }

        Dicom transferSyntax(String uid) {
            transferSyntax = uid;
            return this;
        }

        Dicom us(int tag, int v) {
            header(tag, "US", 2);
            u16(data, v);
            return this;
        }

        Dicom str(int tag, String vr, String s) {
            return strOdd(tag, vr, s.length() % 2 == 0 ? s : s + " ");
        }

        /** The string as given, odd length included. */
        Dicom strOdd(int tag, String vr, String s) {
            byte[] b = s.getBytes(StandardCharsets.US_ASCII);
            header(tag, vr, b.length);
            data.writeBytes(b);
            return this;
        }

        /** An element with a long VR and a stated length that need not match the value. */
        Dicom rawElement(int tag, String vr, long statedLength, byte[] value) {
            u16(data, tag >>> 16);
            u16(data, tag & 0xFFFF);
            data.writeBytes(vr.getBytes(StandardCharsets.US_ASCII));
            u16(data, 0);
            u32(data, statedLength);
            data.writeBytes(value);
            return this;
        }

        Dicom pixels(byte[] b) {
            return pixelsDeclared(b.length + (b.length & 1), b.length % 2 == 0 ? b : Arrays2.concat(b, new byte[1]));
        }

        Dicom pixelsDeclared(long statedLength, byte[] b) {
            return rawElement(0x7FE00010, "OW", statedLength, b);
        }

        Dicom encapsulated(byte[] fragment) {
            byte[] f = fragment.length % 2 == 0 ? fragment : Arrays2.concat(fragment, new byte[1]);
            rawElement(0x7FE00010, "OB", 0xFFFFFFFFL, new byte[0]);
            item(0, new byte[0]);
            item(f.length, f);
            u16(data, 0xFFFE);
            u16(data, 0xE0DD);
            u32(data, 0);
            return this;
        }

        /** {@code depth} sequences of undefined length, each in an item of the one before. */
        Dicom nestedSequences(int depth) {
            for (int i = 0; i < depth; i++) {
                rawElement(0x00081115, "SQ", 0xFFFFFFFFL, new byte[0]);
                item(0xFFFFFFFFL, new byte[0]);
            }
            for (int i = 0; i < depth; i++) {
                u16(data, 0xFFFE);
                u16(data, 0xE00D);
                u32(data, 0);
                u16(data, 0xFFFE);
                u16(data, 0xE0DD);
                u32(data, 0);
            }
            return this;
        }

        Dicom dropLast(int n) {
            byte[] b = data.toByteArray();
            data.reset();
            data.write(b, 0, b.length - n);
            return this;
        }

        private void item(long length, byte[] value) {
            u16(data, 0xFFFE);
            u16(data, 0xE000);
            u32(data, length);
            data.writeBytes(value);
        }

        byte[] toBytes(boolean part10) {
            ByteArrayOutputStream meta = new ByteArrayOutputStream();
            byte[] ts = (transferSyntax + (transferSyntax.length() % 2 == 1 ? "\0" : "")).getBytes(StandardCharsets.US_ASCII);
            u16(meta, 0x0002);
            u16(meta, 0x0010);
            meta.writeBytes("UI".getBytes(StandardCharsets.US_ASCII));
            u16(meta, ts.length);
            meta.writeBytes(ts);
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            if (part10) {
                out.writeBytes(new byte[128]);
                out.writeBytes("DICM".getBytes(StandardCharsets.US_ASCII));
                u16(out, 0x0002);
                u16(out, 0x0000);
                out.writeBytes("UL".getBytes(StandardCharsets.US_ASCII));
                u16(out, 4);
                u32(out, meta.size());
                out.writeBytes(meta.toByteArray());
            }
            out.writeBytes(data.toByteArray());
            return out.toByteArray();
        }

        private void header(int tag, String vr, int len) {
            u16(data, tag >>> 16);
            u16(data, tag & 0xFFFF);
            data.writeBytes(vr.getBytes(StandardCharsets.US_ASCII));
            u16(data, len);
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

    /** Byte-array helpers. */
    static final class Arrays2 {
        private Arrays2() {
        }

        static byte[] head(byte[] b, int n) {
            return java.util.Arrays.copyOf(b, n);
        }

        static byte[] concat(byte[] a, byte[] b) {
            byte[] r = java.util.Arrays.copyOf(a, a.length + b.length);
            System.arraycopy(b, 0, r, a.length, b.length);
            return r;
        }

        static int indexOf(byte[] b, byte[] what) {
            outer:
            for (int i = 0; i + what.length <= b.length; i++) {
                for (int j = 0; j < what.length; j++) {
                    if (b[i + j] != what[j]) {
                        continue outer;
                    }
                }
                return i;
            }
            throw new IllegalArgumentException("not found");
        }

        static byte[] replace(byte[] b, byte[] what, byte[] with) {
            int i = indexOf(b, what);
            return concat(concat(head(b, i), with), java.util.Arrays.copyOfRange(b, i + what.length, b.length));
        }
    }

}
