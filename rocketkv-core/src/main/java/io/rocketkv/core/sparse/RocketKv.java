package io.rocketkv.core.sparse;

import java.util.Arrays;
import java.util.Objects;

/**
 * RocketKV's two selection rules on the CPU (docs/rocketkv.md, the spec is shared/design/ROCKETKV.md).
 *
 * <ul>
 *   <li>Stage 1, once per layer after prefill: {@link #selectPromptTokens} — which prompt tokens each KV head keeps
 *       (SnapKV-style window-query scores, max-pooled, top {@code B − W}, plus the window).</li>
 *   <li>Stage 2, every decode step: {@link #selectPages} — which KT pages each KV head attends to (sign-selected
 *       per-page key bounds scored against the query, softmax over pages, mean over the group, top-k).</li>
 * </ul>
 *
 * <p>Notation: H query heads, Hkv KV heads, G = H / Hkv, D head dim. Query head h belongs to KV head {@code h / G}
 * (the heads of a group are consecutive, as in Hugging Face's {@code repeat_kv}). All arrays are row-major fp32.
 *
 * <p>Numerics: dot products accumulate in fp32 ({@code float}), scores are {@code (q·k) *
 * (float) (1 / sqrt(D))}; softmax subtracts the fp32 row maximum, takes {@link Math#exp} of the fp32 difference,
 * rounds each exponential to fp32, sums the row's exponentials in {@code double} and accumulates the fp32
 * probabilities in fp32. Ties in every top-k go to the lower index. Results are independent of threads (there
 * are none: the caller parallelises over layers or sequences).
 */
public final class RocketKv {

    /** Window queries scored together against one tile of keys (bounds the logits workspace to 16 rows). */
    private static final int QUERY_BLOCK = 16;
    /** Prefix keys per tile: a (D, 256) fp32 slice of the transposed keys stays in L2 while 16 queries use it. */
    private static final int KEY_TILE = 256;

    private RocketKv() {
    }

    /**
     * Stage 1: the prompt tokens each KV head keeps after prefill.
     *
     * <p>When {@code promptLen <= promptBudget} every token is kept and nothing is computed. Otherwise, per KV head
     * g: the scores {@code S[h,i,j] = q_win[h,i]·K_pre[g,j] / sqrt(D)} of the window queries against the prefix
     * keys {@code j < L − W}, softmax over j, summed over the W window queries and the G heads of the group,
     * max-pooled along j (width {@code kernelSize}, stride 1, −∞ padding of {@code kernelSize / 2}); the
     * {@code B − W} largest pooled scores (ties: lower index) in ascending order, followed by the window
     * {@code L − W .. L − 1}.
     *
     * @param qWindow      (H, min(W, L), D) post-RoPE queries of the last {@code min(windowSize, promptLen)} prompt
     *                     positions (not read when {@code promptLen <= promptBudget})
     * @param keys         (Hkv, L, D) post-RoPE keys of the whole prompt (not read when {@code promptLen <=
     *                     promptBudget})
     * @param promptBudget B, tokens kept per KV head; {@code >= windowSize}
     * @return (Hkv, min(L, B)) kept token indices per KV head, ascending
     * @throws IllegalArgumentException naming the argument, its value and the allowed range
     */
    public static int[][] selectPromptTokens(float[] qWindow, float[] keys, int numHeads, int numKvHeads,
            int headDim, int promptLen, int windowSize, int kernelSize, int promptBudget) {
        requireHeads(numHeads, numKvHeads, headDim);
        requireAtLeast("promptLen", promptLen, 1);
        requireAtLeast("windowSize", windowSize, 1);
        if (kernelSize < 1 || kernelSize % 2 == 0) {
            throw new IllegalArgumentException("kernelSize must be odd and >= 1, got " + kernelSize);
        }
        if (promptBudget < windowSize) {
            throw new IllegalArgumentException(
                    "promptBudget must be >= windowSize (" + windowSize + "), got " + promptBudget);
        }
        int w = Math.min(windowSize, promptLen);
        requireLength("qWindow", qWindow, (long) numHeads * w * headDim,
                "numHeads * min(windowSize, promptLen) * headDim");
        requireLength("keys", keys, (long) numKvHeads * promptLen * headDim, "numKvHeads * promptLen * headDim");

        int[][] kept = new int[numKvHeads][];
        if (promptLen <= promptBudget) {
            for (int g = 0; g < numKvHeads; g++) {
                kept[g] = TopK.iota(promptLen);
            }
            return kept;
        }
        // promptLen > promptBudget >= windowSize: a non-empty prefix, and the window is full.
        int n = promptLen - windowSize;           // prefix keys scored
        int k = promptBudget - windowSize;        // prefix keys kept, 0 .. n-1
        int groupSize = numHeads / numKvHeads;
        float[] keysT = k == 0 ? null : new float[headDim * n];            // (D, n) prefix keys of one KV head
        float[] logits = k == 0 ? null : new float[QUERY_BLOCK * n];      // (16, n) scores of a block of queries
        float[] score = k == 0 ? null : new float[n];                     // (n) summed probabilities
        float[] pooled = k == 0 ? null : new float[n];                    // (n) max-pooled score
        int[] deque = k == 0 ? null : new int[n];
        for (int g = 0; g < numKvHeads; g++) {
            int[] row = new int[promptBudget];
            if (k > 0) {
                groupScores(qWindow, keys, g, groupSize, headDim, promptLen, windowSize, keysT, logits, score);
                maxPool(score, n, kernelSize / 2, pooled, deque);
                System.arraycopy(TopK.largestAscending(pooled, n, k), 0, row, 0, k);
            }
            for (int t = 0; t < windowSize; t++) {
                row[k + t] = n + t;
            }
            kept[g] = row;
        }
        return kept;
    }

