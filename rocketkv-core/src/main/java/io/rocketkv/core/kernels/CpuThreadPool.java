package io.rocketkv.core.kernels;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.IntConsumer;

/**
 * A fixed set of daemon threads that run the tasks {@code 0 … tasks−1} of one op at a time, the calling thread
 * taking tasks beside them. Threads are made once per pool size ({@link #of}) and reused by every op; between ops
 * they spin briefly (the next op of a forward pass usually follows within microseconds), then park.
 *
 * <p>Tasks are handed out one index at a time from a shared counter, so uneven tasks balance. A task that throws
 * does not stop the others; the first exception is rethrown to the caller once every task has ended. A call made
 * while the pool runs another op (a second thread using the backend, or a task calling back in) runs its tasks on
 * the calling thread instead of waiting.
 */
final class CpuThreadPool {

    /** Spins ({@link Thread#onSpinWait}) of a waiting thread before it parks: some tens of microseconds. */
    private static final int SPINS = 1 << 11;
    private static final ConcurrentHashMap<Integer, CpuThreadPool> POOLS = new ConcurrentHashMap<>();

    /** One op's tasks: a new object per op, so a worker late from an earlier op can never take this op's tasks. */
    private static final class Job {
        final IntConsumer body;
        final int tasks;
        final Thread caller;
        final AtomicInteger next = new AtomicInteger();
        final AtomicInteger done = new AtomicInteger();
        volatile Throwable failure;

        Job(IntConsumer body, int tasks, Thread caller) {
            this.body = body;
            this.tasks = tasks;
            this.caller = caller;
        }

        void work() {
            for (int t; (t = next.getAndIncrement()) < tasks; ) {
                try {
                    body.accept(t);
                } catch (Throwable e) {
                    if (failure == null) {
                        failure = e;
                    }
                }
                if (done.incrementAndGet() == tasks) {
                    LockSupport.unpark(caller);
                }
            }
        }
    }

    private final int threads;
    private final Thread[] workers; // threads − 1 daemons; the caller is the last participant
    private final ReentrantLock running = new ReentrantLock();
    private volatile Job current;

    private CpuThreadPool(int threads) {
        this.threads = threads;
        this.workers = new Thread[threads - 1];
        for (int i = 0; i < workers.length; i++) {
            Thread t = new Thread(this::workLoop, "rocketkv-cpu-" + threads + "-" + (i + 1));
            t.setDaemon(true);
            workers[i] = t;
            t.start();
        }
    }

    /** The pool of {@code threads} participants (the caller and {@code threads − 1} daemons), made on first use. */
    static CpuThreadPool of(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("CPU threads must be >= 1, got " + threads);
        }
        return POOLS.computeIfAbsent(threads, CpuThreadPool::new);
    }

    int threads() {
        return threads;
    }

    /** Runs {@code body} for every task index in {@code [0, tasks)} and returns when all have ended. */
    void forEach(int tasks, IntConsumer body) {
        if (tasks <= 0) {
            return;
        }
        if (tasks == 1 || workers.length == 0 || !running.tryLock()) {
            runInline(tasks, body); // busy with another op (or a task calling in): this thread alone
            return;
        }
        Job job = new Job(body, tasks, Thread.currentThread());
        try {
            current = job;
            for (Thread w : workers) {
                LockSupport.unpark(w);
            }
            job.work();
            for (int spins = 0; job.done.get() < tasks; spins++) {
                if (spins < SPINS) {
                    Thread.onSpinWait();
                } else {
                    LockSupport.park(this);
                }
            }
        } finally {
            running.unlock();
        }
        rethrow(job.failure);
    }

    private static void runInline(int tasks, IntConsumer body) {
        for (int t = 0; t < tasks; t++) {
            body.accept(t);
        }
    }

    private void workLoop() {
        Job last = null;
        while (true) {
            Job job = current;
            for (int spins = 0; job == last; spins++) {
                if (spins < SPINS) {
                    Thread.onSpinWait();
                } else {
                    LockSupport.park(this);
                }
                job = current;
            }
            last = job;
            job.work();
        }
    }

    private static void rethrow(Throwable e) {
        if (e instanceof RuntimeException r) {
            throw r;
        }
        if (e instanceof Error err) {
            throw err;
        }
        if (e != null) {
            throw new IllegalStateException("a CPU task failed", e);
        }
    }
}
