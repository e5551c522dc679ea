package org.xrayscreening.connectors.event;

import static org.xrayscreening.connectors.event.DeadLetterReason.IMAGE_TOO_LARGE;
import static org.xrayscreening.connectors.event.DeadLetterReason.INVALID_FIELD;
import static org.xrayscreening.connectors.event.DeadLetterReason.MALFORMED_JSON;
import static org.xrayscreening.connectors.event.DeadLetterReason.MISSING_FIELD;
import static org.xrayscreening.connectors.event.DeadLetterReason.UNKNOWN_CONTENT_TYPE;
import static org.xrayscreening.connectors.event.DeadLetterReason.UNSUPPORTED_SCHEMA_VERSION;

import java.io.IOException;
import java.io.Serializable;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.Base64;
import java.util.Locale;
import java.util.Objects;
import java.util.regex.Pattern;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;

import org.xrayscreening.connectors.image.ImageLimits;

/**
 * JSON (de)serialization of every event, and validation of the two input events.
 *
 * <p>One {@link ObjectMapper}, configured once, is shared by all instances; it and this class are
 * thread-safe. Instants are ISO-8601 strings; null fields are left out; unknown fields are ignored. An
 * instance is {@link Serializable} (it holds only its {@link ImageLimits}), so a Flink function can keep one in
 * a field.
 *
 * <p>{@link #parseAcquired(byte[])} and {@link #parseLabelled(byte[])} take untrusted bytes and either return
 * a complete, valid event or throw {@link InvalidEventException} with the dead-letter reason. Their details
 * name the offending field but never echo field values (so never the patient reference), nor parser
 * excerpts of the input.
 */
public final class EventCodec implements Serializable {

    private static final long serialVersionUID = 1L;

    /** The schema version this code writes and accepts. */
    public static final int SCHEMA_VERSION = 1;

    /** Longest studyId accepted (it is a Kafka key). */
    public static final int MAX_STUDY_ID_LENGTH = 256;

    private static final ObjectMapper MAPPER = createMapper();
    private static final Pattern SAFE_PATH_SEGMENT = Pattern.compile("[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}");
    private static final Pattern SAFE_TOKEN = Pattern.compile("[A-Za-z0-9][A-Za-z0-9.+/_-]{0,63}");

    private final ImageLimits limits;

    /** A codec with {@link ImageLimits#DEFAULTS}. */
    public EventCodec() {
        this(ImageLimits.DEFAULTS);
    }

    /** A codec refusing inline images over {@code limits.maxBytes()}. */
    public EventCodec(ImageLimits limits) {
        this.limits = Objects.requireNonNull(limits, "limits");
    }

    public ImageLimits limits() {
        return limits;
    }

    private static ObjectMapper createMapper() {
        JsonFactory factory = JsonFactory.builder()
                .disable(StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION)
                // duplicate keys are ambiguous (parsers differ on which one wins): a studyId or image that one
                // consumer reads differently from another is refused instead
                .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
                // inline images are long strings; their size is checked against ImageLimits after parsing
                .streamReadConstraints(StreamReadConstraints.builder().maxStringLength(Integer.MAX_VALUE).build())
                .build();
        return JsonMapper.builder(factory)
                .addModule(new JavaTimeModule())
                .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
                .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                // "{event}{other}" in one record: without this the second value would be silently dropped
                .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
                .disable(DeserializationFeature.ADJUST_DATES_TO_CONTEXT_TIME_ZONE)
                .serializationInclusion(JsonInclude.Include.NON_NULL)
                .build();
    }

    // ------------------------------------------------------------------------------------------ writing

    /** UTF-8 JSON of any event (or other Jackson-serializable value). */
    public byte[] toJson(Object value) {
        try {
            return MAPPER.writeValueAsBytes(value);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("cannot serialize " + typeName(value) + ": "
                    + e.getOriginalMessage(), e);
        }
    }

    /** JSON text of any event. */
    public String toJsonString(Object value) {
        return new String(toJson(value), StandardCharsets.UTF_8);
    }

    /**
     * Reads JSON into {@code type} without validation beyond types (for trusted, self-written events such as
     * recommendations, alerts and dead letters).
     *
     * @throws IllegalArgumentException if the bytes are not JSON of that type; the message holds no excerpt
     *         of the input
     */
    public <T> T fromJson(byte[] json, Class<T> type) {
        try {
            T value = MAPPER.readValue(json, type);
            if (value == null) {
                throw new IllegalArgumentException("JSON null is not a " + type.getSimpleName());
            }
            return value;
        } catch (IOException e) {
            throw new IllegalArgumentException("not a " + type.getSimpleName() + ": " + describe(e), e);
        }
    }

