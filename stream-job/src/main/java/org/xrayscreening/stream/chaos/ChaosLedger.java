package org.xrayscreening.stream.chaos;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What the chaos run put on {@code xray.acquired} and what came back on the output topics (read_committed), and
 * the verdict: every input exactly one result (a recommendation for a valid study, a dead letter for a bad
 * input, with its expected reason where one is given, e.g. for a bad-input corpus entry), no duplicates, no gaps. Inputs are grouped by the fault that was the latest one when they were produced,
 * so the table shows what each fault did to the records around it. Thread-safe.
 */
public final class ChaosLedger {

    /** One table row: the inputs produced in one fault's window and what became of them. */
    public record Row(String fault, long inputs, long recommendations, long deadLetters, long duplicates,
                      long missing, long wrongOutcome) {}

    /** The expected outcome of a valid study. */
    public static final String RECOMMENDATION = "RECOMMENDATION";
    /** The expected outcome of a bad input whose reason is not checked. */
    public static final String ANY_DEAD_LETTER = "DEAD_LETTER";

    /** @param expected {@link #RECOMMENDATION}, {@link #ANY_DEAD_LETTER} or a dead-letter reason's name */
    private record Input(String expected, int segment) {}

    private final Map<String, Input> inputs = new LinkedHashMap<>();
    private final Map<String, Integer> recommendations = new HashMap<>();
    private final Map<String, Integer> deadLetters = new HashMap<>();
    private final Map<String, List<String>> deadLetterReasons = new HashMap<>();
    private long unknownOutputs;

    /** An input the broker acknowledged; {@code valid} false for a bad input of any reason. Keys are unique per run. */
    public synchronized void produced(String key, boolean valid, int segment) {
        produced(key, valid ? RECOMMENDATION : ANY_DEAD_LETTER, segment);
    }

    /** An input that must end as {@code expected}: {@link #RECOMMENDATION}, {@link #ANY_DEAD_LETTER} or a reason. */
    public synchronized void produced(String key, String expected, int segment) {
        if (inputs.putIfAbsent(key, new Input(expected, segment)) != null) {
            throw new IllegalStateException("input key produced twice: " + key);
        }
    }

    public synchronized void recommendation(String key) {
        count(recommendations, key);
    }

    public synchronized void deadLetter(String key) {
        deadLetter(key, null);
    }

    /** A dead letter with its reason (a {@code DeadLetterReason} name; null if unknown). */
    public synchronized void deadLetter(String key, String reason) {
        count(deadLetters, key);
        deadLetterReasons.computeIfAbsent(String.valueOf(key), k -> new ArrayList<>()).add(reason);
    }

    /** The reasons of the dead letters read for {@code key} so far (empty if none). */
    public synchronized List<String> deadLetterReasons(String key) {
        return List.copyOf(deadLetterReasons.getOrDefault(key, List.of()));
    }

    /** Every result read for {@code key}: {@link #RECOMMENDATION} for each recommendation, then each dead letter's reason. */
    public synchronized List<String> outcomes(String key) {
        List<String> got = new ArrayList<>();
        for (int i = recommendations.getOrDefault(key, 0); i > 0; i--) {
            got.add(RECOMMENDATION);
        }
        got.addAll(deadLetterReasons.getOrDefault(key, List.of()));
        return got;
    }

    /** Inputs with a result of the wrong kind or reason, as "key: expected X, got Y" lines (keys are not patient data). */
    public synchronized List<String> wrongOutcomes() {
        List<String> wrong = new ArrayList<>();
        for (Map.Entry<String, Input> e : inputs.entrySet()) {
            if (isWrong(e.getKey(), e.getValue())) {
                wrong.add(e.getKey() + ": expected " + e.getValue().expected() + ", got " + outcomes(e.getKey()));
            }
        }
        return wrong;
    }

