package io.rocketkv.cuda;

import io.rocketkv.core.kernels.AttentionShape;
import io.rocketkv.core.kernels.StepBatch;
import io.rocketkv.core.kernels.Tensor;
import io.rocketkv.core.numeric.DType;

/**
 * The launchers' preconditions that several kernel families share, written once: the cache and table checks that
 * keep every kernel inside its buffers (kernel bodies carry no checks).
 */
final class CudaChecks {

    private CudaChecks() {
    }

    /** The paged KV cache: BF16 or F8_E4M3 [numBlocks, 2, Hkv, tokensPerBlock, D]; returns numBlocks. */
    static int checkCache(Tensor kvCache, AttentionShape shape) {
        DType dtype = kvCache.dtype() == DType.F8_E4M3 ? DType.F8_E4M3 : DType.BF16;
        int[] sh = kvCache.shape();
        if (kvCache.dtype() != dtype || sh.length != 5 || sh[1] != 2 || sh[2] != shape.numKvHeads()
                || sh[3] != shape.tokensPerBlock() || sh[4] != shape.headDim()) {
            throw new IllegalArgumentException("the CUDA KV cache must be " + dtype + " [numBlocks, 2, "
                    + shape.numKvHeads() + ", " + shape.tokensPerBlock() + ", " + shape.headDim() + "], got "
                    + Tensor.describe(kvCache));
        }
        return sh[0];
    }

    /** Every sequence's first ceil(kvLen / tokensPerBlock) table entries are valid block ids. */
    static void checkTables(StepBatch batch, int tokensPerBlock, int numBlocks) {
        checkTables(batch, tokensPerBlock, numBlocks, null);
    }

    /**
     * As {@link #checkTables(StepBatch, int, int)} for the attention of a layer of {@code shape}: with a sliding window
     * only the blocks from each sequence's first query's window on must be in the cache (those before it may have gone
     * back to the pool, −1, and the kernels never read them).
     */
    static void checkTables(StepBatch batch, AttentionShape shape, int numBlocks) {
        checkTables(batch, shape.tokensPerBlock(), numBlocks, shape);
    }

    private static void checkTables(StepBatch batch, int tokensPerBlock, int numBlocks, AttentionShape shape) {
        for (int s = 0; s < batch.numSeqs(); s++) {
            int len = batch.kvLens()[s];
            int[] table = batch.blockTables()[s];
            int need = (len + tokensPerBlock - 1) / tokensPerBlock;
            if (need > table.length) {
                throw new IllegalArgumentException("sequence " + s + " holds " + len + " tokens but its block table has "
                        + table.length + " blocks of " + tokensPerBlock);
            }
            int first = shape == null || len == 0 ? 0 : shape.firstKey(batch.pastLen(s)) / tokensPerBlock;
            for (int j = first; j < need; j++) {
                if (table[j] < 0 || table[j] >= numBlocks) {
                    throw new IllegalArgumentException("sequence " + s + " block " + j + " is " + table[j]
                            + ", outside the cache's [0, " + numBlocks + ")");
                }
            }
            int[] kept = batch.compactTables() == null ? null : batch.compactTables()[s];
            for (int j = 0; kept != null && j < kept.length; j++) {
                if (kept[j] < 0 || kept[j] >= numBlocks) {
                    throw new IllegalArgumentException("sequence " + s + " compacts into block " + kept[j]
                            + ", outside the cache's [0, " + numBlocks + ")");
                }
            }
        }
    }

    /** Every slot of the step lies in a cache of {@code numBlocks} blocks (or is −1, a padding token). */
    static void checkSlots(StepBatch batch, int numBlocks, int tokensPerBlock, String cache) {
        long slots = (long) numBlocks * tokensPerBlock;
        for (int s : batch.slotMapping()) {
            if (s >= slots) {
                throw new IllegalArgumentException("slot " + s + " is past the " + cache + "'s " + numBlocks + " blocks");
            }
        }
    }

    /** Grid y and z limits of a (sequence, head) launch. */
    static void checkGrid(int seqs, int heads) {
        if (seqs > 65535 || heads > 65535) {
            throw new IllegalArgumentException("at most 65535 sequences and heads per launch, got " + seqs + " and "
                    + heads);
        }
    }

    /** An F32 tensor of at least {@code count} elements. */
    static void requireFloats(Tensor t, long count, String what) {
        if (t.dtype() != DType.F32 || t.numel() < count) {
            throw new IllegalArgumentException(what + " must be F32 with at least " + count + " elements, got "
                    + Tensor.describe(t));
        }
    }

    static int ceilDiv(long a, long b) {
        return (int) ((a + b - 1) / b);
    }

    static boolean contains(int[] a, int v) {
        for (int x : a) {
            if (x == v) {
                return true;
            }
        }
        return false;
    }
}
