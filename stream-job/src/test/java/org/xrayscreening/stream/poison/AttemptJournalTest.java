package org.xrayscreening.stream.poison;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AttemptJournalTest {

    @TempDir
    Path dir;

    AttemptJournal open(int limit) {
        return AttemptJournal.open(new AttemptJournal.Config(dir.toString(), limit), "intake");
    }

    long markers() throws Exception {
        try (Stream<Path> s = Files.list(dir.resolve("intake"))) {
            return s.count();
        }
    }

    @Test
    void finishedAttemptsLeaveNothingBehind() throws Exception {
        AttemptJournal journal = open(2);
        for (int offset = 0; offset < 100; offset++) {
            assertThat(journal.begin(AttemptJournal.key("xray.acquired", 0, offset))).isTrue();
            journal.end();
        }
        assertThat(markers()).isZero();
    }

    @Test
    void attemptsThatNeverReturnedAreCountedAcrossReopeningUpToTheLimit() throws Exception {
        String key = AttemptJournal.key("xray.acquired", 3, 41);
        // two workers die with the record in hand: each journal is dropped without end(), as a crash would
        assertThat(open(2).begin(key)).isTrue();
        assertThat(open(2).begin(key)).isTrue();
        assertThat(markers()).isEqualTo(2);
        AttemptJournal third = open(2);
        assertThat(third.begin(key)).as("two deaths: refused").isFalse();
        third.end(); // nothing was started: a no-op
        assertThat(markers()).isEqualTo(2);
        // a higher limit gives it one more try; other records are not affected
        assertThat(open(3).begin(key)).isTrue();
        AttemptJournal other = open(2);
        assertThat(other.begin(AttemptJournal.key("xray.acquired", 3, 42))).isTrue();
        other.end();
        assertThat(markers()).isEqualTo(3);
    }

    @Test
    void aRecordThatSucceedsAfterADeathIsClearedCompletely() throws Exception {
        String key = AttemptJournal.key("xray.acquired", 0, 7);
        assertThat(open(2).begin(key)).isTrue(); // died once (e.g. its TaskManager was killed)
        AttemptJournal next = open(2);
        assertThat(next.begin(key)).isTrue();
        next.end();
        assertThat(markers()).isZero();
        assertThat(open(2).begin(key)).isTrue();
    }

    @Test
    void oldMarkersAreRemovedWhenAJournalOpens() throws Exception {
        String key = AttemptJournal.key("xray.acquired", 0, 1);
        assertThat(open(1).begin(key)).isTrue();
        Path marker;
        try (Stream<Path> s = Files.list(dir.resolve("intake"))) {
            marker = s.findFirst().orElseThrow();
        }
        Files.setLastModifiedTime(marker, FileTime.from(Instant.now().minus(AttemptJournal.RETENTION).minusSeconds(60)));
        assertThat(open(1).begin(key)).as("the stale marker was removed on open").isTrue();
    }

    @Test
    void offMeansNoJournalAndBadSettingsAreRefused() {
        assertThat(AttemptJournal.open(AttemptJournal.Config.off(), "intake")).isNull();
        assertThatThrownBy(() -> new AttemptJournal.Config(dir.toString(), 0)).hasMessageContaining("at least 1");
        assertThatThrownBy(() -> AttemptJournal.key("../etc", 0, 1)).isInstanceOf(IllegalArgumentException.class);
    }

    /** Not a timed assertion: prints the per-record cost of the journal on this machine (see docs). */
    @Test
    void perRecordCost() throws Exception {
        AttemptJournal journal = open(2);
        int n = 20_000;
        for (int i = 0; i < 2_000; i++) { // warm-up
            journal.begin(AttemptJournal.key("xray.acquired", 1, i));
            journal.end();
        }
        long t0 = System.nanoTime();
        for (int i = 0; i < n; i++) {
            journal.begin(AttemptJournal.key("xray.acquired", 0, i));
            journal.end();
        }
        double micros = (System.nanoTime() - t0) / 1e3 / n;
        System.out.printf("attempt journal: %.1f us per record (begin + end) in %s%n", micros, dir);
        assertThat(markers()).isZero();
    }
}
