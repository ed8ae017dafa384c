package io.rocketkv.core.sparse;

import java.util.Arrays;
import java.util.Objects;
import java.util.SplittableRandom;

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
 * <p>Numerics (fp32 as the spec says): dot products accumulate in {@code float}, sequentially over the channels,
 * without fused multiply-adds; a score is {@code (q·k) * (float) (1 / sqrt(D))}; softmax subtracts the fp32 row
 * maximum, takes {@link Math#exp} of the fp32 difference rounded to fp32, sums the row in {@code double} and adds
 * the fp32 probabilities into fp32 accumulators. Every top-k breaks ties towards the lower index. Non-finite inputs
 * give an unspecified (but well-formed) selection.
 *
 * <p>Cost: stage 1 is {@code H·W·(L−W)·D} multiply-adds (vectorised by C2) plus {@code H·W·(L−W)} exponentials,
 * an O(L) max-pool and an O(L log B) top-k per KV head; stage 2 is {@code H·numPages·D} multiply-adds per step.
 * Single-threaded and stateless: the caller parallelises over layers, KV heads or sequences. Each call allocates
 * its own workspace (a few (D, L) fp32 arrays for stage 1, (D, numPages) for stage 2).
 */
public final class RocketKv {

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
        WindowScores scores = k == 0 ? null : new WindowScores(numHeads / numKvHeads, headDim, promptLen, windowSize);
        float[] pooled = k == 0 ? null : new float[n];                    // (n) max-pooled score of one KV head
        for (int g = 0; g < numKvHeads; g++) {
            int[] row = new int[promptBudget];
            if (k > 0) {
                scores.pooled(qWindow, keys, g, kernelSize, pooled);
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
     * Stage 1 under an evaluation-only baseline policy ({@link Stage1Policy}): the same number of tokens as
     * {@link #selectPromptTokens} keeps ({@code min(L, B)} per KV head), chosen without scores. When
     * {@code promptLen <= promptBudget} every token is kept. {@link Stage1Policy.Kind#SLIDING_WINDOW} keeps
     * {@code L − B .. L − 1}; {@link Stage1Policy.Kind#RANDOM} keeps {@code B − W} distinct prefix tokens drawn
     * with a {@link SplittableRandom} seeded from {@code (seed, promptLen, kvHead)}, ascending, then the window
     * {@code L − W .. L − 1}.
     *
     * @return (Hkv, min(L, B)) kept token indices per KV head, ascending
     * @throws IllegalArgumentException for {@link Stage1Policy#ROCKET} (use {@link #selectPromptTokens}) or bad sizes
     */
    public static int[][] selectPromptTokensBaseline(Stage1Policy policy, int numKvHeads, int promptLen,
            int windowSize, int promptBudget) {
        Objects.requireNonNull(policy, "policy");
        if (policy.isRocket()) {
            throw new IllegalArgumentException("selectPromptTokensBaseline takes SLIDING_WINDOW or RANDOM, got ROCKET;"
                    + " RocketKV's own selection is selectPromptTokens");
        }
        requireAtLeast("numKvHeads", numKvHeads, 1);
        requireAtLeast("promptLen", promptLen, 1);
        requireAtLeast("windowSize", windowSize, 1);
        if (promptBudget < windowSize) {
            throw new IllegalArgumentException(
                    "promptBudget must be >= windowSize (" + windowSize + "), got " + promptBudget);
        }
        int[][] kept = new int[numKvHeads][];
        for (int g = 0; g < numKvHeads; g++) {
            if (promptLen <= promptBudget) {
                kept[g] = TopK.iota(promptLen);
            } else if (policy.kind() == Stage1Policy.Kind.SLIDING_WINDOW) {
                int[] row = new int[promptBudget];
                for (int i = 0; i < promptBudget; i++) {
                    row[i] = promptLen - promptBudget + i;
                }
                kept[g] = row;
            } else {
                kept[g] = randomSubset(policy.seed(), promptLen, windowSize, promptBudget, g);
            }
        }
        return kept;
    }

    /** B − W distinct prefix indices by a partial Fisher–Yates shuffle, ascending, then the window. */
    private static int[] randomSubset(long seed, int promptLen, int windowSize, int promptBudget, int kvHead) {
        int n = promptLen - windowSize;
        int k = promptBudget - windowSize;
        SplittableRandom random = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + promptLen * 0xBF58476D1CE4E5B9L
                + kvHead * 0x94D049BB133111EBL);
        int[] pool = TopK.iota(n);
        for (int i = 0; i < k; i++) {
            int j = i + random.nextInt(n - i);
            int t = pool[i];
            pool[i] = pool[j];
            pool[j] = t;
        }
        int[] row = new int[promptBudget];
        System.arraycopy(pool, 0, row, 0, k);
        Arrays.sort(row, 0, k);
        for (int t = 0; t < windowSize; t++) {
            row[k + t] = n + t;
        }
        return row;
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
        PageScores scores = new PageScores(numHeads / numKvHeads, headDim, numPages);
        for (int g = 0; g < numKvHeads; g++) {
            pages[g] = TopK.largestAscending(scores.scores(q, ktMin, ktMax, g, topr), numPages, topk);
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
