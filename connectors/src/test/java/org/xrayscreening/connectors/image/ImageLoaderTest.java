package org.xrayscreening.connectors.image;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xrayscreening.connectors.event.DeadLetterReason;
import org.xrayscreening.connectors.event.ImageReference;
import org.xrayscreening.connectors.event.InvalidEventException;

class ImageLoaderTest {

    static final String SECRET = "PAT-4711";
    static final byte[] BODY = new byte[3000];
    static final CountDownLatch RELEASE = new CountDownLatch(1);
    static final AtomicInteger STREAMED = new AtomicInteger();

    static HttpServer server;
    static ExecutorService serverThreads;
    static String base;

    final ImageLimits limits = new ImageLimits(4000, 1_000_000, 1000);
    /** The test server listens on loopback: allowed by prefix, with private addresses allowed. */
    final ImageSourcePolicy serverOnly = ImageSourcePolicy.of(List.of(), List.of(base + "/"), true);
    final ImageLoader loader = new ImageLoader(limits, serverOnly, Duration.ofSeconds(2), Duration.ofSeconds(5));

    ImageLoader loaderFor(Path root) {
        return new ImageLoader(limits, serverOnly.withFileRoots(List.of(root)), Duration.ofSeconds(2),
                Duration.ofSeconds(5));
    }

    @BeforeAll
    static void startServer() throws IOException {
        for (int i = 0; i < BODY.length; i++) {
            BODY[i] = (byte) i;
        }
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/ok", ex -> respond(ex, 200, BODY, BODY.length));
        server.createContext("/missing", ex -> respond(ex, 404, new byte[0], -1));
        server.createContext("/error", ex -> respond(ex, 500, "boom".getBytes(), 4));
        server.createContext("/redirect", ex -> {
            ex.getResponseHeaders().add("Location", base + "/ok");
            respond(ex, 302, new byte[0], -1);
        });
        server.createContext("/relative-redirect", ex -> {
            ex.getResponseHeaders().add("Location", "/ok");
            respond(ex, 307, new byte[0], -1);
        });
        server.createContext("/loop", ex -> {
            ex.getResponseHeaders().add("Location", "/loop");
            respond(ex, 302, new byte[0], -1);
        });
        // redirects to where the policy must refuse to go: cloud metadata, a numeric loopback spelling, a file
        server.createContext("/to-metadata", ex -> {
            ex.getResponseHeaders().add("Location", "http://169.254.169.254/latest/meta-data/" + SECRET);
            respond(ex, 302, new byte[0], -1);
        });
        server.createContext("/to-decimal-loopback", ex -> {
            ex.getResponseHeaders().add("Location", "http://2130706433:" + server.getAddress().getPort() + "/ok");
            respond(ex, 302, new byte[0], -1);
        });
        server.createContext("/to-file", ex -> {
            ex.getResponseHeaders().add("Location", "file:///etc/passwd");
            respond(ex, 302, new byte[0], -1);
        });
        // a PACS behind basic auth: 401 without the right credentials, else the body
        server.createContext("/pacs/", ex -> {
            String expected = "Basic " + Base64.getEncoder().encodeToString("gateway:pa ss:word".getBytes());
            boolean ok = expected.equals(ex.getRequestHeaders().getFirst("Authorization"));
            respond(ex, ok ? 200 : 401, BODY, ok ? BODY.length : -1);
        });
        server.createContext("/pacs-redirect-out", ex -> {
            ex.getResponseHeaders().add("Location", base + "/authorization");
            respond(ex, 302, new byte[0], -1);
        });
        // echoes the Authorization header it received ("none" without one)
        server.createContext("/authorization", ex -> {
            String h = ex.getRequestHeaders().getFirst("Authorization");
            byte[] body = (h == null ? "none" : h).getBytes();
            respond(ex, 200, body, body.length);
        });
        // echoes the Host header it received
        server.createContext("/host", ex -> {
            byte[] host = ex.getRequestHeaders().getFirst("Host").getBytes();
            respond(ex, 200, host, host.length);
        });
        // declares its size: refused before the body is read
        server.createContext("/big-declared", ex -> respond(ex, 200, new byte[5000], 5000));
        // chunked, no Content-Length, 1 KB at a time, endless: must be cut off at the limit
        server.createContext("/big-streamed", ex -> {
            ex.sendResponseHeaders(200, 0);
            try (OutputStream out = ex.getResponseBody()) {
                for (int i = 0; i < 10_000; i++) {
                    out.write(new byte[1024]);
                    out.flush();
                    STREAMED.incrementAndGet();
                }
            } catch (IOException expected) {
                // the client hung up
            }
        });
        // sends headers, then a trickle that never finishes
        server.createContext("/slow", ex -> {
            ex.sendResponseHeaders(200, 0);
            try (OutputStream out = ex.getResponseBody()) {
                out.write(1);
                out.flush();
                RELEASE.await(20, TimeUnit.SECONDS);
            } catch (IOException | InterruptedException expected) {
                // done
            }
        });
        serverThreads = Executors.newFixedThreadPool(4);
        server.setExecutor(serverThreads);
        server.start();
        base = "http://127.0.0.1:" + server.getAddress().getPort();
    }

