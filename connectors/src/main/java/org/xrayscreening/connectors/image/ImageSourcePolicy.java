package org.xrayscreening.connectors.image;

import static org.xrayscreening.connectors.event.DeadLetterReason.IMAGE_SOURCE_NOT_ALLOWED;
import static org.xrayscreening.connectors.event.DeadLetterReason.IMAGE_UNREACHABLE;
import static org.xrayscreening.connectors.event.DeadLetterReason.INVALID_FIELD;

import java.io.IOException;
import java.io.Serializable;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

import org.xrayscreening.connectors.event.InvalidEventException;

/**
 * Where claim-check images may be read from: an allow-list of {@code file:} roots and {@code http(s)} URL
 * prefixes. Everything else is refused with {@code IMAGE_SOURCE_NOT_ALLOWED}; an event must not be able to make
 * the job read arbitrary local files or call internal services (server-side request forgery).
 *
 * <p><b>{@code file:}</b> URIs must name no host (or {@code localhost}), contain no {@code .}/{@code ..}
 * segments (after percent-decoding), lie lexically under an allowed root, and their real path (all symbolic
 * links resolved) must lie under the root's real path: a symlink inside a root that points outside is refused.
 * The loader then opens the real path without following links. Roots are resolved when an image is checked,
 * not when the policy is built, because the policy is built on the Flink client and used on TaskManagers.
 *
 * <p><b>{@code http(s):}</b> URIs must match an allowed prefix component by component (scheme, host, port,
 * then a path prefix on segment boundaries), carry no user info, and have no dot segments or encoded
 * slashes/backslashes. The host is then resolved and <em>every</em> address it resolves to is checked:
 * <ul>
 * <li>always refused: unspecified ({@code 0.0.0.0/8}, {@code ::}), link-local ({@code 169.254.0.0/16} -
 * cloud metadata services live there - and {@code fe80::/10}), multicast, broadcast and reserved
 * {@code 240.0.0.0/4}, Teredo {@code 2001::/32};
 * <li>refused unless {@code allowPrivateAddresses}: loopback ({@code 127/8}, {@code ::1}), private
 * ({@code 10/8}, {@code 172.16/12}, {@code 192.168/16}, {@code 100.64/10}, {@code fc00::/7},
 * {@code fec0::/10});
 * <li>IPv6 forms that embed an IPv4 address (IPv4-mapped {@code ::ffff:a.b.c.d}, IPv4-compatible,
 * NAT64 {@code 64:ff9b::/96}, 6to4 {@code 2002::/16}) are judged by the embedded address.
 * </ul>
 * Numeric host spellings ({@code 2130706433}, {@code 0x7f.1}, {@code 0177.0.0.1}) need no special case: they
 * either fail to parse as a host, match no configured prefix, or resolve to an address checked above.
 *
 * <p><b>DNS rebinding.</b> {@link #checkUrl} returns the addresses it checked and {@link ImageLoader} connects
 * to one of exactly those addresses: its OkHttp client's {@code Dns} answers with them and nothing else (TLS
 * still verifies the certificate against the host name and sends it as SNI). Re-resolving at connect time -
 * what an HTTP client does by default - leaves a window in which a second DNS answer may point at an internal
 * address; pinning closes it. <b>Redirects</b> are followed
 * (at most {@link ImageLoader#MAX_REDIRECTS}) and every hop is checked again as a new URI, addresses included.
 *
 * <p>Refusals name the rule, never the path or host. Immutable, thread-safe and {@link Serializable}.
 */
public final class ImageSourcePolicy implements Serializable {

    private static final long serialVersionUID = 1L;

    /** Resolves a host name to its addresses; replaceable in tests. */
    @FunctionalInterface
    public interface Resolver extends Serializable {
        InetAddress[] resolve(String host) throws UnknownHostException;
    }

    /** The system resolver. */
    public static final Resolver SYSTEM_RESOLVER = InetAddress::getAllByName;

