package org.xrayscreening.connectors.image;

import static org.xrayscreening.connectors.event.DeadLetterReason.IMAGE_TOO_LARGE;
import static org.xrayscreening.connectors.event.DeadLetterReason.IMAGE_UNREACHABLE;
import static org.xrayscreening.connectors.event.DeadLetterReason.INVALID_FIELD;
import static org.xrayscreening.connectors.event.DeadLetterReason.MISSING_FIELD;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.Serializable;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import org.xrayscreening.connectors.event.ImageReference;
import org.xrayscreening.connectors.event.InvalidEventException;

/**
 * Resolves an {@link ImageReference} to the image's bytes, never holding more than
 * {@link ImageLimits#maxBytes()} of them:
 * <ul>
 * <li>inline: base64-decoded (size computed before decoding);
 * <li>{@code file:}: size checked before reading, read with a bound (the file may grow meanwhile);
 * <li>{@code http:}/{@code https:}: one GET with a connect timeout and a total deadline covering the body;
 * a Content-Length over the limit is refused before the body is read, and the body is cut off as soon as it
 * passes the limit. Redirects are followed except https to http.
 * </ul>
 * Failures: {@code IMAGE_TOO_LARGE}, {@code IMAGE_UNREACHABLE} (missing file, I/O error, HTTP status other
 * than 2xx, timeout), {@code INVALID_FIELD}/{@code MISSING_FIELD} for a reference that {@code EventCodec}
 * would have refused. Details name the scheme and the failure, never the URI's path or query (which may
 * encode patient data).
 *
 * <p>Thread-safe; {@link Serializable} for Flink fields (the HTTP client is created on first use).
 */
public final class ImageLoader implements Serializable {

    private static final long serialVersionUID = 1L;

    private final ImageLimits limits;
    private final Duration connectTimeout;
    private final Duration requestTimeout;
    private transient volatile HttpClient http;

    /** Default limits, 5 s to connect, 30 s for a whole download. */
    public ImageLoader() {
        this(ImageLimits.DEFAULTS);
    }

    public ImageLoader(ImageLimits limits) {
        this(limits, Duration.ofSeconds(5), Duration.ofSeconds(30));
    }

    /**
     * @param connectTimeout to establish an HTTP connection
     * @param requestTimeout for a whole HTTP download, headers and body
     */
    public ImageLoader(ImageLimits limits, Duration connectTimeout, Duration requestTimeout) {
        this.limits = Objects.requireNonNull(limits, "limits");
        this.connectTimeout = Objects.requireNonNull(connectTimeout, "connectTimeout");
        this.requestTimeout = Objects.requireNonNull(requestTimeout, "requestTimeout");
    }