    @AfterAll
    static void stopServer() {
        RELEASE.countDown();
        server.stop(0);
        serverThreads.shutdownNow();
    }

    static void respond(HttpExchange ex, int status, byte[] body, long length) throws IOException {
        ex.sendResponseHeaders(status, length);
        try (OutputStream out = ex.getResponseBody()) {
            if (length > 0) {
                out.write(body);
            }
        }
    }

    static ImageReference uri(String uri) {
        return ImageReference.at(ImageReference.PNG, uri);
    }

    InvalidEventException failure(ImageLoader l, ImageReference ref, DeadLetterReason reason) {
        InvalidEventException e = catchThrowableOfType(InvalidEventException.class, () -> l.load(ref));
        assertThat(e).as("expected " + reason).isNotNull();
        assertThat(e.reason()).as(e.detail()).isEqualTo(reason);
        assertThat(e.detail()).doesNotContain(SECRET);
        return e;
    }

    // ----------------------------------------------------------------------------------------- inline

    @Test
    void inline() throws Exception {
        assertThat(loader.load(ImageReference.inline(ImageReference.PNG, BODY))).isEqualTo(BODY);
        failure(loader, ImageReference.inline(ImageReference.PNG, new byte[4001]), DeadLetterReason.IMAGE_TOO_LARGE);
        failure(loader, new ImageReference(ImageReference.PNG, "%%%" + SECRET, null), DeadLetterReason.INVALID_FIELD);
        String unpadded = Base64.getEncoder().withoutPadding().encodeToString(new byte[] {1, 2, 3, 4});
        assertThat(loader.load(new ImageReference(ImageReference.PNG, unpadded, null))).containsExactly(1, 2, 3, 4);
    }

    // ------------------------------------------------------------------------------------------- file

    @Test
    void file(@TempDir Path dir) throws Exception {
        ImageLoader loader = loaderFor(dir);
        Path ok = Files.write(dir.resolve(SECRET + ".png"), BODY);
        assertThat(loader.load(uri(ok.toUri().toString()))).isEqualTo(BODY);
        assertThat(loader.load(uri("file://localhost" + ok.toAbsolutePath()))).isEqualTo(BODY);

        Path big = Files.write(dir.resolve(SECRET + "-big.png"), new byte[4001]);
        assertThat(failure(loader, uri(big.toUri().toString()), DeadLetterReason.IMAGE_TOO_LARGE).detail())
                .contains("4001");
        failure(loader, uri(dir.resolve(SECRET + "-none.png").toUri().toString()), DeadLetterReason.IMAGE_UNREACHABLE);
        failure(loader, uri(dir.toUri().toString()), DeadLetterReason.IMAGE_UNREACHABLE);
    }

    // ------------------------------------------------------------------------------------------- http

    @Test
    void http() throws Exception {
        assertThat(loader.load(uri(base + "/ok?patient=" + SECRET))).isEqualTo(BODY);
        assertThat(loader.load(uri(base + "/redirect"))).isEqualTo(BODY);
    }

