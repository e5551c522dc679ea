package org.xrayscreening.connectors.image;

import static org.xrayscreening.connectors.event.DeadLetterReason.IMAGE_SOURCE_NOT_ALLOWED;
import static org.xrayscreening.connectors.event.DeadLetterReason.IMAGE_TOO_LARGE;
import static org.xrayscreening.connectors.event.DeadLetterReason.IMAGE_UNREACHABLE;
import static org.xrayscreening.connectors.event.DeadLetterReason.INVALID_FIELD;
import static org.xrayscreening.connectors.event.DeadLetterReason.MISSING_FIELD;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.Serializable;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.SSLSocketFactory;

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
 * <li>{@code http:}/{@code https:}: the policy checks the URL prefix and every resolved address; one GET over
 * a socket connected to an address the policy checked (no second DNS lookup), with a connect timeout and a
 * total deadline covering the body; a Content-Length over the limit is refused before the body is read, and
 * the body is cut off as soon as it passes the limit. Redirects (at most {@link #MAX_REDIRECTS}) are
 * followed only when the target passes the policy again; https to http is refused.
 * </ul>
 * Failures: {@code IMAGE_SOURCE_NOT_ALLOWED} (the policy refused the source), {@code IMAGE_TOO_LARGE},
 * {@code IMAGE_UNREACHABLE} (missing file, I/O error, HTTP status other than 2xx, timeout),
 * {@code INVALID_FIELD}/{@code MISSING_FIELD} for a reference that {@code EventCodec} would have refused.
 * Details name the scheme and the failure, never the URI's host, path or query (which may encode patient data
 * or internal topology).
 *
 * <p>Thread-safe; {@link Serializable} for Flink fields.
 */
public final class ImageLoader implements Serializable {

    private static final long serialVersionUID = 2L;

    /** Redirects followed per download; each target is checked against the policy again. */
    public static final int MAX_REDIRECTS = 3;
    private static final int MAX_HEADER_BYTES = 64 * 1024;

    private final ImageLimits limits;
    private final ImageSourcePolicy policy;
    private final Duration connectTimeout;
    private final Duration requestTimeout;

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
        this.limits = Objects.requireNonNull(limits, "limits");
        this.policy = Objects.requireNonNull(policy, "policy");
        this.connectTimeout = Objects.requireNonNull(connectTimeout, "connectTimeout");
        this.requestTimeout = Objects.requireNonNull(requestTimeout, "requestTimeout");
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

    /** A response's status line and headers (names lower-cased, first value kept); the body is still unread. */
    private record Head(int status, Map<String, String> headers) {}

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
            try (Socket socket = connect(target, deadline)) {
                InputStream in = new BufferedInputStream(new DeadlineInputStream(socket, deadline));
                OutputStream out = socket.getOutputStream();
                out.write(request(target).getBytes(StandardCharsets.ISO_8859_1));
                out.flush();
                Head head = readHead(in);
                int status = head.status();
                if (status == 301 || status == 302 || status == 303 || status == 307 || status == 308) {
                    if (hop >= MAX_REDIRECTS) {
                        throw new InvalidEventException(IMAGE_UNREACHABLE, "more than " + MAX_REDIRECTS + " redirects");
                    }
                    current = redirectTarget(current, head.headers().get("location"));
                    continue;
                }
                if (status < 200 || status > 299) {
                    throw new InvalidEventException(IMAGE_UNREACHABLE, "HTTP status " + status);
                }
                return readBody(in, head.headers());
            } catch (SocketTimeoutException e) {
                throw timedOut(target.scheme());
            } catch (IOException e) {
                throw new InvalidEventException(IMAGE_UNREACHABLE, target.scheme() + " download failed ("
                        + e.getClass().getSimpleName() + ")");
            }
        }
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

    /** A socket to one of the addresses the policy checked (in order), TLS on top for https. */
    private Socket connect(ImageSourcePolicy.HttpTarget target, long deadline)
            throws IOException, InvalidEventException {
        IOException last = null;
        for (InetAddress address : target.addresses()) {
            long remaining = remainingMillis(deadline);
            if (remaining <= 0) {
                throw timedOut(target.scheme());
            }
            Socket socket = new Socket();
            try {
                socket.connect(new InetSocketAddress(address, target.port()),
                        (int) Math.min(remaining, connectTimeout.toMillis()));
                if (!target.scheme().equals("https")) {
                    return socket;
                }
                return tls(socket, target, deadline);
            } catch (IOException e) {
                socket.close();
                last = e;
            }
        }
        throw last != null ? last : new IOException("no address");
    }

    /** TLS over the connected socket: certificate checked against the host name, which is also sent as SNI. */
    private static Socket tls(Socket plain, ImageSourcePolicy.HttpTarget target, long deadline) throws IOException {
        String host = target.host();
        boolean literal = host.startsWith("[") || host.chars().allMatch(c -> Character.isDigit(c) || c == '.');
        String name = host.startsWith("[") ? host.substring(1, host.length() - 1) : host;
        SSLSocket ssl = (SSLSocket) ((SSLSocketFactory) SSLSocketFactory.getDefault())
                .createSocket(plain, name, target.port(), true);
        SSLParameters params = ssl.getSSLParameters();
        params.setEndpointIdentificationAlgorithm("HTTPS");
        if (!literal) {
            params.setServerNames(List.of(new SNIHostName(name)));
        }
        ssl.setSSLParameters(params);
        ssl.setSoTimeout((int) Math.max(1, remainingMillis(deadline)));
        ssl.startHandshake();
        return ssl;
    }

    private static String request(ImageSourcePolicy.HttpTarget target) {
        URI u = target.uri();
        String path = u.getRawPath() == null || u.getRawPath().isEmpty() ? "/" : u.getRawPath();
        if (u.getRawQuery() != null) {
            path += "?" + u.getRawQuery();
        }
        boolean defaultPort = target.port() == (target.scheme().equals("https") ? 443 : 80);
        String host = target.host() + (defaultPort ? "" : ":" + target.port());
        return "GET " + path + " HTTP/1.1\r\n"
                + "Host: " + host + "\r\n"
                + "User-Agent: xray-screening\r\n"
                + "Accept: */*\r\n"
                + "Connection: close\r\n\r\n";
    }

    private static Head readHead(InputStream in) throws IOException, InvalidEventException {
        int[] budget = {MAX_HEADER_BYTES};
        while (true) {
            String statusLine = readLine(in, budget);
            if (statusLine == null || !statusLine.startsWith("HTTP/") || statusLine.length() < 12) {
                throw new InvalidEventException(IMAGE_UNREACHABLE, "malformed HTTP response");
            }
            int status;
            try {
                status = Integer.parseInt(statusLine.substring(9, 12));
            } catch (NumberFormatException e) {
                throw new InvalidEventException(IMAGE_UNREACHABLE, "malformed HTTP response");
            }
            Map<String, String> headers = new HashMap<>();
            for (String line = readLine(in, budget); line != null && !line.isEmpty(); line = readLine(in, budget)) {
                int colon = line.indexOf(':');
                if (colon > 0) {
                    headers.putIfAbsent(line.substring(0, colon).trim().toLowerCase(Locale.ROOT),
                            line.substring(colon + 1).trim());
                }
            }
            if (status >= 100 && status < 200 && status != 101) {
                continue; // interim response (100 Continue, 103 Early Hints)
            }
            return new Head(status, headers);
        }
    }

    /** One line without its CR LF (or LF), null at end of stream; counts against the header budget. */
    private static String readLine(InputStream in, int[] budget) throws IOException, InvalidEventException {
        StringBuilder line = new StringBuilder();
        int c;
        while ((c = in.read()) >= 0) {
            if (--budget[0] < 0) {
                throw new InvalidEventException(IMAGE_UNREACHABLE, "HTTP response head is too long");
            }
            if (c == '\n') {
                int n = line.length();
                return n > 0 && line.charAt(n - 1) == '\r' ? line.substring(0, n - 1) : line.toString();
            }
            line.append((char) c);
        }
        return line.length() == 0 ? null : line.toString();
    }

    private byte[] readBody(InputStream in, Map<String, String> headers) throws IOException, InvalidEventException {
        long max = limits.maxBytes();
        String transfer = headers.getOrDefault("transfer-encoding", "").toLowerCase(Locale.ROOT);
        if (transfer.contains("chunked")) {
            return readChunked(in, max);
        }
        String declared = headers.get("content-length");
        if (declared != null) {
            long length;
            try {
                length = Long.parseLong(declared.trim());
            } catch (NumberFormatException e) {
                throw new InvalidEventException(IMAGE_UNREACHABLE, "malformed Content-Length");
            }
            if (length > max) {
                throw new InvalidEventException(IMAGE_TOO_LARGE, "download is " + length
                        + " bytes (Content-Length), over the limit of " + max);
            }
            if (length < 0) {
                throw new InvalidEventException(IMAGE_UNREACHABLE, "malformed Content-Length");
            }
            byte[] body = in.readNBytes((int) length);
            if (body.length < length) {
                throw new InvalidEventException(IMAGE_UNREACHABLE, "download ended early");
            }
            return body;
        }
        return readBounded(in, "download");
    }

    private static byte[] readChunked(InputStream in, long max) throws IOException, InvalidEventException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int[] budget = {MAX_HEADER_BYTES};
        while (true) {
            String sizeLine = readLine(in, budget);
            if (sizeLine == null) {
                throw new InvalidEventException(IMAGE_UNREACHABLE, "download ended early");
            }
            budget[0] = MAX_HEADER_BYTES;
            int semi = sizeLine.indexOf(';');
            long size;
            try {
                size = Long.parseLong((semi >= 0 ? sizeLine.substring(0, semi) : sizeLine).trim(), 16);
            } catch (NumberFormatException e) {
                throw new InvalidEventException(IMAGE_UNREACHABLE, "malformed chunked body");
            }
            if (size < 0) {
                throw new InvalidEventException(IMAGE_UNREACHABLE, "malformed chunked body");
            }
            if (size == 0) {
                for (String t = readLine(in, budget); t != null && !t.isEmpty(); t = readLine(in, budget)) {
                    // trailers: ignored
                }
                return out.toByteArray();
            }
            if (out.size() + size > max) {
                throw new InvalidEventException(IMAGE_TOO_LARGE, "download is over the limit of " + max + " bytes");
            }
            byte[] chunk = in.readNBytes((int) size);
            if (chunk.length < size) {
                throw new InvalidEventException(IMAGE_UNREACHABLE, "download ended early");
            }
            out.writeBytes(chunk);
            readLine(in, budget); // CR LF after the chunk
        }
    }

    private static long remainingMillis(long deadline) {
        return (deadline - System.nanoTime()) / 1_000_000;
    }

    /** Reads from the socket with its timeout set to what is left of the total deadline before every read. */
    private static final class DeadlineInputStream extends InputStream {
        private final Socket socket;
        private final InputStream in;
        private final long deadline;

        DeadlineInputStream(Socket socket, long deadline) throws IOException {
            this.socket = socket;
            this.in = socket.getInputStream();
            this.deadline = deadline;
        }

        private void arm() throws IOException {
            long remaining = remainingMillis(deadline);
            if (remaining <= 0) {
                throw new SocketTimeoutException("deadline passed");
            }
            socket.setSoTimeout((int) Math.min(Integer.MAX_VALUE, remaining));
        }

        @Override
        public int read() throws IOException {
            arm();
            return in.read();
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            arm();
            return in.read(b, off, len);
        }
    }
}
