package org.xrayscreening.stream;

import java.time.Duration;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.FilterFunction;
import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.source.Source;
import org.apache.flink.api.java.functions.KeySelector;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.xrayscreening.connectors.event.Alert;
import org.xrayscreening.connectors.event.DeadLetter;
import org.xrayscreening.connectors.event.Decision;
import org.xrayscreening.connectors.event.ModelStatus;
import org.xrayscreening.connectors.event.ModelUpdate;
import org.xrayscreening.connectors.event.Recommendation;
import org.xrayscreening.connectors.event.XrayLabelled;
import org.xrayscreening.connectors.kafka.RawRecord;
import org.xrayscreening.stream.accuracy.LabelJoin;
import org.xrayscreening.stream.accuracy.LiveAccuracy;
import org.xrayscreening.stream.accuracy.ModelVerdict;
import org.xrayscreening.stream.ensemble.StudyEnsemble;
import org.xrayscreening.stream.heatmap.FlaggedStudyHeatmaps;
import org.xrayscreening.stream.intake.ControlEvents;
import org.xrayscreening.stream.intake.StudyImage;
import org.xrayscreening.stream.intake.StudyIntake;
import org.xrayscreening.stream.scoring.ModelOutcome;
import org.xrayscreening.stream.scoring.ModelScoring;

/**
 * The whole screening pipeline in one method, shared by {@link ScreeningJob#main}, the local launcher, the
 * benchmark and the integration tests:
 *
 * <pre>
 * acquired ------> StudyIntake --bad--> dead letters
 *                      | fan-out to every model operator
 * model-updates --(broadcast)--> ModelScoring(mobilenet) ... ModelScoring(xception) --> model status
 *                      | union, keyBy(studyId)
 *                 StudyEnsemble --> recommendations
 *                      |        \-> alerts (COVID_SUSPECTED, INDETERMINATE)
 *                      |             with heatmaps on: StudyIntake's image + recommendation, keyBy(studyId)
 *                      |             --> FlaggedStudyHeatmaps (Grad-CAM of the voting models, heatmap store)
 *                      |             --> alerts carrying the heatmap's URI
 * labelled --keyBy(studyId)--> LabelJoin --keyBy(model@version)--> LiveAccuracy --> alerts (ML team)
 * </pre>
 */
public final class ScreeningTopology {

    private ScreeningTopology() {}

    /** The job's inputs; Kafka in production, anything Flink can read in tests. */
    public record Sources(Source<RawRecord, ?, ?> acquired, Source<RawRecord, ?, ?> modelUpdates,
                          Source<RawRecord, ?, ?> labelled) {}

    /** Where the pipeline's outputs go. */
    public record Sinks(Sink<Recommendation> recommendations, Sink<Alert> alerts, Sink<DeadLetter> deadLetters,
                        Sink<ModelStatus> modelStatus) {}

