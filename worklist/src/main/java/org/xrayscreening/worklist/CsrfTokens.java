package org.xrayscreening.worklist;

import java.time.Clock;
import java.time.Duration;
import java.util.Base64;

/**
 * Stateless CSRF tokens: {@code <issued epoch seconds>.<HMAC(user | issued)>}, bound to the logged-in user and
 * valid for a lifetime (12 h in the app). A page carries one; every state-changing request must send it back in the
 * {@value #HEADER} header. A cross-site page can neither read a token
 * (same-origin policy, CSP frame-ancestors) nor forge one (the secret), and a token stolen from one user is
 * refused for another.
 */
public final class CsrfTokens {
    public static final String HEADER = "X-CSRF-Token";

    private final Secrets secrets;
    private final Duration lifetime;
    private final Clock clock;

    public CsrfTokens(Secrets secrets, Duration lifetime, Clock clock) {
        this.secrets = secrets;
        this.lifetime = lifetime;
        this.clock = clock;
    }

    public String issue(User user) {
        long issued = clock.instant().getEpochSecond();
        return issued + "." + Base64.getUrlEncoder().withoutPadding().encodeToString(mac(user, issued));
    }

    /** Why the token is refused, or null when it is valid for this user now. */
    public String problem(User user, String token) {
        if (token == null || token.isBlank()) {
            return "the request carries no CSRF token; reload the page";
        }
        int dot = token.indexOf('.');
        long issued;
        byte[] given;
        try {
            issued = Long.parseLong(token.substring(0, Math.max(0, dot)));
            given = Base64.getUrlDecoder().decode(token.substring(dot + 1));
        } catch (IllegalArgumentException e) {
            return "the CSRF token is malformed; reload the page";
        }
        if (!Secrets.constantTimeEquals(given, mac(user, issued))) {
            return "the CSRF token is not valid for this user; reload the page";
        }
        long age = clock.instant().getEpochSecond() - issued;
        if (age < -60 || age > lifetime.toSeconds()) {
            return "the CSRF token has expired; reload the page";
        }
        return null;
    }

    private byte[] mac(User user, long issued) {
        return secrets.mac("csrf|" + user.name() + "|" + issued);
    }
}
