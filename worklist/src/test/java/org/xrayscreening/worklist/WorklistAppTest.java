package org.xrayscreening.worklist;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.xrayscreening.connectors.event.Alert;
import org.xrayscreening.connectors.event.Decision;
import org.xrayscreening.connectors.image.ImageLoader;
import org.xrayscreening.connectors.kafka.KafkaTopics;

/**
 * The HTTP rules around the pages, without Kafka (the follower is never started, so the worklist stays "reading
 * the topics"): authentication, roles, CSRF, security headers, clear 4xx pages, no patient reference in pages.
 */
class WorklistAppTest {
    static final Secrets SECRETS = Secrets.random();
    static final String STUDY = "ACC-55";
    static WorklistApp app;
    static AcquiredRecords acquired;
    static LabelPublisher publisher;
    static final HttpClient HTTP = HttpClient.newHttpClient();

    @BeforeAll
    static void start() {
        WorklistState state = new WorklistState(SECRETS, 100);
        Instant t = Instant.parse("2026-12-03T08:00:00Z");
        var r = Studies.recommendation(STUDY, Decision.COVID_SUSPECTED, 0.8, t);
        state.onRecommendation(r);
        state.onAlert(Alert.clinical(r, t).withHeatmapMissing("no model could explain the study"));
        Map<String, Object> kafka = Map.of("bootstrap.servers", "127.0.0.1:9"); // never reached in these tests
        TopicFollower follower = new TopicFollower(kafka, KafkaTopics.DEFAULTS, state);
        acquired = new AcquiredRecords(kafka);
        publisher = new LabelPublisher(kafka, "xray.labelled", "t", state, follower, acquired, Clock.systemUTC());
        app = new WorklistApp(state, follower, publisher, acquired, new StudyImages(new ImageLoader()),
                Authenticator.basic(UsersTest.users(), SECRETS, Duration.ofMinutes(5)), SECRETS,
                new WorklistApp.Settings("127.0.0.1", 0, null, 100)).start();
    }

    @AfterAll
    static void stop() {
        app.close();
        publisher.close();
        acquired.close();
    }

