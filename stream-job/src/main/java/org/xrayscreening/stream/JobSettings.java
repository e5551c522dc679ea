package org.xrayscreening.stream;

import java.io.Serializable;
import java.time.Duration;
import java.util.List;
import org.xrayscreening.connectors.image.ImageLimits;
import org.xrayscreening.connectors.image.ImageSourcePolicy;
import org.xrayscreening.models.registry.EnsembleSettings;
import org.xrayscreening.stream.ensemble.EnsemblePolicy;
import org.xrayscreening.stream.heatmap.HeatmapSettings;
import org.xrayscreening.stream.scoring.ScoringBatch;
import org.xrayscreening.stream.poison.AttemptJournal;

/**
 * Everything the topology needs besides its source and sinks; serializable because operators carry parts of it
 * to the TaskManagers.
 */
public record JobSettings(
        String registryRoot,
        List<ModelSpec> models,
        EnsemblePolicy policy,
        Duration ensembleTimeout,
        ImageLimits imageLimits,
        ImageSourcePolicy imageSources,
        int canonicalMaxSide,
        String metricsHost,
        int metricsPort,
        Duration labelRetention,
        int accuracyWindow,
        double sensitivityFloor,
        int minLabelledPositives,
        ScoringBatch batching,
        HeatmapSettings heatmaps,
        AttemptJournal.Config attemptJournal,
        EnsembleSettings ensembleSettings) implements Serializable {

    /** Unbatched scoring, without heatmaps. */
    public JobSettings(String registryRoot, List<ModelSpec> models, EnsemblePolicy policy, Duration ensembleTimeout,
                       ImageLimits imageLimits, ImageSourcePolicy imageSources, int canonicalMaxSide,
                       String metricsHost, int metricsPort, Duration labelRetention, int accuracyWindow,
                       double sensitivityFloor, int minLabelledPositives) {
        this(registryRoot, models, policy, ensembleTimeout, imageLimits, imageSources, canonicalMaxSide, metricsHost,
                metricsPort, labelRetention, accuracyWindow, sensitivityFloor, minLabelledPositives,
                ScoringBatch.DEFAULT, HeatmapSettings.OFF, AttemptJournal.Config.off(), null);
    }

    /** Scoring batched as given, without heatmaps. */
    public JobSettings(String registryRoot, List<ModelSpec> models, EnsemblePolicy policy, Duration ensembleTimeout,
                       ImageLimits imageLimits, ImageSourcePolicy imageSources, int canonicalMaxSide,
                       String metricsHost, int metricsPort, Duration labelRetention, int accuracyWindow,
                       double sensitivityFloor, int minLabelledPositives, ScoringBatch batching) {
        this(registryRoot, models, policy, ensembleTimeout, imageLimits, imageSources, canonicalMaxSide, metricsHost,
                metricsPort, labelRetention, accuracyWindow, sensitivityFloor, minLabelledPositives, batching,
                HeatmapSettings.OFF, AttemptJournal.Config.off(), null);
    }

    /** Unbatched scoring, heatmaps as given. */
    public JobSettings(String registryRoot, List<ModelSpec> models, EnsemblePolicy policy, Duration ensembleTimeout,
                       ImageLimits imageLimits, ImageSourcePolicy imageSources, int canonicalMaxSide,
                       String metricsHost, int metricsPort, Duration labelRetention, int accuracyWindow,
                       double sensitivityFloor, int minLabelledPositives, HeatmapSettings heatmaps) {
        this(registryRoot, models, policy, ensembleTimeout, imageLimits, imageSources, canonicalMaxSide, metricsHost,
                metricsPort, labelRetention, accuracyWindow, sensitivityFloor, minLabelledPositives,
                ScoringBatch.DEFAULT, heatmaps, AttemptJournal.Config.off(), null);
    }

    /** These settings with heatmaps as given. */
    public JobSettings withHeatmaps(HeatmapSettings heatmaps) {
        return new JobSettings(registryRoot, models, policy, ensembleTimeout, imageLimits, imageSources,
                canonicalMaxSide, metricsHost, metricsPort, labelRetention, accuracyWindow, sensitivityFloor,
                minLabelledPositives, batching, heatmaps, attemptJournal, ensembleSettings);
    }

    /** Unbatched scoring without heatmaps, with the poison-image journal as given. */
    public JobSettings(String registryRoot, List<ModelSpec> models, EnsemblePolicy policy, Duration ensembleTimeout,
                       ImageLimits imageLimits, ImageSourcePolicy imageSources, int canonicalMaxSide,
                       String metricsHost, int metricsPort, Duration labelRetention, int accuracyWindow,
                       double sensitivityFloor, int minLabelledPositives, AttemptJournal.Config attemptJournal) {
        this(registryRoot, models, policy, ensembleTimeout, imageLimits, imageSources, canonicalMaxSide, metricsHost,
                metricsPort, labelRetention, accuracyWindow, sensitivityFloor, minLabelledPositives,
                ScoringBatch.DEFAULT, HeatmapSettings.OFF, attemptJournal, null);
    }

    /** These settings with the poison-image journal as given. */
    public JobSettings withAttemptJournal(AttemptJournal.Config attemptJournal) {
        return new JobSettings(registryRoot, models, policy, ensembleTimeout, imageLimits, imageSources,
                canonicalMaxSide, metricsHost, metricsPort, labelRetention, accuracyWindow, sensitivityFloor,
                minLabelledPositives, batching, heatmaps, attemptJournal, ensembleSettings);
    }

    /** These settings deciding with published ensemble settings (null: the policy decides every study). */
    public JobSettings withEnsembleSettings(EnsembleSettings ensembleSettings) {
        return new JobSettings(registryRoot, models, policy, ensembleTimeout, imageLimits, imageSources,
                canonicalMaxSide, metricsHost, metricsPort, labelRetention, accuracyWindow, sensitivityFloor,
                minLabelledPositives, batching, heatmaps, attemptJournal, ensembleSettings);
    }

    public JobSettings {
        java.util.Objects.requireNonNull(heatmaps, "heatmaps");
        models = List.copyOf(models);
        attemptJournal = attemptJournal == null ? AttemptJournal.Config.off() : attemptJournal;
        java.util.Objects.requireNonNull(imageSources, "imageSources");
        if (models.isEmpty()) {
            throw new IllegalArgumentException("at least one model is needed");
        }
        java.util.Objects.requireNonNull(batching, "batching");
        // a held study's outcome reaches the ensemble up to one batch wait (plus the batch's inference) after
        // the other models' outcomes; the ensemble's timeout must leave room for both
        if (batching.maxWait().multipliedBy(2).compareTo(ensembleTimeout) >= 0) {
            throw new IllegalArgumentException("batch wait " + batching.maxWait().toMillis()
                    + " ms must be below half the ensemble timeout (" + ensembleTimeout.toMillis() + " ms)");
        }
    }

    public List<String> modelIds() {
        return models.stream().map(m -> m.architecture().id()).toList();
    }
}
