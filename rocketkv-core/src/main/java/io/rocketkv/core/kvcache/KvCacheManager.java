package io.rocketkv.core.kvcache;

import java.util.Arrays;
import java.util.Collections;
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
 * the surplus blocks back.
 *
 * <p>Not thread-safe: the engine's scheduler thread owns it.
 */
public final class KvCacheManager {

    private final BlockPool pool;
    private final Map<Long, BlockTable> tables = new LinkedHashMap<>();   // seqId -> table, admission order

    public KvCacheManager(BlockPool pool) {
        if (pool == null) {
            throw new IllegalArgumentException("pool must not be null");
        }
        this.pool = pool;
    }

    public KvCacheManager(int numBlocks, int tokensPerBlock) {
        this(new BlockPool(numBlocks, tokensPerBlock));
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

    public int numFreeBlocks() {
        return pool.numFree();
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
        return pool.canAllocate(BlockTable.blocksNeeded(numTokens, pool.tokensPerBlock()));
    }

    /**
     * Gives a new sequence the blocks for its first {@code numTokens} tokens (slots {@code 0 .. numTokens-1}).
     *
     * @throws KvCacheExhaustedException when too few blocks are free (nothing changes)
     * @throws IllegalStateException when the sequence already holds blocks
     */
    public BlockTable allocate(long seqId, int numTokens) {
        if (numTokens < 0) {
            throw new IllegalArgumentException("numTokens must be >= 0, got " + numTokens);
        }
        if (tables.containsKey(seqId)) {
            throw new IllegalStateException("sequence " + seqId + " already holds KV cache blocks; free it first");
        }
        int needed = BlockTable.blocksNeeded(numTokens, pool.tokensPerBlock());
        if (!pool.canAllocate(needed)) {
            throw new KvCacheExhaustedException("sequence " + seqId + " (" + numTokens + " tokens)", needed,
                    pool.numFree(), pool.numBlocks(), pool.tokensPerBlock());
        }
        BlockTable table = new BlockTable(pool.tokensPerBlock());
        for (int i = 0; i < needed; i++) {
            table.addBlock(pool.allocate());
        }
        table.setNumTokens(numTokens);
        tables.put(seqId, table);
        return table;
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
            pool.free(table.removeLastBlock());
        }
        table.setNumTokens(newNumTokens);
        return surplus;
    }

    /**
     * Returns all of the sequence's blocks to the pool (it finished, or it is preempted).
     *
     * @return the number of blocks released
     */
    public int free(long seqId) {
        BlockTable table = blockTable(seqId);
        int n = table.numBlocks();
        for (int i = 0; i < n; i++) {
            pool.free(table.removeLastBlock());
        }
        tables.remove(seqId);
        return n;
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
        return "KvCacheManager[sequences=" + tables.size() + ", " + pool + "]";
    }
}