    // ------------------------------------------------------------------------------------------ parsing

    /** Parses and validates an {@code xray.acquired} value. */
    public XrayAcquired parseAcquired(byte[] json) throws InvalidEventException {
        Fields f = new Fields(readObject(json));
        Common c = common(f);
        return new XrayAcquired(SCHEMA_VERSION, c.studyId, c.patientRef, c.acquiredAt, c.view, c.source, c.image);
    }

    /** Parses and validates an {@code xray.labelled} value. */
    public XrayLabelled parseLabelled(byte[] json) throws InvalidEventException {
        Fields f = new Fields(readObject(json));
        Common c = common(f);
        String label = f.requiredText("label").trim().toLowerCase(Locale.ROOT);
        if (!label.equals(XrayLabelled.COVID) && !label.equals(XrayLabelled.NON_COVID)) {
            throw new InvalidEventException(INVALID_FIELD, "label must be \"covid\" or \"non-covid\"");
        }
        String labelSource = f.requiredText("labelSource").trim().toUpperCase(Locale.ROOT);
        if (!labelSource.equals(XrayLabelled.PCR) && !labelSource.equals(XrayLabelled.RADIOLOGIST)) {
            throw new InvalidEventException(INVALID_FIELD, "labelSource must be PCR or RADIOLOGIST");
        }
        Instant confirmedAt = f.optionalInstant("confirmedAt");
        return new XrayLabelled(SCHEMA_VERSION, c.studyId, c.patientRef, c.acquiredAt, c.view, c.source, c.image,
                label, labelSource, confirmedAt);
    }

    /**
     * Parses a {@link ModelUpdate}: model and version are required and must be plain tokens (they become
     * registry path segments, so "../" must never get through).
     */
    public ModelUpdate parseModelUpdate(byte[] json) throws InvalidEventException {
        Fields f = new Fields(readObject(json));
        f.schemaVersion();
        String model = f.requiredText("model").trim();
        String version = f.requiredText("version").trim();
        for (String[] field : new String[][] {{"model", model}, {"version", version}}) {
            if (!SAFE_PATH_SEGMENT.matcher(field[1]).matches()) {
                throw new InvalidEventException(INVALID_FIELD, field[0] + " must be a plain name ([A-Za-z0-9._-], not starting with '.')");
            }
        }
        String sha256 = f.optionalText("sha256");
        if (sha256 != null && !sha256.matches("[0-9a-fA-F]{64}")) {
            throw new InvalidEventException(INVALID_FIELD, "sha256 must be 64 hex digits");
        }
        return new ModelUpdate(SCHEMA_VERSION, model, version, f.optionalText("location"),
                sha256 == null ? null : sha256.toLowerCase(Locale.ROOT), f.optionalInstant("publishedAt"),
                f.optionalText("reason"));
    }

    /** The fields both input events share, checked in a fixed order. */
    private record Common(String studyId, String patientRef, Instant acquiredAt, String view, String source,
                          ImageReference image) {
    }

    private Common common(Fields f) throws InvalidEventException {
        f.schemaVersion();
        String studyId = f.studyId();
        Instant acquiredAt = f.requiredInstant("acquiredAt");
        ImageReference image = image(f);
        return new Common(studyId, f.optionalText("patientRef"), acquiredAt, f.optionalText("view"),
                f.optionalText("source"), image);
    }

    private ImageReference image(Fields root) throws InvalidEventException {
        JsonNode node = root.get("image");
        if (node == null) {
            throw new InvalidEventException(MISSING_FIELD, "image is missing");
        }
        if (!node.isObject()) {
            throw new InvalidEventException(INVALID_FIELD, "image must be an object");
        }
        Fields f = new Fields(node, "image.");
        String contentType = normalizeContentType(f.requiredText("contentType"));
        String data = f.optionalText("data");
        String uri = f.optionalText("uri");
        if ((data == null) == (uri == null)) {
            throw new InvalidEventException(INVALID_FIELD,
                    "image must have exactly one of data or uri, it has " + (data == null ? "neither" : "both"));
        }
        ImageReference image = new ImageReference(contentType, data, uri);
        if (data != null) {
            checkInlineData(image);
        } else {
            checkUri(uri);
        }
        return image;
    }

