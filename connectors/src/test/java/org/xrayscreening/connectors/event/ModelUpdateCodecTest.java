package org.xrayscreening.connectors.event;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class ModelUpdateCodecTest {

    private final EventCodec codec = new EventCodec();

    private ModelUpdate parse(String json) throws InvalidEventException {
        return codec.parseModelUpdate(json.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void roundTrip() throws Exception {
        ModelUpdate update = new ModelUpdate(1, "resnet50", "20261126T061447Z-c1b52055", "/models",
                "a".repeat(64), Instant.parse("2026-11-26T06:00:00Z"), "promotion");
        assertThat(codec.parseModelUpdate(codec.toJson(update))).isEqualTo(update);
        ModelStatus status = new ModelStatus(1, "resnet50", "v2", ModelStatus.Status.REJECTED, "v1",
                "checksum mismatch", 1, 120, Instant.parse("2026-11-26T06:00:01Z"));
        assertThat(codec.fromJson(codec.toJson(status), ModelStatus.class)).isEqualTo(status);
    }

    @Test
    void onlyModelAndVersionAreRequired() throws Exception {
        ModelUpdate u = parse("{\"schemaVersion\":1,\"model\":\"xception\",\"version\":\"v7\",\"extra\":true}");
        assertThat(u.model()).isEqualTo("xception");
        assertThat(u.sha256()).isNull();
    }

    @Test
    void refusesPathTraversalMissingFieldsAndBadDigests() {
        assertThatThrownBy(() -> parse("{\"schemaVersion\":1,\"model\":\"xception\",\"version\":\"../../etc\"}"))
                .isInstanceOfSatisfying(InvalidEventException.class,
                        e -> assertThat(e.reason()).isEqualTo(DeadLetterReason.INVALID_FIELD));
        assertThatThrownBy(() -> parse("{\"schemaVersion\":1,\"model\":\"xception\"}"))
                .isInstanceOfSatisfying(InvalidEventException.class,
                        e -> assertThat(e.reason()).isEqualTo(DeadLetterReason.MISSING_FIELD));
        assertThatThrownBy(() -> parse("{\"schemaVersion\":1,\"model\":\"a\",\"version\":\"b\",\"sha256\":\"xyz\"}"))
                .isInstanceOfSatisfying(InvalidEventException.class,
                        e -> assertThat(e.reason()).isEqualTo(DeadLetterReason.INVALID_FIELD));
        assertThatThrownBy(() -> parse("{\"schemaVersion\":2,\"model\":\"a\",\"version\":\"b\"}"))
                .isInstanceOfSatisfying(InvalidEventException.class,
                        e -> assertThat(e.reason()).isEqualTo(DeadLetterReason.UNSUPPORTED_SCHEMA_VERSION));
    }
}
