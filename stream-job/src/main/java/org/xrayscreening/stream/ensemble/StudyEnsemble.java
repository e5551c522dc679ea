package org.xrayscreening.stream.ensemble;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.StateTtlConfig;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.util.Collector;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xrayscreening.connectors.event.DeadLetter;
import org.xrayscreening.connectors.event.DeadLetterReason;
import org.xrayscreening.connectors.event.EventCodec;
import org.xrayscreening.connectors.event.ModelScore;
import org.xrayscreening.connectors.event.Recommendation;
import org.xrayscreening.models.registry.EnsembleSettings;
import org.xrayscreening.stream.metrics.ScreeningMetrics;
import org.xrayscreening.stream.scoring.ModelOutcome;

/**
 * Keyed by study: collects one outcome per expected model and emits exactly one recommendation, either when
 * every model has answered or when the timeout fires (then naming the models that are missing).
 *
 * <p>After emitting, the study is remembered (with a TTL) so that a model answer arriving after the timeout
 * cannot start a second recommendation for the same study; such answers are counted, not silently lost.
 */
public class StudyEnsemble extends KeyedProcessFunction<String, ModelOutcome, Recommendation> {

    /** Studies whose image crashed a model's worker too often: dead letters instead of recommendations. */
    public static final org.apache.flink.util.OutputTag<DeadLetter> DEAD_LETTERS =
            new org.apache.flink.util.OutputTag<>("ensemble-dead-letters") {};

    private static final Logger LOG = LoggerFactory.getLogger(StudyEnsemble.class);

    private final List<String> expectedModels;
    private final EnsemblePolicy policy;
    private EnsembleDecider decider;
    private final long timeoutMillis;
    private final Duration emittedMemory;

    private transient MapState<String, ModelOutcome> outcomes;
    private transient ValueState<Long> timer;
    private transient ValueState<Boolean> emitted;
    /** Fallback details already logged by this subtask: one line per distinct mismatch, not one per study. */
    private transient Set<String> loggedFallbacks;

    public StudyEnsemble(List<String> expectedModels, EnsemblePolicy policy, Duration timeout, Duration emittedMemory) {
        if (expectedModels.isEmpty()) {
            throw new IllegalArgumentException("at least one model is expected");
        }
        this.expectedModels = List.copyOf(expectedModels);
        this.policy = policy;
        this.timeoutMillis = timeout.toMillis();
        this.emittedMemory = emittedMemory;
        this.decider = new EnsembleDecider(policy, null);
    }

    /**
     * Decides with published ensemble settings (calibration, combination, validation band) where they apply to the
     * model versions that scored a study, and with the policy elsewhere; null: the policy decides every study.
     */
    public StudyEnsemble withEnsembleSettings(EnsembleSettings settings) {
        this.decider = new EnsembleDecider(policy, settings);
        return this;
    }

    @Override
    public void open(OpenContext openContext) {
        outcomes = getRuntimeContext().getMapState(
                new MapStateDescriptor<>("outcomes", String.class, ModelOutcome.class));
        timer = getRuntimeContext().getState(new ValueStateDescriptor<>("timeout-timer", Long.class));
        ValueStateDescriptor<Boolean> emittedDescriptor = new ValueStateDescriptor<>("emitted", Boolean.class);
        emittedDescriptor.enableTimeToLive(StateTtlConfig.newBuilder(emittedMemory).build());
        emitted = getRuntimeContext().getState(emittedDescriptor);
        loggedFallbacks = new HashSet<>();
        if (decider.settings() != null) {
            ScreeningMetrics.get().ensembleSettingsInfo.labelValues(decider.settings().version(),
                    decider.settings().combination().id()).set(1);
        }
    }

