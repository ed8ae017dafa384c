package io.rocketkv.core.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;

class CpuThreadPoolTest {

    @Test
    void runsEveryTaskOnceOnSeveralThreads() {
        CpuThreadPool pool = CpuThreadPool.of(3);
        for (int round = 0; round < 200; round++) {
            int tasks = 1 + round % 37;
            AtomicIntegerArray runs = new AtomicIntegerArray(tasks);
            pool.forEach(tasks, t -> runs.incrementAndGet(t));
            for (int t = 0; t < tasks; t++) {
                assertEquals(1, runs.get(t), "round " + round + " task " + t);
            }
        }
        ConcurrentHashMap<Thread, Boolean> seen = new ConcurrentHashMap<>();
        pool.forEach(64, t -> {
            seen.put(Thread.currentThread(), true);
            long until = System.nanoTime() + 200_000;
            while (System.nanoTime() < until) {
                Thread.onSpinWait();
            }
        });
        assertTrue(seen.size() > 1, "tasks ran on " + seen.keySet());
        assertSame(pool, CpuThreadPool.of(3), "one pool per size, made once");
    }

    @Test
    void rethrowsTheFailureAfterEveryTaskEnded() {
        CpuThreadPool pool = CpuThreadPool.of(2);
        AtomicIntegerArray runs = new AtomicIntegerArray(10);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> pool.forEach(10, t -> {
            runs.incrementAndGet(t);
            if (t == 4) {
                throw new IllegalArgumentException("task 4");
            }
        }));
        assertEquals("task 4", e.getMessage());
        for (int t = 0; t < 10; t++) {
            assertEquals(1, runs.get(t), "task " + t);
        }
        pool.forEach(3, t -> { }); // still usable
    }

    @Test
    void nestedAndConcurrentCallsRunInline() throws Exception {
        CpuThreadPool pool = CpuThreadPool.of(2);
        AtomicIntegerArray inner = new AtomicIntegerArray(4 * 5);
        pool.forEach(4, t -> pool.forEach(5, u -> inner.incrementAndGet(t * 5 + u)));
        for (int i = 0; i < inner.length(); i++) {
            assertEquals(1, inner.get(i), "inner task " + i);
        }
        AtomicIntegerArray runs = new AtomicIntegerArray(2 * 1000);
        Thread[] callers = new Thread[2];
        for (int c = 0; c < callers.length; c++) {
            int base = c * 1000;
            callers[c] = new Thread(() -> {
                for (int r = 0; r < 100; r++) {
                    int first = base + r * 10;
                    pool.forEach(10, t -> runs.incrementAndGet(first + t));
                }
            });
            callers[c].start();
        }
        for (Thread t : callers) {
            t.join();
        }
        for (int i = 0; i < runs.length(); i++) {
            assertEquals(1, runs.get(i), "task " + i);
        }
    }

    @Test
    void refusesNoThreads() {
        assertThrows(IllegalArgumentException.class, () -> CpuThreadPool.of(0));
        assertThrows(IllegalArgumentException.class, () -> new CpuKernels(CpuKernelMode.SIMD, 0));
    }
}
