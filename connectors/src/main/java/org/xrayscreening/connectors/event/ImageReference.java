package org.xrayscreening.connectors.event;

import java.util.Base64;
import java.util.List;

/**
 * Where an event's image is: inline ({@code data}, base64) or behind a URI ({@code uri}, a claim check:
 * {@code file:}, {@code http:} or {@code https:}). Exactly one of the two is set in a valid event; {@link
 * EventCodec} checks that when it parses.
 *
 * @param contentType one of {@link #SUPPORTED_CONTENT_TYPES}
 * @param data base64 (RFC 4648, standard alphabet) of the image bytes, or null
 * @param uri location of the image bytes, or null
 */
public record ImageReference(String contentType, String data, String uri) {

    public static final String PNG = "image/png";
    public static final String JPEG = "image/jpeg";
    public static final String DICOM = "application/dicom";
    public static final List<String> SUPPORTED_CONTENT_TYPES = List.of(PNG, JPEG, DICOM);

    /** An inline reference holding {@code bytes} base64-encoded. */
    public static ImageReference inline(String contentType, byte[] bytes) {
        return new ImageReference(contentType, Base64.getEncoder().encodeToString(bytes), null);
    }

    /** A claim-check reference to {@code uri}. */
    public static ImageReference at(String contentType, String uri) {
        return new ImageReference(contentType, null, uri);
    }

    /** True when the image travels inline ({@code data} set). Not a bean getter on purpose: not serialized. */
    public boolean hasInlineData() {
        return data != null;
    }

    /**
     * The size in bytes that {@code data} decodes to (computed from its length, without decoding; an upper
     * bound if it is not valid base64), or -1 without inline data. Not a bean getter: not serialized.
     */
    public long inlineDataSize() {
        if (data == null) {
            return -1;
        }
        int len = data.length();
        int pad = len > 0 && data.charAt(len - 1) == '=' ? (len > 1 && data.charAt(len - 2) == '=' ? 2 : 1) : 0;
        long full = (long) len / 4 * 3;
        return switch (len % 4) {
            case 0 -> full - pad;
            case 2 -> full + 1;
            case 3 -> full + 2;
            default -> full;
        };
    }

    /** The record without its (possibly large) inline data, for log lines. */
    @Override
    public String toString() {
        return "ImageReference[contentType=" + contentType
                + (data != null ? ", data=<" + data.length() + " base64 chars>" : "")
                + (uri != null ? ", uri=" + uri : "") + "]";
    }
}
