package org.xrayscreening.stream.gateway;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.model.registry.PrometheusRegistry;

/**
 * The DICOM gateway's Prometheus metrics, one set per JVM. Labels are skip reasons, outcomes and error kinds
 * only: never a patient name, patient ID, accession number or UID.
 */
public final class GatewayMetrics {

    private static final GatewayMetrics INSTANCE = new GatewayMetrics(PrometheusRegistry.defaultRegistry);

    public final Counter published;
    public final Counter skipped;
    public final Gauge position;
    public final Counter writeBacks;
    public final Counter errors;

    private GatewayMetrics(PrometheusRegistry registry) {
        published = Counter.builder().name("xray_gateway_instances_published_total")
                .help("Chest X-ray instances published to xray.acquired (committed)").register(registry);
        skipped = Counter.builder().name("xray_gateway_instances_skipped_total")
                .help("New Orthanc instances that are not frontal chest X-rays, by reason (never dead-lettered)")
                .labelNames("reason").register(registry);
        position = Gauge.builder().name("xray_gateway_change_sequence")
                .help("Orthanc change-feed sequence number committed with the last published batch").register(registry);
        writeBacks = Counter.builder().name("xray_gateway_recommendation_writebacks_total")
                .help("Recommendations read back from Kafka, by outcome (written to Orthanc, not from this Orthanc, unreadable)")
                .labelNames("outcome").register(registry);
        errors = Counter.builder().name("xray_gateway_errors_total")
                .help("Failures that were retried, by kind (orthanc, kafka)").labelNames("kind").register(registry);
    }

    public static GatewayMetrics get() {
        return INSTANCE;
    }
}
