package org.xrayscreening.connectors.event;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class TrainerCommandTest {
    private final EventCodec codec = new EventCodec();

    private TrainerCommand parse(String json) throws InvalidEventException {
        return TrainerCommand.parse(codec, json.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void roundTripsThroughTheCodec() throws Exception {
        TrainerCommand c = new TrainerCommand(1, "refit", List.of("mobilenet", "resnet50"), "alice",
                Instant.parse("2026-01-05T09:00:00Z"));
        TrainerCommand back = TrainerCommand.parse(codec, codec.toJson(c));
        assertThat(back).isEqualTo(c);
        assertThat(codec.toJsonString(c)).contains("\"command\":\"refit\"").contains("\"requestedAt\":\"2026-01-05T09:00:00Z\"");
    }

    @Test
    void modelsAndRequesterAreOptionalAndUnknownFieldsIgnored() throws Exception {
        TrainerCommand c = parse("{\"schemaVersion\":1,\"command\":\"REFIT\",\"extra\":{\"x\":1}}");
        assertThat(c.command()).isEqualTo("refit");
        assertThat(c.models()).isEmpty();
        assertThat(c.requestedBy()).isNull();
        assertThat(parse("{\"schemaVersion\":1,\"command\":\"refit\",\"requestedAt\":\"2026-01-05T10:00:00+01:00\"}")
                .requestedAt()).isEqualTo(Instant.parse("2026-01-05T09:00:00Z"));
    }

    @Test
    void invalidCommandsAreRefusedWithAReason() {
        assertReason("not json", DeadLetterReason.MALFORMED_JSON);
        assertReason("[1]", DeadLetterReason.MALFORMED_JSON);
        assertReason("{\"command\":\"refit\"}", DeadLetterReason.MISSING_FIELD);
        assertReason("{\"schemaVersion\":2,\"command\":\"refit\"}", DeadLetterReason.UNSUPPORTED_SCHEMA_VERSION);
        assertReason("{\"schemaVersion\":1}", DeadLetterReason.MISSING_FIELD);
        assertReason("{\"schemaVersion\":1,\"command\":\"rm -rf\"}", DeadLetterReason.INVALID_FIELD);
        assertReason("{\"schemaVersion\":1,\"command\":\"refit\",\"models\":\"mobilenet\"}", DeadLetterReason.INVALID_FIELD);
        assertReason("{\"schemaVersion\":1,\"command\":\"refit\",\"models\":[\"../x\"]}", DeadLetterReason.INVALID_FIELD);
        assertReason("{\"schemaVersion\":1,\"command\":\"refit\",\"models\":[\"mobilenet\",\"mobilenet\"]}",
                DeadLetterReason.INVALID_FIELD);
        assertReason("{\"schemaVersion\":1,\"command\":\"refit\",\"requestedAt\":\"yesterday\"}", DeadLetterReason.INVALID_FIELD);
        assertReason("{\"schemaVersion\":1,\"command\":\"refit\",\"requestedBy\":\"\\n<script>\"}", DeadLetterReason.INVALID_FIELD);
    }

    private void assertReason(String json, DeadLetterReason reason) {
        assertThatThrownBy(() -> parse(json)).isInstanceOf(InvalidEventException.class)
                .satisfies(e -> assertThat(((InvalidEventException) e).reason()).isEqualTo(reason));
    }
}
