package org.xrayscreening.trainer.lifecycle;

import java.io.IOException;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;

/** Extra Kafka client settings from a properties file (as the stream job's --kafka-properties) and flags. */
final class KafkaClientProperties {
    private KafkaClientProperties() {}

    static Map<String, String> merge(Path file, Map<String, String> overrides) {
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