    public ImageLimits limits() {
        return limits;
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
        Path path;
        try {
            URI local = uri;
            if ("localhost".equalsIgnoreCase(uri.getAuthority())) {
                local = new URI("file", null, uri.getPath(), null);
            }
            path = Path.of(local);
        } catch (IllegalArgumentException | URISyntaxException
                 | java.nio.file.FileSystemNotFoundException e) {
            throw new InvalidEventException(INVALID_FIELD, "image.uri is not a local file URI");
        }
        try {
            if (!Files.isRegularFile(path)) {
                throw new InvalidEventException(IMAGE_UNREACHABLE, Files.exists(path)
                        ? "image file is not a regular file" : "image file does not exist");
            }
            limits.checkBytes(Files.size(path), "image file");
            try (InputStream in = Files.newInputStream(path)) {
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

    private HttpClient client() {
        HttpClient c = http;
        if (c == null) {
            synchronized (this) {
                c = http;
                if (c == null) {
                    c = HttpClient.newBuilder()
                            .connectTimeout(connectTimeout)
                            .followRedirects(HttpClient.Redirect.NORMAL)
                            .build();
                    http = c;
                }
            }
        }
        return c;
    }

    private byte[] http(URI uri, String scheme) throws InvalidEventException {
        if (uri.getHost() == null) {
            throw new InvalidEventException(INVALID_FIELD, "image.uri " + scheme + ": URI has no host");
        }
        HttpRequest request;
        try {
            request = HttpRequest.newBuilder(uri).GET().timeout(requestTimeout).build();
        } catch (IllegalArgumentException e) {
            throw new InvalidEventException(INVALID_FIELD, "image.uri is not a valid " + scheme + " URI");
        }
        CompletableFuture<HttpResponse<byte[]>> future =
                client().sendAsync(request, info -> bodySubscriber(info, limits.maxBytes()));
        try {
            return future.get(requestTimeout.toMillis(), TimeUnit.MILLISECONDS).body();
        } catch (TimeoutException e) {
            future.cancel(true);
            throw new InvalidEventException(IMAGE_UNREACHABLE, scheme + " download timed out after "
                    + requestTimeout.toMillis() + " ms");
        } catch (InterruptedException e) {
            future.cancel(true);
            Thread.currentThread().interrupt();
            throw new InvalidEventException(IMAGE_UNREACHABLE, scheme + " download interrupted");
        } catch (ExecutionException e) {
            for (Throwable t = e.getCause(); t != null; t = t.getCause()) {
                if (t instanceof Refused refused) {
                    throw refused.toInvalidEvent();
                }
                if (t instanceof HttpTimeoutException) {
                    throw new InvalidEventException(IMAGE_UNREACHABLE, scheme + " download timed out");
                }
            }
            Throwable cause = e.getCause() == null ? e : e.getCause();
            throw new InvalidEventException(IMAGE_UNREACHABLE, scheme + " download failed ("
                    + cause.getClass().getSimpleName() + ")");
        }
    }

    private static HttpResponse.BodySubscriber<byte[]> bodySubscriber(HttpResponse.ResponseInfo info, long max) {
        int status = info.statusCode();
        if (status < 200 || status > 299) {
            return new Refusing(new Refused(IMAGE_UNREACHABLE, "HTTP status " + status));
        }
        OptionalLong length = info.headers().firstValueAsLong("Content-Length");
        if (length.isPresent() && length.getAsLong() > max) {
            return new Refusing(new Refused(IMAGE_TOO_LARGE, "download is " + length.getAsLong()
                    + " bytes (Content-Length), over the limit of " + max));
        }
        return new Bounded(max);
    }

    /** A failure decided while receiving; carried through the HTTP client's future. */
    private static final class Refused extends IOException {
        private final transient org.xrayscreening.connectors.event.DeadLetterReason reason;

        Refused(org.xrayscreening.connectors.event.DeadLetterReason reason, String detail) {
            super(detail, null);
            this.reason = reason;
        }

        InvalidEventException toInvalidEvent() {
            return new InvalidEventException(reason, getMessage());
        }
    }

    /** Cancels the body at once and fails with a {@link Refused}. */
    private static final class Refusing implements HttpResponse.BodySubscriber<byte[]> {
        private final CompletableFuture<byte[]> body = new CompletableFuture<>();
        private final Refused refused;

        Refusing(Refused refused) {
            this.refused = refused;
        }

        @Override
        public CompletionStage<byte[]> getBody() {
            return body;
        }

        @Override
        public void onSubscribe(Flow.Subscription subscription) {
            subscription.cancel();
            body.completeExceptionally(refused);
        }

        @Override
        public void onNext(List<ByteBuffer> item) {
        }

        @Override
        public void onError(Throwable throwable) {
            body.completeExceptionally(refused);
        }

        @Override
        public void onComplete() {
            body.completeExceptionally(refused);
        }
    }

    /** Collects the body, cancelling as soon as it passes {@code max} bytes. */
    private static final class Bounded implements HttpResponse.BodySubscriber<byte[]> {
        private final CompletableFuture<byte[]> body = new CompletableFuture<>();
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();
        private final long max;
        private Flow.Subscription subscription;

        Bounded(long max) {
            this.max = max;
        }

        @Override
        public CompletionStage<byte[]> getBody() {
            return body;
        }

        @Override
        public void onSubscribe(Flow.Subscription s) {
            this.subscription = s;
            s.request(Long.MAX_VALUE);
        }

        @Override
        public void onNext(List<ByteBuffer> buffers) {
            if (body.isDone()) {
                return;
            }
            for (ByteBuffer b : buffers) {
                if (out.size() + (long) b.remaining() > max) {
                    subscription.cancel();
                    body.completeExceptionally(new Refused(IMAGE_TOO_LARGE,
                            "download is over the limit of " + max + " bytes"));
                    return;
                }
                byte[] chunk = new byte[b.remaining()];
                b.get(chunk);
                out.writeBytes(chunk);
            }
        }

        @Override
        public void onError(Throwable throwable) {
            body.completeExceptionally(throwable);
        }

        @Override
        public void onComplete() {
            body.complete(out.toByteArray());
        }
    }
}
