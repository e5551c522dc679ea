package org.xrayscreening.stream.ensemble;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.xrayscreening.connectors.event.Decision;

class EnsemblePolicyTest {

    private final EnsemblePolicy policy = new EnsemblePolicy(0.5, 0.1, 0.5, 2);

    @Test
    void meanAboveBandIsSuspected() {
        EnsemblePolicy.Outcome o = policy.decide(List.of(0.9, 0.8, 0.7, 0.8));
        assertThat(o.decision()).isEqualTo(Decision.COVID_SUSPECTED);
        assertThat(o.probability()).isEqualTo(0.8, org.assertj.core.data.Offset.offset(1e-12));
    }

    @Test
    void meanBelowBandIsNoFindings() {
        assertThat(policy.decide(List.of(0.1, 0.2, 0.05, 0.25)).decision()).isEqualTo(Decision.NO_COVID_FINDINGS);
    }

    @Test
    void meanNearThresholdIsIndeterminate() {
        EnsemblePolicy.Outcome o = policy.decide(List.of(0.55, 0.52, 0.58, 0.45));
        assertThat(o.decision()).isEqualTo(Decision.INDETERMINATE);
        assertThat(o.reason()).isEqualTo("near threshold");
    }

    @Test
    void bandEdgesBelongToTheConfidentSide() {
        // exactly threshold + band is outside the open band
        assertThat(policy.decide(List.of(0.6, 0.6)).decision()).isEqualTo(Decision.COVID_SUSPECTED);
        assertThat(policy.decide(List.of(0.4, 0.4)).decision()).isEqualTo(Decision.NO_COVID_FINDINGS);
    }

    @Test
    void strongDisagreementAcrossThresholdIsIndeterminate() {
        EnsemblePolicy.Outcome o = policy.decide(List.of(0.95, 0.92, 0.9, 0.05));
        assertThat(o.decision()).isEqualTo(Decision.INDETERMINATE);
        assertThat(o.reason()).isEqualTo("models disagree");
    }

    @Test
    void tooFewModelsIsIndeterminate() {
        EnsemblePolicy.Outcome o = policy.decide(List.of(0.99));
        assertThat(o.decision()).isEqualTo(Decision.INDETERMINATE);
        assertThat(o.reason()).contains("only 1 model");
        assertThat(policy.decide(List.of()).probability()).isNaN();
    }

    @Test
    void rejectsNonsenseSettings() {
        assertThatThrownBy(() -> new EnsemblePolicy(1.0, 0.1, 0.5, 2)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new EnsemblePolicy(0.5, 0.6, 0.5, 2)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new EnsemblePolicy(0.5, 0.1, 0.5, 0)).isInstanceOf(IllegalArgumentException.class);
    }
}
