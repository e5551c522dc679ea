package org.xrayscreening.worklist;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Base64;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The server's secret and what is derived from it: the opaque study keys used in URLs (a study id may be an
 * accession number, which identifies a patient's visit; a URL is logged by proxies and kept in browser
 * histories) and the CSRF tokens. With a configured secret both survive a restart; with a random one (the
 * default) old links and open pages stop working after a restart.
 */
public final class Secrets {
    private final byte[] secret;

    public Secrets(byte[] secret) {
        if (secret.length < 32) {
            throw new IllegalArgumentException("the worklist secret must hold at least 32 bytes");
        }
        this.secret = secret.clone();
    }

    public static Secrets random() {
        byte[] b = new byte[32];
        new SecureRandom().nextBytes(b);
        return new Secrets(b);
    }

    /** The study's key in URLs: 22 base64url characters of HMAC("study" | studyId), not reversible without the secret. */
    public String studyKey(String studyId) {
        return Base64.getUrlEncoder().withoutPadding().encodeToString(Arrays.copyOf(mac("study|" + studyId), 16));
    }

    byte[] mac(String message) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(secret, "HmacSHA256"));
            return mac.doFinal(message.getBytes(StandardCharsets.UTF_8));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is not available", e);
        }
    }

    static boolean constantTimeEquals(byte[] a, byte[] b) {
        return MessageDigest.isEqual(a, b);
    }
}
