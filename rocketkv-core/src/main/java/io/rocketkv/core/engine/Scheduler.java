package io.rocketkv.core.engine;

import io.rocketkv.core.kvcache.KvCacheExhaustedException;
import io.rocketkv.core.kvcache.KvCacheManager;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

/**
 * Decides what each step runs: a prefill of waiting sequences, or one decode token for every running sequence
 * (a step is one or the other; mixed steps come with chunked prefill).
 *
 * <p>Fairness: never two prefill steps in a row while running sequences wait to decode. nano-vllm's rule,
 * prefill whenever a waiting sequence fits, lets a stream of long prompts stop every running request: each
 * arrival's prefill goes first, and with a steady queue no decode step runs at all. Here a prefill step is
 * followed by a decode step whenever anything is running, so running requests get at least one token per two
 * steps while prompts are queued, and a queued prompt waits at most one decode step between prefills. Each
 * prefill step takes waiting sequences in order up to {@code max_num_tokens} tokens (at least one sequence).
 *
 * <p>KV-pool policy: a waiting request stays queued until its prompt's blocks are free. A running
 * sequence that needs a new block when none is free preempts the newest running sequence (its blocks
 * are freed and it goes back to the front of the queue, to be recomputed from its prompt and outputs
 * later); if it is itself the only one left, it is preempted too. A sequence that could never fit, even
 * in an empty pool, fails with {@link KvCacheExhaustedException}.
 */
final class Scheduler {

    /** What one step runs. */
    record Batch(boolean prefill, List<Sequence> seqs, List<Sequence> failed) {
        boolean isEmpty() {
            return seqs.isEmpty();
        }
    }

    private final EngineConfig config;
    private final KvCacheManager kv;
    private final Deque<Sequence> waiting = new ArrayDeque<>();
    private final List<Sequence> running = new ArrayList<>();
    private boolean lastWasPrefill; // the previous step prefilled: the next one decodes, if anything runs

    Scheduler(EngineConfig config, KvCacheManager kv) {
        this.config = config;
        this.kv = kv;
    }

    void add(Sequence seq) {
        waiting.addLast(seq);
    }

    boolean hasWork() {
        return !waiting.isEmpty() || !running.isEmpty();
    }

    int numWaiting() {
        return waiting.size();
    }

    int numRunning() {
        return running.size();
    }

    Batch schedule() {
        List<Sequence> failed = new ArrayList<>();
        List<Sequence> prefill = new ArrayList<>();
        int tokens = 0;
        boolean decodeTurn = lastWasPrefill && !running.isEmpty();
        while (!decodeTurn && !waiting.isEmpty() && running.size() + prefill.size() < config.maxBatchSize()) {
            Sequence seq = waiting.peekFirst();
            int n = seq.numTokens();
            if (!fitsEmptyPool(n)) {
                waiting.pollFirst();
                failed.add(seq);
                seq.result.completeExceptionally(new KvCacheExhaustedException(
                        "sequence of " + n + " tokens", blocksFor(n), kv.numFreeBlocks(), kv.numBlocks(), kv.tokensPerBlock()));
                continue;
            }
            if ((tokens + n > config.maxNumTokens() && !prefill.isEmpty()) || !kv.canAllocate(n)) {
                break;
            }
            waiting.pollFirst();
            kv.allocate(seq.id, n);
            seq.status = Sequence.Status.RUNNING;
            prefill.add(seq);
            tokens += n;
        }
        if (!prefill.isEmpty()) {
            running.addAll(prefill);
            lastWasPrefill = true;
            return new Batch(true, prefill, failed);
        }
        lastWasPrefill = false;
        List<Sequence> decode = new ArrayList<>();
        List<Sequence> queue = new ArrayList<>(running);
        running.clear();
        while (!queue.isEmpty()) {
            Sequence seq = queue.removeFirst();
            boolean preemptedSelf = false;
            while (!kv.canAppend(seq.id)) {
                if (!queue.isEmpty()) {
                    preempt(queue.removeLast());
                } else if (kv.numUsedBlocks() == kv.blockTable(seq.id).numBlocks()) {
                    // it holds every used block and still cannot grow: the pool is too small for it
                    kv.free(seq.id);
                    failed.add(seq);
                    seq.result.completeExceptionally(new KvCacheExhaustedException(
                            "growing a sequence of " + seq.numTokens() + " tokens", 1, kv.numFreeBlocks(),
                            kv.numBlocks(), kv.tokensPerBlock()));
                    preemptedSelf = true;
                    break;
                } else {
                    preempt(seq);
                    preemptedSelf = true;
                    break;
                }
            }
            if (!preemptedSelf) {
                kv.append(seq.id);
                decode.add(seq);
            }
        }
        running.addAll(decode);
        return new Batch(false, decode, failed);
    }

    private void preempt(Sequence seq) {
        kv.free(seq.id);
        seq.status = Sequence.Status.WAITING;
        seq.preemptions++;
        waiting.addFirst(seq);
    }

    /** Called when a sequence finished or failed: its blocks return to the pool. */
    void finish(Sequence seq) {
        running.remove(seq);
        waiting.remove(seq);
        if (kv.contains(seq.id)) {
            kv.free(seq.id);
        }
    }

    /** Removes every queued and running sequence (engine shutdown), freeing their blocks. */
    List<Sequence> abortAll() {
        List<Sequence> all = new ArrayList<>(running);
        all.addAll(waiting);
        for (Sequence s : all) {
            finish(s);
        }
        return all;
    }

    private boolean fitsEmptyPool(int numTokens) {
        return blocksFor(numTokens) <= kv.numBlocks();
    }

    private int blocksFor(int numTokens) {
        return (numTokens + kv.tokensPerBlock() - 1) / kv.tokensPerBlock();
    }
}
