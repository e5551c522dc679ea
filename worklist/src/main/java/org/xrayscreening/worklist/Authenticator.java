package org.xrayscreening.worklist;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Who is asking. Two modes, both with users and roles from the {@link Users} file:
 * <ul>
 * <li>{@link #basic}: HTTP basic authentication against the file's password hashes. Only over TLS, or on a
 * loopback address (the local run), which the server checks at start-up. A successful check is remembered for a
 * few minutes under an HMAC of the header, so the page's polling does not pay PBKDF2 every two seconds.
 * <li>{@link #proxy}: a trusted reverse proxy (oauth2-proxy, an ingress with SSO, ...) has authenticated the user
 * and names them in a header; requests from any address other than the configured proxies are refused, since
 * anyone could send that header. The user must still be listed in the file, which gives the roles.
 * </ul>
 */
public abstract class Authenticator {

    /** The outcome for one request: a user, or the status and message of the refusal. */
    public record Result(User user, int status, String problem) {
        static Result ok(User user) {
            return new Result(user, 200, null);
        }

        static Result refused(int status, String problem) {
            return new Result(null, status, problem);
        }
    }

    /** Authenticates a request from {@code remoteAddress} with the given header lookup. */
    public abstract Result authenticate(String remoteAddress, java.util.function.Function<String, String> header);

    /** True for basic: a 401 then carries {@code WWW-Authenticate}. */
    public abstract boolean challenges();

    public static Authenticator basic(Users users, Secrets secrets, Duration cacheFor) {
        if (!users.allHavePasswords()) {
            throw new IllegalArgumentException("--auth basic: every user in the users file needs a password hash");
        }
        return new Basic(users, secrets, cacheFor);
    }

    public static Authenticator proxy(Users users, String userHeader, Set<String> trustedProxies) {
        if (trustedProxies.isEmpty()) {
            throw new IllegalArgumentException("--auth proxy needs --trusted-proxy (the reverse proxy's address)");
        }
        return new Proxy(users, userHeader, Set.copyOf(trustedProxies));
    }

    private static final class Basic extends Authenticator {
        private final Users users;
        private final Secrets secrets;
        private final long cacheNanos;
        private final Map<String, long[]> cachedUntil = new LinkedHashMap<>();
        private final Map<String, User> cachedUser = new LinkedHashMap<>();

        Basic(Users users, Secrets secrets, Duration cacheFor) {
            this.users = users;
            this.secrets = secrets;
            this.cacheNanos = cacheFor.toNanos();
        }

        @Override
        public boolean challenges() {
            return true;
        }

        @Override
        public Result authenticate(String remoteAddress, java.util.function.Function<String, String> header) {
            String authorization = header.apply("Authorization");
            if (authorization == null || !authorization.regionMatches(true, 0, "Basic ", 0, 6)) {
                return Result.refused(401, "Sign in with your worklist user name and password.");
            }
            String cacheKey = Base64.getEncoder().encodeToString(secrets.mac("basic|" + authorization));
            User cached = cached(cacheKey);
            if (cached != null) {
                return Result.ok(cached);
            }
            String decoded;
            try {
                decoded = new String(Base64.getDecoder().decode(authorization.substring(6).trim()), StandardCharsets.UTF_8);
            } catch (IllegalArgumentException e) {
                return Result.refused(400, "The Authorization header is not valid HTTP basic.");
            }
            int colon = decoded.indexOf(':');
            if (colon < 0) {
                return Result.refused(400, "The Authorization header is not valid HTTP basic.");
            }
            Optional<User> user = users.authenticate(decoded.substring(0, colon), decoded.substring(colon + 1).toCharArray());
            if (user.isEmpty()) {
                return Result.refused(401, "Unknown user or wrong password.");
            }
            remember(cacheKey, user.get());
            return Result.ok(user.get());
        }

        private synchronized User cached(String key) {
            long[] until = cachedUntil.get(key);
            if (until == null || System.nanoTime() - until[0] > 0) {
                return null;
            }
            return cachedUser.get(key);
        }

        private synchronized void remember(String key, User user) {
            long now = System.nanoTime();
            for (Iterator<Map.Entry<String, long[]>> it = cachedUntil.entrySet().iterator(); it.hasNext(); ) {
                Map.Entry<String, long[]> e = it.next();
                if (now - e.getValue()[0] > 0 || cachedUntil.size() > 1000) {
                    it.remove();
                    cachedUser.remove(e.getKey());
                }
            }
            cachedUntil.put(key, new long[] {now + cacheNanos});
            cachedUser.put(key, user);
        }
    }

    private static final class Proxy extends Authenticator {
        private final Users users;
        private final String userHeader;
        private final Set<String> trustedProxies;

        Proxy(Users users, String userHeader, Set<String> trustedProxies) {
            this.users = users;
            this.userHeader = userHeader;
            this.trustedProxies = trustedProxies;
        }

        @Override
        public boolean challenges() {
            return false;
        }

        @Override
        public Result authenticate(String remoteAddress, java.util.function.Function<String, String> header) {
            if (!trustedProxies.contains(remoteAddress)) {
                return Result.refused(403, "The worklist only accepts requests through its reverse proxy.");
            }
            String name = header.apply(userHeader);
            if (name == null || name.isBlank()) {
                return Result.refused(401, "The reverse proxy did not name a user.");
            }
            return users.named(name.trim()).map(Result::ok)
                    .orElseGet(() -> Result.refused(403, "This user has no role on the worklist."));
        }
    }
}
