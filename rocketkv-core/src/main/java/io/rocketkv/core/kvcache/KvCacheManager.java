package io.rocketkv.core.kvcache;

import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * Paged KV cache bookkeeping for all running sequences (nano-vllm's {@code BlockManager} shape): which blocks each
 * sequence owns and which cache slot each of its tokens occupies. The memory itself lives in the backend.
 *
 * <h2>Memory layout (owned by the backend, described here because slots index it)</h2>
 * Per layer, per block: {@code [K|V][kv_head][slot][head_dim]}, i.e. a block is {@code 2 * kvHeads * tokensPerBlock *
 * headDim} elements, and one KV head's slots of a block are contiguous. A flat slot
 * {@code s = blockId * tokensPerBlock + offset} addresses block {@code s / tokensPerBlock}, slot {@code s %
 * tokensPerBlock}. {@link KvCacheSizing} turns these numbers into bytes.
 *
 * <h2>Exhaustion and preemption policy (the scheduler's, documented here because this class enables it)</h2>
 * <ul>
 *   <li>A waiting request is admitted only when {@link #canAllocate(int)} says its prompt fits; otherwise it stays
 *       queued until running sequences finish and free their blocks.</li>
 *   <li>Before each decode step the scheduler asks {@link #canAppend(long)} for every running sequence. A sequence
 *       that cannot append forces a preemption: the <em>newest</em> running sequence (the last admitted) is
 *       preempted first, as vLLM does — its blocks are {@link #free freed} and it goes back to the waiting queue to
 *       be recomputed (prompt + tokens generated so far) later.</li>
 *   <li>{@link #allocate} and {@link #append} throw {@link KvCacheExhaustedException} when the pool is short; they
 *       check first and mutate after, so a throw leaves every table and the pool unchanged.</li>
 * </ul>
 *
 * <p>RocketKV stage 1 compacts a sequence to {@code prompt_budget} tokens and then calls {@link #truncate} to give
 * the surplus blocks back — or, with block reuse, {@link #adoptCompacted}: stage 1 wrote the compacted cache into
 * blocks reserved for it at admission, and the prompt's dense blocks go back to the pool, cached.
 *
 * <h2>Sliding-window attention</h2>
 * When every layer of the model attends within a window of W keys, a query at position p reads only the keys at
 * positions {@code > p − W}: {@link #releaseBefore} gives the blocks wholly before that back to the pool as the
 * sequence grows, so a long generation holds about {@code W / tokensPerBlock + 2} blocks. Released blocks read as
 * −1 in the table ({@link BlockTable#firstHeldBlock()}); the attention ops start at the window and never read them.
 * A released block goes back as a finished sequence's would: a shared one keeps its other references, a keyed one
 * stays cached (its K/V are still those of its prefix), so block reuse works unchanged. Admission still takes the
 * blocks of the whole prefill (prompt, or a preempted sequence's prompt and outputs) at once.
 *
 * <h2>Block reuse (prefix caching, vLLM v1's scheme)</h2>
 * With {@code reuse} on, every full block whose K/V a step computes gets a {@link BlockHash} chained from its
 * parent's ({@link #markComputed}), and a new sequence takes the longest chain of cached blocks its tokens match
 * ({@link #findCachedPrefix}, then {@link #allocate(long, int, PrefixHit, int)}): those blocks are shared (reference
 * counted), never written again, and only the rest of the prompt is prefilled. Blocks keyed while a step is
 * scheduled are <em>pending</em> until the step ran ({@link #commitStep}); a step that failed drops their keys
 * ({@link #abortStep}), since their contents were never written. A sequence in the same step may already share
 * them: every layer writes the whole step's K/V before its attention reads any.
 *
 * <p>Not thread-safe: the engine's scheduler thread owns it.
 */
public final class KvCacheManager {

    private final BlockPool pool;
    private final PrefixCache prefix;
    private final Map<Long, BlockTable> tables = new LinkedHashMap<>();   // seqId -> table, admission order
    private final Map<Long, int[]> reserves = new HashMap<>();   // seqId -> blocks for its compacted cache (RocketKV)

    /** A manager without block reuse. */
    public KvCacheManager(BlockPool pool) {
        this(pool, false);
    }

    /** A manager over {@code pool}; {@code reuse} turns prefix caching on. */
    public KvCacheManager(BlockPool pool, boolean reuse) {
        if (pool == null) {
            throw new IllegalArgumentException("pool must not be null");
        }
        this.pool = pool;
        this.prefix = new PrefixCache(pool, reuse);
    }

    public KvCacheManager(int numBlocks, int tokensPerBlock) {
        this(new BlockPool(numBlocks, tokensPerBlock));
    }

    public KvCacheManager(int numBlocks, int tokensPerBlock, boolean reuse) {
        this(new BlockPool(numBlocks, tokensPerBlock), reuse);
    }

    /** Whether full blocks are cached and shared between sequences. */
    public boolean reuse() {
        return prefix.on();
    }

    /**
     * Bytes of K and V per token over all layers: {@code 2 * layers * kvHeads * headDim * dtypeBytes}.
     *
     * @see KvCacheSizing#bytesPerToken()
     */
    public static long bytesPerToken(int layers, int kvHeads, int headDim, int dtypeBytes) {
        return new KvCacheSizing(layers, kvHeads, headDim, dtypeBytes, 1).bytesPerToken();
    }

    public int tokensPerBlock() {
        return pool.tokensPerBlock();
    }

    public int numBlocks() {
        return pool.numBlocks();
    }

    /** Free blocks, cached ones (evictable) included. */
    public int numFreeBlocks() {
        return pool.numFree();
    }

    /** Free blocks that still hold a cached prefix. */
    public int numCachedFreeBlocks() {
        return pool.numCachedFree();
    }

    /** Counters of prefix caching so far (all zero hits without reuse). */
    public PrefixCacheStats stats() {
        return prefix.stats();
    }

    public int numUsedBlocks() {
        return pool.numUsed();
    }

    public int numSequences() {
        return tables.size();
    }

    /** Ids of the sequences that hold blocks, in admission order (read-only view). */
    public Set<Long> seqIds() {
        return Collections.unmodifiableSet(tables.keySet());
    }

    public boolean contains(long seqId) {
        return tables.containsKey(seqId);
    }

    /** The sequence's block table (a live, read-only view). */
    public BlockTable blockTable(long seqId) {
        BlockTable t = tables.get(seqId);
        if (t == null) {
            throw new IllegalStateException("sequence " + seqId + " holds no KV cache blocks (not allocated, or freed)");
        }
        return t;
    }

    public int numTokens(long seqId) {
        return blockTable(seqId).numTokens();
    }

    /** Whether a new sequence of {@code numTokens} tokens (its prompt) fits in the free blocks now. */
    public boolean canAllocate(int numTokens) {
        return canAllocate(numTokens, PrefixHit.NONE, 0);
    }

    /**
     * Gives a new sequence the blocks for its first {@code numTokens} tokens (slots {@code 0 .. numTokens-1}).
     *
     * @throws KvCacheExhaustedException when too few blocks are free (nothing changes)
     * @throws IllegalStateException when the sequence already holds blocks
     */
    public BlockTable allocate(long seqId, int numTokens) {
        return allocate(seqId, numTokens, PrefixHit.NONE, 0);
    }

    /**
     * The longest run of cached full blocks that starts the sequence {@code tokens} and holds at most
     * {@code maxCachedTokens} tokens ({@link PrefixHit#NONE} without reuse). The caller leaves at least one token
     * to compute (its logits give the first output), so a block-aligned prompt cached whole recomputes its last
     * block, as in vLLM.
     */
    public PrefixHit findCachedPrefix(int[] tokens, int maxCachedTokens) {
        return prefix.find(tokens, maxCachedTokens);
    }

    /**
     * Whether a new sequence of {@code numTokens} tokens fits now, sharing the cached blocks of {@code hit} and
     * taking {@code reserveBlocks} more for its compacted cache (RocketKV with reuse). Cached free blocks count as
     * free: the pool evicts them before it refuses a request.
     */
    public boolean canAllocate(int numTokens, PrefixHit hit, int reserveBlocks) {
        return blocksToTake(numTokens, hit, reserveBlocks) <= pool.numFree() - hit.freeBlocks();
    }

    /**
     * Gives a new sequence the blocks for its first {@code numTokens} tokens: the cached blocks of {@code hit} (a
     * reference each), then new blocks for the rest; and {@code reserveBlocks} blocks kept aside for RocketKV stage 1
     * to write the compacted cache into ({@link #reservedBlocks}, {@link #adoptCompacted}). Counts the admission in
     * {@link #stats()}.
     *
     * @throws KvCacheExhaustedException when too few blocks are free (nothing changes)
     * @throws IllegalStateException when the sequence already holds blocks, or {@code hit} is stale (a block of it
     *                               no longer holds its key)
     */
    public BlockTable allocate(long seqId, int numTokens, PrefixHit hit, int reserveBlocks) {
        if (numTokens < 0) {
            throw new IllegalArgumentException("numTokens must be >= 0, got " + numTokens);
        }
        if (reserveBlocks < 0) {
            throw new IllegalArgumentException("reserveBlocks must be >= 0, got " + reserveBlocks);
        }
        if (tables.containsKey(seqId)) {
            throw new IllegalStateException("sequence " + seqId + " already holds KV cache blocks; free it first");
        }
        int tpb = pool.tokensPerBlock();
        if (hit.tokens(tpb) > numTokens) {
            throw new IllegalArgumentException("the cached prefix (" + hit.tokens(tpb) + " tokens) is longer than the"
                    + " sequence (" + numTokens + ")");
        }
        prefix.checkFresh(hit);
        int needed = blocksToTake(numTokens, hit, reserveBlocks);
        if (!canAllocate(numTokens, hit, reserveBlocks)) {
            throw new KvCacheExhaustedException("sequence " + seqId + " (" + numTokens + " tokens)", needed,
                    pool.numFree() - hit.freeBlocks(), pool.numBlocks(), tpb);
        }
        BlockTable table = new BlockTable(tpb);
        for (int i = 0; i < hit.numBlocks(); i++) {
            pool.retain(hit.block(i)); // first: a free cached block leaves the LRU before allocate() could evict it
            table.addBlock(hit.block(i));
        }
        for (int i = hit.numBlocks(); i < table.blocksNeeded(numTokens); i++) {
            table.addBlock(pool.allocate());
        }
        table.setNumTokens(numTokens);
        tables.put(seqId, table);
        if (reserveBlocks > 0) {
            int[] r = new int[reserveBlocks];
            for (int i = 0; i < r.length; i++) {
                r[i] = pool.allocate();
            }
            reserves.put(seqId, r);
        }
        prefix.admitted(seqId, numTokens, hit);
        return table;
    }

    private int blocksToTake(int numTokens, PrefixHit hit, int reserveBlocks) {
        return BlockTable.blocksNeeded(numTokens, pool.tokensPerBlock()) - hit.numBlocks() + reserveBlocks;
    }

    /**
     * Keys the sequence's full blocks among its first {@code computedTokens} tokens ({@code tokens} holds at least
     * that many) that have no key yet, so later sequences can share them; called when a step that computes their K/V
     * is scheduled. The keys are pending until {@link #commitStep}. A block whose key another block already holds
     * (the same prefix computed twice) stays unkeyed. No-op without reuse, or after the sequence's slots stopped
     * holding its tokens in order (RocketKV compaction).
     *
     * @return the number of blocks keyed
     */
    public int markComputed(long seqId, int[] tokens, int computedTokens) {
        BlockTable table = tables.get(seqId);
        return table == null ? 0 : prefix.markComputed(seqId, table, tokens, computedTokens);
    }

    /**
     * The sequence's blocks are never keyed from now on (its cache will be compacted in place, so its slots stop
     * holding its tokens in order); blocks it shares stay cached.
     */
    public void stopCaching(long seqId) {
        blockTable(seqId);
        prefix.forget(seqId);
    }

    /** The step whose blocks {@link #markComputed} keyed has run: their keys stand. */
    public void commitStep() {
        prefix.commit();
    }

    /** The step failed: the blocks keyed for it lose their keys (their K/V may never have been written). */
    public void abortStep() {
        prefix.abort();
    }

    /** A copy of the blocks reserved for the sequence's compacted cache, or null when it has none. */
    public int[] reservedBlocks(long seqId) {
        int[] r = reserves.get(seqId);
        return r == null ? null : r.clone();
    }

    /**
     * After RocketKV stage 1 wrote the sequence's kept tokens into slots {@code 0 .. keptTokens-1} of its reserved
     * blocks: those blocks become its table, reserved blocks past them are freed, and the prompt's blocks are released
     * (shared ones keep their other references, keyed ones stay cached for later requests).
     *
     * @return the number of the prompt's blocks released
     */
    public int adoptCompacted(long seqId, int keptTokens) {
        BlockTable old = blockTable(seqId);
        int[] reserve = reserves.get(seqId);
        if (reserve == null) {
            throw new IllegalStateException("sequence " + seqId + " has no blocks reserved for a compacted cache");
        }
        BlockTable table = new BlockTable(pool.tokensPerBlock());
        int need = table.blocksNeeded(keptTokens);
        if (keptTokens < 0 || need > reserve.length) {
            throw new IllegalArgumentException("keptTokens must be in [0, " + reserve.length * pool.tokensPerBlock()
                    + "] (the reserved blocks) for sequence " + seqId + ", got " + keptTokens);
        }
        reserves.remove(seqId);
        for (int i = 0; i < reserve.length; i++) {
            if (i < need) {
                table.addBlock(reserve[i]);
            } else {
                pool.free(reserve[i]);
            }
        }
        table.setNumTokens(keptTokens);
        int released = releaseAll(old);
        tables.put(seqId, table);
        prefix.forget(seqId);
        return released;
    }

    /**
     * Sliding-window attention: gives back to the pool the sequence's blocks that hold only tokens before
     * {@code firstKey} (the first key any of its next queries reads), keeping its last block. Shared blocks keep their
     * other references and keyed ones stay cached, as in {@link #free}.
     *
     * @return the number of blocks released
     */
    public int releaseBefore(long seqId, int firstKey) {
        BlockTable table = blockTable(seqId);
        int[] released = table.releaseBefore(Math.max(0, firstKey) / pool.tokensPerBlock());
        for (int b : released) {
            pool.free(b);
        }
        return released.length;
    }

    /** Whether the sequence can take one more token: true unless its last block is full and no block is free. */
    public boolean canAppend(long seqId) {
        return !blockTable(seqId).nextTokenNeedsBlock() || pool.numFree() >= 1;
    }

    /**
     * Adds one token to the sequence, taking a new block only when the last one is full.
     *
     * @return the cache slot of the new token
     * @throws KvCacheExhaustedException when a new block is needed and none is free (nothing changes)
     */
    public int append(long seqId) {
        BlockTable table = blockTable(seqId);
        if (table.nextTokenNeedsBlock()) {
            if (pool.numFree() == 0) {
                throw new KvCacheExhaustedException("appending token " + table.numTokens() + " to sequence " + seqId,
                        1, 0, pool.numBlocks(), pool.tokensPerBlock());
            }
            table.addBlock(pool.allocate());
        }
        int token = table.numTokens();
        table.setNumTokens(token + 1);
        return table.slotOf(token);
    }

    /**
     * Keeps the first {@code newNumTokens} tokens of the sequence and returns the blocks past them to the pool
     * (RocketKV stage 1, after compacting the kept tokens into slots {@code 0 .. newNumTokens-1}).
     *
     * @return the number of blocks returned to the pool
     */
    public int truncate(long seqId, int newNumTokens) {
        BlockTable table = blockTable(seqId);
        if (newNumTokens < 0 || newNumTokens > table.numTokens()) {
            throw new IllegalArgumentException("newNumTokens must be in [0, " + table.numTokens() + "] for sequence "
                    + seqId + ", got " + newNumTokens);
        }
        int surplus = table.numBlocks() - table.blocksNeeded(newNumTokens);
        for (int i = 0; i < surplus; i++) {
            freeIfHeld(table.removeLastBlock());
        }
        table.setNumTokens(newNumTokens);
        prefix.forget(seqId); // compacted in place: slot i no longer holds token i
        return surplus;
    }

    /**
     * Returns all of the sequence's blocks to the pool (it finished, or it is preempted), its reserved blocks too.
     * Shared blocks keep their other references; keyed blocks stay cached. The last block goes first, so the cache
     * evicts a prompt's tail before its head (which more requests share).
     *
     * @return the number of blocks of its table released
     */
    public int free(long seqId) {
        int n = releaseAll(blockTable(seqId));
        tables.remove(seqId);
        prefix.forget(seqId);
        int[] reserve = reserves.remove(seqId);
        for (int i = 0; reserve != null && i < reserve.length; i++) {
            pool.free(reserve[i]);
        }
        return n;
    }

    private int releaseAll(BlockTable table) {
        int n = table.numHeldBlocks();
        for (int i = table.numBlocks(); i > 0; i--) {
            freeIfHeld(table.removeLastBlock());
        }
        return n;
    }

    private void freeIfHeld(int block) {
        if (block >= 0) { // −1: released by a sliding window already
            pool.free(block);
        }
    }

    /** Flat cache slots of tokens {@code [fromToken, toToken)} of the sequence. */
    public int[] slotMapping(long seqId, int fromToken, int toToken) {
        int[] slots = new int[checkRange(seqId, fromToken, toToken)];
        slotMapping(seqId, fromToken, toToken, slots, 0);
        return slots;
    }

    /**
     * Writes the flat slots of tokens {@code [fromToken, toToken)} into {@code dst[dstOffset ..]} (the runner builds
     * one slot mapping for a whole batch this way).
     *
     * @return the number of slots written
     */
    public int slotMapping(long seqId, int fromToken, int toToken, int[] dst, int dstOffset) {
        int n = checkRange(seqId, fromToken, toToken);
        if (dstOffset < 0 || (long) dstOffset + n > dst.length) {
            throw new IndexOutOfBoundsException("dst[" + dstOffset + " .. " + ((long) dstOffset + n)
                    + ") must lie within the array of length " + dst.length);
        }
        blockTable(seqId).copySlots(fromToken, toToken, dst, dstOffset);
        return n;
    }

    /**
     * The padded block table kernels take: row {@code i} holds the blocks of {@code seqIds[i]} followed by −1 up to
     * {@code padTo} columns.
     *
     * @return {@code int[seqIds.length * padTo]}, shape {@code (batch, padTo)}, row-major
     */
    public int[] blockTableArray(long[] seqIds, int padTo) {
        if (padTo < 0) {
            throw new IllegalArgumentException("padTo must be >= 0, got " + padTo);
        }
        int[] out = new int[Math.multiplyExact(seqIds.length, padTo)];   // (batch, padTo)
        Arrays.fill(out, -1);
        for (int i = 0; i < seqIds.length; i++) {
            BlockTable table = blockTable(seqIds[i]);
            if (table.numBlocks() > padTo) {
                throw new IllegalArgumentException("padTo must be >= the longest block table (" + table.numBlocks()
                        + " blocks for sequence " + seqIds[i] + "), got " + padTo);
            }
            table.copyBlockIds(out, i * padTo);
        }
        return out;
    }

    /** {@link #blockTableArray(long[], int)} padded to the longest table among {@code seqIds}. */
    public int[] blockTableArray(long[] seqIds) {
        int max = 0;
        for (long id : seqIds) {
            max = Math.max(max, blockTable(id).numBlocks());
        }
        return blockTableArray(seqIds, max);
    }

    private int checkRange(long seqId, int fromToken, int toToken) {
        int n = blockTable(seqId).numTokens();
        if (fromToken < 0 || toToken < fromToken || toToken > n) {
            throw new IndexOutOfBoundsException("token range must satisfy 0 <= fromToken <= toToken <= " + n
                    + " for sequence " + seqId + ", got [" + fromToken + ", " + toToken + ")");
        }
        return toToken - fromToken;
    }

    @Override
    public String toString() {
        return "KvCacheManager[sequences=" + tables.size() + ", reuse=" + prefix.on() + ", " + pool + "]";
    }
}
