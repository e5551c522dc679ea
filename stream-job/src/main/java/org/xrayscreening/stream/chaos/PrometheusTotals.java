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
     * so consumed must equal recommendations + dead letters exactly. A resubmitted job has its own classloader and so
     * its own counters starting at 0 (the old job's endpoint is closed with its classloader); if the counters went
     * on instead, the difference to the snapshot taken before the resubmit is used.
     */
    static String compare(Map<String, Double> beforeLastRestart, Map<String, Double> after) {
        if (beforeLastRestart == null || after.get("unreachable") > 0) {
            return "metrics unavailable: " + after;
        }
        boolean reset = after.get(CONSUMED) < beforeLastRestart.get(CONSUMED);
        double consumed = after.get(CONSUMED) - (reset ? 0 : beforeLastRestart.get(CONSUMED));
        double recs = after.get(RECOMMENDATIONS) - (reset ? 0 : beforeLastRestart.get(RECOMMENDATIONS));
        double dls = after.get(DEAD_LETTERS) - (reset ? 0 : beforeLastRestart.get(DEAD_LETTERS));
        String first = String.format(Locale.ROOT, "before the resubmit (first job, replays after its faults "
                        + "counted again, counters of the killed TaskManager lost): consumed %.0f, recommendations %.0f, "
                        + "dead letters %.0f", beforeLastRestart.get(CONSUMED), beforeLastRestart.get(RECOMMENDATIONS),
                beforeLastRestart.get(DEAD_LETTERS));
        String last = String.format(Locale.ROOT, "after the resubmit: consumed %.0f, recommendations %.0f, "
                + "dead letters %.0f", consumed, recs, dls);
        return (consumed == recs + dls && consumed > 0 ? "metrics agree: " : "metrics DISAGREE: ") + last + "\n" + first;
    }
}
