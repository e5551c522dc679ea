package org.xrayscreening.connectors.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xrayscreening.connectors.kafka.KafkaConnectionCheck.KafkaConnectionException;
import org.xrayscreening.testsupport.SaslSslKafka;

/**
 * A broker with a SASL_SSL (SCRAM-SHA-512) listener: the right credentials work end to end, and each way of
 * getting the client settings wrong ends the check within its timeout with a message that names the cause and
 * never the password.
 */
class KafkaConnectionCheckIT {

    static final String PASSWORD = "right-" + System.nanoTime();

    @TempDir
    static Path dir;
    static SaslSslKafka kafka;

    @BeforeAll
    static void start() throws Exception {
        kafka = new SaslSslKafka(dir, PASSWORD).start();
        kafka.embedded().createTopics(1, "secure-topic");
    }

    @AfterAll
    static void stop() throws Exception {
        if (kafka != null) {
            kafka.close();
        }
    }

    static Map<String, String> settings(Properties p) {
        Map<String, String> m = new HashMap<>();
        p.stringPropertyNames().forEach(k -> m.put(k, p.getProperty(k)));
        return m;
    }

    @Test
    void rightCredentialsPassTheCheckAndCarryRecords() throws Exception {
        Map<String, String> good = KafkaClientProperties.merge(kafka.clientPropertiesFile("good.properties",
                SaslSslKafka.USER, PASSWORD), Map.of());
        assertThatCode(() -> KafkaConnectionCheck.verify(kafka.bootstrapServers(), good, Duration.ofSeconds(20)))
                .doesNotThrowAnyException();

        Properties p = kafka.clientProperties();
        p.put("key.serializer", StringSerializer.class.getName());
        p.put("value.serializer", StringSerializer.class.getName());
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
            producer.send(new ProducerRecord<>("secure-topic", "k", "over TLS")).get();
        }
        Properties c = kafka.clientProperties();
        c.put("group.id", "check-it");
        c.put("auto.offset.reset", "earliest");
        c.put("key.deserializer", StringDeserializer.class.getName());
        c.put("value.deserializer", StringDeserializer.class.getName());
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(c)) {
            consumer.subscribe(List.of("secure-topic"));
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            String value = null;
            while (value == null && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
                    value = r.value();
                }
            }
            assertThat(value).isEqualTo("over TLS");
        }
    }

    @Test
    void wrongPasswordIsRefusedQuicklyAndNamed() {
        Map<String, String> wrong = settings(kafka.clientSettings(SaslSslKafka.USER, "wrong-password"));
        long t0 = System.nanoTime();
        KafkaConnectionException e = catchThrowableOfType(KafkaConnectionException.class,
                () -> KafkaConnectionCheck.verify(kafka.bootstrapServers(), wrong, Duration.ofSeconds(20)));
        long seconds = (System.nanoTime() - t0) / 1_000_000_000L;
        assertThat(e).isNotNull();
        assertThat(e.getMessage()).contains("refused the credentials", "SCRAM-SHA-512", "SASL_SSL")
                .doesNotContain("wrong-password", PASSWORD);
        assertThat(seconds).as("an authentication failure is an answer, not a timeout").isLessThan(15);
    }

    @Test
    void unknownUserIsRefusedToo() {
        Map<String, String> unknown = settings(kafka.clientSettings("nobody", PASSWORD));
        KafkaConnectionException e = catchThrowableOfType(KafkaConnectionException.class,
                () -> KafkaConnectionCheck.verify(kafka.bootstrapServers(), unknown, Duration.ofSeconds(20)));
        assertThat(e).isNotNull();
        assertThat(e.getMessage()).contains("refused the credentials").doesNotContain(PASSWORD);
    }

    @Test
    void brokerCertificateNotInTheTrustStoreIsATlsError() {
        Map<String, String> untrusting = settings(kafka.clientSettings(SaslSslKafka.USER, PASSWORD));
        untrusting.remove("ssl.truststore.location");
        untrusting.remove("ssl.truststore.password");
        untrusting.remove("ssl.truststore.type");
        KafkaConnectionException e = catchThrowableOfType(KafkaConnectionException.class,
                () -> KafkaConnectionCheck.verify(kafka.bootstrapServers(), untrusting, Duration.ofSeconds(20)));
        assertThat(e).isNotNull();
        assertThat(e.getMessage()).contains("TLS handshake", "ssl.truststore.location").doesNotContain(PASSWORD);
    }

    @Test
    void plaintextClientAgainstTheSaslSslListenerTimesOutWithinTheLimit() {
        long t0 = System.nanoTime();
        KafkaConnectionException e = catchThrowableOfType(KafkaConnectionException.class,
                () -> KafkaConnectionCheck.verify(kafka.bootstrapServers(), Map.of(), Duration.ofSeconds(3)));
        long seconds = (System.nanoTime() - t0) / 1_000_000_000L;
        assertThat(e).isNotNull();
        assertThat(e.getMessage()).contains("no answer", "within 3 s", "security.protocol");
        assertThat(seconds).isLessThan(15);
    }

    @Test
    void plaintextListenerStillWorksForTheTestsOwnSetup() {
        // the PLAINTEXT listener is the setup path only (SCRAM users, topics); it answers without credentials
        assertThatCode(() -> KafkaConnectionCheck.verify(kafka.embedded().bootstrapServers(), Map.of(),
                Duration.ofSeconds(20))).doesNotThrowAnyException();
    }
}
