package org.xrayscreening.worklist;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.xrayscreening.connectors.event.Alert;
import org.xrayscreening.connectors.event.Decision;
import org.xrayscreening.connectors.event.Recommendation;
import org.xrayscreening.connectors.event.XrayLabelled;

/**
 * Everything the worklist shows, built only from the topics (so a restart that reads them again from the
 * beginning shows the same list): clinical alerts from {@code xray.alerts}, the per-model numbers from
 * {@code xray.recommendations}, where each study's acquisition record lies on {@code xray.acquired} (the image
 * reference is read from there when the study is opened; inline images are not held), and the confirmed labels
 * on {@code xray.labelled}, with the click ids of the worklist's own labels (the idempotency record).
 *
 * <p>Thread-safe: one follower thread writes, HTTP threads read. Records may come in any order across topics
 * (a recommendation before or after its alert, a label before the alert on a replay); each side waits for the
 * other. Memory is bounded: only flagged recommendations are kept, and acquisition locations of studies that
 * were never flagged are forgotten oldest-first beyond {@code maxLocations}.
 */
public final class WorklistState {

    /** Where a study's {@code xray.acquired} record lies. */
    public record Location(String topic, int partition, long offset) {
    }

    /** A confirmed label of a study. {@code clickId}/{@code reviewer} are null for labels from other sources. */
    public record Review(String label, String labelSource, String reviewer, Instant confirmedAt, String clickId) {
        public boolean byRadiologist() {
            return XrayLabelled.RADIOLOGIST.equals(labelSource);
        }
    }

    /** A flagged study as the pages show it. */
    public record Study(String key, String studyId, Alert alert, Recommendation recommendation, Location acquired,
                        Review review) {
        public Instant flaggedAt() {
            return alert.createdAt() != null ? alert.createdAt() : Instant.EPOCH;
        }

        public Instant acquiredAt() {
            return recommendation != null ? recommendation.acquiredAt() : null;
        }

        public boolean reviewed() {
            return review != null;
        }
    }

    private final Secrets secrets;
    private final int maxLocations;
    private final Map<String, Alert> alerts = new HashMap<>();
    private final Map<String, String> keys = new HashMap<>(); // study key -> studyId, flagged studies only
    private final Map<String, Recommendation> recommendations = new HashMap<>();
    private final Map<String, Review> reviews = new HashMap<>();
    private final Map<String, Review> reviewsByClick = new HashMap<>();
    private final LinkedHashMap<String, Location> locations;
    private long version;

    public WorklistState(Secrets secrets, int maxLocations) {
        this.secrets = secrets;
        this.maxLocations = maxLocations;
        this.locations = new LinkedHashMap<>();
    }

    /** A clinical alert (model alerts, without a study, are ignored). A later alert for the study replaces it. */
    public synchronized void onAlert(Alert alert) {
        if (alert.studyId() == null || alert.decision() == null || alert.decision() == Decision.NO_COVID_FINDINGS) {
            return;
        }
        alerts.put(alert.studyId(), alert);
        keys.put(secrets.studyKey(alert.studyId()), alert.studyId());
        version++;
    }

    /** A recommendation; only flagged ones are kept (the others never get an alert). */
    public synchronized void onRecommendation(Recommendation r) {
        if (r.studyId() == null || r.decision() == Decision.NO_COVID_FINDINGS) {
            return;
        }
        recommendations.put(r.studyId(), r);
        version++;
    }

    public synchronized void onAcquired(String studyId, Location location) {
        if (studyId == null) {
            return;
        }
        locations.put(studyId, location);
        // forget the oldest study that was not flagged (a flagged study keeps its image reference)
        for (var it = locations.keySet().iterator(); locations.size() > maxLocations && it.hasNext(); ) {
            if (!alerts.containsKey(it.next())) {
                it.remove();
            }
        }
    }

    /**
     * A confirmed label. The latest label of a study is its review; a label carrying a worklist click id is
     * also remembered under that id, so a retried click is recognised even after a restart.
     */
    public synchronized void onLabel(XrayLabelled labelled, String reviewer, String clickId) {
        Review review = new Review(labelled.label(), labelled.labelSource(), reviewer, labelled.confirmedAt(), clickId);
        Review previous = reviews.get(labelled.studyId());
        if (previous == null || previous.confirmedAt() == null || review.confirmedAt() == null
                || !review.confirmedAt().isBefore(previous.confirmedAt())) {
            reviews.put(labelled.studyId(), review);
        }
        if (clickId != null) {
            reviewsByClick.putIfAbsent(clickId, review);
        }
        version++;
    }

    /** Changes with every update; the list page polls it. */
    public synchronized long version() {
        return version;
    }

    /** The label a click id already published, if any. */
    public synchronized Optional<Review> byClick(String clickId) {
        return Optional.ofNullable(reviewsByClick.get(clickId));
    }

    /** The flagged studies, newest alert first, at most {@code limit}. */
    public synchronized List<Study> flagged(int limit) {
        List<Study> all = new ArrayList<>(alerts.size());
        for (String studyId : alerts.keySet()) {
            all.add(study(studyId));
        }
        all.sort(Comparator.comparing(Study::flaggedAt).reversed().thenComparing(Study::studyId));
        return all.size() > limit ? List.copyOf(all.subList(0, limit)) : all;
    }

    /** The flagged study behind a URL key. */
    public synchronized Optional<Study> byKey(String key) {
        String studyId = keys.get(key);
        return studyId == null ? Optional.empty() : Optional.of(study(studyId));
    }

    public synchronized int flaggedCount() {
        return alerts.size();
    }

    private Study study(String studyId) {
        return new Study(secrets.studyKey(studyId), studyId, alerts.get(studyId), recommendations.get(studyId),
                locations.get(studyId), reviews.get(studyId));
    }
}
