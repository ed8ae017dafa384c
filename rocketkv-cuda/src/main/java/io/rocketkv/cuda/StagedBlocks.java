package io.rocketkv.cuda;

import io.rocketkv.core.kernels.StepBatch;
import java.util.Arrays;

/**
 * Which blocks of an fp8 KV cache a prefill step reads, and the block tables that address their bf16 copies: the
 * prefill kernels read bf16 only, so {@code kv_cache_e4m3_to_bf16} widens the blocks the step's sequences hold (the
 * first ceil(kvLen / tokensPerBlock) entries of each table) into a scratch cache where copy i is block
 * {@link #sources()}[i], and the kernels then read it through {@link #tables()}. A block two tables share (a prefix
 * served from the cache) is copied once; an entry of −1 (a block released before a sliding window) stays −1. One int
 * image holds both arrays, uploaded in one copy.
 *
 * @param sources  [n] the fp8 block of each copy, in first-use order
 * @param tables   [numSeqs * maxBlocks] each sequence's table over the copies, row stride maxBlocks, −1 padded
 * @param maxBlocks the row stride of {@code tables} (the step plan's)
 */
record StagedBlocks(int[] sources, int[] tables, int maxBlocks) {

    /** The copies and tables for {@code batch}, whose plan's table rows have {@code maxBlocks} entries. */
    static StagedBlocks of(StepBatch batch, int tokensPerBlock, int maxBlocks) {
        int seqs = batch.numSeqs();
        int[] tables = new int[seqs * maxBlocks];
        Arrays.fill(tables, -1);
        int[] copyOf = new int[0]; // fp8 block -> copy + 1 (0: not copied yet), grown to the largest id seen
        int[] sources = new int[16];
        int n = 0;
        for (int s = 0; s < seqs; s++) {
            int[] table = batch.blockTables()[s];
            int need = Math.min(table.length, (batch.kvLens()[s] + tokensPerBlock - 1) / tokensPerBlock);
            for (int j = 0; j < need; j++) {
                int b = table[j];
                if (b < 0) {
                    continue; // released before a sliding window: never read, stays -1
                }
                if (b >= copyOf.length) {
                    copyOf = Arrays.copyOf(copyOf, Math.max(b + 1, copyOf.length * 2));
                }
                if (copyOf[b] == 0) {
                    if (n == sources.length) {
                        sources = Arrays.copyOf(sources, n * 2);
                    }
                    sources[n++] = b;
                    copyOf[b] = n;
                }
                tables[s * maxBlocks + j] = copyOf[b] - 1;
            }
        }
        return new StagedBlocks(Arrays.copyOf(sources, n), tables, maxBlocks);
    }

    /** Blocks to copy. */
    int count() {
        return sources.length;
    }

    /** {@link #sources} then {@link #tables}, each from a 16-byte boundary: {@code [align4(n) + tables.length]}. */
    int[] image() {
        int[] image = new int[tablesOffset() + tables.length];
        System.arraycopy(sources, 0, image, 0, sources.length);
        System.arraycopy(tables, 0, image, tablesOffset(), tables.length);
        return image;
    }

    /** Where {@link #tables} starts in {@link #image}, in ints. */
    int tablesOffset() {
        return (sources.length + 3) & ~3;
    }
}
