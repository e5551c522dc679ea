package org.xrayscreening.trainer.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class PromotionPolicyTest {
    private final PromotionPolicy policy = PromotionPolicy.defaults();

    @Test
    void promotesWhenNotWorseWithinTheTolerance() {
        var d = policy.decide(Map.of("sensitivity", 0.90, "f1", 0.80, "auc", 0.90),
                Map.of("sensitivity", 0.897, "f1", 0.85, "auc", 0.90));
        assertThat(d.promoted()).isTrue();
        assertThat(d.reason()).contains("not worse on sensitivity, f1, auc").contains("better on f1");
        assertThat(d.comparisons()).extracting(PromotionPolicy.Comparison::metric).containsExactly("sensitivity", "f1", "auc");
    }

    @Test
    void theFirstFailingCriterionInOrderIsTheReason() {
        var d = policy.decide(Map.of("sensitivity", 0.90, "f1", 0.80, "auc", 0.90),
                Map.of("sensitivity", 0.85, "f1", 0.70, "auc", 0.95));
        assertThat(d.promoted()).isFalse();
        assertThat(d.reason()).startsWith("sensitivity 0.8500 is worse than the champion's 0.9000");
        assertThat(d.comparisons()).extracting(PromotionPolicy.Comparison::notWorse).containsExactly(false, false, true);
        // better sensitivity does not buy a worse F1
        assertThat(policy.decide(Map.of("sensitivity", 0.90, "f1", 0.80, "auc", 0.90),
                Map.of("sensitivity", 0.99, "f1", 0.70, "auc", 0.95)).reason()).startsWith("f1 ");
    }

    @Test
    void anUndefinedChallengerMetricRejectsAndCriteriaAreConfigurable() {
        assertThat(policy.decide(Map.of("sensitivity", 0.9, "f1", 0.8, "auc", 0.9),
                Map.of("sensitivity", Double.NaN, "f1", 0.8, "auc", 0.9)).promoted()).isFalse();
        PromotionPolicy p = PromotionPolicy.parse("ROC-AUC, recall", 0.0);
        assertThat(p.criteria()).isEqualTo(List.of("auc", "sensitivity"));
        assertThat(p.decide(Map.of("auc", 0.9, "sensitivity", 0.9), Map.of("auc", 0.9, "sensitivity", 0.9)).promoted())
                .isTrue();
        assertThatThrownBy(() -> PromotionPolicy.parse("sensitivity,loss", 0.01)).hasMessageContaining("loss");
        assertThatThrownBy(() -> PromotionPolicy.parse("f1,f1", 0.01)).hasMessageContaining("twice");
    }

    @Test
    void metricsAtAThreshold() {
        var m = PromotionPolicy.metrics(new float[] {0.9f, 0.6f, 0.4f, 0.1f}, new boolean[] {true, false, true, false}, 0.5);
        assertThat(m.get("sensitivity")).isEqualTo(0.5);
        assertThat(m.get("specificity")).isEqualTo(0.5);
        assertThat(m.get("auc")).isEqualTo(0.75);
    }
}
