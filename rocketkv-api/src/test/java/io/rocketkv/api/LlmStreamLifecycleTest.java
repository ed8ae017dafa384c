package io.rocketkv.api;

import static io.rocketkv.api.TinyLlm.greedy;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Requests that are abandoned stop: a closed {@link TokenStream}, one that is garbage collected, a thread
 * interrupted in {@code generate} or in {@code hasNext}. The engine is paced by a request whose token listener
 * takes one permit per decode step, so the test decides how many steps run: the abandoned request (800 tokens)
 * could never finish in the few steps the test lets run, and the pacer being the only request left proves the
 * other was dropped.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class LlmStreamLifecycleTest extends TinyLlmSuite {

    private final Semaphore permits = new Semaphore(0);
    private final AtomicInteger paced = new AtomicInteger();
    private final AtomicBoolean stop = new AtomicBoolean();
    private CompletableFuture<RequestOutput> pacer;

    @BeforeEach
    void startPacer() throws Exception {
        pacer = llm.generateStream("the", greedy(900).build(), chunk -> {
            try {
                if (!stop.get()) {
                    permits.tryAcquire(30, TimeUnit.SECONDS); // on the engine thread: one step per permit
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            paced.incrementAndGet();
        });
        step(); // the pacer is decoding
    }

    @AfterEach
    void stopPacer() throws Exception {
        stop.set(true);
        pacer.cancel(true);
        permits.release(1000);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while ((llm.numRunningRequests() + llm.numWaitingRequests() > 0 || llm.kvBlocksInUse() > 0)
                && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertEquals(0, llm.kvBlocksInUse(), "every block is back in the pool");
    }

    /** Lets one engine step run and waits until its pacer token is through. */
    private void step() throws InterruptedException {
        int before = paced.get();
        permits.release();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (paced.get() == before) {
            assertTrue(System.nanoTime() < deadline, "the engine took a step");
            Thread.sleep(1);
        }
    }

    /**
     * Runs up to {@code maxSteps} steps, each after {@code beforeEach}, until the pacer is the only running
     * request (the gauge is published after each step, and read here one step later); the number of steps taken.
     */
    private int stepsUntilOnlyThePacerRuns(int maxSteps, Runnable beforeEach) throws InterruptedException {
        for (int i = 0; i < maxSteps; i++) {
            beforeEach.run();
            step();
            if (llm.numRunningRequests() == 1 && llm.numWaitingRequests() == 0) {
                return i;
            }
        }
        throw new AssertionError("the abandoned request still runs after " + maxSteps + " steps ("
                + llm.numRunningRequests() + " running)");
    }

    private TokenStream streamWithOneToken() throws InterruptedException {
        TokenStream s = llm.generateStream("the cat sat on the", greedy(800).build());
        step(); // its prefill is a step of its own; the chunk is queued before the next decode step
        assertTrue(s.hasNext());
        s.next();
        return s;
    }

    @Test
    void closingAStreamCancelsItsRequest() throws Exception {
        TokenStream s = streamWithOneToken();
        step();
        assertEquals(2, llm.numRunningRequests());
        s.close();
        assertFalse(s.hasNext(), "a closed stream has no more tokens");
        stepsUntilOnlyThePacerRuns(5, () -> { });
        s.close(); // idempotent
    }

    @Test
    void anAbandonedStreamIsCancelledWhenCollected() throws Exception {
        abandonAStream();
        int steps = stepsUntilOnlyThePacerRuns(200, System::gc);
        assertTrue(steps < 200, "cancelled after " + steps + " steps, long before its 800 tokens");
    }

    private void abandonAStream() throws InterruptedException {
        streamWithOneToken(); // dropped here without close()
        step();
        assertEquals(2, llm.numRunningRequests());
    }

    @Test
    void interruptingAThreadInGenerateCancelsItsRequests() throws Exception {
        AtomicReference<Throwable> thrown = new AtomicReference<>();
        AtomicBoolean flagKept = new AtomicBoolean();
        Thread t = Thread.ofVirtual().start(() -> {
            try {
                llm.generate(List.of("the cat sat", "on the mat"), greedy(800).build());
            } catch (RuntimeException e) {
                thrown.set(e);
                flagKept.set(Thread.currentThread().isInterrupted());
            }
        });
        while (llm.numRunningRequests() + llm.numWaitingRequests() < 3) {
            step(); // until both of its requests are in
        }
        t.interrupt();
        t.join(TimeUnit.SECONDS.toMillis(30));
        assertInstanceOf(CancellationException.class, thrown.get());
        assertTrue(flagKept.get(), "the interrupt flag is set again");
        stepsUntilOnlyThePacerRuns(5, () -> { });
    }

    @Test
    void interruptingAThreadWaitingForTheNextTokenCancelsTheRequest() throws Exception {
        TokenStream s = streamWithOneToken();
        AtomicReference<Throwable> thrown = new AtomicReference<>();
        Thread t = Thread.ofVirtual().start(() -> {
            try {
                while (s.hasNext()) {
                    s.next();
                }
            } catch (RuntimeException e) {
                thrown.set(e);
            }
        });
        step();
        while (t.getState() != Thread.State.WAITING) {
            Thread.sleep(1); // blocked in hasNext: the engine gives no token without a permit
        }
        t.interrupt();
        t.join(TimeUnit.SECONDS.toMillis(30));
        assertInstanceOf(CancellationException.class, thrown.get());
        stepsUntilOnlyThePacerRuns(5, () -> { });
    }

    @Test
    void aThrowingListenerIsLoggedOncePerRequestAndTheRequestGoesOn() {
        List<String> warnings = new ArrayList<>();
        AtomicInteger calls = new AtomicInteger();
        var guarded = new GuardedListener(chunk -> {
            calls.incrementAndGet();
            throw new IllegalStateException("listener bug");
        }, (message, e) -> warnings.add(message + ": " + e.getMessage()));
        for (int i = 0; i < 5; i++) {
            guarded.accept(new StreamChunk(i, "x", -1f, null, List.of()));
        }
        assertEquals(5, calls.get(), "the listener is still called");
        assertEquals(5, guarded.failures());
        assertEquals(1, warnings.size(), warnings.toString());
        assertTrue(warnings.getFirst().endsWith("listener bug"), warnings.toString());
    }

    @Test
    void aRequestWithAThrowingListenerFinishes() throws Exception {
        stop.set(true); // this test does not pace
        permits.release(1000);
        var f = llm.generateStream("the cat", greedy(6).build(), chunk -> {
            throw new IllegalStateException("listener bug");
        });
        RequestOutput out = f.get(30, TimeUnit.SECONDS);
        assertEquals(6, out.output().tokenIds().length);
    }
}
