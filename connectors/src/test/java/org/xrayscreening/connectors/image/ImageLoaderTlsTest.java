package org.xrayscreening.connectors.image;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.io.FileInputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.security.KeyStore;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;

import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xrayscreening.connectors.event.DeadLetterReason;
import org.xrayscreening.connectors.event.ImageReference;
import org.xrayscreening.connectors.event.InvalidEventException;

/**
 * https over a connection pinned to the checked address still verifies the server certificate against the
 * URI's host name: a certificate for pacs.test is accepted for https://pacs.test/ and refused for another name
 * that resolves to the same address; without the test's trust the (self-signed) certificate is refused. The
 * certificate is made with the JDK's keytool.
 */
class ImageLoaderTlsTest {

    static final byte[] BODY = {1, 2, 3, 4, 5};
    static final char[] PASSWORD = "changeit".toCharArray();

    @TempDir
    static Path dir;
    static HttpsServer server;
    /** Trusts only the test's certificate; handed to the loader through its OkHttp trust hook. */
    static X509TrustManager trustManager;
    static int port;

    @BeforeAll
    static void start() throws Exception {
        Path keystore = dir.resolve("pacs.p12");
        Process keytool = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "keytool").toString(),
                "-genkeypair", "-alias", "pacs", "-keyalg", "EC", "-groupname", "secp256r1", "-validity", "2",
                "-dname", "CN=pacs.test", "-ext", "SAN=dns:pacs.test", "-storetype", "PKCS12",
                "-keystore", keystore.toString(), "-storepass", new String(PASSWORD)).inheritIO().start();
        assertThat(keytool.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(keytool.exitValue()).isZero();

        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = new FileInputStream(keystore.toFile())) {
            ks.load(in, PASSWORD);
        }
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, PASSWORD);
        SSLContext serverContext = SSLContext.getInstance("TLS");
        serverContext.init(kmf.getKeyManagers(), null, null);

        server = HttpsServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.setHttpsConfigurator(new HttpsConfigurator(serverContext));
        server.createContext("/ok", ex -> {
            ex.sendResponseHeaders(200, BODY.length);
            try (OutputStream out = ex.getResponseBody()) {
                out.write(BODY);
            }
        });
        server.start();
        port = server.getAddress().getPort();

        // the client trusts this certificate (given to the loader's OkHttp client as its X509TrustManager)
        KeyStore trust = KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        trust.setCertificateEntry("pacs", ks.getCertificate("pacs"));
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        trustManager = (X509TrustManager) tmf.getTrustManagers()[0];
    }

    @AfterAll
    static void stop() {
        if (server != null) {
            server.stop(0);
        }
    }

    static ImageLoader loader(String host) {
        return untrustingLoader(host).withTrust(() -> trustManager);
    }

    /** The JVM's default trust store, which does not know the test's self-signed certificate. */
    static ImageLoader untrustingLoader(String host) {
        ImageSourcePolicy policy = ImageSourcePolicy.of(List.of(), List.of("https://" + host + ":" + port + "/"), true)
                .withResolver(ImageSourcePolicyTest.fakeDns(Map.of(host, new String[] {"127.0.0.1"})));
        return new ImageLoader(new ImageLimits(1000, 1000, 100), policy, Duration.ofSeconds(2), Duration.ofSeconds(10));
    }

    @Test
    void certificateMatchingTheHostNameIsAccepted() throws Exception {
        assertThat(loader("pacs.test").load(ImageReference.at(ImageReference.PNG, "https://pacs.test:" + port + "/ok")))
                .isEqualTo(BODY);
    }

    @Test
    void certificateForAnotherNameIsRefused() {
        InvalidEventException e = catchThrowableOfType(InvalidEventException.class, () -> loader("other.test")
                .load(ImageReference.at(ImageReference.PNG, "https://other.test:" + port + "/ok")));
        assertThat(e).isNotNull();
        assertThat(e.reason()).isEqualTo(DeadLetterReason.IMAGE_UNREACHABLE);
        assertThat(e.detail()).contains("SSL").doesNotContain("other.test");
    }

    @Test
    void certificateNotTrustedByTheJvmIsRefused() {
        InvalidEventException e = catchThrowableOfType(InvalidEventException.class, () -> untrustingLoader("pacs.test")
                .load(ImageReference.at(ImageReference.PNG, "https://pacs.test:" + port + "/ok")));
        assertThat(e).isNotNull();
        assertThat(e.reason()).isEqualTo(DeadLetterReason.IMAGE_UNREACHABLE);
        assertThat(e.detail()).contains("SSL").doesNotContain("pacs.test");
    }

    @Test
    void loaderWithTrustIsSerializableAndWorksAfterwards() throws Exception {
        ImageLoader loader = loader("pacs.test");
        var bos = new java.io.ByteArrayOutputStream();
        try (var out = new java.io.ObjectOutputStream(bos)) {
            out.writeObject(loader);
        }
        try (var in = new java.io.ObjectInputStream(new java.io.ByteArrayInputStream(bos.toByteArray()))) {
            ImageLoader copy = (ImageLoader) in.readObject();
            assertThat(copy.load(ImageReference.at(ImageReference.PNG, "https://pacs.test:" + port + "/ok")))
                    .isEqualTo(BODY);
            copy.close();
        }
    }
}
