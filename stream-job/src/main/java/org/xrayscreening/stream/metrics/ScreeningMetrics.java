package org.xrayscreening.stream.metrics;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.exporter.httpserver.HTTPServer;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;

/**
 * The job's Prometheus metrics. One set per JVM (a TaskManager, or the local run): Flink runs many operator
 * instances in one process, and Prometheus scrapes processes, so the metrics live in the process-wide
 * registry and every subtask updates the same series.
 *
 * <p>Labels are model names, model versions, decisions and dead-letter reasons only: never a study or
 * patient identifier (those would also explode the series count).
 */
public final class ScreeningMetrics {

    private static final ScreeningMetrics INSTANCE = new ScreeningMetrics(PrometheusRegistry.defaultRegistry);
    private static final Object SERVER_LOCK = new Object();
    /** Per-JVM override of the job's metrics port, e.g. {@code -Dxray.metrics.port=9405} on a TaskManager. */
    public static final String PORT_PROPERTY = "xray.metrics.port";
    /** The endpoint, started or starting; null when none. */
    private static FutureTask<HTTPServer> server;

    public final Counter eventsConsumed;
    public final Counter recommendations;
    public final Counter deadLetters;
    public final Counter alerts;
    public final Counter lateModelOutcomes;
    public final Histogram inferenceSeconds;
    public final Histogram inferenceBatchSize;
    public final Histogram endToEndSeconds;
    public final Gauge activeModelVersion;
    public final Counter modelSwaps;
    public final Counter modelUpdateFailures;
    public final Gauge liveSensitivity;
    public final Gauge liveSpecificity;
    public final Gauge liveLabelledStudies;
    public final Counter heatmaps;
    public final Counter ensembleSettingsFallbacks;
    public final Gauge ensembleSettingsInfo;
    public final Histogram heatmapSeconds;
    private final Map<String, String> activeVersions = new ConcurrentHashMap<>();

    private ScreeningMetrics(PrometheusRegistry registry) {
        eventsConsumed = Counter.builder().name("xray_events_consumed_total")
                .help("Records read from xray.acquired").register(registry);
        recommendations = Counter.builder().name("xray_recommendations_total")
                .help("Recommendations emitted, by decision").labelNames("decision").register(registry);
        deadLetters = Counter.builder().name("xray_dead_letters_total")
                .help("Records sent to the dead-letter topic, by reason").labelNames("reason").register(registry);
        alerts = Counter.builder().name("xray_alerts_total")
                .help("Alerts emitted, by type").labelNames("type").register(registry);
        lateModelOutcomes = Counter.builder().name("xray_late_model_outcomes_total")
                .help("Model answers that arrived after their study's recommendation was emitted")
                .labelNames("model").register(registry);
        inferenceSeconds = Histogram.builder().name("xray_inference_seconds")
                .help("Time of one model inference (preprocessing included)").labelNames("model")
                .classicUpperBounds(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10).register(registry);
        inferenceBatchSize = Histogram.builder().name("xray_inference_batch_size")
                .help("Studies scored in one forward pass (micro-batching)").labelNames("model")
                .classicUpperBounds(1, 2, 4, 8, 16, 32).register(registry);
        endToEndSeconds = Histogram.builder().name("xray_end_to_end_seconds")
                .help("From acquisition time to the recommendation being produced")
                .classicUpperBounds(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300).register(registry);
        activeModelVersion = Gauge.builder().name("xray_active_model_version")
                .help("1 for the model version each model operator serves").labelNames("model", "version")
                .register(registry);
        modelSwaps = Counter.builder().name("xray_model_swaps_total")
                .help("Model versions switched in by a model operator subtask").labelNames("model").register(registry);
        modelUpdateFailures = Counter.builder().name("xray_model_update_failures_total")
                .help("Model updates refused (checksum, load or smoke-test failure); the old version kept serving")
                .labelNames("model").register(registry);
        liveSensitivity = Gauge.builder().name("xray_live_sensitivity")
                .help("Sensitivity over the most recent labelled studies (rolling window)")
                .labelNames("model", "version").register(registry);
        liveSpecificity = Gauge.builder().name("xray_live_specificity")
                .help("Specificity over the most recent labelled studies (rolling window)")
                .labelNames("model", "version").register(registry);
        liveLabelledStudies = Gauge.builder().name("xray_live_labelled_studies")
                .help("Labelled studies in the rolling window").labelNames("model", "version").register(registry);
        heatmaps = Counter.builder().name("xray_heatmaps_total")
                .help("Heatmaps of flagged studies: WRITTEN, or why one is missing (the alert went out without it)")
                .labelNames("outcome").register(registry);
        ensembleSettingsFallbacks = Counter.builder().name("xray_ensemble_settings_fallbacks_total")
                .help("Studies decided by the uncalibrated policy although ensemble settings are loaded, by why"
                        + " (version_mismatch, model_not_in_settings, stack_model_missing)")
                .labelNames("reason").register(registry);
        ensembleSettingsInfo = Gauge.builder().name("xray_ensemble_settings_info")
                .help("1 for the ensemble settings the ensemble operator decides with").labelNames("version", "combination")
                .register(registry);
        heatmapSeconds = Histogram.builder().name("xray_heatmap_seconds")
                .help("Time to make and store one flagged study's heatmap (Grad-CAM of every voting model)")
                .classicUpperBounds(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30).register(registry);
    }

