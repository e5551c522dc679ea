package org.xrayscreening.connectors.kafka;

import java.io.IOException;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;

/**
 * Extra Kafka client settings (TLS, SASL, ...) as both jobs take them: a properties file given with
 * {@code --kafka-properties} (the Helm chart mounts one), optionally overridden by single settings.
 */
public final class KafkaClientProperties {
    private KafkaClientProperties() {}

    /** The file's properties (none when {@code file} is null), then {@code overrides} on top. */
    public static Map<String, String> merge(Path file, Map<String, String> overrides) {
        Map<String, String> result = new LinkedHashMap<>();
        if (file != null) {
            Properties p = new Properties();
            try (Reader r = Files.newBufferedReader(file)) {
                p.load(r);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read --kafka-properties " + file, e);
            }
            p.stringPropertyNames().forEach(k -> result.put(k, p.getProperty(k)));
        }
        if (overrides != null) {
            result.putAll(overrides);
        }
        return result;
    }
}