    /**
     * Stage 2: the KT pages each KV head attends to at this decode step.
     *
     * <p>Per KV head g: when {@code topr < D}, keep the topr channels with the largest {@code Σ_{h in g} |q[h,d]|}
     * (ties: lower channel index) and zero the others in every query of the group; per channel take
     * {@code ktMax[d]} where the (filtered) {@code Σ_{h in g} q[h,d] > 0} (fp32 sum over the heads in ascending
     * order), else {@code ktMin[d]}; score {@code s[h,p] = (q[h]·sel_p) / sqrt(D)}; softmax over pages per query
     * head, mean over the G heads; the {@code min(topk, numPages)} best pages (ties: lower page index), ascending.
     * When {@code topk >= numPages} every page is returned and nothing is computed.
     *
     * <p>{@code q} is used exactly as given (fp32): it is <em>not</em> rounded to the KT dtype first (TensorRT-LLM
     * does round it). {@code ktMin} / {@code ktMax} hold values already rounded to the KT dtype, widened to fp32.
     *
     * @param q     (H, D) the current decode step's post-RoPE queries
     * @param ktMin (Hkv, numPages, D) per-page element-wise key minimum
     * @param ktMax (Hkv, numPages, D) per-page element-wise key maximum
     * @param topr  query channels used for scoring, {@code 1 .. headDim}; {@code headDim} disables the filter
     * @return (Hkv, min(topk, numPages)) selected page indices per KV head, ascending
     * @throws IllegalArgumentException naming the argument, its value and the allowed range
     */
    public static int[][] selectPages(float[] q, float[] ktMin, float[] ktMax, int numHeads, int numKvHeads,
            int headDim, int numPages, int topk, int topr) {
        requireHeads(numHeads, numKvHeads, headDim);
        requireAtLeast("numPages", numPages, 1);
        requireAtLeast("topk", topk, 1);
        if (topr < 1 || topr > headDim) {
            throw new IllegalArgumentException("topr must be in [1, headDim=" + headDim + "], got " + topr);
        }
        requireLength("q", q, (long) numHeads * headDim, "numHeads * headDim");
        requireLength("ktMin", ktMin, (long) numKvHeads * numPages * headDim, "numKvHeads * numPages * headDim");
        requireLength("ktMax", ktMax, (long) numKvHeads * numPages * headDim, "numKvHeads * numPages * headDim");

        int[][] pages = new int[numKvHeads][];
        if (topk >= numPages) {
            for (int g = 0; g < numKvHeads; g++) {
                pages[g] = TopK.iota(numPages);
            }
            return pages;
        }
        int groupSize = numHeads / numKvHeads;
        float scale = (float) (1.0 / Math.sqrt(headDim));
        float[] qg = new float[groupSize * headDim];     // (G, D) the group's queries, channel-filtered
        float[] absSum = new float[headDim];             // (D) Σ_h |q[h,d]|
        boolean[] useMax = new boolean[headDim];         // (D) Σ_h q[h,d] > 0: the group takes kt_max on channel d
        float[] sel = new float[headDim];                // (D) sign-selected bound of one page
        float[] s = new float[groupSize * numPages];     // (G, numPages) page logits, then probabilities
        float[] score = new float[numPages];             // (numPages) mean probability over the group
        for (int g = 0; g < numKvHeads; g++) {
            System.arraycopy(q, g * groupSize * headDim, qg, 0, groupSize * headDim);
            if (topr < headDim) {
                filterChannels(qg, groupSize, headDim, topr, absSum);
            }
            for (int d = 0; d < headDim; d++) {
                float sum = 0f;
                for (int h = 0; h < groupSize; h++) {
                    sum += qg[h * headDim + d];
                }
                useMax[d] = sum > 0f;
            }
            int base = g * numPages * headDim;
            for (int p = 0; p < numPages; p++) {
                int pageOff = base + p * headDim;
                for (int d = 0; d < headDim; d++) {
                    sel[d] = useMax[d] ? ktMax[pageOff + d] : ktMin[pageOff + d];
                }
                for (int h = 0; h < groupSize; h++) {
                    s[h * numPages + p] = dot(qg, h * headDim, sel, 0, headDim) * scale;
                }
            }
            Arrays.fill(score, 0f);
            for (int h = 0; h < groupSize; h++) {
                softmaxAccumulate(s, h * numPages, numPages, score);
            }
            for (int p = 0; p < numPages; p++) {
                score[p] /= groupSize;
            }
            pages[g] = TopK.largestAscending(score, numPages, topk);
        }
        return pages;
    }