    private static String normalizeContentType(String raw) throws InvalidEventException {
        String ct = raw;
        int semicolon = ct.indexOf(';');
        if (semicolon >= 0) {
            ct = ct.substring(0, semicolon);
        }
        ct = ct.trim().toLowerCase(Locale.ROOT);
        if (ct.equals("image/jpg")) {
            ct = ImageReference.JPEG;
        }
        if (!ImageReference.SUPPORTED_CONTENT_TYPES.contains(ct)) {
            String shown = SAFE_TOKEN.matcher(ct).matches() ? "\"" + ct + "\"" : "(value not shown)";
            throw new InvalidEventException(UNKNOWN_CONTENT_TYPE, "image.contentType " + shown
                    + " is not one of " + ImageReference.SUPPORTED_CONTENT_TYPES);
        }
        return ct;
    }

    private void checkInlineData(ImageReference image) throws InvalidEventException {
        String data = image.data();
        if (data.isEmpty()) {
            throw new InvalidEventException(INVALID_FIELD, "image.data is empty");
        }
        limits.checkBytes(image.inlineDataSize(), "image.data (decoded)");
        try {
            Base64.getDecoder().decode(data);
        } catch (IllegalArgumentException e) {
            throw new InvalidEventException(INVALID_FIELD, "image.data is not valid base64");
        }
    }

    private static void checkUri(String text) throws InvalidEventException {
        URI uri;
        try {
            uri = new URI(text.trim());
        } catch (URISyntaxException e) {
            throw new InvalidEventException(INVALID_FIELD, "image.uri is not a valid URI");
        }
        String scheme = uri.getScheme() == null ? null : uri.getScheme().toLowerCase(Locale.ROOT);
        if (scheme == null) {
            throw new InvalidEventException(INVALID_FIELD, "image.uri has no scheme; use file:, http: or https:");
        }
        switch (scheme) {
            case "file" -> {
                if (uri.isOpaque() || uri.getPath() == null || !uri.getPath().startsWith("/")) {
                    throw new InvalidEventException(INVALID_FIELD, "image.uri file: URI must hold an absolute path");
                }
                if (uri.getAuthority() != null && !uri.getAuthority().isEmpty()
                        && !uri.getAuthority().equalsIgnoreCase("localhost")) {
                    throw new InvalidEventException(INVALID_FIELD, "image.uri file: URI must be local (no host)");
                }
            }
            case "http", "https" -> {
                if (uri.getHost() == null || uri.getHost().isEmpty()) {
                    throw new InvalidEventException(INVALID_FIELD, "image.uri " + scheme + ": URI has no host");
                }
            }
            default -> throw new InvalidEventException(INVALID_FIELD,
                    "image.uri scheme is not one of file, http, https");
        }
    }

    private static JsonNode readObject(byte[] json) throws InvalidEventException {
        if (json == null || json.length == 0) {
            throw new InvalidEventException(MALFORMED_JSON, "empty value");
        }
        JsonNode node;
        try {
            node = MAPPER.readTree(json);
        } catch (IOException e) {
            throw new InvalidEventException(MALFORMED_JSON, describe(e));
        }
        if (node == null || node.isMissingNode()) {
            throw new InvalidEventException(MALFORMED_JSON, "no JSON value");
        }
        if (!node.isObject()) {
            throw new InvalidEventException(MALFORMED_JSON, "JSON value is " + node.getNodeType()
                    .name().toLowerCase(Locale.ROOT) + ", not an object");
        }
        return node;
    }

    /** A parse failure's kind and position, without the parser's excerpt of the input. */
    private static String describe(IOException e) {
        if (e instanceof StreamConstraintsException) {
            return "JSON exceeds a parser limit";
        }
        String where = "";
        if (e instanceof JsonProcessingException jpe) {
            JsonLocation loc = jpe.getLocation();
            if (loc != null) {
                where = " at line " + loc.getLineNr() + ", column " + loc.getColumnNr();
            }
        }
        String message = e.getMessage() == null ? "" : e.getMessage();
        // Jackson's messages may quote the input (a patient reference), so only their kind is named
        String kind = message.startsWith("Duplicate field") ? "duplicate field name"
                : message.startsWith("Trailing token") ? "more than one JSON value"
                : message.startsWith("Illegal unquoted character") ? "unescaped control character in a string"
                : message.startsWith("Invalid UTF-8") ? "invalid UTF-8"
                : e instanceof java.io.CharConversionException ? "not UTF-8 text (leading NUL bytes or invalid"
                        + " UTF-16/32)"
                : e instanceof com.fasterxml.jackson.core.io.JsonEOFException ? "unexpected end of input"
                : e instanceof com.fasterxml.jackson.databind.exc.InvalidFormatException ? "invalid value"
                : e instanceof com.fasterxml.jackson.databind.exc.MismatchedInputException ? "wrong JSON type"
                : e instanceof com.fasterxml.jackson.core.JsonParseException ? "malformed JSON"
                : e.getClass().getSimpleName();
        return kind + where;
    }

