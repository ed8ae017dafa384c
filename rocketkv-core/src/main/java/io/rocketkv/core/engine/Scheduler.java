package io.rocketkv.core.engine;

import io.rocketkv.core.kvcache.KvCacheExhaustedException;
import io.rocketkv.core.kvcache.KvCacheManager;
import io.rocketkv.core.kvcache.PrefixHit;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

/**
 * Decides what each step runs: a prefill of waiting sequences (whole, or with chunked prefill a chunk of one), or
 * one decode token for every running sequence (a step is one or the other; a mixed prefill + decode forward is not
 * done).
 *
 * <p>Fairness: never two prefill steps in a row while running sequences wait to decode. nano-vllm's rule,
 * prefill whenever a waiting sequence fits, lets a stream of long prompts stop every running request: each
 * arrival's prefill goes first, and with a steady queue no decode step runs at all. Here a prefill step is
 * followed by a decode step whenever anything is running, so running requests get at least one token per two
 * steps while prompts are queued, and a queued prompt waits at most one decode step between prefills. Each
 * prefill step takes waiting sequences in order up to {@code max_num_tokens} tokens (at least one sequence).
 *
 * <p>Chunked prefill ({@code EngineConfig.chunkedPrefill}): a sequence whose prefill does not fit the step's token
 * budget (what {@code max_num_tokens} leaves after the sequences before it) gets a chunk of the budget; its next
 * chunk opens the next prefill step, and so on until its last chunk, after which it decodes. The same fairness rule
 * holds between chunks: chunk, decode step of the running sequences, chunk, … . One sequence at a time is prefilled
 * in chunks (a step holds at most one chunk: the window stash of RocketKV holds one sequence); waiting sequences
 * that fit whole still join a step behind it. A chunked sequence's blocks, for its whole prefill, are allocated when
 * its first chunk is scheduled (a waiting request is never half-admitted).
 *
 * <p>KV-pool policy: a waiting request stays queued until its prompt's blocks are free. A running
 * sequence that needs a new block when none is free preempts the newest sequence: the one being prefilled in
 * chunks if any, else the newest running one (its blocks are freed and it goes back to the front of the queue, to
 * be recomputed from its prompt and outputs later, its prefill starting again at the first token); if it is itself
 * the only one left, it is preempted too. A sequence that could never fit, even in an empty pool, fails with
 * {@link KvCacheExhaustedException}.
 *
 * <p>Block reuse ({@code EngineConfig.blockReuse}): an admitted sequence shares the longest run of cached full blocks
 * its tokens start with ({@code EngineConfig.maxCachedTokens}: never its last token, nor RocketKV's observation
 * window when stage 1 evicts) and prefills from there; the prefill step's budget counts only the tokens it computes.
 * Every full block a step computes is keyed as the step is scheduled (prefill chunks; dense decodes as they fill a
 * block), so later sequences — in the same step too — can share it. A RocketKV sequence that stage 1 will compact
 * reserves its compacted cache's blocks at admission ({@code EngineConfig.compactionBlocks}); one whose prefill and
 * reserve together exceed the whole pool (a long recompute) compacts in place instead, sharing and caching nothing.
 *
 * <p>Sliding-window attention ({@code releaseWindow} W > 0: every layer attends within W keys): each time a sequence
 * is scheduled, the blocks wholly before the window of its first query of the step ({@code position − W + 1}) go
 * back to the pool ({@link KvCacheManager#releaseBefore}) — before a decode asks whether it can append, so a
 * sequence that releases a block makes room for its own next one.
 */
final class Scheduler {

    /**
     * What one step runs. In a prefill step sequence i prefills its tokens {@code [chunkStart[i], chunkEnd[i])}
     * (null arrays in a decode step); {@code lastChunk[i]} when that ends its prefill ({@code chunkEnd[i]} is its
     * token count when scheduled).
     */
    record Batch(boolean prefill, List<Sequence> seqs, int[] chunkStart, int[] chunkEnd, boolean[] lastChunk,
                 List<Sequence> failed) {

        Batch(boolean prefill, List<Sequence> seqs, List<Sequence> failed) {
            this(prefill, seqs, null, null, null, failed);
        }

        boolean isEmpty() {
            return seqs.isEmpty();
        }

        /** Whether this step leaves sequence i with a token to sample: a decode, or the end of its prefill. */
        boolean samples(int i) {
            return !prefill || lastChunk[i];
        }
    }