    static HttpResponse<String> send(HttpRequest.Builder b) throws Exception {
        return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    static HttpRequest.Builder get(String path, String user, String password) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + app.port() + path));
        return user == null ? b : b.header("Authorization", AuthenticatorTest.basic(user, password));
    }

    static HttpRequest.Builder label(String user, String password, String csrf, String body) {
        HttpRequest.Builder b = get("/studies/" + SECRETS.studyKey(STUDY) + "/label", user, password)
                .header("Content-Type", "application/json").header("Accept", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body));
        return csrf == null ? b : b.header(CsrfTokens.HEADER, csrf);
    }

    static String token(String user) {
        return new CsrfTokens(SECRETS, Duration.ofHours(1), Clock.systemUTC())
                .issue(UsersTest.users().named(user).orElseThrow());
    }

    static final String CLICK = "{\"clickId\":\"0b7c3e51-8a6f-4f7e-9d3c-2f1e0a9b8c7d\",\"verdict\":\"covid\"}";

    @Test
    void everyPageNeedsASignInAndCarriesTheSecurityHeaders() throws Exception {
        HttpResponse<String> anonymous = send(get("/", null, null));
        assertThat(anonymous.statusCode()).isEqualTo(401);
        assertThat(anonymous.headers().firstValue("WWW-Authenticate")).hasValueSatisfying(v -> assertThat(v).startsWith("Basic "));
        assertThat(anonymous.body()).contains("401 Sign-in required");
        assertThat(send(get("/", "alice", "wrong")).statusCode()).isEqualTo(401);

        HttpResponse<String> page = send(get("/", "nurse1", "nurse-secret"));
        assertThat(page.statusCode()).isEqualTo(200);
        for (HttpResponse<String> r : new HttpResponse[] {anonymous, page}) {
            assertThat(r.headers().firstValue("Content-Security-Policy")).contains(WorklistApp.CSP);
            assertThat(r.headers().firstValue("X-Frame-Options")).contains("DENY");
            assertThat(r.headers().firstValue("X-Content-Type-Options")).contains("nosniff");
            assertThat(r.headers().firstValue("Referrer-Policy")).contains("no-referrer");
            assertThat(r.headers().firstValue("Cache-Control")).contains("no-store");
        }
        assertThat(WorklistApp.CSP).contains("frame-ancestors 'none'").doesNotContain("unsafe-inline");
        assertThat(page.body()).contains(STUDY, "/studies/" + SECRETS.studyKey(STUDY)).doesNotContain("PAT-7781")
                .doesNotContain("<script>"); // no inline script: the CSP would block it
        assertThat(send(get("/healthz", null, null)).statusCode()).isEqualTo(200);
        assertThat(send(get("/readyz", null, null)).statusCode()).isEqualTo(503); // the topics were never read
    }

    @Test
    void theStudyPageShowsTheNumbersAndWhyTheHeatmapIsMissing() throws Exception {
        HttpResponse<String> page = send(get("/studies/" + SECRETS.studyKey(STUDY), "alice", "alice-secret"));
        assertThat(page.statusCode()).isEqualTo(200);
        assertThat(page.body()).contains("COVID_SUSPECTED", "0.800", "mobilenet", "v3", "0.840",
                "Heatmap missing: no model could explain the study", "confirm-covid").doesNotContain("PAT-7781");
        // a viewer sees the study but no buttons
        HttpResponse<String> nurse = send(get("/studies/" + SECRETS.studyKey(STUDY), "nurse1", "nurse-secret"));
        assertThat(nurse.body()).contains("may view but not label").doesNotContain("confirm-covid");
        HttpResponse<String> heatmap = send(get("/studies/" + SECRETS.studyKey(STUDY) + "/heatmap.png", "alice", "alice-secret"));
        assertThat(heatmap.statusCode()).isEqualTo(404);
        assertThat(heatmap.body()).contains("no model could explain the study");
    }

    @Test
    void badRequestsGetClearPages() throws Exception {
        HttpResponse<String> malformed = send(get("/studies/not-a-key", "alice", "alice-secret"));
        assertThat(malformed.statusCode()).isEqualTo(400);
        assertThat(malformed.headers().firstValue("Content-Type")).hasValueSatisfying(v -> assertThat(v).startsWith("text/html"));
        assertThat(malformed.body()).contains("400 Bad request", "not a valid study link");
        HttpResponse<String> unknown = send(get("/studies/" + SECRETS.studyKey("other"), "alice", "alice-secret"));
        assertThat(unknown.statusCode()).isEqualTo(404);
        assertThat(unknown.body()).contains("No flagged study has this link");
        HttpResponse<String> nowhere = send(get("/no/such/page", "alice", "alice-secret"));
        assertThat(nowhere.statusCode()).isEqualTo(404);
        assertThat(nowhere.body()).contains("404 Not found");
        assertThat(send(get("/static/../../etc/passwd", "alice", "alice-secret")).statusCode()).isIn(400, 404);
        assertThat(send(get("/static/worklist.js", "alice", "alice-secret")).headers().firstValue("Content-Type"))
                .hasValueSatisfying(v -> assertThat(v).startsWith("text/javascript"));
    }

    @Test
    void labelsNeedTheCsrfTokenOfTheSameUserAndTheRadiologistRole() throws Exception {
        HttpResponse<String> noToken = send(label("alice", "alice-secret", null, CLICK));
        assertThat(noToken.statusCode()).isEqualTo(403);
        assertThat(noToken.body()).contains("no CSRF token");
        assertThat(send(label("alice", "alice-secret", token("nurse1"), CLICK)).statusCode()).isEqualTo(403);
        assertThat(send(label("alice", "alice-secret", token("alice"), CLICK).header("Sec-Fetch-Site", "cross-site"))
                .statusCode()).isEqualTo(403);
        HttpResponse<String> viewer = send(label("nurse1", "nurse-secret", token("nurse1"), CLICK));
        assertThat(viewer.statusCode()).isEqualTo(403);
        assertThat(viewer.body()).contains("Only a radiologist");
        // past CSRF and role, the request reaches validation ...
        HttpResponse<String> badVerdict = send(label("alice", "alice-secret", token("alice"), "{\"clickId\":\"x\",\"verdict\":\"maybe\"}"));
        assertThat(badVerdict.statusCode()).isEqualTo(400);
        assertThat(badVerdict.body()).contains("verdict must be");
        assertThat(send(label("alice", "alice-secret", token("alice"), "not json")).statusCode()).isEqualTo(400);
        assertThat(send(label("alice", "alice-secret", token("alice"), "{\"verdict\":\"covid\",\"clickId\":\"1\"}")).body())
                .contains("no valid click id");
        // ... and the publisher, which refuses while the topics have not been read (a retry could not be recognised)
        HttpResponse<String> early = send(label("alice", "alice-secret", token("alice"), CLICK));
        assertThat(early.statusCode()).isEqualTo(503);
        assertThat(early.body()).contains("still reading the topics");
        assertThat(send(get("/studies/" + SECRETS.studyKey(STUDY) + "/label", "alice", "alice-secret")).statusCode())
                .isIn(404, 405);
    }
}
