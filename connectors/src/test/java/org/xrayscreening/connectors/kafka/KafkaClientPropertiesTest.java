package org.xrayscreening.connectors.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KafkaClientPropertiesTest {

    @Test
    void fileThenOverrides(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve("client.properties"),
                "security.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-512\n");
        assertThat(KafkaClientProperties.merge(file, Map.of("sasl.mechanism", "PLAIN")))
                .containsEntry("security.protocol", "SASL_SSL").containsEntry("sasl.mechanism", "PLAIN").hasSize(2);
        assertThat(KafkaClientProperties.merge(null, null)).isEmpty();
    }

    @Test
    void missingFileIsAClearError(@TempDir Path dir) {
        assertThatThrownBy(() -> KafkaClientProperties.merge(dir.resolve("nope.properties"), Map.of()))
                .isInstanceOf(UncheckedIOException.class).hasMessageContaining("--kafka-properties");
    }
}
