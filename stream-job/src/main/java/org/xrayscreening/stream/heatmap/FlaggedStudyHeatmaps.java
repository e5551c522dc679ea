package org.xrayscreening.stream.heatmap;

import java.awt.image.BufferedImage;
import java.net.URI;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.StateTtlConfig;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.streaming.api.functions.co.KeyedCoProcessFunction;
import org.apache.flink.util.Collector;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xrayscreening.connectors.event.Alert;
import org.xrayscreening.connectors.event.Decision;
import org.xrayscreening.connectors.event.ModelScore;
import org.xrayscreening.connectors.event.Recommendation;
import org.xrayscreening.models.Architecture;
import org.xrayscreening.models.NativeRuntime;
import org.xrayscreening.models.explain.Heatmap;
import org.xrayscreening.models.inference.CovidClassifier;
import org.xrayscreening.models.registry.ModelRegistry;
import org.xrayscreening.stream.ModelSpec;
import org.xrayscreening.connectors.image.CanonicalImage;
import org.xrayscreening.stream.intake.StudyImage;
import org.xrayscreening.stream.metrics.ScreeningMetrics;

/**
 * Turns recommendations into clinical alerts, with a Grad-CAM heatmap for each flagged study
 * ({@link Decision#COVID_SUSPECTED}, {@link Decision#INDETERMINATE}); keyed by study id.
 *
 * <p>Input 1 is the study's canonical image from intake, held in keyed state (with a TTL) until the study's
 * recommendation, input 2, arrives; any recommendation drops it. For a flagged one, each model that voted is
 * resolved to the exact version the recommendation names (loaded from the registry, a few kept per subtask), its
 * Grad-CAM map is computed on the image, the maps are averaged, and the overlay and raw map go to the
 * {@link HeatmapStore}; the alert carries the overlay's URI. So the cost lands only on flagged studies.
 *
 * <p>A heatmap failure never blocks or loses the alert: it goes out with {@code heatmapMissing} saying why (a
 * reason code, plus the model and version where one is at fault; never patient data), counted in
 * {@code xray_heatmaps_total{outcome}}. If a flagged recommendation overtakes its image, it waits for it at most
 * {@link HeatmapSettings#imageWait()}.
 */
public class FlaggedStudyHeatmaps extends KeyedCoProcessFunction<String, StudyImage, Recommendation, Alert> {

    /** Why a heatmap is missing; the first word of {@code heatmapMissing} and the metric's outcome label. */
    public enum Missing { IMAGE_NOT_HELD, NO_MODEL_SCORES, MODEL_UNAVAILABLE, GRADCAM_FAILED, STORE_WRITE_FAILED }

    private static final Logger LOG = LoggerFactory.getLogger(FlaggedStudyHeatmaps.class);

    private final String registryRoot;
    private final HeatmapSettings settings;
    private final List<ModelSpec> preload;
    private transient ValueState<StudyImage> image;
    private transient ValueState<Recommendation> waiting;
    private transient ModelRegistry registry;
    private transient HeatmapStore store;
    private transient Map<String, CovidClassifier> classifiers;

    /**
     * @param preload the models the job starts serving, loaded in open() so that the first flagged study does not
     *        wait for four model loads; other versions (after a hot swap) are loaded when a recommendation names them
     */
    public FlaggedStudyHeatmaps(String registryRoot, HeatmapSettings settings, List<ModelSpec> preload) {
        if (!settings.enabled()) {
            throw new IllegalArgumentException("heatmaps are off (no store root)");
        }
        this.registryRoot = registryRoot;
        this.settings = settings;
        this.preload = List.copyOf(preload);
    }

