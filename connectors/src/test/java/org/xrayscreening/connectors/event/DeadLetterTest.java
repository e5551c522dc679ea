package org.xrayscreening.connectors.event;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.Arrays;

import org.junit.jupiter.api.Test;

/** Dead letters always fit in a Kafka record of the default 1 MiB, whatever the size of the input record. */
class DeadLetterTest {

    private static final int KAFKA_DEFAULT_MAX_RECORD = 1024 * 1024;
    private final EventCodec codec = new EventCodec();

    @Test
    void anInputRecordOfAlmostOneMebibyteGivesADeadLetterThatStillFits() {
        byte[] value = new byte[KAFKA_DEFAULT_MAX_RECORD - 100];
        Arrays.fill(value, (byte) 'x');
        byte[] key = new byte[200_000];
        Arrays.fill(key, (byte) 'k');
        DeadLetter d = DeadLetter.of(DeadLetterReason.IMAGE_TOO_LARGE, "image.data (decoded) is too large",
                "xray.acquired", 3, 77, key, value, Instant.parse("2026-12-03T10:00:00Z"));

        assertThat(codec.toJson(d).length).isLessThan(KAFKA_DEFAULT_MAX_RECORD);
        assertThat(d.originalValueBase64()).isNull();
        assertThat(d.key()).isNull();
        assertThat(d.detail()).startsWith("image.data (decoded) is too large; original value (1048476 bytes, sha256 ")
                .contains("original key (200000 bytes) left out");
        assertThat(d.partition()).isEqualTo(3);
        assertThat(d.offset()).isEqualTo(77);
    }

    @Test
    void theLargestCarriedValueFitsAndIsKeptWhole() {
        byte[] value = new byte[DeadLetter.MAX_ORIGINAL_VALUE_BYTES];
        Arrays.fill(value, (byte) 0xFF);
        DeadLetter d = DeadLetter.of(DeadLetterReason.MALFORMED_JSON, "x".repeat(2000), "xray.acquired", 0, 1,
                "k".repeat(DeadLetter.MAX_ORIGINAL_KEY_BYTES).getBytes(), value, Instant.now());

        assertThat(codec.toJson(d).length).isLessThan(KAFKA_DEFAULT_MAX_RECORD);
        assertThat(d.originalValue()).isEqualTo(value);
        assertThat(d.key()).hasSize(DeadLetter.MAX_ORIGINAL_KEY_BYTES);
        assertThat(d.detail()).isEqualTo("x".repeat(2000));
    }
}
