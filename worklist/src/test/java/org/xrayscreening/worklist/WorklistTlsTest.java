package org.xrayscreening.worklist;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.FileInputStream;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.security.KeyStore;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xrayscreening.connectors.image.ImageLoader;
import org.xrayscreening.connectors.kafka.KafkaTopics;

/** HTTP basic over TLS: the worklist serves https from a PKCS#12 key store (made here with the JDK's keytool). */
class WorklistTlsTest {

    @Test
    void servesHttpsWithHstsAndBasicAuth(@TempDir Path dir) throws Exception {
        Path keystore = dir.resolve("worklist.p12");
        String password = "test-store-pw";
        Process keytool = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "keytool").toString(),
                "-genkeypair", "-alias", "worklist", "-keyalg", "EC", "-groupname", "secp256r1", "-validity", "2",
                "-dname", "CN=localhost", "-ext", "SAN=dns:localhost,ip:127.0.0.1", "-storetype", "PKCS12",
                "-keystore", keystore.toString(), "-storepass", password).inheritIO().start();
        assertThat(keytool.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(keytool.exitValue()).isZero();

        Secrets secrets = Secrets.random();
        Map<String, Object> kafka = Map.of("bootstrap.servers", "127.0.0.1:9");
        WorklistState state = new WorklistState(secrets, 10);
        TopicFollower follower = new TopicFollower(kafka, KafkaTopics.DEFAULTS, state);
        AcquiredRecords acquired = new AcquiredRecords(kafka);
        LabelPublisher publisher = new LabelPublisher(kafka, "xray.labelled", "t", state, follower, acquired, Clock.systemUTC());
        WorklistApp app = new WorklistApp(state, follower, publisher, acquired, new StudyImages(new ImageLoader()),
                Authenticator.basic(UsersTest.users(), secrets, Duration.ofMinutes(1)), secrets,
                new WorklistApp.Settings("127.0.0.1", 0, new WorklistApp.Tls(keystore, password), 10)).start();
        try {
            assertThat(app.address()).startsWith("https://127.0.0.1:");
            KeyStore trust = KeyStore.getInstance("PKCS12");
            try (InputStream in = new FileInputStream(keystore.toFile())) {
                trust.load(in, password.toCharArray());
            }
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(trust);
            SSLContext tls = SSLContext.getInstance("TLS");
            tls.init(null, tmf.getTrustManagers(), null);
            HttpClient client = HttpClient.newBuilder().sslContext(tls).build();
            HttpResponse<String> page = client.send(HttpRequest.newBuilder(URI.create(app.address()))
                    .header("Authorization", AuthenticatorTest.basic("alice", "alice-secret")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(page.statusCode()).isEqualTo(200);
            assertThat(page.body()).contains("Flagged studies");
            assertThat(page.headers().firstValue("Strict-Transport-Security")).isPresent();
            // a client that does not trust the certificate gets no connection at all
            assertThatThrownBy(() -> HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(app.address())).build(),
                    HttpResponse.BodyHandlers.ofString())).isInstanceOf(SSLHandshakeException.class);
        } finally {
            app.close();
            publisher.close();
            acquired.close();
        }
    }
}
