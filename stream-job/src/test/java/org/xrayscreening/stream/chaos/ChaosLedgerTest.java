package org.xrayscreening.stream.chaos;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

class ChaosLedgerTest {

    private static final List<String> FAULTS = List.of("none", "kill");

    @Test
    void everyInputWithExactlyOneResultOfTheRightKindPasses() {
        ChaosLedger ledger = new ChaosLedger();
        ledger.produced("a", true, 0);
        ledger.produced("bad", false, 0);
        ledger.produced("b", true, 1);
        ledger.recommendation("a");
        ledger.deadLetter("bad");
        ledger.recommendation("b");

        assertThat(ledger.exactlyOnce()).isTrue();
        assertThat(ledger.missing()).isZero();
        assertThat(ledger.rows(FAULTS)).containsExactly(
                new ChaosLedger.Row("none", 2, 1, 1, 0, 0, 0),
                new ChaosLedger.Row("kill", 1, 1, 0, 0, 0, 0),
                new ChaosLedger.Row("total", 3, 2, 1, 0, 0, 0));
    }

    @Test
    void duplicatesGapsWrongKindsAndStrangersAreEachCountedAndFail() {
        ChaosLedger ledger = new ChaosLedger();
        ledger.produced("a", true, 0);
        ledger.produced("b", true, 1);
        ledger.produced("bad", false, 1);
        ledger.produced("c", true, 1);
        ledger.recommendation("a");
        ledger.recommendation("a");      // a duplicate (a replay that leaked past the transaction)
        ledger.recommendation("bad");    // a bad input must never be recommended on
        ledger.deadLetter("c");          // a valid study must not be dead-lettered here
        // b: no result at all

        assertThat(ledger.exactlyOnce()).isFalse();
        assertThat(ledger.missing()).isEqualTo(1);
        assertThat(ledger.rows(FAULTS)).containsExactly(
                new ChaosLedger.Row("none", 1, 2, 0, 1, 0, 0),
                new ChaosLedger.Row("kill", 3, 1, 1, 0, 1, 2),
                new ChaosLedger.Row("total", 4, 3, 1, 1, 1, 2));

        ChaosLedger clean = new ChaosLedger();
        clean.produced("x", true, 0);
        clean.recommendation("x");
        clean.recommendation("left-over-from-another-run");
        assertThat(clean.unknownOutputs()).isEqualTo(1);
        assertThat(clean.exactlyOnce()).isFalse();
    }