    private final EngineConfig config;
    private final KvCacheManager kv;
    private final int releaseWindow; // W: every layer's sliding window, or 0 (blocks are kept until the sequence ends)
    private final Deque<Sequence> waiting = new ArrayDeque<>();
    private final List<Sequence> running = new ArrayList<>();
    private Sequence prefilling;  // being prefilled in chunks (holds its blocks), or null
    private boolean lastWasPrefill; // the previous step prefilled: the next one decodes, if anything runs

    Scheduler(EngineConfig config, KvCacheManager kv) {
        this(config, kv, 0);
    }

    /** A scheduler that releases blocks past a sliding window of {@code releaseWindow} keys (0: never). */
    Scheduler(EngineConfig config, KvCacheManager kv, int releaseWindow) {
        if (releaseWindow < 0) {
            throw new IllegalArgumentException("releaseWindow must be >= 0, got " + releaseWindow);
        }
        if (releaseWindow > 0 && config.rocketKv() != null) {
            throw new IllegalArgumentException("RocketKV compacts the cache: its slots are not positions, so no block "
                    + "can be released by a sliding window");
        }
        this.config = config;
        this.kv = kv;
        this.releaseWindow = releaseWindow;
    }

    /** Releases the sequence's blocks that its queries from {@code position} on never read (sliding window). */
    private void releaseBeforeWindow(Sequence seq, int position) {
        if (releaseWindow > 0) {
            kv.releaseBefore(seq.id, position - releaseWindow + 1);
        }
    }

    void add(Sequence seq) {
        waiting.addLast(seq);
    }

    boolean hasWork() {
        return !waiting.isEmpty() || !running.isEmpty() || prefilling != null;
    }

    int numWaiting() {
        return waiting.size();
    }

    /** Sequences holding blocks: the running ones and the one being prefilled in chunks. */
    int numRunning() {
        return running.size() + (prefilling == null ? 0 : 1);
    }