    private boolean isWrong(String key, Input input) {
        int recs = recommendations.getOrDefault(key, 0);
        int dls = deadLetters.getOrDefault(key, 0);
        return switch (input.expected()) {
            case RECOMMENDATION -> dls > 0;
            case ANY_DEAD_LETTER -> recs > 0;
            default -> recs > 0 || deadLetterReasons.getOrDefault(key, List.of()).stream()
                    .anyMatch(r -> !input.expected().equals(r));
        };
    }

    private void count(Map<String, Integer> results, String key) {
        if (key == null || !inputs.containsKey(key)) {
            unknownOutputs++;
        }
        results.merge(String.valueOf(key), 1, Integer::sum);
    }

    /** Forgets every result (not the inputs), for a fresh read of the output topics. */
    public synchronized void clearResults() {
        recommendations.clear();
        deadLetters.clear();
        deadLetterReasons.clear();
        unknownOutputs = 0;
    }

    public synchronized long inputs() {
        return inputs.size();
    }

    /** Inputs that have no result yet. */
    public synchronized long missing() {
        return inputs.keySet().stream().filter(k -> results(k) == 0).count();
    }

    /** Results for keys this run never produced (e.g. left over on the topics): should be 0. */
    public synchronized long unknownOutputs() {
        return unknownOutputs;
    }

    private int results(String key) {
        return recommendations.getOrDefault(key, 0) + deadLetters.getOrDefault(key, 0);
    }

    /** One row per fault window (segment 0 is before the first fault), then the total. */
    public synchronized List<Row> rows(List<String> faults) {
        List<Row> rows = new ArrayList<>();
        long[] total = new long[6];
        for (int s = 0; s < faults.size(); s++) {
            long[] c = new long[6];
            for (Map.Entry<String, Input> e : inputs.entrySet()) {
                if (e.getValue().segment() != s) {
                    continue;
                }
                String key = e.getKey();
                int recs = recommendations.getOrDefault(key, 0);
                int dls = deadLetters.getOrDefault(key, 0);
                c[0]++;
                c[1] += recs;
                c[2] += dls;
                c[3] += Math.max(0, recs + dls - 1);
                c[4] += recs + dls == 0 ? 1 : 0;
                c[5] += isWrong(key, e.getValue()) ? 1 : 0;
            }
            rows.add(new Row(faults.get(s), c[0], c[1], c[2], c[3], c[4], c[5]));
            for (int i = 0; i < 6; i++) {
                total[i] += c[i];
            }
        }
        rows.add(new Row("total", total[0], total[1], total[2], total[3], total[4], total[5]));
        return rows;
    }

    /** The run passes when every input has exactly one result of the right kind and nothing else came back. */
    public synchronized boolean exactlyOnce() {
        List<Row> all = rows(segmentNames());
        Row total = all.get(all.size() - 1);
        return total.duplicates() == 0 && total.missing() == 0 && total.wrongOutcome() == 0 && unknownOutputs == 0;
    }

    private List<String> segmentNames() {
        int max = inputs.values().stream().mapToInt(Input::segment).max().orElse(0);
        List<String> names = new ArrayList<>();
        for (int i = 0; i <= max; i++) {
            names.add("segment " + i);
        }
        return names;
    }

    /** The table the chaos run prints; recovery times by row, "-" where there is none. */
    public static String table(List<Row> rows, List<String> recoveryTimes) {
        StringBuilder sb = new StringBuilder();
        String format = "%-44s %9s %7s %16s %13s %11s %8s %14s%n";
        sb.append(String.format(Locale.ROOT, format, "fault", "recovery", "inputs", "recommendations",
                "dead letters", "duplicates", "missing", "wrong outcome"));
        for (int i = 0; i < rows.size(); i++) {
            Row r = rows.get(i);
            String recovery = i < recoveryTimes.size() ? recoveryTimes.get(i) : "-";
            sb.append(String.format(Locale.ROOT, format, r.fault(), recovery, r.inputs(), r.recommendations(),
                    r.deadLetters(), r.duplicates(), r.missing(), r.wrongOutcome()));
        }
        return sb.toString();
    }
}
