package org.xrayscreening.connectors.event;

import static org.xrayscreening.connectors.event.DeadLetterReason.INVALID_FIELD;
import static org.xrayscreening.connectors.event.DeadLetterReason.MALFORMED_JSON;
import static org.xrayscreening.connectors.event.DeadLetterReason.MISSING_FIELD;
import static org.xrayscreening.connectors.event.DeadLetterReason.UNSUPPORTED_SCHEMA_VERSION;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * An instruction to the trainer, on {@code xray.trainer-commands} (key: anything, e.g. the requester). Today
 * there is one command, {@link #REFIT}: refit now (champion/challenger), for the named models or, without
 * {@code models}, for every model that has a {@code production} alias.
 *
 * <pre>
 * {"schemaVersion":1,"command":"refit","models":["mobilenet"],"requestedBy":"alice","requestedAt":"2026-01-05T09:00:00Z"}
 * </pre>
 *
 * @param command {@link #REFIT}; required
 * @param models architecture ids ({@code mobilenet}, {@code resnet50}, {@code inceptionv3}, {@code xception}); empty = all
 * @param requestedBy who asked, for the audit trail (a user or a system name, never a patient id); optional
 * @param requestedAt when; optional
 */
public record TrainerCommand(int schemaVersion, String command, List<String> models, String requestedBy,
                             Instant requestedAt) {

    public static final String REFIT = "refit";
    /** The default topic name. */
    public static final String TOPIC = "xray.trainer-commands";
    private static final Pattern MODEL = Pattern.compile("[a-z0-9][a-z0-9_-]{0,31}");
    private static final Pattern REQUESTER = Pattern.compile("[A-Za-z0-9][A-Za-z0-9@._ :/-]{0,127}");

    public TrainerCommand {
        models = models == null ? List.of() : List.copyOf(models);
    }

    /** A refit request issued now. */
    public static TrainerCommand refit(List<String> models, String requestedBy) {
        return new TrainerCommand(EventCodec.SCHEMA_VERSION, REFIT, models, requestedBy, Instant.now());
    }

    /**
     * Parses and validates a command value: schemaVersion 1, command {@code refit}, models (if present) a list
     * of plain lower-case ids without duplicates, requestedBy (if present) a short plain name. Details never
     * echo free-text values.
     */
    public static TrainerCommand parse(EventCodec codec, byte[] json) throws InvalidEventException {
        if (json == null || json.length == 0) {
            throw new InvalidEventException(MALFORMED_JSON, "empty value");
        }
        JsonNode node;
        try {
            node = codec.fromJson(json, JsonNode.class);
        } catch (IllegalArgumentException e) {
            throw new InvalidEventException(MALFORMED_JSON, e.getMessage());
        }
        if (!node.isObject()) {
            throw new InvalidEventException(MALFORMED_JSON, "JSON value is not an object");
        }
        JsonNode v = field(node, "schemaVersion");
        if (v == null) {
            throw new InvalidEventException(MISSING_FIELD, "schemaVersion is missing");
        }
        if (!v.isIntegralNumber()) {
            throw new InvalidEventException(INVALID_FIELD, "schemaVersion must be an integer");
        }
        if (!v.canConvertToInt() || v.intValue() != EventCodec.SCHEMA_VERSION) {
            throw new InvalidEventException(UNSUPPORTED_SCHEMA_VERSION,
                    "schemaVersion is not supported (supported: " + EventCodec.SCHEMA_VERSION + ")");
        }
        JsonNode c = field(node, "command");
        if (c == null) {
            throw new InvalidEventException(MISSING_FIELD, "command is missing");
        }
        if (!c.isTextual()) {
            throw new InvalidEventException(INVALID_FIELD, "command must be a string");
        }
        String command = c.textValue().trim().toLowerCase(Locale.ROOT);
        if (!command.equals(REFIT)) {
            throw new InvalidEventException(INVALID_FIELD, "command must be \"" + REFIT + "\"");
        }
        List<String> models = new ArrayList<>();
        JsonNode m = field(node, "models");
        if (m != null) {
            if (!m.isArray()) {
                throw new InvalidEventException(INVALID_FIELD, "models must be an array of model ids");
            }
            for (JsonNode e : m) {
                if (!e.isTextual() || !MODEL.matcher(e.textValue().trim().toLowerCase(Locale.ROOT)).matches()) {
                    throw new InvalidEventException(INVALID_FIELD, "models must hold plain model ids such as \"mobilenet\"");
                }
                String id = e.textValue().trim().toLowerCase(Locale.ROOT);
                if (models.contains(id)) {
                    throw new InvalidEventException(INVALID_FIELD, "models lists a model twice");
                }
                models.add(id);
            }
        }
        String requestedBy = null;
        JsonNode r = field(node, "requestedBy");
        if (r != null) {
            if (!r.isTextual() || !REQUESTER.matcher(r.textValue().trim()).matches()) {
                throw new InvalidEventException(INVALID_FIELD,
                        "requestedBy must be a short plain name ([A-Za-z0-9@._ :/-], at most 128 characters)");
            }
            requestedBy = r.textValue().trim();
        }
        Instant requestedAt = null;
        JsonNode t = field(node, "requestedAt");
        if (t != null) {
            if (!t.isTextual()) {
                throw new InvalidEventException(INVALID_FIELD, "requestedAt must be an ISO-8601 timestamp string");
            }
            try {
                requestedAt = OffsetDateTime.parse(t.textValue().trim()).toInstant();
            } catch (DateTimeParseException e) {
                throw new InvalidEventException(INVALID_FIELD,
                        "requestedAt is not an ISO-8601 timestamp with offset, e.g. 2020-04-01T10:15:30Z");
            }
        }
        return new TrainerCommand(EventCodec.SCHEMA_VERSION, command, models, requestedBy, requestedAt);
    }

    private static JsonNode field(JsonNode node, String name) {
        JsonNode v = node.get(name);
        return v == null || v.isNull() ? null : v;
    }
}
