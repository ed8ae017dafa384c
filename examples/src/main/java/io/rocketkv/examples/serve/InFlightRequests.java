package io.rocketkv.examples.serve;

import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * The generation requests the server is handling, and its shutdown state. While the server drains, new
 * generation requests are refused ({@link #enter} answers false) and running ones go on; {@link #abort}
 * cancels what is still running once the drain timeout is over, and handlers then answer with a
 * {@code shutting_down} error (an error event on a stream) instead of just dropping the connection.
 */
final class InFlightRequests {

    private final Set<CompletableFuture<?>> futures = ConcurrentHashMap.newKeySet();
    private final Object lock = new Object();
    private int handlers; // guarded by lock
    private volatile boolean draining;
    private volatile boolean aborted;

    /** A generation handler starts; false (and nothing to undo) when the server is draining. */
    boolean enter() {
        synchronized (lock) {
            if (draining) {
                return false;
            }
            handlers++;
            return true;
        }
    }

    /** The handler that {@link #enter entered} is done (its answer written). */
    void exit() {
        synchronized (lock) {
            handlers--;
            lock.notifyAll();
        }
    }

    /** The engine request of an entered handler, cancelled by {@link #abort}. */
    void track(CompletableFuture<?> f) {
        futures.add(f);
        f.whenComplete((r, e) -> futures.remove(f));
        if (aborted) {
            f.cancel(true);
        }
    }

    int handlers() {
        synchronized (lock) {
            return handlers;
        }
    }

    boolean draining() {
        return draining;
    }

    /** Whether requests were cancelled because the drain timeout ran out. */
    boolean aborted() {
        return aborted;
    }

    /** Refuses new generation requests from now on. */
    void startDraining() {
        synchronized (lock) {
            draining = true;
        }
    }

    /** Waits until no handler is running or {@code timeoutNanos} have passed; true when none runs. */
    boolean awaitIdle(long timeoutNanos) throws InterruptedException {
        long deadline = System.nanoTime() + timeoutNanos;
        synchronized (lock) {
            while (handlers > 0) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                TimeUnit.NANOSECONDS.timedWait(lock, left);
            }
            return true;
        }
    }

    /** Cancels every tracked request (the drain timeout ran out). */
    void abort() {
        aborted = true;
        for (CompletableFuture<?> f : futures) {
            f.cancel(true);
        }
    }
}