    /** Inline images only: every claim check is refused. The cluster job's default. */
    public static final ImageSourcePolicy NONE = new ImageSourcePolicy(List.of(), List.of(), false, SYSTEM_RESOLVER);

    /** An allowed http(s) URL prefix, parsed. {@code path} is decoded and always starts with '/'. */
    record UrlPrefix(String scheme, String host, int port, String path) implements Serializable {
        boolean matches(String scheme, String host, int port, String path) {
            if (!this.scheme.equals(scheme) || !this.host.equals(host) || this.port != port) {
                return false;
            }
            if (this.path.endsWith("/")) {
                return path.startsWith(this.path);
            }
            return path.equals(this.path) || path.startsWith(this.path + "/");
        }
    }

    /**
     * An http(s) source that passed the policy: connect to one of {@code addresses}, never re-resolve; send
     * {@code authorization} (null: none) as the {@code Authorization} header.
     */
    public record HttpTarget(URI uri, String scheme, String host, int port, List<InetAddress> addresses,
                             String authorization) {
        /** Without the credentials. */
        @Override
        public String toString() {
            return "HttpTarget[scheme=" + scheme + ", port=" + port + ", addresses=" + addresses.size()
                    + ", authorization=" + (authorization != null ? "<set>" : "none") + "]";
        }
    }

    private final List<String> fileRoots;
    private final List<UrlPrefix> urlPrefixes;
    private final boolean allowPrivateAddresses;
    private final Resolver resolver;
    private final HttpCredentials credentials;

    private ImageSourcePolicy(List<String> fileRoots, List<UrlPrefix> urlPrefixes, boolean allowPrivateAddresses,
                              Resolver resolver) {
        this(fileRoots, urlPrefixes, allowPrivateAddresses, resolver, HttpCredentials.NONE);
    }

    private ImageSourcePolicy(List<String> fileRoots, List<UrlPrefix> urlPrefixes, boolean allowPrivateAddresses,
                              Resolver resolver, HttpCredentials credentials) {
        this.fileRoots = List.copyOf(fileRoots);
        this.urlPrefixes = List.copyOf(urlPrefixes);
        this.allowPrivateAddresses = allowPrivateAddresses;
        this.resolver = Objects.requireNonNull(resolver, "resolver");
        this.credentials = Objects.requireNonNull(credentials, "credentials");
    }

    /**
     * @param fileRoots directories whose files may be read (made absolute; need not exist yet)
     * @param urlPrefixes {@code http(s)://host[:port][/path]} prefixes
     * @throws IllegalArgumentException for a prefix that is not such a URL (a configuration error)
     */
    public static ImageSourcePolicy of(Collection<Path> fileRoots, Collection<String> urlPrefixes,
                                       boolean allowPrivateAddresses) {
        return new ImageSourcePolicy(List.of(), List.of(), allowPrivateAddresses, SYSTEM_RESOLVER)
                .withFileRoots(fileRoots == null ? List.of() : fileRoots)
                .withUrlPrefixes(urlPrefixes == null ? List.of() : urlPrefixes);
    }

    /** This policy plus more file roots. */
    public ImageSourcePolicy withFileRoots(Collection<Path> roots) {
        List<String> all = new ArrayList<>(fileRoots);
        for (Path root : roots) {
            String r = root.toAbsolutePath().normalize().toString();
            if (!all.contains(r)) {
                all.add(r);
            }
        }
        return new ImageSourcePolicy(all, urlPrefixes, allowPrivateAddresses, resolver, credentials);
    }

    /** This policy plus more URL prefixes. */
    public ImageSourcePolicy withUrlPrefixes(Collection<String> prefixes) {
        List<UrlPrefix> all = new ArrayList<>(urlPrefixes);
        for (String p : prefixes) {
            UrlPrefix parsed = parsePrefix(p);
            if (!all.contains(parsed)) {
                all.add(parsed);
            }
        }
        return new ImageSourcePolicy(fileRoots, all, allowPrivateAddresses, resolver, credentials);
    }

