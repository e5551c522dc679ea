package org.xrayscreening.worklist;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.regex.Pattern;
import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.PBEKeySpec;

/**
 * The worklist's users and roles, from a properties file, one user a line:
 * <pre>
 * alice = radiologist : pbkdf2-sha256$210000$&lt;salt, base64&gt;$&lt;hash, base64&gt;
 * nurse1 = viewer : pbkdf2-sha256$...
 * bob = radiologist          # no password: only for --auth proxy, where the reverse proxy authenticates
 * </pre>
 * Passwords are stored as PBKDF2-HMAC-SHA256 hashes ({@code worklist hash-password} makes one); a plain password
 * in the file is refused when the file is read. Immutable and thread-safe.
 */
public final class Users {
    public static final String HASH_PREFIX = "pbkdf2-sha256$";
    /** OWASP's 2023 recommendation for PBKDF2-HMAC-SHA256. */
    public static final int DEFAULT_ITERATIONS = 210_000;
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9._@-]{1,64}");

    private record Entry(User user, String passwordHash) {
    }

    private final Map<String, Entry> entries;

    private Users(Map<String, Entry> entries) {
        this.entries = Map.copyOf(entries);
    }

    /** Reads a users file; a malformed line is a configuration error naming the line's user, never a password. */
    public static Users read(Path file) throws IOException {
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            p.load(r);
        }
        Map<String, String> lines = new LinkedHashMap<>();
        p.stringPropertyNames().stream().sorted().forEach(k -> lines.put(k, p.getProperty(k)));
        return of(lines);
    }

    /** Users from {@code name -> "role[,role] [: hash]"}. */
    public static Users of(Map<String, String> lines) {
        Map<String, Entry> entries = new LinkedHashMap<>();
        for (Map.Entry<String, String> line : lines.entrySet()) {
            String name = line.getKey().trim();
            if (!NAME.matcher(name).matches()) {
                throw new IllegalArgumentException("users file: a user name must be 1-64 of [A-Za-z0-9._@-]");
            }
            String value = line.getValue().trim();
            int colon = value.indexOf(':');
            String rolesText = colon < 0 ? value : value.substring(0, colon);
            String hash = colon < 0 ? null : value.substring(colon + 1).trim();
            Set<Role> roles = EnumSet.noneOf(Role.class);
            for (String role : rolesText.split(",")) {
                if (!role.isBlank()) {
                    try {
                        roles.add(Role.parse(role));
                    } catch (IllegalArgumentException e) {
                        throw new IllegalArgumentException("users file, user " + name + ": " + e.getMessage());
                    }
                }
            }
            if (roles.isEmpty()) {
                throw new IllegalArgumentException("users file, user " + name + ": no role");
            }
            if (hash != null && hash.isEmpty()) {
                hash = null;
            }
            if (hash != null) {
                checkHashFormat(name, hash);
            }
            entries.put(name, new Entry(new User(name, roles), hash));
        }
        return new Users(entries);
    }

    public int size() {
        return entries.size();
    }

    /** The user of that name, whatever their password (the reverse proxy has authenticated them). */
    public Optional<User> named(String name) {
        Entry e = name == null ? null : entries.get(name);
        return e == null ? Optional.empty() : Optional.of(e.user());
    }

    /** True when every user has a password hash (HTTP basic needs one for each). */
    public boolean allHavePasswords() {
        return entries.values().stream().allMatch(e -> e.passwordHash() != null);
    }

    /**
     * The user if the password matches. An unknown user costs the same hash computation as a known one, so the
     * time taken does not tell which names exist.
     */
    public Optional<User> authenticate(String name, char[] password) {
        Entry e = name == null ? null : entries.get(name);
        String hash = e != null && e.passwordHash() != null ? e.passwordHash() : DUMMY_HASH;
        boolean ok = matches(password, hash);
        return ok && e != null && e.passwordHash() != null ? Optional.of(e.user()) : Optional.empty();
    }

    private static final String DUMMY_HASH = hash("not a password".toCharArray(), DEFAULT_ITERATIONS);

    /** A new salted hash of {@code password} in the users file's format. */
    public static String hash(char[] password, int iterations) {
        byte[] salt = new byte[16];
        new SecureRandom().nextBytes(salt);
        byte[] derived = derive(password, salt, iterations);
        return HASH_PREFIX + iterations + "$" + Base64.getEncoder().encodeToString(salt) + "$"
                + Base64.getEncoder().encodeToString(derived);
    }

    static boolean matches(char[] password, String hash) {
        String[] parts = hash.substring(HASH_PREFIX.length()).split("\\$");
        int iterations = Integer.parseInt(parts[0]);
        byte[] salt = Base64.getDecoder().decode(parts[1]);
        byte[] expected = Base64.getDecoder().decode(parts[2]);
        return MessageDigest.isEqual(expected, derive(password, salt, iterations));
    }

    private static void checkHashFormat(String user, String hash) {
        String problem = null;
        if (!hash.startsWith(HASH_PREFIX)) {
            problem = "the password must be a " + HASH_PREFIX + " hash (make one with: worklist hash-password)";
        } else {
            String[] parts = hash.substring(HASH_PREFIX.length()).split("\\$");
            try {
                if (parts.length != 3 || Integer.parseInt(parts[0]) < 10_000
                        || Base64.getDecoder().decode(parts[1]).length < 8
                        || Base64.getDecoder().decode(parts[2]).length != 32) {
                    problem = "malformed password hash";
                }
            } catch (IllegalArgumentException e) {
                problem = "malformed password hash";
            }
        }
        if (problem != null) {
            throw new IllegalArgumentException("users file, user " + user + ": " + problem);
        }
    }

    private static byte[] derive(char[] password, byte[] salt, int iterations) {
        try {
            PBEKeySpec spec = new PBEKeySpec(password, salt, iterations, 256);
            try {
                return SecretKeyFactory.getInstance("PBKDF2WithHmacSHA256").generateSecret(spec).getEncoded();
            } finally {
                spec.clearPassword();
            }
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("PBKDF2WithHmacSHA256 is not available", e);
        }
    }
}
