package org.xrayscreening.worklist;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.xrayscreening.connectors.event.Decision;
import org.xrayscreening.connectors.event.ImageReference;
import org.xrayscreening.connectors.event.XrayAcquired;
import org.xrayscreening.connectors.event.XrayLabelled;
import org.xrayscreening.connectors.kafka.EmbeddedKafka;
import org.xrayscreening.connectors.kafka.KafkaTopics;
import org.xrayscreening.models.synthetic.SyntheticChestXray;

/** Exactly one label per click, on a real (embedded) broker, across retries, concurrent retries and a restart. */
class LabelPublisherTest {
    static EmbeddedKafka kafka;
    static final KafkaTopics TOPICS = KafkaTopics.DEFAULTS.withPrefix("lp.");
    static final User ALICE = new User("alice", Set.of(Role.RADIOLOGIST));
    static final Instant T0 = Instant.parse("2026-12-03T09:00:00Z");

    @BeforeAll
    static void startKafka() throws Exception {
        kafka = new EmbeddedKafka().start();
        kafka.createTopics(2, TOPICS.acquired(), TOPICS.recommendations(), TOPICS.alerts(), TOPICS.labelled());
        for (String id : List.of("st-1", "st-2")) {
            XrayAcquired a = Studies.acquired(id, ImageReference.inline(ImageReference.PNG,
                    Studies.png(SyntheticChestXray.positive(11, 64).gray8())), T0);
            Studies.putFlagged(kafka.bootstrapServers(), TOPICS, a,
                    Studies.recommendation(id, Decision.COVID_SUSPECTED, 0.86, T0), null);
        }
    }

    @AfterAll
    static void stopKafka() throws Exception {
        kafka.close();
    }

    /** One worklist's Kafka side, as after a (re)start: state rebuilt from the topics. */
    record Worklist(WorklistState state, TopicFollower follower, AcquiredRecords acquired, LabelPublisher publisher)
            implements AutoCloseable {
        static Worklist start(Secrets secrets) throws InterruptedException {
            Map<String, Object> cfg = Map.of("bootstrap.servers", kafka.bootstrapServers());
            WorklistState state = new WorklistState(secrets, 1000);
            TopicFollower follower = new TopicFollower(cfg, TOPICS, state).start();
            AcquiredRecords acquired = new AcquiredRecords(cfg);
            LabelPublisher publisher = new LabelPublisher(cfg, TOPICS.labelled(), "lp-worklist", state, follower,
                    acquired, Clock.systemUTC());
            Studies.await("the worklist to catch up", follower::caughtUp, Duration.ofSeconds(60));
            return new Worklist(state, follower, acquired, publisher);
        }

        WorklistState.Study study(Secrets secrets, String id) {
            return state.byKey(secrets.studyKey(id)).orElseThrow();
        }

        @Override
        public void close() throws Exception {
            publisher.close();
            acquired.close();
            follower.close();
        }
    }

    static List<ConsumerRecord<String, byte[]>> labels(String studyId) {
        return Studies.readCommitted(kafka.bootstrapServers(), TOPICS.labelled()).stream()
                .filter(r -> r.key().equals(studyId)).toList();
    }