    @Override
    public void open(OpenContext openContext) {
        NativeRuntime.logOnce(LOG::info);
        ValueStateDescriptor<StudyImage> imageDescriptor = new ValueStateDescriptor<>("study-image", StudyImage.class);
        imageDescriptor.enableTimeToLive(StateTtlConfig.newBuilder(settings.imageTtl()).build());
        image = getRuntimeContext().getState(imageDescriptor);
        waiting = getRuntimeContext().getState(new ValueStateDescriptor<>("flagged-awaiting-image",
                Recommendation.class));
        registry = new ModelRegistry(Path.of(registryRoot));
        store = new HeatmapStore(Path.of(settings.storeRoot()));
        int capacity = settings.cachedModels();
        classifiers = new LinkedHashMap<>(16, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<String, CovidClassifier> eldest) {
                if (size() > capacity) {
                    eldest.getValue().close();
                    return true;
                }
                return false;
            }
        };
        for (ModelSpec spec : preload) {
            try {
                // fp32 whatever --precision the scoring uses: Grad-CAM back-propagates in fp32 only
                CovidClassifier loaded = CovidClassifier.load(registry, spec.architecture(), spec.ref());
                classifiers.put(spec.architecture().id() + "@" + loaded.version().version(), loaded);
            } catch (Exception e) {
                // not fatal: the heatmap of a study that needs it says so, and the next one tries again
                LOG.warn("heatmap: cannot preload {}: {}", spec, e.toString());
            }
        }
    }

    @Override
    public void processElement1(StudyImage study, Context ctx, Collector<Alert> out) throws Exception {
        Recommendation pending = waiting.value();
        if (pending != null) {
            waiting.clear();
            emit(pending, study, out);
        } else {
            image.update(study);
        }
    }

    @Override
    public void processElement2(Recommendation recommendation, Context ctx, Collector<Alert> out) throws Exception {
        StudyImage held = image.value();
        image.clear();
        if (recommendation.decision() == Decision.NO_COVID_FINDINGS) {
            return;
        }
        if (held == null) {
            waiting.update(recommendation);
            ctx.timerService().registerProcessingTimeTimer(
                    ctx.timerService().currentProcessingTime() + settings.imageWait().toMillis());
            return;
        }
        emit(recommendation, held, out);
    }

    @Override
    public void onTimer(long timestamp, OnTimerContext ctx, Collector<Alert> out) throws Exception {
        Recommendation pending = waiting.value();
        if (pending != null) {
            waiting.clear();
            out.collect(missing(Alert.clinical(pending), Missing.IMAGE_NOT_HELD,
                    "the study's image was not held (expired or never received)"));
        }
    }

    private void emit(Recommendation recommendation, StudyImage study, Collector<Alert> out) {
        Alert alert = Alert.clinical(recommendation);
        List<ModelScore> voters = recommendation.modelScores();
        if (voters.isEmpty()) {
            out.collect(missing(alert, Missing.NO_MODEL_SCORES, "no model answered"));
            return;
        }
        long start = System.nanoTime();
        BufferedImage xray;
        List<Heatmap> maps = new ArrayList<>(voters.size());
        try {
            xray = CanonicalImage.fromPixels(study.width, study.height, study.pixels);
        } catch (RuntimeException e) {
            out.collect(missing(alert, Missing.IMAGE_NOT_HELD, "the held image is unreadable"));
            return;
        }
        for (ModelScore voter : voters) {
            CovidClassifier classifier;
            try {
                classifier = classifier(voter);
            } catch (Exception e) {
                LOG.warn("heatmap: cannot load {}@{}: {}", voter.model(), voter.version(), e.toString());
                out.collect(missing(alert, Missing.MODEL_UNAVAILABLE,
                        voter.model() + "@" + voter.version() + " could not be loaded (" + e.getClass().getSimpleName() + ")"));
                return;
            }
            try {
                maps.add(classifier.heatmap(xray));
            } catch (RuntimeException e) {
                LOG.warn("heatmap: Grad-CAM of {}@{} failed: {}", voter.model(), voter.version(), e.toString());
                out.collect(missing(alert, Missing.GRADCAM_FAILED,
                        "Grad-CAM of " + voter.model() + "@" + voter.version() + " failed (" + e.getClass().getSimpleName() + ")"));
                return;
            }
        }
        URI uri;
        try {
            uri = store.write(study.studyId, voters, xray, Heatmap.mean(maps));
        } catch (Exception e) {
            // the exception's message may hold the path, and the path the study id: log the type only
            LOG.warn("heatmap: writing to the store failed: {}", e.getClass().getName());
            out.collect(missing(alert, Missing.STORE_WRITE_FAILED,
                    "writing to the heatmap store failed (" + e.getClass().getSimpleName() + ")"));
            return;
        }
        ScreeningMetrics.get().heatmaps.labelValues("WRITTEN").inc();
        ScreeningMetrics.get().heatmapSeconds.observe((System.nanoTime() - start) / 1e9);
        out.collect(alert.withHeatmap(uri.toString()));
    }

    private static Alert missing(Alert alert, Missing reason, String detail) {
        ScreeningMetrics.get().heatmaps.labelValues(reason.name()).inc();
        return alert.withHeatmapMissing(reason.name() + ": " + detail);
    }

    /** The exact version the recommendation names, loaded once per subtask (checksums verified on load). */
    private CovidClassifier classifier(ModelScore voter) throws Exception {
        String key = voter.model() + "@" + voter.version();
        CovidClassifier cached = classifiers.get(key);
        if (cached != null) {
            return cached;
        }
        Architecture architecture = Architecture.fromId(voter.model());
        CovidClassifier loaded = CovidClassifier.load(registry, registry.resolve(architecture, voter.version()));
        if (!loaded.version().version().equals(voter.version())) {
            // an alias named like a version must not pass for it: the map would explain another model
            loaded.close();
            throw new IllegalStateException("registry resolved " + key + " to " + loaded.version().version());
        }
        classifiers.put(key, loaded);
        return loaded;
    }

    @Override
    public void close() throws Exception {
        if (classifiers != null) {
            for (CovidClassifier classifier : classifiers.values()) {
                classifier.close();
            }
            classifiers.clear();
        }
        super.close();
    }
}
