package org.xrayscreening.stream.accuracy;

import static org.assertj.core.api.Assertions.assertThat;

import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.streaming.api.operators.KeyedProcessOperator;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.junit.jupiter.api.Test;
import org.xrayscreening.connectors.event.Alert;
import org.xrayscreening.connectors.event.AlertType;
import org.xrayscreening.stream.metrics.ScreeningMetrics;

class LiveAccuracyTest {

    private static KeyedOneInputStreamOperatorTestHarness<String, ModelVerdict, Alert> harness(int window) throws Exception {
        var h = new KeyedOneInputStreamOperatorTestHarness<>(new KeyedProcessOperator<>(new LiveAccuracy(window, 0.8, 5)),
                ModelVerdict::modelVersion, Types.STRING);
        h.open();
        return h;
    }

    private static void feed(KeyedOneInputStreamOperatorTestHarness<String, ModelVerdict, Alert> h, String version,
                             int tp, int fn, int tn, int fp) throws Exception {
        for (int i = 0; i < tp; i++) h.processElement(new ModelVerdict("xception", version, true, true), 0);
        for (int i = 0; i < fn; i++) h.processElement(new ModelVerdict("xception", version, false, true), 0);
        for (int i = 0; i < tn; i++) h.processElement(new ModelVerdict("xception", version, false, false), 0);
        for (int i = 0; i < fp; i++) h.processElement(new ModelVerdict("xception", version, true, false), 0);
    }

    @Test
    void gaugesFollowTheConfusionCounts() throws Exception {
        try (var h = harness(100)) {
            feed(h, "g1", 9, 1, 18, 2);
            ScreeningMetrics m = ScreeningMetrics.get();
            assertThat(m.liveSensitivity.labelValues("xception", "g1").get()).isEqualTo(0.9, org.assertj.core.data.Offset.offset(1e-12));
            assertThat(m.liveSpecificity.labelValues("xception", "g1").get()).isEqualTo(0.9, org.assertj.core.data.Offset.offset(1e-12));
            assertThat(m.liveLabelledStudies.labelValues("xception", "g1").get()).isEqualTo(30);
            assertThat(h.extractOutputValues()).isEmpty();
        }
    }

    @Test
    void windowForgetsOldVerdicts() throws Exception {
        try (var h = harness(10)) {
            feed(h, "w1", 0, 10, 0, 0); // sensitivity 0 ...
            feed(h, "w1", 10, 0, 0, 0); // ... then ten hits push all misses out of the window
            assertThat(ScreeningMetrics.get().liveSensitivity.labelValues("xception", "w1").get()).isEqualTo(1.0);
            assertThat(ScreeningMetrics.get().liveLabelledStudies.labelValues("xception", "w1").get()).isEqualTo(10);
        }
    }

    @Test
    void alertsOnceBelowFloorAndAgainOnlyAfterRecovery() throws Exception {
        try (var h = harness(20)) {
            feed(h, "a1", 0, 4, 0, 0); // 4 positives: below the 5 needed, no alert yet
            assertThat(h.extractOutputValues()).isEmpty();
            feed(h, "a1", 0, 3, 0, 0);
            assertThat(h.extractOutputValues()).singleElement().satisfies(a -> {
                assertThat(a.type()).isEqualTo(AlertType.MODEL_SENSITIVITY_BELOW_FLOOR);
                assertThat(a.model()).isEqualTo("xception");
                assertThat(a.version()).isEqualTo("a1");
                assertThat(a.studyId()).isNull();
                assertThat(a.patientRef()).isNull();
            });
            feed(h, "a1", 20, 0, 0, 0); // recovers
            feed(h, "a1", 0, 18, 0, 0); // drops again
            assertThat(h.extractOutputValues()).hasSize(2);
        }
    }
}