    private static String typeName(Object value) {
        return value == null ? "null" : value.getClass().getSimpleName();
    }

    /** Field access on one JSON object with reason-coded failures; {@code prefix} names nested fields. */
    private static final class Fields {
        private final JsonNode node;
        private final String prefix;

        Fields(JsonNode node) {
            this(node, "");
        }

        Fields(JsonNode node, String prefix) {
            this.node = node;
            this.prefix = prefix;
        }

        /** The field, or null when absent or JSON null. */
        JsonNode get(String name) {
            JsonNode v = node.get(name);
            return v == null || v.isNull() ? null : v;
        }

        void schemaVersion() throws InvalidEventException {
            JsonNode v = get("schemaVersion");
            if (v == null) {
                throw new InvalidEventException(MISSING_FIELD, "schemaVersion is missing");
            }
            if (!v.isIntegralNumber()) {
                throw new InvalidEventException(INVALID_FIELD, "schemaVersion must be an integer");
            }
            if (!v.canConvertToInt() || v.intValue() != SCHEMA_VERSION) {
                String shown = v.canConvertToLong() ? Long.toString(v.longValue()) : "(too large)";
                throw new InvalidEventException(UNSUPPORTED_SCHEMA_VERSION,
                        "schemaVersion " + shown + " is not supported (supported: " + SCHEMA_VERSION + ")");
            }
        }

        String studyId() throws InvalidEventException {
            String id = requiredText("studyId");
            if (id.length() > MAX_STUDY_ID_LENGTH) {
                throw new InvalidEventException(INVALID_FIELD,
                        "studyId is longer than " + MAX_STUDY_ID_LENGTH + " characters");
            }
            // it becomes a Kafka key and a state key, and is printed by tools: no NUL, newline or escape codes
            if (id.chars().anyMatch(ch -> Character.isISOControl(ch))) {
                throw new InvalidEventException(INVALID_FIELD, "studyId contains control characters");
            }
            return id;
        }

        String requiredText(String name) throws InvalidEventException {
            JsonNode v = get(name);
            if (v == null) {
                throw new InvalidEventException(MISSING_FIELD, prefix + name + " is missing");
            }
            if (!v.isTextual()) {
                throw new InvalidEventException(INVALID_FIELD, prefix + name + " must be a string");
            }
            if (v.textValue().isBlank()) {
                throw new InvalidEventException(MISSING_FIELD, prefix + name + " is empty");
            }
            return v.textValue();
        }

        String optionalText(String name) throws InvalidEventException {
            JsonNode v = get(name);
            if (v == null) {
                return null;
            }
            if (!v.isTextual()) {
                throw new InvalidEventException(INVALID_FIELD, prefix + name + " must be a string");
            }
            return v.textValue();
        }

        Instant requiredInstant(String name) throws InvalidEventException {
            if (get(name) == null) {
                throw new InvalidEventException(MISSING_FIELD, prefix + name + " is missing");
            }
            return optionalInstant(name);
        }

        Instant optionalInstant(String name) throws InvalidEventException {
            JsonNode v = get(name);
            if (v == null) {
                return null;
            }
            if (!v.isTextual()) {
                throw new InvalidEventException(INVALID_FIELD,
                        prefix + name + " must be an ISO-8601 timestamp string, e.g. 2020-04-01T10:15:30Z");
            }
            String s = v.textValue().trim();
            try {
                return Instant.parse(s);
            } catch (DateTimeParseException e) {
                try {
                    return OffsetDateTime.parse(s).toInstant();
                } catch (DateTimeParseException e2) {
                    throw new InvalidEventException(INVALID_FIELD, prefix + name
                            + " is not an ISO-8601 timestamp with offset, e.g. 2020-04-01T10:15:30Z");
                }
            }
        }
    }
}
