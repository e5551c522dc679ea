package org.xrayscreening.worklist;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class AuthenticatorTest {
    static String basic(String user, String password) {
        return "Basic " + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void basicAcceptsTheRightPasswordAndRefusesTheRest() {
        Authenticator auth = Authenticator.basic(UsersTest.users(), Secrets.random(), Duration.ofMinutes(5));
        assertThat(auth.authenticate("10.0.0.1", Map.of("Authorization", basic("alice", "alice-secret"))::get).user())
                .extracting(User::name).isEqualTo("alice");
        // cached: the second request gives the same user
        assertThat(auth.authenticate("10.0.0.1", Map.of("Authorization", basic("alice", "alice-secret"))::get).user())
                .extracting(User::name).isEqualTo("alice");
        assertThat(auth.authenticate("10.0.0.1", Map.of("Authorization", basic("alice", "wrong"))::get).status()).isEqualTo(401);
        assertThat(auth.authenticate("10.0.0.1", Map.<String, String>of()::get).status()).isEqualTo(401);
        assertThat(auth.authenticate("10.0.0.1", Map.of("Authorization", "Basic !!!")::get).status()).isEqualTo(400);
        assertThat(auth.authenticate("10.0.0.1", Map.of("Authorization", "Bearer abc")::get).status()).isEqualTo(401);
        assertThat(auth.challenges()).isTrue();
    }

    @Test
    void proxyTrustsTheHeaderOnlyFromTheProxyAndOnlyForListedUsers() {
        Users users = Users.of(Map.of("bob", "radiologist", "nurse1", "viewer"));
        Authenticator auth = Authenticator.proxy(users, "X-Forwarded-User", Set.of("10.0.0.5"));
        Authenticator.Result ok = auth.authenticate("10.0.0.5", Map.of("X-Forwarded-User", "bob")::get);
        assertThat(ok.user().may(Role.RADIOLOGIST)).isTrue();
        assertThat(auth.authenticate("10.0.0.5", Map.of("X-Forwarded-User", "nurse1")::get).user().may(Role.RADIOLOGIST)).isFalse();
        // the same header straight from a client is refused
        assertThat(auth.authenticate("10.0.0.9", Map.of("X-Forwarded-User", "bob")::get).status()).isEqualTo(403);
        assertThat(auth.authenticate("10.0.0.5", Map.<String, String>of()::get).status()).isEqualTo(401);
        assertThat(auth.authenticate("10.0.0.5", Map.of("X-Forwarded-User", "mallory")::get).status()).isEqualTo(403);
        assertThat(auth.challenges()).isFalse();
        assertThatThrownBy(() -> Authenticator.proxy(users, "X-Forwarded-User", Set.of()))
                .hasMessageContaining("--trusted-proxy");
    }
}
