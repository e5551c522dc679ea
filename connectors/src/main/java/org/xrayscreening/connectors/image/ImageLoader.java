package org.xrayscreening.connectors.image;

import static org.xrayscreening.connectors.event.DeadLetterReason.IMAGE_SOURCE_NOT_ALLOWED;
import static org.xrayscreening.connectors.event.DeadLetterReason.IMAGE_TOO_LARGE;
import static org.xrayscreening.connectors.event.DeadLetterReason.IMAGE_UNREACHABLE;
import static org.xrayscreening.connectors.event.DeadLetterReason.INVALID_FIELD;
import static org.xrayscreening.connectors.event.DeadLetterReason.MISSING_FIELD;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.Serializable;
import java.net.InetAddress;
import java.net.Proxy;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.security.GeneralSecurityException;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;

import okhttp3.Call;
import okhttp3.ConnectionPool;
import okhttp3.Dns;
import okhttp3.HttpUrl;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import okhttp3.ResponseBody;
import org.xrayscreening.connectors.event.ImageReference;
import org.xrayscreening.connectors.event.InvalidEventException;

/**
 * Resolves an {@link ImageReference} to the image's bytes, never holding more than
 * {@link ImageLimits#maxBytes()} of them, and reading claim checks only from where its
 * {@link ImageSourcePolicy} allows:
 * <ul>
 * <li>inline: base64-decoded (size computed before decoding); always allowed;
 * <li>{@code file:}: the policy checks roots and the real path; the real path is opened without following
 * links, its size checked before reading, read with a bound (the file may grow meanwhile);
 * <li>{@code http:}/{@code https:}: the policy checks the URL prefix and every resolved address; one GET with
 * OkHttp, whose {@link Dns} for the call answers with exactly the addresses the policy checked (no second DNS
 * lookup; a network interceptor refuses any other peer), no proxy, a connect timeout and a total deadline
 * covering the body; https verifies the certificate against the URI's host name (OkHttp's default). A
 * Content-Length over the limit is refused before the body is read, and the body is cut off as soon as it
 * passes the limit. OkHttp follows no redirects itself: the loader follows at most {@link #MAX_REDIRECTS},
 * each only when the target passes the policy again; https to http is refused.
 * </ul>
 * Failures: {@code IMAGE_SOURCE_NOT_ALLOWED} (the policy refused the source), {@code IMAGE_TOO_LARGE},
 * {@code IMAGE_UNREACHABLE} (missing file, I/O error, HTTP status other than 2xx, timeout),
 * {@code INVALID_FIELD}/{@code MISSING_FIELD} for a reference that {@code EventCodec} would have refused.
 * Details name the scheme and the failure, never the URI's host, path or query (which may encode patient data
 * or internal topology).
 *
 * <p>Thread-safe; {@link Serializable} for Flink fields. The HTTP client is transient and created on first
 * use, so every copy (every Flink subtask) has its own small connection pool; {@link #close} evicts it.
 */
public final class ImageLoader implements Serializable, AutoCloseable {

    private static final long serialVersionUID = 3L;

    /** Redirects followed per download; each target is checked against the policy again. */
    public static final int MAX_REDIRECTS = 3;

    private final ImageLimits limits;
    private final ImageSourcePolicy policy;
    private final Duration connectTimeout;
    private final Duration requestTimeout;
    /** null: OkHttp's default trust (the JVM's trust store). */
    private final TrustSource trust;
    private transient volatile OkHttpClient client;

    /** Default limits; inline images only (every URI is refused). */
    public ImageLoader() {
        this(ImageLimits.DEFAULTS, ImageSourcePolicy.NONE);
    }

    /** Inline images only (every URI is refused). */
    public ImageLoader(ImageLimits limits) {
        this(limits, ImageSourcePolicy.NONE);
    }

    /** 5 s to connect, 30 s for a whole download. */
    public ImageLoader(ImageLimits limits, ImageSourcePolicy policy) {
        this(limits, policy, Duration.ofSeconds(5), Duration.ofSeconds(30));
    }

    /**
     * @param policy where claim checks may be read from
     * @param connectTimeout to establish an HTTP connection
     * @param requestTimeout for a whole HTTP download, headers and body, redirects included
     */
    public ImageLoader(ImageLimits limits, ImageSourcePolicy policy, Duration connectTimeout, Duration requestTimeout) {
        this(limits, policy, connectTimeout, requestTimeout, null);
    }

