package io.rocketkv.core.kernels;

import java.util.Arrays;

/**
 * What one forward step computes, as flat index arrays built once per step and shared by every layer
 * (FlashInfer's "plan once, run per layer"). A step is either a prefill (of whole prompts, or with chunked
 * prefill of chunks of them: a chunk's tokens attend the earlier chunks' cached keys, kvLen > queryLen) or a
 * decode of one new token per sequence.
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
 * @param prefillLens [numSeqs] in a prefill step, the length L of each sequence's whole prefill (its prompt, plus
 *                    the outputs of a recomputed sequence): {@code kvLens[s]} when this step prefills up to the
 *                    end (a whole prompt, or the last chunk), more for an earlier chunk. RocketKV stage 1 runs for
 *                    a sequence only in the step that ends its prefill. In a decode step equal to {@code kvLens}
 * @param compactTables null, or [numSeqs][] with a non-null row for each sequence whose RocketKV stage 1 writes its
 *                    compacted cache into other blocks than it reads (block reuse: copy-on-evict, so shared and cached
 *                    prompt blocks are never written): slot i of the kept cache goes to block
 *                    {@code compactTables[s][i / tokensPerBlock]}, and the KT build reads it there. A null row (or
 *                    array) compacts in place, into the sequence's own first blocks. The blocks of a row are none of
 *                    the sequence's {@code blockTables} row
 *
 * <p>A decode step may carry padding sequences (see {@link #padDecode}): kvLen 0, slot −1, token 0 at
 * position 0 and a block table of −1. Every op skips them (attention writes zeros to their rows); they let
 * a step of any size up to a bucket replay a CUDA graph recorded for the bucket.
 */
