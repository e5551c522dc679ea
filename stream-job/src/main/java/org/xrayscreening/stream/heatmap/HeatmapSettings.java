package org.xrayscreening.stream.heatmap;

import java.io.Serializable;
import java.time.Duration;
import java.util.Objects;

/**
 * Grad-CAM heatmaps for flagged studies.
 *
 * @param storeRoot the heatmap store's directory; null turns heatmaps off (alerts then carry no heatmap fields)
 * @param imageTtl how long a study's image is held for its recommendation (it is dropped as soon as the
 *        recommendation arrives; this bounds state for studies whose recommendation never comes)
 * @param imageWait how long a flagged recommendation waits for its image when it overtook it; after that the alert
 *        goes out saying the heatmap is missing
 * @param cachedModels model versions kept loaded per subtask (four models, plus the versions around a hot swap)
 */
public record HeatmapSettings(String storeRoot, Duration imageTtl, Duration imageWait, int cachedModels)
        implements Serializable {

    public static final HeatmapSettings OFF = new HeatmapSettings(null, Duration.ofMinutes(15), Duration.ofSeconds(30), 8);

    public HeatmapSettings {
        Objects.requireNonNull(imageTtl, "imageTtl");
        Objects.requireNonNull(imageWait, "imageWait");
        if (cachedModels < 1) {
            throw new IllegalArgumentException("cachedModels must be positive: " + cachedModels);
        }
    }

    public static HeatmapSettings at(String storeRoot) {
        return new HeatmapSettings(Objects.requireNonNull(storeRoot, "storeRoot"), OFF.imageTtl, OFF.imageWait,
                OFF.cachedModels);
    }

    public boolean enabled() {
        return storeRoot != null;
    }
}
