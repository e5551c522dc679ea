package org.xrayscreening.stream;

import java.io.Serializable;
import java.time.Duration;
import java.util.List;
import org.xrayscreening.connectors.image.ImageLimits;
import org.xrayscreening.connectors.image.ImageSourcePolicy;
import org.xrayscreening.stream.ensemble.EnsemblePolicy;
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
        AttemptJournal.Config attemptJournal) implements Serializable {

    public JobSettings {
        models = List.copyOf(models);
        attemptJournal = attemptJournal == null ? AttemptJournal.Config.off() : attemptJournal;
        java.util.Objects.requireNonNull(imageSources, "imageSources");
        if (models.isEmpty()) {
            throw new IllegalArgumentException("at least one model is needed");
        }
    }

    public List<String> modelIds() {
        return models.stream().map(m -> m.architecture().id()).toList();
    }
}
