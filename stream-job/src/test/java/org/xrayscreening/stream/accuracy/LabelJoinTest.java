package org.xrayscreening.stream.accuracy;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.streaming.api.operators.co.KeyedCoProcessOperator;
import org.apache.flink.streaming.util.KeyedTwoInputStreamOperatorTestHarness;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.xrayscreening.connectors.event.Decision;
import org.xrayscreening.connectors.event.ImageReference;
import org.xrayscreening.connectors.event.ModelScore;
import org.xrayscreening.connectors.event.Recommendation;
import org.xrayscreening.connectors.event.XrayLabelled;

class LabelJoinTest {

    private KeyedTwoInputStreamOperatorTestHarness<String, Recommendation, XrayLabelled, ModelVerdict> harness;

    @BeforeEach
    void setUp() throws Exception {
        harness = new KeyedTwoInputStreamOperatorTestHarness<>(
                new KeyedCoProcessOperator<>(new LabelJoin(Duration.ofDays(1))),
                Recommendation::studyId, XrayLabelled::studyId, Types.STRING);
        harness.open();
    }

    @AfterEach
    void tearDown() throws Exception {
        harness.close();
    }

    static Recommendation recommendation(String study, Decision decision, double... probabilities) {
        String[] models = {"mobilenet", "resnet50", "inceptionv3", "xception"};
        List<ModelScore> scores = new java.util.ArrayList<>();
        for (int i = 0; i < probabilities.length; i++) {
            scores.add(new ModelScore(models[i], models[i] + "-v1", probabilities[i], 10));
        }
        return new Recommendation(1, study, "p", decision, 0.5, 0.5, 0.4, 0.6, scores, List.of(), Instant.EPOCH,
                Instant.EPOCH, 1, "test");
    }

    static XrayLabelled label(String study, String label) {
        return new XrayLabelled(1, study, "p", Instant.EPOCH, "PA", "test",
                ImageReference.at(ImageReference.PNG, "file:/x.png"), label, XrayLabelled.PCR, Instant.EPOCH);
    }

    @Test
    void labelAfterRecommendationGivesOneVerdictPerModelAndTheEnsemble() throws Exception {
        harness.processElement1(recommendation("s1", Decision.COVID_SUSPECTED, 0.9, 0.3, 0.7, 0.6), 0);
        assertThat(harness.extractOutputValues()).isEmpty();
        harness.processElement2(label("s1", XrayLabelled.COVID), 0);
        assertThat(harness.extractOutputValues()).extracting(v -> v.modelVersion() + ":" + v.predictedCovid + ":" + v.actuallyCovid)
                .containsExactly("mobilenet@mobilenet-v1:true:true", "resnet50@resnet50-v1:false:true",
                        "inceptionv3@inceptionv3-v1:true:true", "xception@xception-v1:true:true",
                        "ensemble@threshold-0.5:true:true");
    }

    @Test
    void eachModelIsJudgedAtItsOwnThresholdWhenTheScoreCarriesIt() throws Exception {
        // ensemble threshold 0.5; mobilenet's own is 0.23 (0.3 is its COVID-19 call), resnet50's 0.71 (0.6 is
        // not); inceptionv3's score has no threshold (an older event): the ensemble's applies
        List<ModelScore> scores = List.of(new ModelScore("mobilenet", "m1", 0.3, 10, 0.23),
                new ModelScore("resnet50", "r1", 0.6, 10, 0.71), new ModelScore("inceptionv3", "i1", 0.6, 10));
        harness.processElement1(new Recommendation(1, "s7", "p", Decision.COVID_SUSPECTED, 0.5, 0.5, 0.4, 0.6, scores,
                List.of("xception"), Instant.EPOCH, Instant.EPOCH, 1, "test"), 0);
        harness.processElement2(label("s7", XrayLabelled.COVID), 0);
        assertThat(harness.extractOutputValues()).extracting(v -> v.modelVersion() + ":" + v.predictedCovid)
                .containsExactly("mobilenet@m1:true", "resnet50@r1:false", "inceptionv3@i1:true",
                        "ensemble@threshold-0.5:true");
    }

    @Test
    void labelBeforeRecommendationAlsoJoinsAndIndeterminateCountsAsFlagged() throws Exception {
        harness.processElement2(label("s2", XrayLabelled.NON_COVID), 0);
        harness.processElement1(recommendation("s2", Decision.INDETERMINATE, 0.55, 0.45), 0);
        List<ModelVerdict> out = harness.extractOutputValues();
        assertThat(out).hasSize(3);
        assertThat(out.get(2).model).isEqualTo(LabelJoin.ENSEMBLE);
        assertThat(out.get(2).predictedCovid).isTrue();
        assertThat(out).allMatch(v -> !v.actuallyCovid);
    }

    @Test
    void aSecondLabelForTheSameStudyCountsOnce() throws Exception {
        harness.processElement1(recommendation("s3", Decision.NO_COVID_FINDINGS, 0.1), 0);
        harness.processElement2(label("s3", XrayLabelled.NON_COVID), 0);
        harness.processElement2(label("s3", XrayLabelled.NON_COVID), 0);
        assertThat(harness.extractOutputValues()).hasSize(2);
    }
}