    public static ScreeningMetrics get() {
        return INSTANCE;
    }

    /** Marks {@code version} as the one serving {@code model}, dropping the series of the previous one. */
    public void setActiveVersion(String model, String version) {
        String previous = activeVersions.put(model, version);
        if (previous != null && !previous.equals(version)) {
            activeModelVersion.remove(model, previous);
        }
        activeModelVersion.labelValues(model, version).set(1);
    }

    /**
     * Starts the HTTP endpoint once per JVM; later calls (other subtasks in the same TaskManager) are no-ops.
     * Port 0 disables it. The JVM's system property {@value #PORT_PROPERTY} wins over the job's port: on a
     * standalone cluster with several TaskManagers on one host (scripts/cluster.sh) each needs its own.
     *
     * <p>The server is started on a thread of its own, not on the caller's: the caller is a task thread in
     * {@code open()}, and Flink interrupts it when the task is cancelled (a failover while the job is still
     * starting). In the chaos run a cancellation that hit the start left the port bound by a server nobody held,
     * so every later attempt in that TaskManager failed with "Address already in use" and the job restarted
     * forever. Started apart, the server is kept even when the caller gives up waiting for it.
     */
    public static void serve(String host, int port) {
        int effective = Integer.getInteger(PORT_PROPERTY, port);
        if (effective <= 0) {
            return;
        }
        FutureTask<HTTPServer> start;
        synchronized (SERVER_LOCK) {
            if (server == null) {
                server = new FutureTask<>(() -> HTTPServer.builder().hostname(host).port(effective).buildAndStart());
                Thread starter = new Thread(server, "xray-metrics-endpoint-start");
                starter.setDaemon(true);
                starter.start();
            }
            start = server;
        }
        try {
            start.get();
        } catch (ExecutionException e) {
            synchronized (SERVER_LOCK) {
                if (server == start) {
                    server = null; // nothing is bound: a later call may try again
                }
            }
            throw new UncheckedIOException("cannot serve metrics on " + host + ":" + effective,
                    e.getCause() instanceof IOException io ? io : new IOException(e.getCause()));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while the metrics endpoint on " + host + ":" + effective
                    + " was starting (it goes on starting and is kept)", e);
        }
    }

    /** The started endpoint, or null if none is running (waits for a start in progress). */
    private static HTTPServer started() {
        FutureTask<HTTPServer> start;
        synchronized (SERVER_LOCK) {
            start = server;
        }
        if (start == null) {
            return null;
        }
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    return start.get();
                } catch (InterruptedException e) {
                    interrupted = true; // a release hook must not leave the port bound: wait on
                } catch (ExecutionException e) {
                    return null;
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    public static int servingPort() {
        HTTPServer running = started();
        return running == null ? -1 : running.getPort();
    }

    public static void stopServing() {
        HTTPServer running = started();
        synchronized (SERVER_LOCK) {
            server = null;
        }
        if (running != null) {
            running.close();
        }
    }
}
