package io.rocketkv.core.engine;

import io.rocketkv.core.kernels.Collective;
import io.rocketkv.core.kernels.StepBatch;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorCompletionService;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The model runners of one engine, one per rank (one on a single device), and the fan-out of a step to them: with
 * several ranks each runs the step on its own platform thread, all at once, and rank 0's logits are returned. The
 * first failure aborts the group's collectives (the other ranks would wait for the failed one forever) and is
 * rethrown; later steps are refused.
 */
final class RankGroup implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(RankGroup.class);

    private final List<ModelRunner> runners;
    private final ExecutorService threads; // one per rank when there are several, else null
    private volatile String failure; // why the group was aborted; null while it works

    RankGroup(List<ModelRunner> runners) {
        this.runners = List.copyOf(runners);
        if (runners.size() > 1) {
            AtomicLong n = new AtomicLong();
            this.threads = Executors.newFixedThreadPool(runners.size(), r -> Thread.ofPlatform()
                    .name("rocketkv-rank-" + n.getAndIncrement()).daemon().unstarted(r));
        } else {
            this.threads = null;
        }
    }

    /** Rank 0's runner. */
    ModelRunner first() {
        return runners.get(0);
    }

    /** Whether every runner may replay recorded decode steps. */
    boolean graphsOn() {
        for (ModelRunner r : runners) {
            if (!r.graphsOn()) {
                return false;
            }
        }
        return true;
    }

    /** Bytes of one KV block over all layers and ranks. */
    long kvBytesPerBlock() {
        long bytes = 0;
        for (ModelRunner r : runners) {
            bytes += r.kvBytesPerBlock();
        }
        return bytes;
    }

    /** Runs the step on every rank ({@link ModelRunner#run}) and returns rank 0's logits. */
    float[] run(StepBatch step, int bucket) {
        return run(step, bucket, true);
    }

    /**
     * {@link #run(StepBatch, int)}, reading rank 0's logits back only when {@code readLogits} (else null: they stay
     * on the device for {@link #greedyRows}).
     */
    float[] run(StepBatch step, int bucket, boolean readLogits) {
        if (runners.size() == 1) {
            return runners.get(0).run(step, bucket, readLogits);
        }
        if (failure != null) {
            throw new IllegalStateException("the tensor-parallel group was aborted after a failure (" + failure
                    + "); close this LLM and create a new one");
        }
        List<Future<float[]>> futures = new ArrayList<>();
        var completion = new ExecutorCompletionService<float[]>(threads);
        for (ModelRunner r : runners) {
            futures.add(completion.submit(() -> r.run(step, bucket, readLogits)));
        }
        Throwable first = null;
        for (int i = 0; i < runners.size(); i++) {
            try {
                completion.take().get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                abort("interrupted while the ranks ran a step", runners.size());
                throw new IllegalStateException("interrupted while the tensor-parallel ranks ran a step", e);
            } catch (ExecutionException e) {
                Throwable cause = e.getCause();
                if (first == null) {
                    first = cause;
                    abort(String.valueOf(cause), rankOf(futures, cause));
                } else if (cause != first) {
                    first.addSuppressed(cause);
                }
            }
        }
        if (first instanceof RuntimeException re) {
            throw re;
        }
        if (first instanceof Error err) {
            throw err;
        }
        if (first != null) {
            throw new IllegalStateException(first);
        }
        return futures.get(0).resultNow();
    }

    /** Whether rank 0's backend picks greedy tokens next to the logits ({@link ModelRunner#hasGreedyRows}). */
    boolean hasGreedyRows() {
        return first().hasGreedyRows();
    }

    /**
     * Rank 0's greedy tokens of the last step's first {@code rows} logit rows ({@link ModelRunner#greedyRows}); with
     * several ranks on a rank thread, as the step ran.
     */
    void greedyRows(int rows, int topK, int[] ids, float[] logprobs, int[] topIds, float[] topLogprobs) {
        if (threads == null) {
            first().greedyRows(rows, topK, ids, logprobs, topIds, topLogprobs);
            return;
        }
        try {
            threads.submit(() -> first().greedyRows(rows, topK, ids, logprobs, topIds, topLogprobs)).get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while rank 0 picked the greedy tokens", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException re) {
                throw re;
            }
            throw new IllegalStateException(e.getCause());
        }
    }

    /** The most rows one {@link #rowLogits} call takes. */
    int maxLogitRows() {
        return first().maxLogitRows();
    }

    /**
     * Rank 0's logits of token rows {@code rows} of the last step ({@link ModelRunner#rowLogits}); with several ranks
     * on a rank thread, as the step ran.
     */
    float[] rowLogits(int[] rows) {
        if (threads == null) {
            return first().rowLogits(rows);
        }
        try {
            return threads.submit(() -> first().rowLogits(rows)).get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while rank 0 computed prompt logits", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException re) {
                throw re;
            }
            throw new IllegalStateException(e.getCause());
        }
    }

    /** The rank whose future failed with {@code cause}, or the number of ranks when none is known. */
    private static int rankOf(List<Future<float[]>> futures, Throwable cause) {
        for (int r = 0; r < futures.size(); r++) {
            Future<float[]> f = futures.get(r);
            if (f.isDone() && f.state() == Future.State.FAILED && f.exceptionNow() == cause) {
                return r;
            }
        }
        return futures.size();
    }

    private void abort(String why, int rank) {
        failure = (rank < runners.size() ? "rank " + rank + ": " : "") + why;
        log.error("tensor-parallel group aborted: {}", failure);
        for (int r = 0; r < runners.size(); r++) {
            Collective c = runners.get(r).model().collective();
            if (c != null) {
                try {
                    c.abort();
                } catch (RuntimeException e) {
                    log.warn("aborting the collective of rank {} failed", r, e);
                }
            }
        }
    }

    /**
     * Stops the rank threads and frees every runner's caches, and (when {@code withSteps}: no step is running) their
     * recordings and workspaces.
     */
    void close(boolean withSteps) {
        if (threads != null) {
            threads.shutdownNow();
        }
        for (ModelRunner r : runners) {
            r.close(withSteps);
        }
    }

    @Override
    public void close() {
        close(true);
    }
}