    @Test
    void aClickPublishesOneLabelAndItsRetriesNone() throws Exception {
        Secrets secrets = Secrets.random();
        String click = UUID.randomUUID().toString();
        try (Worklist w = Worklist.start(secrets)) {
            WorklistState.Study study = w.study(secrets, "st-1");
            assertThat(study.reviewed()).isFalse();
            var c = new LabelPublisher.Click(click, study, true, "  left lower zone  ", ALICE);
            assertThat(w.publisher().publish(c)).isEqualTo(LabelPublisher.Outcome.PUBLISHED);
            assertThat(w.publisher().publish(c)).isEqualTo(LabelPublisher.Outcome.ALREADY_PUBLISHED);
            assertThat(w.study(secrets, "st-1").reviewed()).isTrue();
            // the same click id may not change its verdict
            assertThatThrownBy(() -> w.publisher().publish(new LabelPublisher.Click(click, study, false, null, ALICE)))
                    .isInstanceOfSatisfying(WorklistException.class, e -> assertThat(e.status()).isEqualTo(409));
        }
        List<ConsumerRecord<String, byte[]>> labels = labels("st-1");
        assertThat(labels).hasSize(1);
        ConsumerRecord<String, byte[]> r = labels.get(0);
        XrayLabelled l = Studies.CODEC.parseLabelled(r.value()); // what the trainer and the stream job accept
        assertThat(l.label()).isEqualTo(XrayLabelled.COVID);
        assertThat(l.labelSource()).isEqualTo(XrayLabelled.RADIOLOGIST);
        assertThat(l.image().data()).isNotEmpty(); // the image of the acquisition record travels with the label
        assertThat(l.acquiredAt()).isEqualTo(T0);
        assertThat(LabelHeaders.text(r.headers(), LabelHeaders.CLICK_ID)).isEqualTo(click);
        assertThat(LabelHeaders.text(r.headers(), LabelHeaders.REVIEWER)).isEqualTo("alice");
        assertThat(LabelHeaders.text(r.headers(), LabelHeaders.NOTE)).isEqualTo("left lower zone");

        // a restart rebuilds the click record from the topic: the retry still publishes nothing
        try (Worklist again = Worklist.start(secrets)) {
            // the same list: both flagged studies, with their numbers
            assertThat(again.state().flagged(10)).extracting(WorklistState.Study::studyId).contains("st-1", "st-2");
            WorklistState.Study study = again.study(secrets, "st-1");
            assertThat(study.recommendation().modelScores()).hasSize(2);
            assertThat(study.reviewed()).isTrue();
            assertThat(study.review().reviewer()).isEqualTo("alice");
            assertThat(again.publisher().publish(new LabelPublisher.Click(click, study, true, null, ALICE)))
                    .isEqualTo(LabelPublisher.Outcome.ALREADY_PUBLISHED);
        }
        assertThat(labels("st-1")).hasSize(1);
    }

    @Test
    void concurrentRetriesOfOneClickPublishOnce() throws Exception {
        Secrets secrets = Secrets.random();
        String click = UUID.randomUUID().toString();
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try (Worklist w = Worklist.start(secrets)) {
            var c = new LabelPublisher.Click(click, w.study(secrets, "st-2"), false, null, ALICE);
            List<Future<LabelPublisher.Outcome>> outcomes = pool.invokeAll(List.of(
                    () -> w.publisher().publish(c), () -> w.publisher().publish(c),
                    () -> w.publisher().publish(c), () -> w.publisher().publish(c)));
            long published = 0;
            for (Future<LabelPublisher.Outcome> f : outcomes) {
                published += f.get() == LabelPublisher.Outcome.PUBLISHED ? 1 : 0;
            }
            assertThat(published).isEqualTo(1);
            // a second, distinct click is a second reading: published
            assertThat(w.publisher().publish(new LabelPublisher.Click(UUID.randomUUID().toString(),
                    w.study(secrets, "st-2"), false, null, ALICE))).isEqualTo(LabelPublisher.Outcome.PUBLISHED);
        } finally {
            pool.shutdownNow();
        }
        assertThat(labels("st-2")).hasSize(2)
                .allSatisfy(r -> assertThat(Studies.CODEC.parseLabelled(r.value()).label()).isEqualTo(XrayLabelled.NON_COVID));
    }

    @Test
    void refusesMalformedClicksBeforeTouchingKafka() {
        assertThatThrownBy(() -> LabelPublisher.validate("1; DROP", null))
                .isInstanceOfSatisfying(WorklistException.class, e -> assertThat(e.status()).isEqualTo(400));
        assertThatThrownBy(() -> LabelPublisher.validate(null, null)).isInstanceOf(WorklistException.class);
        assertThatThrownBy(() -> LabelPublisher.validate(UUID.randomUUID().toString(), "x".repeat(501)))
                .hasMessageContaining("500 characters");
    }
}
