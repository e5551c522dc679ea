package org.xrayscreening.connectors.image;

import java.io.IOException;
import java.io.Serializable;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * HTTP basic-auth credentials per URL prefix, for claim checks that live behind a login (an Orthanc node's
 * {@code /instances/{id}/file}). A request gets the credentials of the longest prefix it lies under (scheme,
 * host, port, then path on segment boundaries, as {@link ImageSourcePolicy} matches prefixes), and none when no
 * prefix matches - so a redirect to another host never carries them.
 *
 * <p>File format ({@link #load(Path)}), one entry a line, {@code #} comments and blank lines ignored:
 * <pre>
 * http://orthanc:8042/  gateway:secret-password
 * </pre>
 * The prefix, white space, then {@code user:password} (the user may not contain a colon; the password may
 * contain anything but a line break). Kept in a file (a mounted Kubernetes Secret) rather than on the command
 * line, where {@code ps} would show it. {@link #toString()} shows prefixes and users only; the secrets are never
 * logged.
 */
public final class HttpCredentials implements Serializable {

    private static final long serialVersionUID = 1L;

    /** No credentials for any URL. */
    public static final HttpCredentials NONE = new HttpCredentials(List.of());

    private record Entry(ImageSourcePolicy.UrlPrefix prefix, String user, String authorization) implements Serializable {
        @Override
        public String toString() {
            return prefix.scheme() + "://" + prefix.host() + ":" + prefix.port() + prefix.path() + " (user " + user + ")";
        }
    }

    private final List<Entry> entries;

    private HttpCredentials(List<Entry> entries) {
        this.entries = List.copyOf(entries);
    }

    /**
     * @throws IllegalArgumentException for a prefix that is not an {@code http(s)} URL or an empty user
     */
    public static HttpCredentials of(List<String> prefixes, List<String> users, List<String> passwords) {
        List<Entry> entries = new ArrayList<>();
        for (int i = 0; i < prefixes.size(); i++) {
            entries.add(entry(prefixes.get(i), users.get(i), passwords.get(i)));
        }
        return new HttpCredentials(entries);
    }

    /** One prefix with one user. */
    public static HttpCredentials basic(String prefix, String user, String password) {
        return new HttpCredentials(List.of(entry(prefix, user, password)));
    }

    /**
     * Reads the file described in the class comment.
     *
     * @throws IllegalArgumentException naming the line number (never its content) for a malformed line
     */
    public static HttpCredentials load(Path file) throws IOException {
        List<Entry> entries = new ArrayList<>();
        List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        for (int n = 0; n < lines.size(); n++) {
            String line = lines.get(n).strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            String[] parts = line.split("\\s+", 2);
            int colon = parts.length == 2 ? parts[1].indexOf(':') : -1;
            if (colon <= 0) {
                throw new IllegalArgumentException(file + " line " + (n + 1)
                        + ": expected 'URL-PREFIX USER:PASSWORD'");
            }
            try {
                entries.add(entry(parts[0], parts[1].substring(0, colon), parts[1].substring(colon + 1)));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(file + " line " + (n + 1) + ": the URL prefix is not an http(s) "
                        + "URL scheme://host[:port][/path]");
            }
        }
        return new HttpCredentials(entries);
    }

    private static Entry entry(String prefix, String user, String password) {
        Objects.requireNonNull(password, "password");
        if (user == null || user.isEmpty() || user.indexOf(':') >= 0) {
            throw new IllegalArgumentException("the user must be non-empty and contain no colon");
        }
        String token = Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
        return new Entry(ImageSourcePolicy.parsePrefix(prefix), user, "Basic " + token);
    }

    /** This and {@code other}'s entries. */
    public HttpCredentials and(HttpCredentials other) {
        List<Entry> all = new ArrayList<>(entries);
        all.addAll(other.entries);
        return new HttpCredentials(all);
    }

    public boolean isEmpty() {
        return entries.isEmpty();
    }

    /** The {@code Authorization} header value for {@code uri}, or null when no prefix matches it. */
    public String authorizationFor(URI uri) {
        if (entries.isEmpty() || uri.getHost() == null || uri.getScheme() == null) {
            return null;
        }
        String scheme = uri.getScheme().toLowerCase(Locale.ROOT);
        String host = uri.getHost().toLowerCase(Locale.ROOT);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        while (host.endsWith(".")) {
            host = host.substring(0, host.length() - 1);
        }
        int port = uri.getPort() >= 0 ? uri.getPort() : scheme.equals("https") ? 443 : 80;
        String path = uri.getPath() == null || uri.getPath().isEmpty() ? "/" : uri.getPath();
        Entry best = null;
        for (Entry e : entries) {
            if (e.prefix().matches(scheme, host, port, path)
                    && (best == null || e.prefix().path().length() > best.prefix().path().length())) {
                best = e;
            }
        }
        return best == null ? null : best.authorization();
    }

    /** {@link #authorizationFor(URI)} for a string. */
    public String authorizationFor(String uri) {
        try {
            return authorizationFor(new URI(uri));
        } catch (URISyntaxException e) {
            return null;
        }
    }

    /** Prefixes and users; never a password. */
    @Override
    public String toString() {
        return "HttpCredentials" + entries;
    }
}