    @Test
    void anInputKeyIsProducedOnce() {
        ChaosLedger ledger = new ChaosLedger();
        ledger.produced("a", true, 0);
        assertThatThrownBy(() -> ledger.produced("a", true, 1)).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void tableHasOneLinePerRowWithItsRecoveryTime() {
        ChaosLedger ledger = new ChaosLedger();
        ledger.produced("a", true, 1);
        ledger.recommendation("a");
        String table = ChaosLedger.table(ledger.rows(FAULTS), List.of("-", "12.5 s"));
        List<String> lines = table.lines().toList();
        assertThat(lines).hasSize(4);
        assertThat(lines.get(0)).contains("fault", "recovery", "duplicates", "missing");
        assertThat(lines.get(2)).startsWith("kill").contains("12.5 s");
        assertThat(lines.get(3)).startsWith("total");
    }

    @Test
    void prometheusCountersAreSummedOverLabelsAndTaskManagers() {
        Map<String, Double> totals = new TreeMap<>();
        String tm1 = """
                # HELP xray_events_consumed_total Records read from xray.acquired
                # TYPE xray_events_consumed_total counter
                xray_events_consumed_total 7.0
                xray_recommendations_total{decision="NO_COVID_FINDINGS"} 4.0
                xray_recommendations_total{decision="INDETERMINATE"} 1.0
                xray_dead_letters_total{reason="MALFORMED_JSON"} 1.0
                xray_late_model_outcomes_total{model="mobilenet"} 3.0
                """;
        String tm2 = """
                xray_events_consumed_total 3.0
                xray_recommendations_total{decision="COVID_SUSPECTED"} 2.0
                xray_dead_letters_total{reason="IMAGE_SOURCE_NOT_ALLOWED"} 1.0
                """;
        PrometheusTotals.add(tm1, totals);
        PrometheusTotals.add(tm2, totals);
        assertThat(totals).containsEntry(PrometheusTotals.CONSUMED, 10.0)
                .containsEntry(PrometheusTotals.RECOMMENDATIONS, 7.0)
                .containsEntry(PrometheusTotals.DEAD_LETTERS, 2.0)
                .hasSize(3);
    }

    @Test
    void countersAfterTheLastRestartMustBalanceExactly() {
        Map<String, Double> firstJob = totals(40, 38, 4, 0);
        Map<String, Double> closedAtStop = totals(0, 0, 0, 2);
        // the resubmitted job's own counters (new classloader): 20 consumed = 18 + 2
        assertThat(PrometheusTotals.compare(firstJob, closedAtStop, totals(20, 18, 2, 0)))
                .startsWith("metrics agree").contains("consumed 20,").contains("consumed 40,");
        assertThat(PrometheusTotals.compare(firstJob, closedAtStop, totals(20, 17, 2, 0))).startsWith("metrics DISAGREE");
        // endpoints that survived the stop: the difference to their values at the stop must balance
        Map<String, Double> stillServing = totals(40, 38, 4, 0);
        assertThat(PrometheusTotals.compare(firstJob, stillServing, totals(60, 56, 6, 0))).startsWith("metrics agree");
        assertThat(PrometheusTotals.compare(firstJob, stillServing, totals(60, 55, 6, 0))).startsWith("metrics DISAGREE");
        // one TaskManager still served the old job's counters: the two cannot be told apart
        assertThat(PrometheusTotals.compare(firstJob, totals(30, 28, 2, 1), totals(20, 18, 2, 0))).startsWith("metrics unknown");
        // nothing consumed after the restart proves nothing
        assertThat(PrometheusTotals.compare(firstJob, closedAtStop, totals(0, 0, 0, 0))).startsWith("metrics DISAGREE");
        assertThat(PrometheusTotals.compare(firstJob, closedAtStop, totals(20, 18, 2, 1))).startsWith("metrics unavailable");
    }

    private static Map<String, Double> totals(double consumed, double recommendations, double deadLetters,
                                              double unreachable) {
        return Map.of(PrometheusTotals.CONSUMED, consumed, PrometheusTotals.RECOMMENDATIONS, recommendations,
                PrometheusTotals.DEAD_LETTERS, deadLetters, "unreachable", unreachable);
    }

    @Test
    void aDeadLetterWithAnotherReasonThanExpectedIsAWrongOutcome() {
        ChaosLedger ledger = new ChaosLedger();
        ledger.produced("corpus-png-truncated", "UNDECODABLE_IMAGE", 0);
        ledger.produced("corpus-type-gif", "UNKNOWN_CONTENT_TYPE", 0);
        ledger.produced("corpus-png-palette", ChaosLedger.RECOMMENDATION, 0);
        ledger.deadLetter("corpus-png-truncated", "UNDECODABLE_IMAGE");
        ledger.deadLetter("corpus-type-gif", "UNDECODABLE_IMAGE"); // dead, but for the wrong reason
        ledger.recommendation("corpus-png-palette");

        assertThat(ledger.exactlyOnce()).isFalse();
        assertThat(ledger.rows(List.of("none")).get(0)).isEqualTo(new ChaosLedger.Row("none", 3, 1, 2, 0, 0, 1));
        assertThat(ledger.wrongOutcomes()).containsExactly(
                "corpus-type-gif: expected UNKNOWN_CONTENT_TYPE, got [UNDECODABLE_IMAGE]");
        assertThat(ledger.outcomes("corpus-png-truncated")).containsExactly("UNDECODABLE_IMAGE");
        assertThat(ledger.outcomes("corpus-png-palette")).containsExactly(ChaosLedger.RECOMMENDATION);

        ChaosLedger right = new ChaosLedger();
        right.produced("corpus-type-gif", "UNKNOWN_CONTENT_TYPE", 0);
        right.deadLetter("corpus-type-gif", "UNKNOWN_CONTENT_TYPE");
        assertThat(right.exactlyOnce()).isTrue();
        assertThat(right.wrongOutcomes()).isEmpty();
    }
}
