package org.xrayscreening.stream.accuracy;

import java.time.Instant;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.util.Collector;
import org.xrayscreening.connectors.event.Alert;
import org.xrayscreening.stream.metrics.ScreeningMetrics;

/**
 * Keyed by model@version: rolling sensitivity and specificity over the last {@code window} labelled studies,
 * exported as Prometheus gauges. When sensitivity falls below {@code floor} (with at least
 * {@code minPositives} COVID-19 cases in the window, so three unlucky cases do not page anyone) it raises one
 * {@code MODEL_SENSITIVITY_BELOW_FLOOR} alert for the ML team, and raises again only after it has recovered.
 */
public class LiveAccuracy extends KeyedProcessFunction<String, ModelVerdict, Alert> {

    private final int window;
    private final double floor;
    private final int minPositives;
    /** Ring of the last {@code window} verdicts, 2 bits each: bit 1 = actual covid, bit 0 = predicted covid. */
    private transient ValueState<byte[]> ring;
    private transient ValueState<Long> seen;
    private transient ValueState<Boolean> alerting;

    public LiveAccuracy(int window, double floor, int minPositives) {
        if (window < 1 || floor < 0 || floor > 1 || minPositives < 1) {
            throw new IllegalArgumentException("window >= 1, floor in [0,1], minPositives >= 1");
        }
        this.window = window;
        this.floor = floor;
        this.minPositives = minPositives;
    }

    @Override
    public void open(OpenContext openContext) {
        ring = getRuntimeContext().getState(new ValueStateDescriptor<>("verdict-ring", byte[].class));
        seen = getRuntimeContext().getState(new ValueStateDescriptor<>("verdicts-seen", Long.class));
        alerting = getRuntimeContext().getState(new ValueStateDescriptor<>("below-floor", Boolean.class));
    }

    @Override
    public void processElement(ModelVerdict v, Context ctx, Collector<Alert> out) throws Exception {
        byte[] r = ring.value();
        if (r == null) {
            r = new byte[window];
        }
        long n = seen.value() == null ? 0 : seen.value();
        r[(int) (n % window)] = (byte) ((v.actuallyCovid ? 2 : 0) | (v.predictedCovid ? 1 : 0));
        n++;
        ring.update(r);
        seen.update(n);

        int filled = (int) Math.min(n, window);
        int tp = 0, fn = 0, tn = 0, fp = 0;
        for (int i = 0; i < filled; i++) {
            switch (r[i]) {
                case 3 -> tp++;
                case 2 -> fn++;
                case 1 -> fp++;
                default -> tn++;
            }
        }
        ScreeningMetrics metrics = ScreeningMetrics.get();
        metrics.liveLabelledStudies.labelValues(v.model, v.version).set(filled);
        double sensitivity = tp + fn == 0 ? Double.NaN : (double) tp / (tp + fn);
        double specificity = tn + fp == 0 ? Double.NaN : (double) tn / (tn + fp);
        if (!Double.isNaN(sensitivity)) {
            metrics.liveSensitivity.labelValues(v.model, v.version).set(sensitivity);
        }
        if (!Double.isNaN(specificity)) {
            metrics.liveSpecificity.labelValues(v.model, v.version).set(specificity);
        }
        boolean below = tp + fn >= minPositives && sensitivity < floor;
        boolean wasBelow = Boolean.TRUE.equals(alerting.value());
        if (below && !wasBelow) {
            out.collect(Alert.sensitivityBelowFloor(v.model, v.version, sensitivity, floor, Instant.now()));
        }
        if (below != wasBelow) {
            alerting.update(below);
        }
    }
}
