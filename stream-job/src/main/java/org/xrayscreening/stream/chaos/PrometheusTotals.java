package org.xrayscreening.stream.chaos;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * The job's three flow counters summed over every TaskManager's Prometheus endpoint: records consumed from
 * {@code xray.acquired}, recommendations, dead letters (all reasons and decisions).
 */
final class PrometheusTotals {

    static final String CONSUMED = "xray_events_consumed_total";
    static final String RECOMMENDATIONS = "xray_recommendations_total";
    static final String DEAD_LETTERS = "xray_dead_letters_total";

    private PrometheusTotals() {}

    /** Sums over all TaskManagers; a TaskManager that does not answer adds a "unreachable" count. */
    static Map<String, Double> scrape(StandaloneCluster cluster) {
        Map<String, Double> totals = new LinkedHashMap<>(Map.of(CONSUMED, 0.0, RECOMMENDATIONS, 0.0, DEAD_LETTERS, 0.0));
        double unreachable = 0;
        for (int port : cluster.metricsPorts()) {
            String text = cluster.scrape(port);
            if (text == null) {
                unreachable++;
            } else {
                add(text, totals);
            }
        }
        totals.put("unreachable", unreachable);
        return totals;
    }

    /** Scrapes until no TaskManager answers any more (the stopped job's endpoints closed) or the time is up. */
    static Map<String, Double> awaitClosed(StandaloneCluster cluster, java.time.Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        Map<String, Double> totals = scrape(cluster);
        while (totals.get("unreachable") < cluster.metricsPorts().size() && System.nanoTime() < deadline) {
            Thread.sleep(500);
            totals = scrape(cluster);
        }
        return totals;
    }

    /** Adds the samples of the three counters in a Prometheus text exposition to {@code totals}. */
    static void add(String exposition, Map<String, Double> totals) {
        for (String line : exposition.split("\n")) {
            if (line.startsWith("#")) {
                continue;
            }
            for (String name : new String[] {CONSUMED, RECOMMENDATIONS, DEAD_LETTERS}) {
                if (line.startsWith(name + " ") || line.startsWith(name + "{")) {
                    String value = line.substring(line.lastIndexOf(' ') + 1);
                    totals.merge(name, Double.parseDouble(value), Double::sum);
                }
            }
        }
    }

    /**
     * The counters of the run after the last restart (the resubmit from the savepoint): nothing is replayed there,
     * so consumed must equal recommendations + dead letters exactly. A resubmitted job has its own classloader and
     * so its own counters from 0: the stopped job's endpoints close with its classloader, which
     * {@code beforeLastRestart} (scraped between the stop and the resubmit) shows as unreachable. If they still
     * answered, the new job's counters went on from there and the difference is used.
     *
     * @param firstJob the first job's counters just before it was stopped (reported, not checked: they include
     *                 replays after its faults, and a TaskManager killed with -9 took its counts with it)
     */
    static String compare(Map<String, Double> firstJob, Map<String, Double> beforeLastRestart, Map<String, Double> after) {
        if (beforeLastRestart == null || after.get("unreachable") > 0) {
            return "metrics unavailable: " + after;
        }
        boolean fresh = beforeLastRestart.get("unreachable") > 0;
        if (fresh && beforeLastRestart.get(CONSUMED) > 0) {
            return "metrics unknown: only some TaskManagers closed the stopped job's endpoint: " + beforeLastRestart;
        }
        double consumed = after.get(CONSUMED) - (fresh ? 0 : beforeLastRestart.get(CONSUMED));
        double recs = after.get(RECOMMENDATIONS) - (fresh ? 0 : beforeLastRestart.get(RECOMMENDATIONS));
        double dls = after.get(DEAD_LETTERS) - (fresh ? 0 : beforeLastRestart.get(DEAD_LETTERS));
        String last = String.format(Locale.ROOT, "after the resubmit (%s): consumed %.0f, recommendations %.0f, "
                + "dead letters %.0f", fresh ? "the new job's own counters" : "difference to the counters at the stop",
                consumed, recs, dls);
        String first = firstJob == null ? "" : String.format(Locale.ROOT, "%nfirst job, just before the stop (replays "
                        + "after its faults counted again, counts of the killed TaskManager lost): consumed %.0f, "
                        + "recommendations %.0f, dead letters %.0f", firstJob.get(CONSUMED),
                firstJob.get(RECOMMENDATIONS), firstJob.get(DEAD_LETTERS));
        return (consumed == recs + dls && consumed > 0 ? "metrics agree: " : "metrics DISAGREE: ") + last + first;
    }
}