    /** This policy with another resolver (tests: simulate DNS answers). */
    public ImageSourcePolicy withResolver(Resolver resolver) {
        return new ImageSourcePolicy(fileRoots, urlPrefixes, allowPrivateAddresses, resolver, credentials);
    }

    /**
     * This policy sending basic-auth credentials to the URLs under their prefixes (each hop of a redirect is
     * matched again, so credentials never follow a redirect to another prefix). Credentials allow nothing by
     * themselves: a URL must still match an allowed prefix.
     */
    public ImageSourcePolicy withCredentials(HttpCredentials credentials) {
        return new ImageSourcePolicy(fileRoots, urlPrefixes, allowPrivateAddresses, resolver,
                this.credentials.and(credentials));
    }

    public List<Path> fileRoots() {
        return fileRoots.stream().map(Path::of).toList();
    }

    public boolean allowsPrivateAddresses() {
        return allowPrivateAddresses;
    }

    /** For a startup log line: counts only. */
    public String summary() {
        return fileRoots.size() + " file root(s), " + urlPrefixes.size() + " URL prefix(es), private addresses "
                + (allowPrivateAddresses ? "allowed" : "refused")
                + (credentials.isEmpty() ? "" : ", credentials for some prefixes");
    }

    static UrlPrefix parsePrefix(String prefix) {
        URI u;
        try {
            u = new URI(Objects.requireNonNull(prefix, "prefix").trim());
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("URL prefix is not a valid URI: " + prefix);
        }
        String scheme = u.getScheme() == null ? "" : u.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("http") && !scheme.equals("https")) {
            throw new IllegalArgumentException("URL prefix must start with http:// or https://: " + prefix);
        }
        if (u.getHost() == null || u.getRawUserInfo() != null || u.getRawQuery() != null
                || u.getRawFragment() != null) {
            throw new IllegalArgumentException("URL prefix must be scheme://host[:port][/path] without user info, "
                    + "query or fragment: " + prefix);
        }
        String path = u.getPath() == null || u.getPath().isEmpty() ? "/" : u.getPath();
        if (hasDotSegmentsOrEncodedSeparators(u.getRawPath(), path)) {
            throw new IllegalArgumentException("URL prefix path must not contain . or .. segments or encoded "
                    + "slashes: " + prefix);
        }
        return new UrlPrefix(scheme, host(u), port(u, scheme), path);
    }

    // ------------------------------------------------------------------------------------------- file

    /**
     * The real path of an allowed {@code file:} image.
     *
     * @throws InvalidEventException {@code IMAGE_SOURCE_NOT_ALLOWED} outside the roots (lexically or through a
     *         link); {@code IMAGE_UNREACHABLE} for a missing or unreadable file inside them;
     *         {@code INVALID_FIELD} for a URI that is no local file path
     */
    public Path checkFile(URI uri) throws InvalidEventException {
        String authority = uri.getRawAuthority();
        if (authority != null && !authority.isEmpty() && !authority.equalsIgnoreCase("localhost")) {
            throw notAllowed("file: URI names a host");
        }
        if (uri.getRawQuery() != null || uri.getRawFragment() != null || uri.getPath() == null) {
            throw new InvalidEventException(INVALID_FIELD, "image.uri is not a local file URI");
        }
        Path path;
        try {
            path = Path.of(uri.getPath()); // percent-decoded
        } catch (InvalidPathException e) {
            throw new InvalidEventException(INVALID_FIELD, "image.uri is not a local file URI");
        }
        if (!path.isAbsolute()) {
            throw new InvalidEventException(INVALID_FIELD, "image.uri is not an absolute file URI");
        }
        for (Path segment : path) {
            String s = segment.toString();
            if (s.equals(".") || s.equals("..")) {
                throw notAllowed("file: URI has . or .. segments");
            }
        }
        // Lexical check first: nothing outside the roots is even looked at (no probing of what exists where).
        List<Path> realRoots = new ArrayList<>();
        boolean lexicallyInside = false;
        for (String root : fileRoots) {
            Path lexical = Path.of(root);
            Path real = realOrNull(lexical);
            if (real != null) {
                realRoots.add(real);
            }
            if (path.startsWith(lexical) || (real != null && path.startsWith(real))) {
                lexicallyInside = true;
            }
        }
        if (!lexicallyInside) {
            throw notAllowed("file: URI is outside the allowed file roots");
        }
        Path real;
        try {
            real = path.toRealPath();
        } catch (NoSuchFileException e) {
            throw new InvalidEventException(IMAGE_UNREACHABLE, "image file does not exist");
        } catch (IOException | SecurityException e) {
            throw new InvalidEventException(IMAGE_UNREACHABLE, "image file cannot be read ("
                    + e.getClass().getSimpleName() + ")");
        }
        for (Path root : realRoots) {
            if (real.startsWith(root)) {
                return real;
            }
        }
        throw notAllowed("file: URI leaves the allowed file roots through a symbolic link");
    }

    private static Path realOrNull(Path p) {
        try {
            return p.toRealPath();
        } catch (IOException | SecurityException e) {
            return null;
        }
    }

    // ------------------------------------------------------------------------------------------- http

    /**
     * Checks an {@code http(s)} URI against the prefixes, resolves its host and checks every address.
     *
     * @throws InvalidEventException {@code IMAGE_SOURCE_NOT_ALLOWED} when no prefix matches or an address is
     *         refused; {@code IMAGE_UNREACHABLE} when the (allowed) host does not resolve
     */
    public HttpTarget checkUrl(URI uri) throws InvalidEventException {
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("http") && !scheme.equals("https")) {
            throw notAllowed("URI scheme is not http or https");
        }
        if (uri.getHost() == null) {
            throw notAllowed(scheme + ": URI has no host name that an allowed prefix could match");
        }
        if (uri.getRawUserInfo() != null) {
            throw notAllowed(scheme + ": URI carries user info");
        }
        String path = uri.getPath() == null || uri.getPath().isEmpty() ? "/" : uri.getPath();
        if (hasDotSegmentsOrEncodedSeparators(uri.getRawPath(), path)) {
            throw notAllowed(scheme + ": URI path has . or .. segments or encoded slashes");
        }
        String host = host(uri);
        int port = port(uri, scheme);
        boolean matched = false;
        for (UrlPrefix p : urlPrefixes) {
            if (p.matches(scheme, host, port, path)) {
                matched = true;
                break;
            }
        }
        if (!matched) {
            throw notAllowed(scheme + ": URI matches no allowed URL prefix");
        }
        InetAddress[] addresses;
        try {
            addresses = resolver.resolve(host);
        } catch (UnknownHostException | SecurityException e) {
            throw new InvalidEventException(IMAGE_UNREACHABLE, scheme + ": host cannot be resolved");
        }
        if (addresses == null || addresses.length == 0) {
            throw new InvalidEventException(IMAGE_UNREACHABLE, scheme + ": host cannot be resolved");
        }
        // Every address must pass: a DNS answer that mixes a public and an internal address is refused.
        for (InetAddress a : addresses) {
            String why = refusal(a, allowPrivateAddresses);
            if (why != null) {
                throw notAllowed(scheme + ": host resolves to " + why + " address");
            }
        }
        return new HttpTarget(uri, scheme, uri.getHost(), port, List.of(addresses), credentials.authorizationFor(uri));
    }

    /** Lower case, IPv6 brackets and a trailing dot removed. */
    private static String host(URI u) {
        String h = u.getHost().toLowerCase(Locale.ROOT);
        if (h.startsWith("[") && h.endsWith("]")) {
            h = h.substring(1, h.length() - 1);
        }
        while (h.endsWith(".")) {
            h = h.substring(0, h.length() - 1);
        }
        return h;
    }

    private static int port(URI u, String scheme) {
        return u.getPort() >= 0 ? u.getPort() : scheme.equals("https") ? 443 : 80;
    }

    private static boolean hasDotSegmentsOrEncodedSeparators(String rawPath, String decodedPath) {
        String raw = rawPath == null ? "" : rawPath.toLowerCase(Locale.ROOT);
        if (raw.contains("%2f") || raw.contains("%5c") || decodedPath.indexOf('\\') >= 0
                || decodedPath.indexOf('\0') >= 0) {
            return true;
        }
        for (String segment : decodedPath.split("/", -1)) {
            if (segment.equals(".") || segment.equals("..")) {
                return true;
            }
        }
        return false;
    }

    /**
     * Why an address is refused ("a loopback", ...), or null when it may be contacted.
     *
     * @param allowPrivate whether loopback and private ranges are allowed (link-local, unspecified, multicast
     *        and reserved ranges never are)
     */
    static String refusal(InetAddress address, boolean allowPrivate) {
        byte[] b = address.getAddress();
        if (address instanceof Inet6Address) {
            byte[] embedded = embeddedIpv4(b);
            if (embedded != null) {
                try {
                    return refusal(InetAddress.getByAddress(embedded), allowPrivate);
                } catch (UnknownHostException e) {
                    return "an unusable";
                }
            }
            if ((b[0] & 0xff) == 0x20 && (b[1] & 0xff) == 0x01 && b[2] == 0 && b[3] == 0) {
                return "a Teredo (tunnelled IPv4)";
            }
            if ((b[0] & 0xfe) == 0xfc) {
                return allowPrivate ? null : "a private (unique local)";
            }
        }
        if (address.isAnyLocalAddress() || (address instanceof Inet4Address && b[0] == 0)) {
            return "an unspecified";
        }
        if (address.isLinkLocalAddress()) {
            return "a link-local";
        }
        if (address.isMulticastAddress()) {
            return "a multicast";
        }
        if (address instanceof Inet4Address && (b[0] & 0xf0) == 0xf0) {
            return "a reserved or broadcast";
        }
        if (address.isLoopbackAddress()) {
            return allowPrivate ? null : "a loopback";
        }
        if (address.isSiteLocalAddress()) {
            return allowPrivate ? null : "a private";
        }
        if (address instanceof Inet4Address && (b[0] & 0xff) == 100 && (b[1] & 0xc0) == 64) {
            return allowPrivate ? null : "a private (shared, 100.64/10)";
        }
        return null;
    }

    /** The IPv4 address inside an IPv4-mapped, IPv4-compatible, NAT64 or 6to4 IPv6 address, else null. */
    private static byte[] embeddedIpv4(byte[] b) {
        boolean first10Zero = true;
        for (int i = 0; i < 10; i++) {
            first10Zero &= b[i] == 0;
        }
        if (first10Zero && (b[10] & 0xff) == 0xff && (b[11] & 0xff) == 0xff) {
            return new byte[] {b[12], b[13], b[14], b[15]}; // ::ffff:a.b.c.d
        }
        if (first10Zero && b[10] == 0 && b[11] == 0) {
            boolean loopbackOrAny = b[12] == 0 && b[13] == 0 && b[14] == 0 && (b[15] == 0 || b[15] == 1);
            return loopbackOrAny ? null : new byte[] {b[12], b[13], b[14], b[15]}; // ::a.b.c.d (deprecated)
        }
        boolean nat64 = b[0] == 0 && (b[1] & 0xff) == 0x64 && (b[2] & 0xff) == 0xff && (b[3] & 0xff) == 0x9b;
        for (int i = 4; nat64 && i < 12; i++) {
            nat64 = b[i] == 0;
        }
        if (nat64) {
            return new byte[] {b[12], b[13], b[14], b[15]}; // 64:ff9b::a.b.c.d
        }
        if ((b[0] & 0xff) == 0x20 && (b[1] & 0xff) == 0x02) {
            return new byte[] {b[2], b[3], b[4], b[5]}; // 2002:aabb:ccdd::/48 (6to4)
        }
        return null;
    }

    static InvalidEventException notAllowed(String detail) {
        return new InvalidEventException(IMAGE_SOURCE_NOT_ALLOWED, detail);
    }
}
