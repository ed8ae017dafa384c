package io.rocketkv.core.kernels;

import java.util.Arrays;

/**
 * What one forward step computes, as flat index arrays built once per step and shared by every layer
 * (FlashInfer's "plan once, run per layer"). A step is either a prefill of whole prompts or a decode of
 * one new token per sequence.
 *
 * @param prefill     true for a prefill step (causal attention among each sequence's new tokens)
 * @param tokenIds    [numTokens] the new tokens, sequence after sequence
 * @param positions   [numTokens] RoPE position of each new token (its true position in the sequence)
 * @param slotMapping [numTokens] cache slot each new token's K/V is written to
 *                    ({@code block * tokensPerBlock + offset}); −1 skips the write
 * @param queryStart  [numSeqs + 1] token offsets of each sequence's new tokens (CSR "cu_seqlens")
 * @param kvLens      [numSeqs] tokens held in the cache for each sequence after this step's write (0 only for
 *                    a decode step's padding sequence, whose slot is −1)
 * @param blockTables [numSeqs][maxBlocks] block ids of each sequence, padded with −1
 * @param logitRows   rows of the step (token indices) whose logits are wanted: the last token of each
 *                    sequence in prefill, every token in decode
 */
public record StepBatch(
        boolean prefill,
        int[] tokenIds,
        int[] positions,
        int[] slotMapping,
        int[] queryStart,
        int[] kvLens,
        int[][] blockTables,
        int[] logitRows) {

    public StepBatch {
        int t = tokenIds.length;
        if (positions.length != t || slotMapping.length != t) {
            throw new IllegalArgumentException("tokenIds, positions and slotMapping must have one entry per token ("
                    + t + "), got " + positions.length + " and " + slotMapping.length);
        }
        int s = kvLens.length;
        if (queryStart.length != s + 1 || blockTables.length != s) {
            throw new IllegalArgumentException("queryStart must have numSeqs + 1 = " + (s + 1)
                    + " entries and blockTables numSeqs = " + s + ", got " + queryStart.length + " and " + blockTables.length);
        }
        if (queryStart[0] != 0 || queryStart[s] != t) {
            throw new IllegalArgumentException("queryStart must start at 0 and end at numTokens " + t
                    + ", got " + Arrays.toString(queryStart));
        }
        for (int i = 0; i < s; i++) {
            int q = queryStart[i + 1] - queryStart[i];
            // a decode step may carry padding sequences (kvLen 0, slot −1, a table row of −1) so that its
            // shape matches a fixed batch-size bucket; ops write zeros for them
            boolean padding = !prefill && q == 1 && kvLens[i] == 0;
            if (!padding && (q < 1 || q > kvLens[i])) {
                throw new IllegalArgumentException("sequence " + i + " has " + q + " new tokens and kvLen " + kvLens[i]
                        + "; need 1 <= new tokens <= kvLen");
            }
            if (!prefill && q != 1) {
                throw new IllegalArgumentException("a decode step has exactly one new token per sequence; sequence "
                        + i + " has " + q);
            }
        }
        for (int r : logitRows) {
            if (r < 0 || r >= t) {
                throw new IllegalArgumentException("logit row " + r + " outside [0, " + t + ")");
            }
        }
    }

    public int numTokens() {
        return tokenIds.length;
    }

    public int numSeqs() {
        return kvLens.length;
    }

    public int queryLen(int seq) {
        return queryStart[seq + 1] - queryStart[seq];
    }
}
