package org.xrayscreening.stream.poison;

import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * "Suspects run alone": a record that has already been in flight when its worker died runs with no other journaled
 * work in flight in the same JVM, so that a death during it is charged to it alone.
 *
 * <p>Why: an {@link AttemptJournal} cannot tell which of the records in flight killed the JVM; every open attempt
 * counts as a death. A harmless record that is in flight in another operator of the same TaskManager at the first
 * death of a poison image is likely to be in flight again when the replay (same order, same timing) reaches the
 * poison image, and with two deaths it would be dead-lettered as {@code IMAGE_CRASHED_WORKER}. So every journaled
 * unit of work (begin .. end of its attempts) holds this JVM's lock: the shared (read) side normally, the exclusive
 * (write) side when one of its records already has a recorded death in that journal (a suspect). The attempt must
 * be begun after {@link #enter} returns and ended before the unit is closed. Then every death of a record after its
 * first one happened while it ran alone, and a bystander collects at most one death per journal from other records'
 * crashes (see docs/reliability.md, Findings).
 *
 * <p>The cost is paid only after a death: suspects serialise the TaskManager's journaled work while they run (all
 * other journaled units finish first, new ones wait). Until a record has died, units only share the read side.
 *
 * <p>Deadlock-free because a unit waits for the lock only when it holds none (nesting is refused: a reader waiting
 * for the write side would wait for itself) and never emits output while it holds the lock: emitting can block on
 * backpressure from an operator that is itself waiting for the lock. Fair ordering: a waiting suspect is not starved
 * by a stream of new readers.
 *
 * <p>One lock per JVM and job classloader (a static field): the operators of one job in one TaskManager share it;
 * that is the scope a JVM death has. Two jobs in one session cluster do not isolate from each other.
 */
public final class SuspectIsolation {

    private static final SuspectIsolation JVM_WIDE = new SuspectIsolation();

    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock(true);

    /** A separate instance stands for another JVM; for tests. Operators use {@link #jvmWide()}. */
    SuspectIsolation() {}

    /** The isolation shared by every journaled operator of this job in this JVM. */
    public static SuspectIsolation jvmWide() {
        return JVM_WIDE;
    }

    /** A journaled unit of work in progress; closing it (in a finally, once) lets others in. */
    public interface Unit extends AutoCloseable {
        @Override
        void close();
    }

    /**
     * Waits until the unit may run: alone if {@code suspect} (a record of it has a recorded death), else beside
     * other non-suspect units.
     *
     * @throws IllegalStateException if this thread is already inside a unit (nesting could deadlock)
     * @throws InterruptedException if the thread is interrupted while waiting (the task is being cancelled)
     */
    public Unit enter(boolean suspect) throws InterruptedException {
        if (lock.getReadHoldCount() > 0 || lock.isWriteLockedByCurrentThread()) {
            throw new IllegalStateException("a journaled unit of work is already in progress on this thread; "
                    + "nested units could deadlock");
        }
        Lock side = suspect ? lock.writeLock() : lock.readLock();
        side.lockInterruptibly();
        return side::unlock;
    }

    /** True while a suspect runs; for tests and diagnostics. */
    public boolean suspectRunning() {
        return lock.isWriteLocked();
    }

    /** Non-suspect units in progress; for tests and diagnostics. */
    public int unitsSharing() {
        return lock.getReadLockCount();
    }

    /** Threads waiting to enter; for tests and diagnostics. */
    public int waiting() {
        return lock.getQueueLength();
    }
}