    private ImageLoader(ImageLimits limits, ImageSourcePolicy policy, Duration connectTimeout, Duration requestTimeout,
                        TrustSource trust) {
        this.limits = Objects.requireNonNull(limits, "limits");
        this.policy = Objects.requireNonNull(policy, "policy");
        this.connectTimeout = Objects.requireNonNull(connectTimeout, "connectTimeout");
        this.requestTimeout = Objects.requireNonNull(requestTimeout, "requestTimeout");
        this.trust = trust;
    }

    /** This loader trusting https certificates through {@code trust} instead of the JVM's trust store (tests). */
    ImageLoader withTrust(TrustSource trust) {
        return new ImageLoader(limits, policy, connectTimeout, requestTimeout, Objects.requireNonNull(trust, "trust"));
    }

    public ImageLimits limits() {
        return limits;
    }

    public ImageSourcePolicy policy() {
        return policy;
    }

    /** The image's bytes. */
    public byte[] load(ImageReference ref) throws InvalidEventException {
        Objects.requireNonNull(ref, "ref");
        if (ref.data() != null) {
            limits.checkBytes(ref.inlineDataSize(), "image.data (decoded)");
            return inline(ref.data());
        }
        if (ref.uri() == null) {
            throw new InvalidEventException(MISSING_FIELD, "image has neither data nor uri");
        }
        URI uri;
        try {
            uri = new URI(ref.uri().trim());
        } catch (URISyntaxException e) {
            throw new InvalidEventException(INVALID_FIELD, "image.uri is not a valid URI");
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        return switch (scheme) {
            case "file" -> file(uri);
            case "http", "https" -> http(uri, scheme);
            default -> throw new InvalidEventException(INVALID_FIELD,
                    "image.uri scheme is not one of file, http, https");
        };
    }

    private static byte[] inline(String data) throws InvalidEventException {
        try {
            return Base64.getDecoder().decode(data);
        } catch (IllegalArgumentException e) {
            throw new InvalidEventException(INVALID_FIELD, "image.data is not valid base64");
        }
    }

    // ------------------------------------------------------------------------------------------- file

    private byte[] file(URI uri) throws InvalidEventException {
        Path path = policy.checkFile(uri); // real path, inside an allowed root
        try {
            if (!Files.isRegularFile(path, LinkOption.NOFOLLOW_LINKS)) {
                throw new InvalidEventException(IMAGE_UNREACHABLE, "image file is not a regular file");
            }
            limits.checkBytes(Files.size(path), "image file");
            // NOFOLLOW_LINKS: the last component cannot have been swapped for a link since the check.
            try (InputStream in = Files.newInputStream(path, LinkOption.NOFOLLOW_LINKS)) {
                return readBounded(in, "image file");
            }
        } catch (NoSuchFileException e) {
            throw new InvalidEventException(IMAGE_UNREACHABLE, "image file does not exist");
        } catch (IOException | SecurityException e) {
            throw new InvalidEventException(IMAGE_UNREACHABLE, "image file cannot be read ("
                    + e.getClass().getSimpleName() + ")");
        }
    }

    private byte[] readBounded(InputStream in, String what) throws IOException, InvalidEventException {
        long max = limits.maxBytes();
        byte[] bytes = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, max + 1));
        if (bytes.length > max) {
            throw new InvalidEventException(IMAGE_TOO_LARGE, what + " is over the limit of " + max + " bytes");
        }
        return bytes;
    }

    // ------------------------------------------------------------------------------------------- http

    private byte[] http(URI uri, String scheme) throws InvalidEventException {
        long deadline = System.nanoTime() + requestTimeout.toNanos();
        URI current = uri;
        for (int hop = 0; ; hop++) {
            ImageSourcePolicy.HttpTarget target;
            try {
                target = policy.checkUrl(current);
            } catch (InvalidEventException e) {
                if (hop > 0 && e.reason() == IMAGE_SOURCE_NOT_ALLOWED) {
                    throw new InvalidEventException(IMAGE_SOURCE_NOT_ALLOWED, "redirect refused: " + e.detail());
                }
                throw e;
            }
            HttpUrl url = pinnedUrl(target, hop);
            long remaining = deadline - System.nanoTime();
            if (remaining <= 0) {
                throw timedOut(target.scheme());
            }
            Set<InetAddress> checked = Set.copyOf(target.addresses());
            OkHttpClient pinned = client().newBuilder()
                    .dns(new PinnedDns(url.host(), List.copyOf(target.addresses())))
                    .addNetworkInterceptor(chain -> {
                        // belt and braces: the connection (new or pooled) goes to an address the policy checked
                        InetAddress connected = chain.connection().route().socketAddress().getAddress();
                        if (!checked.contains(connected)) {
                            throw new IOException("connected to an address the policy did not check");
                        }
                        return chain.proceed(chain.request());
                    })
                    .connectTimeout(Duration.ofNanos(Math.min(remaining, connectTimeout.toNanos())))
                    .callTimeout(Duration.ofNanos(remaining))
                    .build();
            Request.Builder requestBuilder = new Request.Builder().url(url).get()
                    .header("User-Agent", "xray-screening")
                    .header("Accept", "*/*")
                    // the size limit applies to the bytes on the wire, as before: no transparent gzip
                    .header("Accept-Encoding", "identity");
            if (target.authorization() != null) {
                // matched again on every hop by prefix, scheme included: never sent to another prefix or to http
                requestBuilder.header("Authorization", target.authorization());
            }
            Request request = requestBuilder.build();
            Call call = pinned.newCall(request);
            try (Response response = call.execute()) {
                int status = response.code();
                if (status == 301 || status == 302 || status == 303 || status == 307 || status == 308) {
                    if (hop >= MAX_REDIRECTS) {
                        throw new InvalidEventException(IMAGE_UNREACHABLE, "more than " + MAX_REDIRECTS + " redirects");
                    }
                    current = redirectTarget(current, response.header("Location"));
                    continue;
                }
                if (status < 200 || status > 299) {
                    throw new InvalidEventException(IMAGE_UNREACHABLE, "HTTP status " + status);
                }
                return readBody(call, response.body());
            } catch (InterruptedIOException e) { // includes SocketTimeoutException and OkHttp's call timeout
                throw timedOut(target.scheme());
            } catch (IOException e) {
                if (deadline - System.nanoTime() <= 0) {
                    throw timedOut(target.scheme());
                }
                throw new InvalidEventException(IMAGE_UNREACHABLE, target.scheme() + " download failed ("
                        + e.getClass().getSimpleName() + ")");
            }
        }
    }

    /**
     * The URL OkHttp will request, refused unless OkHttp reads it as the same scheme, host, port and path that
     * the policy checked (no parser differential), and, for an IP literal (which OkHttp connects to without
     * asking its {@link Dns}), unless that address is one the policy checked.
     */
    private static HttpUrl pinnedUrl(ImageSourcePolicy.HttpTarget target, int hop) throws InvalidEventException {
        URI uri = target.uri();
        HttpUrl url = HttpUrl.parse(uri.toASCIIString());
        String checkedPath = uri.getPath() == null || uri.getPath().isEmpty() ? "/" : uri.getPath();
        if (url == null || !url.scheme().equals(target.scheme()) || url.port() != target.port()
                || !sameHost(url.host(), target.host())
                || !("/" + String.join("/", url.pathSegments())).equals(checkedPath)) {
            String detail = target.scheme() + ": URI is read differently by the HTTP client";
            throw ImageSourcePolicy.notAllowed(hop > 0 ? "redirect refused: " + detail : detail);
        }
        if (isIpLiteral(url.host())) {
            InetAddress literal;
            try {
                literal = InetAddress.getByName(url.host()); // a literal: parsed, never looked up
            } catch (UnknownHostException e) {
                throw ImageSourcePolicy.notAllowed(target.scheme() + ": URI host is not a usable address");
            }
            if (!target.addresses().contains(literal)) {
                String detail = target.scheme() + ": URI host is not an address the policy checked";
                throw ImageSourcePolicy.notAllowed(hop > 0 ? "redirect refused: " + detail : detail);
            }
        }
        return url;
    }

    private static boolean isIpLiteral(String host) {
        return host.indexOf(':') >= 0 || host.matches("[0-9]{1,3}(\\.[0-9]{1,3}){3}");
    }

    /** Same host, ignoring case, IPv6 brackets, trailing dots and IPv6 spelling. */
    private static boolean sameHost(String okHost, String checkedHost) {
        String a = stripHost(okHost);
        String b = stripHost(checkedHost);
        if (a.equals(b)) {
            return true;
        }
        if (a.indexOf(':') >= 0 && b.indexOf(':') >= 0) {
            try {
                return InetAddress.getByName(a).equals(InetAddress.getByName(b)); // literals: no lookup
            } catch (UnknownHostException e) {
                return false;
            }
        }
        return false;
    }

    private static String stripHost(String host) {
        String h = host.toLowerCase(Locale.ROOT);
        if (h.startsWith("[") && h.endsWith("]")) {
            h = h.substring(1, h.length() - 1);
        }
        while (h.endsWith(".")) {
            h = h.substring(0, h.length() - 1);
        }
        return h;
    }

    private InvalidEventException timedOut(String scheme) {
        return new InvalidEventException(IMAGE_UNREACHABLE, scheme + " download timed out after "
                + requestTimeout.toMillis() + " ms");
    }

    private static URI redirectTarget(URI from, String location) throws InvalidEventException {
        if (location == null || location.isBlank()) {
            throw new InvalidEventException(IMAGE_UNREACHABLE, "redirect without a Location");
        }
        URI next;
        try {
            next = from.resolve(new URI(location.trim()));
        } catch (URISyntaxException | IllegalArgumentException e) {
            throw new InvalidEventException(IMAGE_UNREACHABLE, "redirect Location is not a valid URI");
        }
        String scheme = next.getScheme() == null ? "" : next.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("http") && !scheme.equals("https")) {
            throw new InvalidEventException(IMAGE_SOURCE_NOT_ALLOWED, "redirect refused: not to http or https");
        }
        if ("https".equalsIgnoreCase(from.getScheme()) && scheme.equals("http")) {
            throw new InvalidEventException(IMAGE_SOURCE_NOT_ALLOWED, "redirect refused: from https to http");
        }
        return next;
    }

    /** A Content-Length over the limit is refused unread; otherwise the body is read with a bound. */
    private byte[] readBody(Call call, ResponseBody body) throws IOException, InvalidEventException {
        long max = limits.maxBytes();
        long declared = body.contentLength();
        if (declared > max) {
            call.cancel(); // close the connection rather than let OkHttp drain the body
            throw new InvalidEventException(IMAGE_TOO_LARGE, "download is " + declared
                    + " bytes (Content-Length), over the limit of " + max);
        }
        try { // the caller's Response.close() closes the stream
            return readBounded(body.byteStream(), "download");
        } catch (InvalidEventException e) {
            call.cancel(); // over the limit: hang up first, so that closing does not drain the rest
            throw e;
        }
    }

    // ------------------------------------------------------------------------------------------- client

    /**
     * The loader's HTTP client, created on first use (it is transient: each deserialized copy, e.g. each Flink
     * subtask, has its own). Never resolves names itself - every call gets a {@link PinnedDns} - never uses a
     * proxy, follows no redirects (the loader does, re-checking each hop), keeps at most two idle connections.
     */
    private OkHttpClient client() throws InvalidEventException {
        OkHttpClient c = client;
        if (c == null) {
            synchronized (this) {
                c = client;
                if (c == null) {
                    c = newClient();
                    client = c;
                }
            }
        }
        return c;
    }

    private OkHttpClient newClient() throws InvalidEventException {
        OkHttpClient.Builder b = new OkHttpClient.Builder()
                .proxy(Proxy.NO_PROXY)
                .followRedirects(false)
                .followSslRedirects(false)
                .dns(hostname -> {
                    throw new UnknownHostException("no address was checked for this host");
                })
                .connectionPool(new ConnectionPool(2, 30, TimeUnit.SECONDS))
                .connectTimeout(connectTimeout)
                .readTimeout(requestTimeout)
                .writeTimeout(requestTimeout)
                .callTimeout(requestTimeout);
        if (trust != null) {
            try {
                X509TrustManager tm = trust.trustManager();
                SSLContext context = SSLContext.getInstance("TLS");
                context.init(null, new TrustManager[] {tm}, null);
                b.sslSocketFactory(context.getSocketFactory(), tm);
            } catch (GeneralSecurityException e) {
                throw new InvalidEventException(IMAGE_UNREACHABLE, "https trust cannot be set up ("
                        + e.getClass().getSimpleName() + ")");
            }
        }
        return b.build();
    }

    /** Closes idle pooled connections and drops the client; the loader creates a new one if used again. */
    @Override
    public void close() {
        OkHttpClient c;
        synchronized (this) {
            c = client;
            client = null;
        }
        if (c != null) {
            c.connectionPool().evictAll();
        }
    }

    /**
     * Answers only for the one host name of the URL being fetched, and only with the addresses the policy
     * checked: OkHttp connects to one of those (trying them in order), never to a second DNS answer. A record,
     * so that a pooled connection is reused only for a call pinned to the same host and addresses.
     */
    private record PinnedDns(String host, List<InetAddress> addresses) implements Dns {
        @Override
        public List<InetAddress> lookup(String hostname) throws UnknownHostException {
            if (!hostname.equals(host)) {
                throw new UnknownHostException("no address was checked for this host");
            }
            return addresses;
        }
    }

    /** Where https trusts certificates; by default OkHttp's (the JVM's trust store). Replaceable in tests. */
    @FunctionalInterface
    interface TrustSource extends Serializable {
        X509TrustManager trustManager() throws GeneralSecurityException;
    }
}
