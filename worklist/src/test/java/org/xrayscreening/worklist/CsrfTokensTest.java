package org.xrayscreening.worklist;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Set;
import org.junit.jupiter.api.Test;

class CsrfTokensTest {
    static final User ALICE = new User("alice", Set.of(Role.RADIOLOGIST));
    static final User BOB = new User("bob", Set.of(Role.RADIOLOGIST));
    final Secrets secrets = Secrets.random();
    final Instant now = Instant.parse("2026-12-03T10:00:00Z");

    CsrfTokens at(Instant t) {
        return new CsrfTokens(secrets, Duration.ofHours(12), Clock.fixed(t, ZoneOffset.UTC));
    }

    @Test
    void aTokenIsValidForItsUserWithinItsLifetime() {
        String token = at(now).issue(ALICE);
        assertThat(at(now).problem(ALICE, token)).isNull();
        assertThat(at(now.plus(Duration.ofHours(11))).problem(ALICE, token)).isNull();
    }

    @Test
    void refusesAnotherUsersTokenAnExpiredOneAndForgeries() {
        String token = at(now).issue(ALICE);
        assertThat(at(now).problem(BOB, token)).contains("not valid for this user");
        assertThat(at(now.plus(Duration.ofHours(13))).problem(ALICE, token)).contains("expired");
        // the issue time is covered by the MAC: moving it forward breaks the token
        String moved = (now.getEpochSecond() + 3600) + token.substring(token.indexOf('.'));
        assertThat(at(now).problem(ALICE, moved)).contains("not valid");
        // a token from a server with another secret
        String foreign = new CsrfTokens(Secrets.random(), Duration.ofHours(12), Clock.fixed(now, ZoneOffset.UTC)).issue(ALICE);
        assertThat(at(now).problem(ALICE, foreign)).contains("not valid");
    }

    @Test
    void missingOrMalformedTokensAreRefusedWithAClearReason() {
        assertThat(at(now).problem(ALICE, null)).contains("no CSRF token");
        assertThat(at(now).problem(ALICE, "")).contains("no CSRF token");
        assertThat(at(now).problem(ALICE, "abc")).contains("malformed");
        assertThat(at(now).problem(ALICE, "123.!!!")).contains("malformed");
    }

    @Test
    void studyKeysAreStableUnderOneSecretAndOpaque() {
        String key = secrets.studyKey("ACC-0001");
        assertThat(key).matches("[A-Za-z0-9_-]{22}").doesNotContain("ACC").isEqualTo(secrets.studyKey("ACC-0001"));
        assertThat(Secrets.random().studyKey("ACC-0001")).isNotEqualTo(key);
        assertThat(secrets.studyKey("ACC-0002")).isNotEqualTo(key);
    }
}
