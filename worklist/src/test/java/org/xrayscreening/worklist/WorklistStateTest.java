package org.xrayscreening.worklist;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.xrayscreening.connectors.event.Alert;
import org.xrayscreening.connectors.event.Decision;
import org.xrayscreening.connectors.event.ImageReference;
import org.xrayscreening.connectors.event.ModelScore;
import org.xrayscreening.connectors.event.Recommendation;
import org.xrayscreening.connectors.event.XrayLabelled;

class WorklistStateTest {
    final Secrets secrets = Secrets.random();
    final Instant t0 = Instant.parse("2026-12-03T10:00:00Z");

    static Recommendation recommendation(String studyId, Decision decision, double p, Instant acquiredAt) {
        return new Recommendation(1, studyId, "PAT-" + studyId, decision, p, 0.5, 0.4, 0.6,
                List.of(new ModelScore("mobilenet", "v3", p + 0.01, 12), new ModelScore("resnet50", "v7", p - 0.01, 30)),
                List.of(), acquiredAt, acquiredAt.plusSeconds(2), 2000, null);
    }

    static XrayLabelled label(String studyId, String label, String source, Instant at) {
        return new XrayLabelled(1, studyId, "PAT", at, null, null, ImageReference.at("image/png", "file:///x.png"),
                label, source, at);
    }

    @Test
    void showsFlaggedStudiesNewestFirstWhicheverTopicComesFirst() {
        WorklistState state = new WorklistState(secrets, 100);
        Recommendation a = recommendation("s-a", Decision.COVID_SUSPECTED, 0.9, t0);
        Recommendation b = recommendation("s-b", Decision.INDETERMINATE, 0.55, t0.plusSeconds(5));
        state.onRecommendation(a); // before its alert
        state.onAlert(Alert.clinical(a, t0.plusSeconds(3)));
        state.onAlert(Alert.clinical(b, t0.plusSeconds(8)));
        state.onRecommendation(b); // after its alert

        List<WorklistState.Study> list = state.flagged(10);
        assertThat(list).extracting(WorklistState.Study::studyId).containsExactly("s-b", "s-a");
        assertThat(list.get(1).recommendation().modelScores()).extracting(ModelScore::version).containsExactly("v3", "v7");
        assertThat(list.get(0).acquiredAt()).isEqualTo(t0.plusSeconds(5));
        assertThat(state.byKey(secrets.studyKey("s-a"))).map(WorklistState.Study::studyId).contains("s-a");
        assertThat(state.flagged(1)).hasSize(1);
    }

    @Test
    void ignoresStudiesWithoutFindingsAndModelAlerts() {
        WorklistState state = new WorklistState(secrets, 100);
        state.onRecommendation(recommendation("s-n", Decision.NO_COVID_FINDINGS, 0.1, t0));
        state.onAlert(Alert.modelUpdateFailed("resnet50", "v8", "checksum mismatch", t0));
        state.onAlert(Alert.sensitivityBelowFloor("resnet50", "v8", 0.7, 0.9, t0));
        assertThat(state.flagged(10)).isEmpty();
        assertThat(state.byKey(secrets.studyKey("s-n"))).isEmpty();
    }

    @Test
    void aLabelMarksTheStudyReviewedAndItsClickIsRemembered() {
        WorklistState state = new WorklistState(secrets, 100);
        Recommendation a = recommendation("s-a", Decision.COVID_SUSPECTED, 0.9, t0);
        state.onAlert(Alert.clinical(a, t0));
        long before = state.version();
        state.onLabel(label("s-a", XrayLabelled.COVID, XrayLabelled.RADIOLOGIST, t0.plusSeconds(60)), "alice", "click-1");

        WorklistState.Study s = state.flagged(10).get(0);
        assertThat(s.reviewed()).isTrue();
        assertThat(s.review().reviewer()).isEqualTo("alice");
        assertThat(s.review().byRadiologist()).isTrue();
        assertThat(state.version()).isGreaterThan(before);
        assertThat(state.byClick("click-1")).map(WorklistState.Review::label).contains(XrayLabelled.COVID);
        assertThat(state.byClick("click-2")).isEmpty();
    }

    @Test
    void aLabelReadBeforeTheAlertStillCountsAndTheLatestLabelWins() {
        WorklistState state = new WorklistState(secrets, 100);
        // on a rebuild, xray.labelled may be read before xray.alerts
        state.onLabel(label("s-a", XrayLabelled.NON_COVID, XrayLabelled.PCR, t0.plusSeconds(500)), null, null);
        state.onLabel(label("s-a", XrayLabelled.COVID, XrayLabelled.RADIOLOGIST, t0.plusSeconds(100)), "alice", "c1");
        state.onAlert(Alert.clinical(recommendation("s-a", Decision.COVID_SUSPECTED, 0.9, t0), t0));
        WorklistState.Review review = state.flagged(10).get(0).review();
        assertThat(review.label()).isEqualTo(XrayLabelled.NON_COVID);
        assertThat(review.labelSource()).isEqualTo(XrayLabelled.PCR);
        assertThat(state.byClick("c1")).isPresent(); // the older click is still known: a retry of it stays a no-op
    }

    @Test
    void forgetsOldAcquisitionsButNeverThoseOfFlaggedStudies() {
        WorklistState state = new WorklistState(secrets, 3);
        state.onAcquired("s-0", new WorklistState.Location("xray.acquired", 0, 0));
        state.onAlert(Alert.clinical(recommendation("s-0", Decision.COVID_SUSPECTED, 0.9, t0), t0));
        for (int i = 1; i <= 10; i++) {
            state.onAcquired("s-" + i, new WorklistState.Location("xray.acquired", 0, i));
        }
        state.onAlert(Alert.clinical(recommendation("s-10", Decision.COVID_SUSPECTED, 0.9, t0), t0.plusSeconds(1)));
        state.onAlert(Alert.clinical(recommendation("s-2", Decision.COVID_SUSPECTED, 0.9, t0), t0.plusSeconds(2)));
        assertThat(state.byKey(secrets.studyKey("s-0")).orElseThrow().acquired().offset()).isZero();
        assertThat(state.byKey(secrets.studyKey("s-10")).orElseThrow().acquired().offset()).isEqualTo(10);
        assertThat(state.byKey(secrets.studyKey("s-2")).orElseThrow().acquired()).isNull(); // forgotten long before
    }
}