    Batch schedule() {
        List<Sequence> failed = new ArrayList<>();
        List<Sequence> prefill = new ArrayList<>();
        List<Integer> starts = new ArrayList<>();
        List<Integer> ends = new ArrayList<>();
        int budget = config.maxNumTokens();
        boolean decodeTurn = lastWasPrefill && !running.isEmpty();
        boolean chunkInStep = false;
        if (!decodeTurn && prefilling != null) {
            Sequence seq = prefilling;
            int end = Math.min(seq.numTokens(), seq.prefilled + budget);
            prefill.add(seq);
            starts.add(seq.prefilled);
            ends.add(end);
            kv.markComputed(seq.id, seq.allTokens(), end);
            releaseBeforeWindow(seq, seq.prefilled);
            budget -= end - seq.prefilled;
            seq.prefilled = end;
            chunkInStep = true;
            if (end == seq.numTokens()) {
                prefilling = null;
            }
        }
        while (!decodeTurn && !waiting.isEmpty() && (budget > 0 || prefill.isEmpty())
                && running.size() + prefill.size() < config.maxBatchSize()) { // a chunked sequence is in prefill
            Sequence seq = waiting.peekFirst();
            int n = seq.numTokens();
            int reserve = config.compactionBlocks(n);
            // a prefill whose copy-on-evict reserve would not fit even an empty pool compacts in place, sharing and
            // caching nothing (it needs no more blocks than without reuse)
            boolean inPlace = reserve > 0 && !fitsEmptyPool(n, reserve);
            reserve = inPlace ? 0 : reserve;
            if (!fitsEmptyPool(n, reserve)) {
                waiting.pollFirst();
                failed.add(seq);
                seq.result.completeExceptionally(new KvCacheExhaustedException("sequence of " + n + " tokens",
                        blocksFor(n) + reserve, kv.numFreeBlocks(), kv.numBlocks(), kv.tokensPerBlock()));
                continue;
            }
            int[] tokens = seq.allTokens();
            // a sequence that scores its prompt (prompt log-probabilities) needs the hidden states of every prompt
            // position: it prefills the whole prompt, sharing no cached blocks (its own are still cached for others)
            PrefixHit hit = inPlace || seq.needsPromptLogits() ? PrefixHit.NONE
                    : kv.findCachedPrefix(tokens, config.maxCachedTokens(n));
            int cached = hit.tokens(kv.tokensPerBlock());
            int rest = n - cached; // what the prefill computes
            boolean chunk = config.chunkedPrefill() && rest > budget;
            if ((rest > budget && !prefill.isEmpty() && !chunk) || (chunk && chunkInStep)
                    || !kv.canAllocate(n, hit, reserve)) {
                break;
            }
            waiting.pollFirst();
            kv.allocate(seq.id, n, hit, reserve);
            if (inPlace) {
                kv.stopCaching(seq.id);
            }
            if (seq.cachedTokens < 0) {
                seq.cachedTokens = cached; // at its first admission, as vLLM's num_cached_tokens
            }
            seq.status = Sequence.Status.RUNNING;
            int end = chunk ? cached + budget : n;
            prefill.add(seq);
            starts.add(cached);
            ends.add(end);
            kv.markComputed(seq.id, tokens, end);
            releaseBeforeWindow(seq, cached);
            seq.prefilled = end;
            budget -= end - cached;
            if (chunk) {
                prefilling = seq;
                chunkInStep = true;
            }
        }
        if (!prefill.isEmpty()) {
            boolean[] last = new boolean[prefill.size()];
            for (int i = 0; i < prefill.size(); i++) {
                last[i] = ends.get(i) == prefill.get(i).numTokens();
                if (last[i]) {
                    running.add(prefill.get(i)); // its prefill ends with this step: it decodes from the next one
                }
            }
            lastWasPrefill = true;
            return new Batch(true, prefill, toArray(starts), toArray(ends), last, failed);
        }
        lastWasPrefill = false;
        List<Sequence> decode = new ArrayList<>();
        List<Sequence> queue = new ArrayList<>(running);
        running.clear();
        while (!queue.isEmpty()) {
            Sequence seq = queue.removeFirst();
            boolean preemptedSelf = false;
            releaseBeforeWindow(seq, kv.numTokens(seq.id)); // the position of the token this step appends
            while (!kv.canAppend(seq.id)) {
                if (prefilling != null) {
                    Sequence newest = prefilling; // admitted after every running sequence
                    prefilling = null;
                    preempt(newest);
                } else if (!queue.isEmpty()) {
                    preempt(queue.removeLast());
                } else if (kv.numUsedBlocks() == kv.blockTable(seq.id).numHeldBlocks()) {
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
                int cacheLen = kv.numTokens(seq.id);
                if (config.rocketKv() == null && kv.reuse() && cacheLen % kv.tokensPerBlock() == 0) {
                    // this step's token fills a block (under RocketKV decode K/V follow sparse attention: not cached)
                    kv.markComputed(seq.id, seq.allTokens(), cacheLen);
                }
                decode.add(seq);
            }
        }
        running.addAll(decode);
        return new Batch(false, decode, failed);
    }

    private static int[] toArray(List<Integer> xs) {
        int[] a = new int[xs.size()];
        for (int i = 0; i < a.length; i++) {
            a[i] = xs.get(i);
        }
        return a;
    }

    private void preempt(Sequence seq) {
        kv.free(seq.id);
        seq.status = Sequence.Status.WAITING;
        seq.prefilled = 0; // a recompute prefills from the first token again
        seq.preemptions++;
        waiting.addFirst(seq);
    }

    /** Called when a sequence finished or failed: its blocks return to the pool. */
    void finish(Sequence seq) {
        if (prefilling == seq) {
            prefilling = null; // cancelled or failed mid-prefill: its blocks go back below
        }
        running.remove(seq);
        waiting.remove(seq);
        if (kv.contains(seq.id)) {
            kv.free(seq.id);
        }
    }

    /** Removes every queued and running sequence (engine shutdown), freeing their blocks. */
    List<Sequence> abortAll() {
        List<Sequence> all = new ArrayList<>(running);
        if (prefilling != null) {
            all.add(prefilling);
        }
        all.addAll(waiting);
        for (Sequence s : all) {
            finish(s);
        }
        return all;
    }

    private boolean fitsEmptyPool(int numTokens, int reserveBlocks) {
        return blocksFor(numTokens) + reserveBlocks <= kv.numBlocks();
    }

    private int blocksFor(int numTokens) {
        return (numTokens + kv.tokensPerBlock() - 1) / kv.tokensPerBlock();
    }
}
