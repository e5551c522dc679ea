package org.xrayscreening.stream;

import java.io.Serializable;
import java.time.Duration;
import java.util.List;
import org.xrayscreening.connectors.image.ImageLimits;
import org.xrayscreening.connectors.image.ImageSourcePolicy;
import org.xrayscreening.stream.ensemble.EnsemblePolicy;
import org.xrayscreening.stream.heatmap.HeatmapSettings;

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
        HeatmapSettings heatmaps) implements Serializable {

    /** Without heatmaps. */
    public JobSettings(String registryRoot, List<ModelSpec> models, EnsemblePolicy policy, Duration ensembleTimeout,
                       ImageLimits imageLimits, ImageSourcePolicy imageSources, int canonicalMaxSide,
                       String metricsHost, int metricsPort, Duration labelRetention, int accuracyWindow,
                       double sensitivityFloor, int minLabelledPositives) {
        this(registryRoot, models, policy, ensembleTimeout, imageLimits, imageSources, canonicalMaxSide, metricsHost,
                metricsPort, labelRetention, accuracyWindow, sensitivityFloor, minLabelledPositives,
                HeatmapSettings.OFF);
    }

    /** These settings with heatmaps as given. */
    public JobSettings withHeatmaps(HeatmapSettings heatmaps) {
        return new JobSettings(registryRoot, models, policy, ensembleTimeout, imageLimits, imageSources,
                canonicalMaxSide, metricsHost, metricsPort, labelRetention, accuracyWindow, sensitivityFloor,
                minLabelledPositives, heatmaps);
    }

    public JobSettings {
        java.util.Objects.requireNonNull(heatmaps, "heatmaps");
        models = List.copyOf(models);
        java.util.Objects.requireNonNull(imageSources, "imageSources");
        if (models.isEmpty()) {
            throw new IllegalArgumentException("at least one model is needed");
        }
    }

    public List<String> modelIds() {
        return models.stream().map(m -> m.architecture().id()).toList();
    }
}