    public static DataStream<Recommendation> build(StreamExecutionEnvironment env, Sources sources, Sinks sinks,
                                                   JobSettings settings) {
        SingleOutputStreamOperator<StudyImage> studies = env
                .fromSource(sources.acquired(), WatermarkStrategy.noWatermarks(), "xray.acquired")
                .uid("source-acquired")
                .process(new StudyIntake(settings.imageLimits(), settings.imageSources(), settings.canonicalMaxSide(),
                        settings.metricsHost(), settings.metricsPort()).withAttemptJournal(settings.attemptJournal()))
                .name("validate-decode").uid("intake");
        DataStream<DeadLetter> deadLetters = studies.getSideOutput(StudyIntake.DEAD_LETTERS);

        SingleOutputStreamOperator<ModelUpdate> updates = env
                .fromSource(sources.modelUpdates(), WatermarkStrategy.noWatermarks(), "xray.model-updates")
                .uid("source-model-updates").setParallelism(1)
                .process(new ControlEvents.ParseModelUpdate()).name("parse-model-updates").uid("parse-model-updates")
                .setParallelism(1);
        deadLetters = deadLetters.union(updates.getSideOutput(StudyIntake.DEAD_LETTERS));
        // plain broadcast partitioning: ModelScoring is an operator (it batches on a timer) and declares its
        // broadcast state itself
        DataStream<ModelUpdate> broadcastUpdates = updates.broadcast();

        DataStream<ModelOutcome> outcomes = null;
        DataStream<ModelStatus> statuses = null;
        for (ModelSpec model : settings.models()) {
            SingleOutputStreamOperator<ModelOutcome> scored = studies
                    .connect(broadcastUpdates)
                    .transform("model-" + model.architecture().id(), TypeInformation.of(ModelOutcome.class),
                            new ModelScoring(model.architecture(), settings.registryRoot(), model.ref(),
                                    settings.batching()).withAttemptJournal(settings.attemptJournal()))
                    .name("model-" + model.architecture().id()).uid("model-" + model.architecture().id());
            outcomes = outcomes == null ? scored : outcomes.union(scored);
            DataStream<ModelStatus> status = scored.getSideOutput(ModelScoring.MODEL_STATUS);
            statuses = statuses == null ? status : statuses.union(status);
        }

        SingleOutputStreamOperator<Recommendation> recommendations = outcomes
                .keyBy(new ByStudy())
                .process(new StudyEnsemble(settings.modelIds(), settings.policy(), settings.ensembleTimeout(),
                        Duration.ofHours(6)).withEnsembleSettings(settings.ensembleSettings()))
                .name("ensemble").uid("ensemble");
        deadLetters = deadLetters.union(recommendations.getSideOutput(StudyEnsemble.DEAD_LETTERS));
        DataStream<Alert> alerts;
        if (settings.heatmaps().enabled()) {
            // the image goes straight from intake to the heatmap operator and waits there for its recommendation
            alerts = studies.keyBy(new ImageStudy())
                    .connect(recommendations.keyBy(new RecommendationStudy()))
                    .process(new FlaggedStudyHeatmaps(settings.registryRoot(), settings.heatmaps(), settings.models()))
                    .name("heatmaps-and-alerts").uid("heatmaps-and-alerts");
        } else {
            alerts = recommendations.filter(new NeedsAttention()).name("needs-attention")
                    .uid("filter-alerts").map(new ToClinicalAlert()).name("to-alert").uid("map-alerts");
        }

        SingleOutputStreamOperator<XrayLabelled> labelled = env
                .fromSource(sources.labelled(), WatermarkStrategy.noWatermarks(), "xray.labelled")
                .uid("source-labelled")
                .process(new ControlEvents.ParseLabelled()).name("parse-labelled").uid("parse-labelled");
        deadLetters = deadLetters.union(labelled.getSideOutput(StudyIntake.DEAD_LETTERS));
        DataStream<Alert> accuracyAlerts = recommendations.keyBy(new RecommendationStudy())
                .connect(labelled.keyBy(new LabelledStudy()))
                .process(new LabelJoin(settings.labelRetention())).name("join-labels").uid("join-labels")
                .keyBy(new ByModelVersion())
                .process(new LiveAccuracy(settings.accuracyWindow(), settings.sensitivityFloor(),
                        settings.minLabelledPositives()))
                .name("live-accuracy").uid("live-accuracy");

        recommendations.sinkTo(sinks.recommendations()).name("recommendations-sink").uid("sink-recommendations");
        alerts.union(accuracyAlerts).sinkTo(sinks.alerts()).name("alerts-sink").uid("sink-alerts");
        deadLetters.sinkTo(sinks.deadLetters()).name("dead-letter-sink").uid("sink-dead-letters");
        statuses.sinkTo(sinks.modelStatus()).name("model-status-sink").uid("sink-model-status");
        return recommendations;
    }

    static final class ByStudy implements KeySelector<ModelOutcome, String> {
        @Override
        public String getKey(ModelOutcome outcome) {
            return outcome.studyId;
        }
    }

    static final class RecommendationStudy implements KeySelector<Recommendation, String> {
        @Override
        public String getKey(Recommendation r) {
            return r.studyId();
        }
    }

    static final class ImageStudy implements KeySelector<StudyImage, String> {
        @Override
        public String getKey(StudyImage s) {
            return s.studyId;
        }
    }

    static final class LabelledStudy implements KeySelector<XrayLabelled, String> {
        @Override
        public String getKey(XrayLabelled l) {
            return l.studyId();
        }
    }

    static final class ByModelVersion implements KeySelector<ModelVerdict, String> {
        @Override
        public String getKey(ModelVerdict v) {
            return v.modelVersion();
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