    @Test
    void redirectsAreFollowedOnlyWhereThePolicyAllows() throws Exception {
        assertThat(loader.load(uri(base + "/relative-redirect"))).isEqualTo(BODY);
        // allowed prefixes include the metadata address: link-local is refused all the same
        ImageLoader generous = new ImageLoader(limits, ImageSourcePolicy.of(List.of(),
                List.of(base + "/", "http://169.254.169.254/"), true), Duration.ofSeconds(2), Duration.ofSeconds(5));
        for (ImageLoader l : List.of(loader, generous)) {
            for (String path : List.of("/to-metadata", "/to-decimal-loopback", "/to-file")) {
                InvalidEventException e = failure(l, uri(base + path), DeadLetterReason.IMAGE_SOURCE_NOT_ALLOWED);
                assertThat(e.detail()).startsWith("redirect refused").doesNotContain("169.254", "2130706433",
                        "passwd", "127.0.0.1");
            }
        }
        assertThat(failure(loader, uri(base + "/loop"), DeadLetterReason.IMAGE_UNREACHABLE).detail())
                .contains("redirects");
    }

    @Test
    void credentialsAreSentOnlyUnderTheirPrefix(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve("credentials"),
                "# orthanc\n" + base + "/pacs/  gateway:pa ss:word\n");
        HttpCredentials credentials = HttpCredentials.load(file);
        assertThat(credentials.toString()).contains("gateway").doesNotContain("pa ss:word");
        ImageLoader withCredentials = new ImageLoader(limits, serverOnly.withCredentials(credentials),
                Duration.ofSeconds(2), Duration.ofSeconds(5));
        assertThat(withCredentials.load(uri(base + "/pacs/instances/1/file"))).isEqualTo(BODY);
        assertThat(failure(loader, uri(base + "/pacs/instances/1/file"), DeadLetterReason.IMAGE_UNREACHABLE).detail())
                .contains("401");
        // outside the prefix, directly or through a redirect from inside it: no credentials
        assertThat(new String(withCredentials.load(uri(base + "/authorization")))).isEqualTo("none");
        ImageLoader redirected = new ImageLoader(limits, serverOnly.withCredentials(
                HttpCredentials.basic(base + "/pacs-redirect-out", "gateway", "x")), Duration.ofSeconds(2),
                Duration.ofSeconds(5));
        assertThat(new String(redirected.load(uri(base + "/pacs-redirect-out")))).isEqualTo("none");
        // credentials allow nothing by themselves
        ImageLoader notAllowed = new ImageLoader(limits, ImageSourcePolicy.of(List.of(), List.of(), true)
                .withCredentials(credentials), Duration.ofSeconds(2), Duration.ofSeconds(5));
        failure(notAllowed, uri(base + "/pacs/instances/1/file"), DeadLetterReason.IMAGE_SOURCE_NOT_ALLOWED);
        // a malformed line names its number, never its content
        Path bad = Files.writeString(dir.resolve("bad"), base + "/pacs/ no-colon-" + SECRET + "\n");
        assertThat(catchThrowableOfType(IllegalArgumentException.class, () -> HttpCredentials.load(bad)).getMessage())
                .contains("line 1").doesNotContain(SECRET);
    }

    @Test
    void onlyAllowedPrefixesAreFetched() {
        ImageLoader narrow = new ImageLoader(limits, ImageSourcePolicy.of(List.of(), List.of(base + "/ok"), true),
                Duration.ofSeconds(2), Duration.ofSeconds(5));
        failure(narrow, uri(base + "/error"), DeadLetterReason.IMAGE_SOURCE_NOT_ALLOWED);
        failure(narrow, uri(base + "/okay"), DeadLetterReason.IMAGE_SOURCE_NOT_ALLOWED);
        // /redirect is not allowed itself
        failure(narrow, uri(base + "/redirect"), DeadLetterReason.IMAGE_SOURCE_NOT_ALLOWED);
        // loopback needs --allow-private-addresses even when the prefix is listed
        ImageLoader noPrivate = new ImageLoader(limits, ImageSourcePolicy.of(List.of(), List.of(base + "/"), false),
                Duration.ofSeconds(2), Duration.ofSeconds(5));
        assertThat(failure(noPrivate, uri(base + "/ok"), DeadLetterReason.IMAGE_SOURCE_NOT_ALLOWED).detail())
                .contains("loopback").doesNotContain("127.0.0.1");
        // the default loader reads inline images only
        failure(new ImageLoader(limits), uri(base + "/ok"), DeadLetterReason.IMAGE_SOURCE_NOT_ALLOWED);
    }

    @Test
    void connectsToTheAddressThatWasCheckedNotToASecondDnsAnswer() throws Exception {
        // "pacs.test" exists only in this resolver: the download can only work if the loader connects to the
        // address the policy checked instead of resolving the name again. The Host header keeps the name.
        int port = server.getAddress().getPort();
        ImageSourcePolicy pinned = ImageSourcePolicy.of(List.of(), List.of("http://pacs.test:" + port + "/"), true)
                .withResolver(host -> host.equals("pacs.test")
                        ? new InetAddress[] {InetAddress.getByAddress("pacs.test", new byte[] {127, 0, 0, 1})}
                        : InetAddress.getAllByName(host));
        ImageLoader l = new ImageLoader(limits, pinned, Duration.ofSeconds(2), Duration.ofSeconds(5));
        assertThat(l.load(uri("http://pacs.test:" + port + "/ok"))).isEqualTo(BODY);
        assertThat(new String(l.load(uri("http://pacs.test:" + port + "/host")))).isEqualTo("pacs.test:" + port);
    }

    @Test
    void httpErrorsAreUnreachable() {
        assertThat(failure(loader, uri(base + "/missing/" + SECRET), DeadLetterReason.IMAGE_UNREACHABLE).detail())
                .contains("404");
        assertThat(failure(loader, uri(base + "/error"), DeadLetterReason.IMAGE_UNREACHABLE).detail())
                .contains("500");
    }

    @Test
    void connectionRefusedIsUnreachable() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        ImageLoader loader = new ImageLoader(limits, ImageSourcePolicy.of(List.of(),
                List.of("http://127.0.0.1:" + port + "/"), true), Duration.ofSeconds(2), Duration.ofSeconds(5));
        failure(loader, uri("http://127.0.0.1:" + port + "/" + SECRET), DeadLetterReason.IMAGE_UNREACHABLE);
    }

    @Test
    void declaredLengthOverLimitIsRefused() {
        assertThat(failure(loader, uri(base + "/big-declared"), DeadLetterReason.IMAGE_TOO_LARGE).detail())
                .contains("Content-Length");
    }

    @Test
    void streamedBodyIsCutOffAtTheLimit() {
        failure(loader, uri(base + "/big-streamed"), DeadLetterReason.IMAGE_TOO_LARGE);
        assertThat(STREAMED.get()).as("the client stopped reading long before 10 MB").isLessThan(10_000);
    }

    @Test
    void slowBodyTimesOut() {
        ImageLoader impatient = new ImageLoader(limits, serverOnly, Duration.ofSeconds(1), Duration.ofMillis(700));
        long t0 = System.nanoTime();
        assertThat(failure(impatient, uri(base + "/slow"), DeadLetterReason.IMAGE_UNREACHABLE).detail())
                .contains("timed out");
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(5));
    }

    @Test
    void badReferences() {
        failure(loader, uri("ftp://host/" + SECRET), DeadLetterReason.INVALID_FIELD);
        failure(loader, new ImageReference(ImageReference.PNG, null, null), DeadLetterReason.MISSING_FIELD);
        failure(loader, uri("http://host/a b" + SECRET), DeadLetterReason.INVALID_FIELD);
    }

    @Test
    void loaderIsSerializableAndWorksAfterwards() throws Exception {
        loader.load(uri(base + "/ok")); // creates the client
        var bos = new java.io.ByteArrayOutputStream();
        try (var out = new java.io.ObjectOutputStream(bos)) {
            out.writeObject(loader);
        }
        try (var in = new java.io.ObjectInputStream(new java.io.ByteArrayInputStream(bos.toByteArray()))) {
            ImageLoader copy = (ImageLoader) in.readObject();
            assertThat(copy.load(uri(base + "/ok"))).isEqualTo(BODY);
        }
    }
}