    @Override
    public void processElement(ModelOutcome outcome, Context ctx, Collector<Recommendation> out) throws Exception {
        if (Boolean.TRUE.equals(emitted.value())) {
            ScreeningMetrics.get().lateModelOutcomes.labelValues(outcome.model).inc();
            return;
        }
        outcomes.put(outcome.model, outcome);
        if (timer.value() == null) {
            long at = ctx.timerService().currentProcessingTime() + timeoutMillis;
            ctx.timerService().registerProcessingTimeTimer(at);
            timer.update(at);
        }
        for (String model : expectedModels) {
            if (!outcomes.contains(model)) {
                return;
            }
        }
        ctx.timerService().deleteProcessingTimeTimer(timer.value());
        emit(ctx.timerService().currentProcessingTime(), ctx, out);
    }

    @Override
    public void onTimer(long timestamp, OnTimerContext ctx, Collector<Recommendation> out) throws Exception {
        if (timer.value() != null && timer.value() == timestamp) {
            emit(timestamp, ctx, out);
        }
    }

    private void emit(long nowMillis, Context ctx, Collector<Recommendation> out) throws Exception {
        for (String model : expectedModels) {
            ModelOutcome o = outcomes.get(model);
            if (o != null && o.crashedWorker) {
                // one study, one result: the dead letter replaces the recommendation
                ScreeningMetrics.get().deadLetters.labelValues(DeadLetterReason.IMAGE_CRASHED_WORKER.name()).inc();
                ctx.output(DEAD_LETTERS, DeadLetter.of(DeadLetterReason.IMAGE_CRASHED_WORKER, o.error, o.sourceTopic,
                        o.sourcePartition, o.sourceOffset, o.studyId.getBytes(java.nio.charset.StandardCharsets.UTF_8),
                        null, Instant.ofEpochMilli(nowMillis)));
                outcomes.clear();
                timer.clear();
                emitted.update(true);
                return;
            }
        }
        List<ModelScore> scores = new ArrayList<>();
        Set<String> failed = new TreeSet<>();
        ModelOutcome any = null;
        for (String model : expectedModels) {
            ModelOutcome o = outcomes.get(model);
            if (o == null) {
                continue;
            }
            any = o;
            if (o.succeeded()) {
                scores.add(new ModelScore(o.model, o.version, o.probability, o.inferenceMillis,
                        Double.isNaN(o.decisionThreshold) ? null : o.decisionThreshold));
            } else {
                failed.add(model);
            }
        }
        List<String> missing = new ArrayList<>();
        for (String model : expectedModels) {
            if (scores.stream().noneMatch(s -> s.model().equals(model))) {
                missing.add(model);
            }
        }
        EnsembleDecider.Outcome decision = decider.decide(scores);
        if (decision.fallback() != null) {
            ScreeningMetrics.get().ensembleSettingsFallbacks.labelValues(decision.fallback().label()).inc();
            // model versions only: no study or patient identifier
            if (loggedFallbacks.size() < 100 && loggedFallbacks.add(decision.fallbackDetail())) {
                LOG.warn("ensemble settings {} not applied ({}): {}; such studies are decided by the uncalibrated"
                        + " policy and counted in xray_ensemble_settings_fallbacks_total", decider.settings().version(),
                        decision.fallback().label(), decision.fallbackDetail());
            }
        }
        String reason = decision.reason();
        if (!missing.isEmpty()) {
            reason += "; missing " + String.join(", ", missing)
                    + (failed.isEmpty() ? " (timed out)" : " (failed: " + String.join(", ", failed) + ")");
        }
        long e2e = nowMillis - any.acquiredAtMillis;
        Recommendation recommendation = new Recommendation(EventCodec.SCHEMA_VERSION,
                any.studyId, any.patientRef, decision.decision(), decision.probability(), decision.threshold(),
                decision.low(), decision.high(), scores, missing,
                Instant.ofEpochMilli(any.acquiredAtMillis), Instant.ofEpochMilli(nowMillis), e2e, reason);
        out.collect(recommendation);

        ScreeningMetrics metrics = ScreeningMetrics.get();
        metrics.recommendations.labelValues(decision.decision().name()).inc();
        metrics.endToEndSeconds.observe(Math.max(0, e2e) / 1000.0);
        outcomes.clear();
        timer.clear();
        emitted.update(true);
    }
}
