package org.xrayscreening.stream.poison;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The bystander of docs/reliability.md (Findings): record Y is in the intake operator of the TaskManager whose
 * model operator dies on the poison image X, and the replay puts Y in flight again when X runs again. Each
 * simulated TaskManager has its own journals over the same folder and its own {@link SuspectIsolation} (a new JVM);
 * its death abandons every attempt in flight without ending it, as a halt would. A unit's work lasts until its
 * TaskManager dies, so the order in which the test starts units decides who is in flight at the death.
 */
class BystanderDeathTest {

    static final int LIMIT = 2;
    static final String POISON = AttemptJournal.key("xray.acquired", 0, 17); // kills the model operator
    static final String BYSTANDER = AttemptJournal.key("xray.acquired", 1, 4); // harmless, in the intake
    static final String NEWCOMER = AttemptJournal.key("xray.acquired", 1, 5); // harmless, never died

    @TempDir
    Path dir;

    /** One TaskManager JVM: two operators' journals and the JVM's isolation. */
    final class TaskManager {
        final boolean isolate;
        final SuspectIsolation isolation = new SuspectIsolation();
        final AttemptJournal model = AttemptJournal.open(new AttemptJournal.Config(dir.toString(), LIMIT), "model-mobilenet");
        final AttemptJournal intake = AttemptJournal.open(new AttemptJournal.Config(dir.toString(), LIMIT), "intake");
        final CountDownLatch death = new CountDownLatch(1);
        final List<Thread> units = new ArrayList<>();
        volatile boolean dead;

        TaskManager(boolean isolate) {
            this.isolate = isolate;
        }

        /** Starts a journaled unit on its own thread, as an operator would: suspects enter alone when isolating. */
        void start(AttemptJournal journal, String key) {
            Thread thread = new Thread(() -> {
                boolean suspect = isolate && journal.previousAttempts(key) > 0;
                try (SuspectIsolation.Unit unit = isolation.enter(suspect)) {
                    if (dead) {
                        return; // the JVM is gone: nothing it did after its death is on disk
                    }
                    if (journal.beginAttempt(key) == 0) {
                        return; // refused: dead-lettered
                    }
                    death.await(); // in flight until the JVM dies; the attempt is never ended
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            units.add(thread);
            thread.start();
        }

        void die() throws InterruptedException {
            dead = true;
            death.countDown();
            for (Thread unit : units) {
                unit.join(10_000);
                assertThat(unit.isAlive()).isFalse();
            }
        }
    }

    int deaths(String operator, String key) {
        int n = 0;
        while (Files.exists(dir.resolve(operator).resolve(key + "#" + (n + 1)))) {
            n++;
        }
        return n;
    }

    /** The first death: both records in flight together (neither is a suspect yet, so isolation cannot help). */
    void firstDeath(boolean isolate) throws Exception {
        TaskManager first = new TaskManager(isolate);
        first.start(first.model, POISON);
        first.start(first.intake, BYSTANDER);
        SuspectIsolationTest.await(() -> deaths("model-mobilenet", POISON) == 1 && deaths("intake", BYSTANDER) == 1,
                "both attempts are open");
        first.die();
    }

    @Test
    void withIsolationTheReplayedPoisonImageRunsAloneAndOnlyItIsDeadLettered() throws Exception {
        firstDeath(true);

        TaskManager second = new TaskManager(true);
        second.start(second.model, POISON);
        SuspectIsolationTest.await(() -> deaths("model-mobilenet", POISON) == 2, "the poison image runs again");
        assertThat(second.isolation.suspectRunning()).isTrue();
        second.start(second.intake, BYSTANDER); // a suspect too (one death): waits for the lock
        second.start(second.intake, NEWCOMER); // not a suspect: waits as well
        SuspectIsolationTest.await(() -> second.isolation.waiting() == 2, "both intake records wait");
        assertThat(deaths("intake", BYSTANDER)).as("the bystander is not in flight").isEqualTo(1);
        assertThat(deaths("intake", NEWCOMER)).isZero();
        second.die();

        assertThat(deaths("model-mobilenet", POISON)).isEqualTo(LIMIT);
        assertThat(deaths("intake", BYSTANDER)).as("the second death was not charged to the bystander").isEqualTo(1);
        assertThat(deaths("intake", NEWCOMER)).isZero();

        // the restarted TaskManager dead-letters the poison image and answers the bystander, which clears it
        TaskManager third = new TaskManager(true);
        assertThat(third.model.beginAttempt(POISON)).as("refused").isZero();
        int attempt = third.intake.beginAttempt(BYSTANDER);
        assertThat(attempt).isEqualTo(2);
        third.intake.endAttempt(BYSTANDER, attempt);
        assertThat(deaths("intake", BYSTANDER)).isZero();
    }

    /** The control: without isolation the replay repeats the overlap and the harmless record reaches the limit. */
    @Test
    void withoutIsolationTheBystanderIsInFlightAtBothDeathsAndReachesTheLimit() throws Exception {
        firstDeath(false);

        TaskManager second = new TaskManager(false);
        second.start(second.model, POISON);
        second.start(second.intake, BYSTANDER);
        SuspectIsolationTest.await(() -> deaths("model-mobilenet", POISON) == 2 && deaths("intake", BYSTANDER) == 2,
                "both attempts are open again");
        second.die();

        TaskManager third = new TaskManager(false);
        assertThat(third.model.beginAttempt(POISON)).isZero();
        assertThat(third.intake.beginAttempt(BYSTANDER)).as("the harmless record would be dead-lettered").isZero();
    }
}