    /** Tokens a KV head holds after stage 1: {@code min(promptLen, promptBudget)}. */
    public static int keptCount(int promptLen, int promptBudget) {
        requireAtLeast("promptLen", promptLen, 0);
        requireAtLeast("promptBudget", promptBudget, 1);
        return Math.min(promptLen, promptBudget);
    }

    /** KT pages covering {@code cacheLen} slots: {@code ceil(cacheLen / pageSize)} (a partial last page counts). */
    public static int numPages(int cacheLen, int pageSize) {
        requireAtLeast("cacheLen", cacheLen, 0);
        requireAtLeast("pageSize", pageSize, 1);
        return (int) (((long) cacheLen + pageSize - 1) / pageSize);
    }

    /** Pages stage 2 selects per KV head: {@code min(topk, numPages)}. */
    public static int selectedPageCount(int numPages, int topk) {
        requireAtLeast("numPages", numPages, 0);
        requireAtLeast("topk", topk, 1);
        return Math.min(topk, numPages);
    }

    /**
     * score[j] = Σ_{h in g} Σ_i softmax_j(q_win[h,i]·K_pre[g,j] * scale) for the n = L − W prefix keys of KV head g.
     * The prefix keys are transposed once to (D, n) so that the inner loop is an axpy over keys (vectorisable);
     * queries go in blocks of 16 over key tiles of 256 so the tile stays cached.
     */
    private static void groupScores(float[] qWindow, float[] keys, int g, int groupSize, int headDim, int promptLen,
            int windowSize, float[] keysT, float[] logits, float[] score) {
        int n = promptLen - windowSize;
        int keyBase = g * promptLen * headDim;
        for (int j = 0; j < n; j++) {
            int src = keyBase + j * headDim;
            for (int d = 0; d < headDim; d++) {
                keysT[d * n + j] = keys[src + d];
            }
        }
        Arrays.fill(score, 0, n, 0f);
        float scale = (float) (1.0 / Math.sqrt(headDim));
        int rows = groupSize * windowSize;                 // (G·W) query rows, contiguous in qWindow
        int queryBase = g * rows * headDim;
        for (int r0 = 0; r0 < rows; r0 += QUERY_BLOCK) {
            int block = Math.min(QUERY_BLOCK, rows - r0);
            Arrays.fill(logits, 0, block * n, 0f);
            for (int j0 = 0; j0 < n; j0 += KEY_TILE) {
                int len = Math.min(KEY_TILE, n - j0);
                for (int r = 0; r < block; r++) {
                    int qOff = queryBase + (r0 + r) * headDim;
                    int lOff = r * n + j0;
                    for (int d = 0; d < headDim; d++) {
                        float qd = qWindow[qOff + d];
                        int kOff = d * n + j0;
                        for (int j = 0; j < len; j++) {
                            logits[lOff + j] += qd * keysT[kOff + j];
                        }
                    }
                }
            }
            for (int r = 0; r < block; r++) {
                int off = r * n;
                for (int j = 0; j < n; j++) {
                    logits[off + j] *= scale;
                }
                softmaxAccumulate(logits, off, n, score);
            }
        }
    }

