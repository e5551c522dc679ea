package org.xrayscreening.stream;

import java.time.Duration;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.FilterFunction;
import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.source.Source;
import org.apache.flink.api.java.functions.KeySelector;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.xrayscreening.connectors.event.Alert;
import org.xrayscreening.connectors.event.DeadLetter;
import org.xrayscreening.connectors.event.Decision;
import org.xrayscreening.connectors.event.Recommendation;
import org.xrayscreening.connectors.kafka.RawRecord;
import org.xrayscreening.stream.ensemble.StudyEnsemble;
import org.xrayscreening.stream.intake.StudyImage;
import org.xrayscreening.stream.intake.StudyIntake;
import org.xrayscreening.stream.scoring.ModelOutcome;
import org.xrayscreening.stream.scoring.ModelScoring;

/**
 * The whole screening pipeline in one method, shared by {@link ScreeningJob#main}, the local launcher and the
 * integration tests:
 *
 * <pre>
 * acquired -> StudyIntake --bad--> dead letters
 *                 | fan-out to every model operator
 *          ModelScoring(mobilenet) ... ModelScoring(xception)
 *                 | union, keyBy(studyId)
 *            StudyEnsemble --> recommendations
 *                           \-> alerts (COVID_SUSPECTED, INDETERMINATE)
 * </pre>
 */
public final class ScreeningTopology {

    private ScreeningTopology() {}

    /** Where the pipeline's three outputs go; Kafka in production, anything Flink can sink to in tests. */
    public record Sinks(Sink<Recommendation> recommendations, Sink<Alert> alerts, Sink<DeadLetter> deadLetters) {}

    public static DataStream<Recommendation> build(StreamExecutionEnvironment env, Source<RawRecord, ?, ?> acquired,
                                                   Sinks sinks, JobSettings settings) {
        SingleOutputStreamOperator<StudyImage> studies = env
                .fromSource(acquired, WatermarkStrategy.noWatermarks(), "xray.acquired")
                .uid("source-acquired")
                .process(new StudyIntake(settings.imageLimits(), settings.canonicalMaxSide(),
                        settings.metricsHost(), settings.metricsPort()))
                .name("validate-decode").uid("intake");

        DataStream<ModelOutcome> outcomes = null;
        for (ModelSpec model : settings.models()) {
            DataStream<ModelOutcome> scored = studies
                    .process(new ModelScoring(model.architecture(), settings.registryRoot(), model.ref()))
                    .name("model-" + model.architecture().id()).uid("model-" + model.architecture().id())
                    // own task thread per network, so the four infer in parallel instead of in turn
                    .disableChaining();
            outcomes = outcomes == null ? scored : outcomes.union(scored);
        }

        SingleOutputStreamOperator<Recommendation> recommendations = outcomes
                .keyBy(new ByStudy())
                .process(new StudyEnsemble(settings.modelIds(), settings.policy(), settings.ensembleTimeout(),
                        Duration.ofHours(6)))
                .name("ensemble").uid("ensemble");

        recommendations.sinkTo(sinks.recommendations()).name("recommendations-sink").uid("sink-recommendations");
        recommendations.filter(new NeedsAttention()).name("needs-attention").uid("filter-alerts")
                .map(new ToClinicalAlert()).name("to-alert").uid("map-alerts")
                .sinkTo(sinks.alerts()).name("alerts-sink").uid("sink-alerts");
        studies.getSideOutput(StudyIntake.DEAD_LETTERS)
                .sinkTo(sinks.deadLetters()).name("dead-letter-sink").uid("sink-dead-letters");
        return recommendations;
    }

    static final class ByStudy implements KeySelector<ModelOutcome, String> {
        @Override
        public String getKey(ModelOutcome outcome) {
            return outcome.studyId;
        }
    }

    /** Clinicians are alerted for suspected cases and for cases the models could not settle. */
    static final class NeedsAttention implements FilterFunction<Recommendation> {
        @Override
        public boolean filter(Recommendation recommendation) {
            return recommendation.decision() != Decision.NO_COVID_FINDINGS;
        }
    }

    static final class ToClinicalAlert implements MapFunction<Recommendation, Alert> {
        @Override
        public Alert map(Recommendation recommendation) {
            return Alert.clinical(recommendation);
        }
    }
}
