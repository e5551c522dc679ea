package org.xrayscreening.stream.poison;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;

class SuspectIsolationTest {

    final SuspectIsolation isolation = new SuspectIsolation();

    /** A unit of work on its own thread: enters, signals {@code entered}, stays in until {@code leave} opens. */
    Thread unit(boolean suspect, CountDownLatch entered, CountDownLatch leave) {
        Thread thread = new Thread(() -> {
            try (SuspectIsolation.Unit unit = isolation.enter(suspect)) {
                entered.countDown();
                leave.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, suspect ? "suspect" : "reader");
        thread.start();
        return thread;
    }

    static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting until " + what);
            }
            Thread.sleep(5);
        }
    }

    @Test
    void nonSuspectsRunSideBySide() throws Exception {
        CyclicBarrier bothInside = new CyclicBarrier(2);
        Runnable work = () -> {
            try (SuspectIsolation.Unit unit = isolation.enter(false)) {
                bothInside.await(10, TimeUnit.SECONDS); // times out unless the other unit is inside at the same time
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        };
        Thread other = new Thread(work);
        other.start();
        work.run();
        other.join(10_000);
        assertThat(bothInside.isBroken()).isFalse();
        assertThat(isolation.unitsSharing()).isZero();
    }

    @Test
    void aSuspectWaitsForUnitsInFlightAndRunsAlone() throws Exception {
        CountDownLatch readerIn = new CountDownLatch(1);
        CountDownLatch readerLeave = new CountDownLatch(1);
        Thread reader = unit(false, readerIn, readerLeave);
        assertThat(readerIn.await(10, TimeUnit.SECONDS)).isTrue();

        CountDownLatch suspectIn = new CountDownLatch(1);
        CountDownLatch suspectLeave = new CountDownLatch(1);
        Thread suspect = unit(true, suspectIn, suspectLeave);
        await(() -> isolation.waiting() == 1, "the suspect waits");
        assertThat(suspectIn.getCount()).as("the suspect does not start while a unit is in flight").isEqualTo(1);

        // a unit arriving after the suspect waits behind it (fair order), so the suspect is not starved
        CountDownLatch lateIn = new CountDownLatch(1);
        CountDownLatch lateLeave = new CountDownLatch(1);
        Thread late = unit(false, lateIn, lateLeave);
        await(() -> isolation.waiting() == 2, "the late unit waits");

        readerLeave.countDown();
        assertThat(suspectIn.await(10, TimeUnit.SECONDS)).isTrue();
        assertThat(isolation.suspectRunning()).isTrue();
        assertThat(isolation.unitsSharing()).as("nothing else in flight while the suspect runs").isZero();
        Thread.sleep(100);
        assertThat(lateIn.getCount()).as("the late unit still waits").isEqualTo(1);

        suspectLeave.countDown();
        assertThat(lateIn.await(10, TimeUnit.SECONDS)).isTrue();
        assertThat(isolation.suspectRunning()).isFalse();
        lateLeave.countDown();
        for (Thread t : new Thread[] {reader, suspect, late}) {
            t.join(10_000);
            assertThat(t.isAlive()).isFalse();
        }
    }

    @Test
    void twoSuspectsRunOneAfterTheOther() throws Exception {
        CountDownLatch firstIn = new CountDownLatch(1);
        CountDownLatch firstLeave = new CountDownLatch(1);
        Thread first = unit(true, firstIn, firstLeave);
        assertThat(firstIn.await(10, TimeUnit.SECONDS)).isTrue();
        CountDownLatch secondIn = new CountDownLatch(1);
        CountDownLatch secondLeave = new CountDownLatch(1);
        Thread second = unit(true, secondIn, secondLeave);
        await(() -> isolation.waiting() == 1, "the second suspect waits");
        firstLeave.countDown();
        assertThat(secondIn.await(10, TimeUnit.SECONDS)).isTrue();
        secondLeave.countDown();
        first.join(10_000);
        second.join(10_000);
        assertThat(isolation.suspectRunning()).isFalse();
    }

    @Test
    void nestingIsRefusedInsteadOfDeadlockingAndAnErrorReleasesTheUnit() throws Exception {
        try (SuspectIsolation.Unit outer = isolation.enter(false)) {
            assertThatThrownBy(() -> isolation.enter(true)).isInstanceOf(IllegalStateException.class);
            assertThatThrownBy(() -> isolation.enter(false)).isInstanceOf(IllegalStateException.class);
        }
        assertThatThrownBy(() -> {
            try (SuspectIsolation.Unit unit = isolation.enter(true)) {
                throw new OutOfMemoryError("simulated");
            }
        }).isInstanceOf(OutOfMemoryError.class);
        assertThat(isolation.suspectRunning()).isFalse();
        try (SuspectIsolation.Unit again = isolation.enter(true)) {
            assertThat(isolation.suspectRunning()).isTrue();
        }
    }

    @Test
    void aWaitingUnitCanBeInterrupted() throws Exception {
        AtomicBoolean entered = new AtomicBoolean();
        AtomicBoolean interrupted = new AtomicBoolean();
        try (SuspectIsolation.Unit suspect = isolation.enter(true)) {
            Thread waiting = new Thread(() -> {
                try (SuspectIsolation.Unit unit = isolation.enter(false)) {
                    entered.set(true);
                } catch (InterruptedException e) {
                    interrupted.set(true); // the task is being cancelled
                }
            });
            waiting.start();
            await(() -> isolation.waiting() == 1, "the unit waits");
            waiting.interrupt();
            waiting.join(10_000);
            assertThat(waiting.isAlive()).isFalse();
            assertThat(isolation.waiting()).isZero();
        }
        assertThat(entered).isFalse();
        assertThat(interrupted).isTrue();
    }
}