public record StepBatch(
        boolean prefill,
        int[] tokenIds,
        int[] positions,
        int[] slotMapping,
        int[] queryStart,
        int[] kvLens,
        int[][] blockTables,
        int[] logitRows,
        int[] prefillLens,
        int[][] compactTables) {

    /** A step whose stage 1 (if any) compacts in place. */
    public StepBatch(boolean prefill, int[] tokenIds, int[] positions, int[] slotMapping, int[] queryStart, int[] kvLens,
                     int[][] blockTables, int[] logitRows, int[] prefillLens) {
        this(prefill, tokenIds, positions, slotMapping, queryStart, kvLens, blockTables, logitRows, prefillLens, null);
    }

    /** A step whose prefills are whole (no chunk): {@code prefillLens = kvLens}. */
    public StepBatch(boolean prefill, int[] tokenIds, int[] positions, int[] slotMapping, int[] queryStart, int[] kvLens,
                     int[][] blockTables, int[] logitRows) {
        this(prefill, tokenIds, positions, slotMapping, queryStart, kvLens, blockTables, logitRows, kvLens);
    }

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
            boolean padding = !prefill && q == 1 && kvLens[i] == 0 && slotMapping[queryStart[i]] == -1;
            if (!padding && (q < 1 || q > kvLens[i])) {
                throw new IllegalArgumentException("sequence " + i + " has " + q + " new tokens and kvLen " + kvLens[i]
                        + "; need 1 <= new tokens <= kvLen");
            }
            if (!prefill && q != 1) {
                throw new IllegalArgumentException("a decode step has exactly one new token per sequence; sequence "
                        + i + " has " + q);
            }
        }
        if (prefillLens.length != s) {
            throw new IllegalArgumentException("prefillLens must have numSeqs = " + s + " entries, got "
                    + prefillLens.length);
        }
        for (int i = 0; i < s; i++) {
            if (prefill ? prefillLens[i] < kvLens[i] : prefillLens[i] != kvLens[i]) {
                throw new IllegalArgumentException("sequence " + i + " has prefillLen " + prefillLens[i] + " and kvLen "
                        + kvLens[i] + "; need prefillLen >= kvLen in a prefill step, == in a decode step");
            }
        }
        for (int r : logitRows) {
            if (r < 0 || r >= t) {
                throw new IllegalArgumentException("logit row " + r + " outside [0, " + t + ")");
            }
        }
        if (compactTables != null) {
            if (compactTables.length != s || !prefill) {
                throw new IllegalArgumentException("compactTables must be null or have numSeqs = " + s
                        + " rows in a prefill step, got " + compactTables.length + (prefill ? "" : " in a decode step"));
            }
            for (int i = 0; i < s; i++) {
                int[] row = compactTables[i];
                for (int j = 0; row != null && j < row.length; j++) {
                    for (int b : blockTables[i]) {
                        if (b == row[j] && b >= 0) {
                            throw new IllegalArgumentException("sequence " + i + " compacts into block " + b
                                    + ", which its block table reads from; copy-on-evict needs blocks of its own");
                        }
                    }
                }
            }
        }
    }

    /**
     * This decode step padded to {@code numSeqs} sequences, every block table widened to {@code tableWidth}
     * entries (−1 filled), and every row's logits wanted ({@code logitRows = 0 … numSeqs − 1}): the same
     * index layout for every step of a bucket. The real sequences keep their rows {@code 0 … numSeqs() − 1}.
     *
     * @throws IllegalArgumentException for a prefill step, fewer than {@link #numSeqs()} sequences, or a
     *                                  table wider than {@code tableWidth}
     */
    public StepBatch padDecode(int numSeqs, int tableWidth) {
        if (prefill) {
            throw new IllegalArgumentException("only decode steps are padded");
        }
        int s = numSeqs();
        if (numSeqs < s) {
            throw new IllegalArgumentException("cannot pad " + s + " sequences to " + numSeqs);
        }
        int[] ids = Arrays.copyOf(tokenIds, numSeqs);
        int[] pos = Arrays.copyOf(positions, numSeqs);
        int[] slots = Arrays.copyOf(slotMapping, numSeqs);
        Arrays.fill(slots, s, numSeqs, -1);
        int[] qs = new int[numSeqs + 1];
        int[] rows = new int[numSeqs];
        for (int i = 0; i <= numSeqs; i++) {
            qs[i] = i;
        }
        for (int i = 0; i < numSeqs; i++) {
            rows[i] = i;
        }
        int[] lens = Arrays.copyOf(kvLens, numSeqs);
        int[][] tables = new int[numSeqs][];
        for (int i = 0; i < numSeqs; i++) {
            int[] t = i < s ? blockTables[i] : new int[0];
            if (t.length > tableWidth) {
                throw new IllegalArgumentException("sequence " + i + " has " + t.length + " blocks, more than the table"
                        + " width " + tableWidth);
            }
            int[] w = Arrays.copyOf(t, tableWidth);
            Arrays.fill(w, t.length, tableWidth, -1);
            tables[i] = w;
        }
        return new StepBatch(false, ids, pos, slots, qs, lens, tables, rows);
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

    /**
     * The length that sequence {@code seq}'s RoPE frequencies are chosen by when they depend on it ({@code dynamic},
     * {@code longrope}; see {@code RopeTable}): transformers' {@code max(position_ids) + 1} of the forward pass. In a
     * prefill step that is the whole prefill's length, so every chunk of a chunked prefill rotates as the one
     * unchunked forward would; in a decode step the new token's position + 1 (not its kvLen, which RocketKV's
     * compaction shortens).
     */
    public int ropeLength(int seq) {
        int last = positions[queryStart[seq + 1] - 1] + 1;
        return prefill ? Math.max(prefillLens[seq], last) : last;
    }

    /** Whether sequence {@code seq} of this prefill step is a chunk of a longer prefill (not its whole prefill). */
    public boolean isChunk(int seq) {
        return prefill && queryLen(seq) < prefillLens[seq];
    }

    /** Whether this step ends the prefill of sequence {@code seq} (a whole prompt, or its last chunk). */
    public boolean endsPrefill(int seq) {
        return prefill && kvLens[seq] == prefillLens[seq];
    }

    /** Tokens of sequence {@code seq} already in the cache before this step: earlier chunks, or cached blocks. */
    public int pastLen(int seq) {
        return kvLens[seq] - queryLen(seq);
    }

    /**
     * Whether RocketKV's observation window of sequence {@code seq} (its last {@code windowSize} prefill positions)
     * spans more than this step, so that its queries must wait in the window stash for the step that ends the
     * prefill: a prefill step's sequence longer than {@code promptBudget} that is a chunk before its last, or whose
     * last chunk starts inside the window. A sequence whose whole window lies in this step's tokens (a whole prompt,
     * a suffix after cached blocks, or a last chunk that holds the window) reads it from the step's queries.
     */
    public boolean needsWindowStash(int seq, int promptBudget, int windowSize) {
        return prefill && prefillLens[seq] > promptBudget
                && (!endsPrefill(seq) || pastLen(seq) > prefillLens[seq] - windowSize);
    }

    /** The blocks holding sequence {@code seq}'s cache once stage 1 compacted it: its compact table, else its own. */
    public int[] keptTable(int seq) {
        return compactTables != null && compactTables[seq] != null ? compactTables[seq] : blockTables[seq];
    }

    /** Whether this step ends any sequence's prefill (false for a step of earlier chunks only). */
    public boolean endsAnyPrefill() {
        for (int s = 0; s < numSeqs(); s++) {
            if (endsPrefill(s)) {
                return true;
            }
        }
        return false;
    }
}
