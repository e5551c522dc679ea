package org.xrayscreening.stream.accuracy;

import java.time.Duration;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.StateTtlConfig;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.streaming.api.functions.co.KeyedCoProcessFunction;
import org.apache.flink.util.Collector;
import org.xrayscreening.connectors.event.Decision;
import org.xrayscreening.connectors.event.ModelScore;
import org.xrayscreening.connectors.event.Recommendation;
import org.xrayscreening.connectors.event.XrayLabelled;

/**
 * Keyed by study: joins the job's own recommendation with the confirmed label that arrives later (days, for a
 * PCR result; or, on replay, earlier). Emits one verdict per model and one for the ensemble, each naming the
 * exact version that made the call. State is kept for {@code retention} so an unmatched side does not live
 * forever.
 *
 * <p>Each model's call uses its probability against its own decision threshold (the one in its registry
 * metadata, chosen on its validation split, carried in the recommendation's model score; the ensemble
 * threshold only for events that lack it): models differ in calibration, so one threshold for all would
 * measure some of them at an operating point nobody chose. The ensemble's call counts
 * COVID_SUSPECTED and INDETERMINATE as positive, since both put the study in front of a clinician.
 */
public class LabelJoin extends KeyedCoProcessFunction<String, Recommendation, XrayLabelled, ModelVerdict> {

    public static final String ENSEMBLE = "ensemble";

    private final Duration retention;
    private transient ValueState<Recommendation> recommendation;
    private transient ValueState<Boolean> label;
    private transient ValueState<Boolean> joined;

    public LabelJoin(Duration retention) {
        this.retention = retention;
    }

    @Override
    public void open(OpenContext openContext) {
        StateTtlConfig ttl = StateTtlConfig.newBuilder(retention).build();
        ValueStateDescriptor<Recommendation> r = new ValueStateDescriptor<>("recommendation", Recommendation.class);
        r.enableTimeToLive(ttl);
        ValueStateDescriptor<Boolean> l = new ValueStateDescriptor<>("label", Boolean.class);
        l.enableTimeToLive(ttl);
        ValueStateDescriptor<Boolean> j = new ValueStateDescriptor<>("joined", Boolean.class);
        j.enableTimeToLive(ttl);
        recommendation = getRuntimeContext().getState(r);
        label = getRuntimeContext().getState(l);
        joined = getRuntimeContext().getState(j);
    }

    @Override
    public void processElement1(Recommendation r, Context ctx, Collector<ModelVerdict> out) throws Exception {
        if (Boolean.TRUE.equals(joined.value())) {
            return;
        }
        Boolean covid = label.value();
        if (covid == null) {
            recommendation.update(r);
        } else {
            emit(r, covid, out);
        }
    }

    @Override
    public void processElement2(XrayLabelled l, Context ctx, Collector<ModelVerdict> out) throws Exception {
        if (Boolean.TRUE.equals(joined.value())) {
            return; // a second confirmation of the same study counts once
        }
        Recommendation r = recommendation.value();
        if (r == null) {
            label.update(l.hasCovidLabel());
        } else {
            emit(r, l.hasCovidLabel(), out);
        }
    }

    private void emit(Recommendation r, boolean covid, Collector<ModelVerdict> out) throws Exception {
        for (ModelScore s : r.modelScores()) {
            out.collect(new ModelVerdict(s.model(), s.version(), s.calledCovid(r.threshold()), covid));
        }
        out.collect(new ModelVerdict(ENSEMBLE, "threshold-" + r.threshold(),
                r.decision() != Decision.NO_COVID_FINDINGS, covid));
        recommendation.clear();
        label.clear();
        joined.update(true);
    }
}
