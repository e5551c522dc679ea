package org.xrayscreening.worklist;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class UsersTest {
    static final String ALICE_HASH = Users.hash("alice-secret".toCharArray(), 10_000);
    static final String NURSE_HASH = Users.hash("nurse-secret".toCharArray(), 10_000);

    static Users users() {
        Map<String, String> lines = new LinkedHashMap<>();
        lines.put("alice", "radiologist : " + ALICE_HASH);
        lines.put("nurse1", "viewer: " + NURSE_HASH);
        return Users.of(lines);
    }

    @Test
    void authenticatesOnlyWithTheRightPassword() {
        Users users = users();
        assertThat(users.authenticate("alice", "alice-secret".toCharArray())).map(User::name).contains("alice");
        assertThat(users.authenticate("alice", "nurse-secret".toCharArray())).isEmpty();
        assertThat(users.authenticate("nobody", "alice-secret".toCharArray())).isEmpty();
        assertThat(users.authenticate(null, "x".toCharArray())).isEmpty();
    }

    @Test
    void rolesComeFromTheFile() {
        User alice = users().named("alice").orElseThrow();
        User nurse = users().named("nurse1").orElseThrow();
        assertThat(alice.may(Role.RADIOLOGIST)).isTrue();
        assertThat(alice.may(Role.VIEWER)).isTrue(); // a radiologist may view
        assertThat(nurse.may(Role.VIEWER)).isTrue();
        assertThat(nurse.may(Role.RADIOLOGIST)).isFalse();
    }

    @Test
    void hashesAreSaltedAndVerifiable() {
        String a = Users.hash("same password".toCharArray(), 10_000);
        String b = Users.hash("same password".toCharArray(), 10_000);
        assertThat(a).startsWith(Users.HASH_PREFIX).isNotEqualTo(b);
        assertThat(Users.matches("same password".toCharArray(), a)).isTrue();
        assertThat(Users.matches("same passworD".toCharArray(), b)).isFalse();
    }

    @Test
    void refusesPlainPasswordsUnknownRolesAndBadNamesWithoutEchoingSecrets() {
        assertThatThrownBy(() -> Users.of(Map.of("bob", "radiologist : hunter2-plain")))
                .hasMessageContaining("bob").hasMessageContaining("hash-password").hasMessageNotContaining("hunter2");
        assertThatThrownBy(() -> Users.of(Map.of("bob", "admin")))
                .hasMessageContaining("unknown role \"admin\"");
        assertThatThrownBy(() -> Users.of(Map.of("bob", " : " + ALICE_HASH))).hasMessageContaining("no role");
        assertThatThrownBy(() -> Users.of(Map.of("bob smith", "viewer"))).hasMessageContaining("user name");
    }

    @Test
    void usersWithoutPasswordAreForTheProxyModeOnly() {
        Users proxyOnly = Users.of(Map.of("bob", "radiologist"));
        assertThat(proxyOnly.named("bob")).isPresent();
        assertThat(proxyOnly.allHavePasswords()).isFalse();
        assertThat(proxyOnly.authenticate("bob", "".toCharArray())).isEmpty();
        assertThatThrownBy(() -> Authenticator.basic(proxyOnly, Secrets.random(), java.time.Duration.ofMinutes(1)))
                .hasMessageContaining("needs a password hash");
    }
}