    /** acc[j] += softmax(x[off .. off+n))[j]; overwrites x with the exponentials. */
    private static void softmaxAccumulate(float[] x, int off, int n, float[] acc) {
        float max = Float.NEGATIVE_INFINITY;
        for (int j = 0; j < n; j++) {
            max = Math.max(max, x[off + j]);
        }
        double sum = 0;
        for (int j = 0; j < n; j++) {
            float e = (float) Math.exp(x[off + j] - max);
            x[off + j] = e;
            sum += e;
        }
        float inv = (float) (1.0 / sum);
        for (int j = 0; j < n; j++) {
            acc[j] += x[off + j] * inv;
        }
    }

    /**
     * out[j] = max(in[max(0, j−r) .. min(n−1, j+r)]): max-pool of width 2r+1, stride 1, −∞ padding r, in O(n)
     * with a monotonic deque of indices (values non-increasing from head to tail).
     */
    static void maxPool(float[] in, int n, int r, float[] out, int[] deque) {
        int head = 0;
        int tail = 0;
        int next = 0;   // next index to enter the window
        for (int j = 0; j < n; j++) {
            int hi = Math.min(n - 1, j + r);
            while (next <= hi) {
                while (tail > head && in[deque[tail - 1]] <= in[next]) {
                    tail--;
                }
                deque[tail++] = next++;
            }
            while (deque[head] < j - r) {
                head++;
            }
            out[j] = in[deque[head]];
        }
    }

    /**
     * Keeps the topr channels of the group with the largest Σ_h |q[h,d]| (fp32, heads in ascending order; ties:
     * lower channel index) and zeroes the other channels of every query in qg (G, D).
     */
    private static void filterChannels(float[] qg, int groupSize, int headDim, int topr, float[] absSum) {
        Arrays.fill(absSum, 0f);
        for (int h = 0; h < groupSize; h++) {
            for (int d = 0; d < headDim; d++) {
                absSum[d] += Math.abs(qg[h * headDim + d]);
            }
        }
        int[] keep = TopK.largestAscending(absSum, headDim, topr);
        boolean[] kept = new boolean[headDim];
        for (int d : keep) {
            kept[d] = true;
        }
        for (int h = 0; h < groupSize; h++) {
            for (int d = 0; d < headDim; d++) {
                if (!kept[d]) {
                    qg[h * headDim + d] = 0f;
                }
            }
        }
    }

    /** fp32 dot product with four partial sums. */
    static float dot(float[] a, int ao, float[] b, int bo, int n) {
        float s0 = 0f;
        float s1 = 0f;
        float s2 = 0f;
        float s3 = 0f;
        int i = 0;
        for (; i + 3 < n; i += 4) {
            s0 += a[ao + i] * b[bo + i];
            s1 += a[ao + i + 1] * b[bo + i + 1];
            s2 += a[ao + i + 2] * b[bo + i + 2];
            s3 += a[ao + i + 3] * b[bo + i + 3];
        }
        for (; i < n; i++) {
            s0 += a[ao + i] * b[bo + i];
        }
        return (s0 + s1) + (s2 + s3);
    }

    private static void requireHeads(int numHeads, int numKvHeads, int headDim) {
        requireAtLeast("numHeads", numHeads, 1);
        requireAtLeast("numKvHeads", numKvHeads, 1);
        if (numHeads % numKvHeads != 0) {
            throw new IllegalArgumentException("numHeads must be a multiple of numKvHeads (" + numKvHeads + "), got "
                    + numHeads);
        }
        requireAtLeast("headDim", headDim, 1);
    }

    private static void requireAtLeast(String name, int value, int min) {
        if (value < min) {
            throw new IllegalArgumentException(name + " must be >= " + min + ", got " + value);
        }
    }

    private static void requireLength(String name, float[] array, long expected, String formula) {
        Objects.requireNonNull(array, name);
        if (array.length != expected) {
            throw new IllegalArgumentException(name + ".length must be " + formula + " = " + expected + ", got "
                    + array.length);
        }
    }
}
