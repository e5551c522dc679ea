package org.xrayscreening.stream.scoring;

import java.awt.image.BufferedImage;
import java.nio.file.Path;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.util.Collector;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xrayscreening.models.Architecture;
import org.xrayscreening.models.inference.CovidClassifier;
import org.xrayscreening.models.registry.ModelRegistry;
import org.xrayscreening.stream.intake.CanonicalImage;
import org.xrayscreening.stream.intake.StudyImage;
import org.xrayscreening.stream.metrics.ScreeningMetrics;

/**
 * One network's operator: a DJL predictor per subtask, created in open() from a registry version and closed
 * in close() (a Predictor is not thread-safe, so it is never shared). An inference failure becomes a failed
 * {@link ModelOutcome} so the ensemble can report the model as missing.
 */
public class ModelScoring extends ProcessFunction<StudyImage, ModelOutcome> {

    private static final Logger LOG = LoggerFactory.getLogger(ModelScoring.class);

    private final Architecture architecture;
    private final String registryRoot;
    private final String versionRef;
    private transient CovidClassifier classifier;
    private transient String version;

    public ModelScoring(Architecture architecture, String registryRoot, String versionRef) {
        this.architecture = architecture;
        this.registryRoot = registryRoot;
        this.versionRef = versionRef;
    }

    @Override
    public void open(OpenContext openContext) throws Exception {
        classifier = CovidClassifier.load(new ModelRegistry(Path.of(registryRoot)), architecture, versionRef);
        version = classifier.version().version();
        ScreeningMetrics.get().setActiveVersion(architecture.id(), version);
        LOG.info("{} operator serving version {}", architecture.id(), version);
    }

    @Override
    public void processElement(StudyImage study, Context ctx, Collector<ModelOutcome> out) {
        long start = System.nanoTime();
        try {
            BufferedImage image = CanonicalImage.fromPixels(study.width, study.height, study.pixels);
            double probability = classifier.predict(image);
            double seconds = (System.nanoTime() - start) / 1e9;
            ScreeningMetrics.get().inferenceSeconds.labelValues(architecture.id()).observe(seconds);
            out.collect(ModelOutcome.scored(study.studyId, study.patientRef, study.acquiredAtMillis,
                    study.ingestedAtMillis, architecture.id(), version, probability, seconds * 1000));
        } catch (Exception e) {
            LOG.warn("{}@{} inference failed: {}", architecture.id(), version, e.toString());
            out.collect(ModelOutcome.failed(study.studyId, study.patientRef, study.acquiredAtMillis,
                    study.ingestedAtMillis, architecture.id(), version, "inference failed: "
                            + e.getClass().getSimpleName()));
        }
    }

    @Override
    public void close() throws Exception {
        if (classifier != null) {
            classifier.close();
        }
    }
}
