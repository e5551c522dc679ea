package org.xrayscreening.worklist;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.xrayscreening.connectors.image.ImageLoader;
import org.xrayscreening.connectors.kafka.KafkaTopics;

/** --auth proxy over real HTTP: the user header counts only from the trusted proxy's address. */
class WorklistProxyAuthTest {

    static WorklistApp start(Set<String> trustedProxies, Secrets secrets, AcquiredRecords acquired, LabelPublisher publisher,
                             WorklistState state, TopicFollower follower) {
        Users users = Users.of(Map.of("alice", "radiologist", "nurse1", "viewer"));
        return new WorklistApp(state, follower, publisher, acquired, new StudyImages(new ImageLoader()),
                Authenticator.proxy(users, "X-Forwarded-User", trustedProxies), secrets,
                new WorklistApp.Settings("127.0.0.1", 0, null, 10)).start();
    }

    static HttpResponse<String> get(WorklistApp app, String user) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(app.address()));
        if (user != null) {
            b.header("X-Forwarded-User", user);
        }
        return HttpClient.newHttpClient().send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void trustsTheHeaderFromTheProxyOnly() throws Exception {
        Secrets secrets = Secrets.random();
        Map<String, Object> kafka = Map.of("bootstrap.servers", "127.0.0.1:9");
        WorklistState state = new WorklistState(secrets, 10);
        TopicFollower follower = new TopicFollower(kafka, KafkaTopics.DEFAULTS, state);
        AcquiredRecords acquired = new AcquiredRecords(kafka);
        LabelPublisher publisher = new LabelPublisher(kafka, "xray.labelled", "t", state, follower, acquired, Clock.systemUTC());
        WorklistApp behindProxy = start(Set.of("127.0.0.1"), secrets, acquired, publisher, state, follower);
        WorklistApp elsewhere = start(Set.of("10.9.9.9"), secrets, acquired, publisher, state, follower);
        try {
            HttpResponse<String> ok = get(behindProxy, "alice");
            assertThat(ok.statusCode()).isEqualTo(200);
            assertThat(ok.body()).contains("alice (radiologist)");
            HttpResponse<String> anonymous = get(behindProxy, null);
            assertThat(anonymous.statusCode()).isEqualTo(401);
            assertThat(anonymous.headers().firstValue("WWW-Authenticate")).isEmpty(); // the proxy signs in, not the browser
            assertThat(get(behindProxy, "mallory").statusCode()).isEqualTo(403);
            HttpResponse<String> direct = get(elsewhere, "alice"); // 127.0.0.1 is not that proxy
            assertThat(direct.statusCode()).isEqualTo(403);
            assertThat(direct.body()).contains("only accepts requests through its reverse proxy");
        } finally {
            behindProxy.close();
            elsewhere.close();
            publisher.close();
            acquired.close();
        }
    }
}
