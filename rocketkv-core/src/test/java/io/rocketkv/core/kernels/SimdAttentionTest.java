package io.rocketkv.core.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import io.rocketkv.core.kernels.simd.SimdAttention;
import io.rocketkv.core.numeric.DType;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@link SimdAttention} against its scalar twin {@link ScalarAttention} on the same cache (F32 and BF16): decode,
 * chunked prefill and listed (sparse) attention over awkward shapes — lengths around the tile (64) and chunk
 * (256) sizes and not multiples of the block or vector length, GQA groups 1/4/8, head dims 24 (vector tail),
 * 32 (the demo model), 64, 128, batches of several sequences with a decode padding sequence.
 *
 * <p>Tolerance {@value #TOL} absolute + relative. The twins read identical K/V values and differ only in
 * rounding: the order of a dot's fp32 additions (D ≤ 128 terms: ≲ 1e-6 relative on the scores), the polynomial exp
 * (≤ 2 ulp, {@code LanesTest}), and the online softmax's rescaling (a few more roundings per tile).
 * Outputs are convex combinations of V rows of magnitude ≲ 5, so the expected gap is a few 1e-6; the largest
 * measured here is 2.9e-6, the bound leaves a 7× margin without hiding a real error (a wrong key, mask or weight
 * moves outputs by 1e-2 and more).
 *
 * <p>Sliding windows: both twins against {@link CpuAttention#listed} over exactly the keys of each query's window
 * (an independent path: the window's slots listed by the test), with the blocks wholly before every window of a
 * sequence set to −1 in its table (a released block: reading it would throw).
 */
class SimdAttentionTest {

    private static final double TOL = 2e-5;
    private static final CpuAttention.Parallel SERIAL = (tasks, work, body) -> {
        for (int t = 0; t < tasks; t++) {
            body.accept(t);
        }
    };
    private static final CpuAttention.Parallel PARALLEL = (tasks, work, body) ->
            java.util.stream.IntStream.range(0, tasks).parallel().forEach(body);

    private final ScalarAttention scalar = new ScalarAttention();
    private final SimdAttention simd = new SimdAttention();

    /** Sequences laid over shuffled blocks of one pool, each with kvLen cached and queryLen new tokens. */
    private record Layout(int[] kvLens, int[] queryLens, int[][] tables, int numBlocks) {
        static Layout of(int[] kvLens, int[] queryLens, int tpb, Random rnd) {
            int n = kvLens.length;
            int total = 0;
            for (int len : kvLens) {
                total += (len + tpb - 1) / tpb;
            }
            int numBlocks = total + 3;
            List<Integer> free = new ArrayList<>();
            for (int b = 0; b < numBlocks; b++) {
                free.add(b);
            }
            Collections.shuffle(free, rnd);
            int[][] tables = new int[n][];
            for (int i = 0; i < n; i++) {
                tables[i] = new int[(kvLens[i] + tpb - 1) / tpb];
                for (int b = 0; b < tables[i].length; b++) {
                    tables[i][b] = free.removeFirst();
                }
            }
            return new Layout(kvLens, queryLens, tables, numBlocks);
        }

        int[] queryStart() {
            int[] qs = new int[kvLens.length + 1];
            for (int i = 0; i < kvLens.length; i++) {
                qs[i + 1] = qs[i] + queryLens[i];
            }
            return qs;
        }
    }

    private static float[] gaussian(Random r, int n, float scale) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) r.nextGaussian() * scale;
        }
        return x;
    }

    /** A cache of {@code dtype} holding random K/V in every slot of every sequence. */
    private static CpuKvCache filledCache(Layout l, AttentionShape s, DType dtype, Random rnd) {
        CpuKvCache cache = new CpuKvCache(dtype, l.numBlocks(), 2, s.numKvHeads(), s.tokensPerBlock(), s.headDim());
        if (dtype == DType.F8_E4M3) {
            cache.setScales(0.37f, 1.9f); // the SIMD and scalar kernels must both apply them
        }
        float[] row = new float[s.headDim()];
        for (int b = 0; b < l.numBlocks(); b++) {
            cache.ensure(b);
            for (int kvh = 0; kvh < s.numKvHeads(); kvh++) {
                for (int slot = 0; slot < s.tokensPerBlock(); slot++) {
                    for (int kv = 0; kv < 2; kv++) {
                        for (int c = 0; c < row.length; c++) {
                            row[c] = (float) rnd.nextGaussian();
                        }
                        cache.writeRow(row, 0, cache.block(b), kv == 0 ? cache.kOffset(kvh, slot)
                                : cache.vOffset(kvh, slot));
                    }
                }
            }
        }
        return cache;
    }

    private static void assertClose(float[] exp, float[] act, String what) {
        assertEquals(exp.length, act.length, what + ": lengths");
        double worst = 0;
        for (int i = 0; i < exp.length; i++) {
            worst = Math.max(worst, Math.abs(exp[i] - act[i]) / (1 + Math.abs(exp[i])));
            if (!(Math.abs(exp[i] - act[i]) <= TOL * (1 + Math.abs(exp[i])))) {
                fail(what + ": element " + i + " scalar " + exp[i] + " simd " + act[i]);
            }
        }
        System.out.printf("%s: largest |simd - scalar| / (1 + |scalar|) %.2e%n", what, worst);
    }

    @ParameterizedTest(name = "H {0} / Hkv {1}, D {2}, tpb {3}")
    @CsvSource({"8, 2, 32, 16", "4, 4, 64, 16", "8, 1, 128, 32", "16, 2, 24, 7", "8, 8, 128, 16", "32, 4, 64, 5"})
    void decodeMatchesTheScalarTwin(int heads, int kvHeads, int d, int tpb) {
        Random rnd = new Random(heads * 131L + d);
        AttentionShape s = AttentionShape.of(heads, kvHeads, d, tpb);
        int[] lens = {1, 17, 0, 63, 64, 65, 255, 257, 1000};
        Layout l = Layout.of(lens, new int[lens.length], tpb, rnd);
        int[] one = new int[lens.length];
        int[] qs = new int[lens.length + 1];
        int[] slots = new int[lens.length];
        for (int i = 0; i < lens.length; i++) {
            one[i] = 1;
            qs[i + 1] = i + 1;
            slots[i] = lens[i] == 0 ? -1 : 0;
        }
        int[][] tables = l.tables().clone();
        tables[2] = new int[] {-1};
        int[] rows = java.util.Arrays.copyOf(qs, lens.length);
        StepBatch b = new StepBatch(false, new int[lens.length], new int[lens.length], slots, qs, lens, tables, rows);
        float[] q = gaussian(rnd, lens.length * heads * d, 3f);
        for (DType dt : new DType[] {DType.F32, DType.BF16, DType.F8_E4M3}) {
            try (CpuKvCache cache = filledCache(l, s, dt, rnd)) {
                float[] exp = new float[q.length];
                float[] act = new float[q.length];
                float[] actParallel = new float[q.length];
                scalar.decode(q, cache, b, s, exp, SERIAL);
                simd.decode(q, cache, b, s, act, SERIAL);
                simd.decode(q, cache, b, s, actParallel, PARALLEL);
                assertClose(exp, act, "decode " + dt);
                org.junit.jupiter.api.Assertions.assertArrayEquals(act, actParallel, "serial = parallel");
            }
        }
    }

    @ParameterizedTest(name = "H {0} / Hkv {1}, D {2}, tpb {3}")
    @CsvSource({"8, 2, 32, 16", "4, 1, 64, 16", "8, 8, 128, 32", "16, 2, 24, 7", "32, 4, 64, 5"})
    void chunkedPrefillMatchesTheScalarTwin(int heads, int kvHeads, int d, int tpb) {
        Random rnd = new Random(heads * 71L + d);
        AttentionShape s = AttentionShape.of(heads, kvHeads, d, tpb);
        int[] kvLens = {1, 17, 97, 130, 300, 70};
        int[] qLens = {1, 17, 33, 130, 45, 70}; // earlier chunks cached where kvLen > queryLen
        Layout l = Layout.of(kvLens, qLens, tpb, rnd);
        int[] qs = l.queryStart();
        int t = qs[kvLens.length];
        int[] slots = new int[t];
        for (int i = 0; i < kvLens.length; i++) {
            for (int r = 0; r < qLens[i]; r++) {
                slots[qs[i] + r] = CpuAttention.physical(l.tables()[i], kvLens[i] - qLens[i] + r, tpb);
            }
        }
        int[] rows = new int[kvLens.length];
        for (int i = 0; i < rows.length; i++) {
            rows[i] = qs[i + 1] - 1;
        }
        StepBatch b = new StepBatch(true, new int[t], new int[t], slots, qs, kvLens, l.tables(), rows);
        float[] q = gaussian(rnd, t * heads * d, 3f);
        float[] k = gaussian(rnd, t * kvHeads * d, 1f);
        float[] v = gaussian(rnd, t * kvHeads * d, 1f);
        for (DType dt : new DType[] {DType.F32, DType.BF16, DType.F8_E4M3}) {
            try (CpuKvCache cache = filledCache(l, s, dt, rnd)) {
                float[] exp = new float[q.length];
                float[] act = new float[q.length];
                scalar.prefill(q, k, v, cache, b, s, exp, SERIAL);
                simd.prefill(q, k, v, cache, b, s, act, PARALLEL);
                assertClose(exp, act, "prefill " + dt);
            }
        }
    }

    @ParameterizedTest(name = "window {0}, H {1} / Hkv {2}, D {3}, tpb {4}")
    @CsvSource({"1, 8, 2, 32, 16", "5, 4, 1, 64, 16", "64, 8, 8, 128, 32", "100, 16, 2, 24, 7", "96, 4, 1, 32, 16",
            "300, 8, 2, 32, 16"})
    void slidingWindowMatchesListedWindowKeys(int window, int heads, int kvHeads, int d, int tpb) {
        Random rnd = new Random(window * 31L + heads * 7L + d);
        AttentionShape s = AttentionShape.of(heads, kvHeads, d, tpb).withSlidingWindow(window);
        int[] kvLens = {1, 17, 97, 130, 300, 70, 200};
        int[] qLens = {1, 17, 33, 130, 45, 70, 1}; // chunks past cached keys where kvLen > queryLen
        Layout l = Layout.of(kvLens, qLens, tpb, rnd);
        int[] qs = l.queryStart();
        int t = qs[kvLens.length];
        int[] slots = new int[t];
        int[][] released = new int[kvLens.length][];
        int[][] rowSlotsHead = new int[t][]; // the listed reference: each query row over its window's slots
        for (int i = 0; i < kvLens.length; i++) {
            int past = kvLens[i] - qLens[i];
            for (int r = 0; r < qLens[i]; r++) {
                int pos = past + r;
                slots[qs[i] + r] = CpuAttention.physical(l.tables()[i], pos, tpb);
                int first = Math.max(0, pos - window + 1);
                rowSlotsHead[qs[i] + r] = new int[pos - first + 1];
                for (int j = first; j <= pos; j++) {
                    rowSlotsHead[qs[i] + r][j - first] = CpuAttention.physical(l.tables()[i], j, tpb);
                }
            }
            released[i] = l.tables()[i].clone();
            for (int blk = 0; blk < Math.max(0, past - window + 1) / tpb; blk++) {
                released[i][blk] = -1; // wholly before the first query's window
            }
        }
        int[] rows = new int[kvLens.length];
        for (int i = 0; i < rows.length; i++) {
            rows[i] = qs[i + 1] - 1;
        }
        StepBatch prefill = new StepBatch(true, new int[t], new int[t], slots, qs, kvLens, released, rows);
        int[][][] listedSlots = new int[t][kvHeads][];
        for (int r = 0; r < t; r++) {
            java.util.Arrays.fill(listedSlots[r], rowSlotsHead[r]);
        }
        float[] q = gaussian(rnd, t * heads * d, 3f);
        float[] k = gaussian(rnd, t * kvHeads * d, 1f);
        float[] v = gaussian(rnd, t * kvHeads * d, 1f);
        for (DType dt : new DType[] {DType.F32, DType.BF16}) {
            try (CpuKvCache cache = filledCache(l, s, dt, rnd)) {
                // the step's own K/V in the cache too, where the listed reference reads them
                for (int tok = 0; tok < t; tok++) {
                    for (int kvh = 0; kvh < kvHeads; kvh++) {
                        int slot = slots[tok];
                        cache.writeRow(k, (tok * kvHeads + kvh) * d, cache.block(slot / tpb), cache.kOffset(kvh, slot % tpb));
                        cache.writeRow(v, (tok * kvHeads + kvh) * d, cache.block(slot / tpb), cache.vOffset(kvh, slot % tpb));
                    }
                }
                float[] ref = new float[q.length];
                scalar.listed(q, cache, listedSlots, s, ref, SERIAL);
                float[] exp = new float[q.length];
                float[] act = new float[q.length];
                scalar.prefill(q, k, v, cache, prefill, s, exp, SERIAL);
                simd.prefill(q, k, v, cache, prefill, s, act, PARALLEL);
                assertClose(ref, exp, "windowed prefill " + dt + ": scalar vs listed window keys");
                assertClose(exp, act, "windowed prefill " + dt + ": simd vs scalar");
                // decode: the last token of each sequence, one query per sequence
                int n = kvLens.length;
                int[] one = new int[n + 1];
                int[] dslots = new int[n];
                float[] dq = new float[n * heads * d];
                int[][][] dListed = new int[n][][];
                int[][] dTables = new int[n][];
                for (int i = 0; i < n; i++) {
                    one[i + 1] = i + 1;
                    int last = qs[i + 1] - 1;
                    dslots[i] = slots[last];
                    System.arraycopy(q, last * heads * d, dq, i * heads * d, heads * d);
                    dListed[i] = listedSlots[last];
                    dTables[i] = l.tables()[i].clone();
                    for (int blk = 0; blk < Math.max(0, kvLens[i] - window) / tpb; blk++) {
                        dTables[i][blk] = -1;
                    }
                }
                StepBatch decode = new StepBatch(false, new int[n], new int[n], dslots, one, kvLens, dTables,
                        java.util.Arrays.copyOf(one, n));
                float[] dRef = new float[dq.length];
                float[] dExp = new float[dq.length];
                float[] dAct = new float[dq.length];
                scalar.listed(dq, cache, dListed, s, dRef, SERIAL);
                scalar.decode(dq, cache, decode, s, dExp, SERIAL);
                simd.decode(dq, cache, decode, s, dAct, PARALLEL);
                assertClose(dRef, dExp, "windowed decode " + dt + ": scalar vs listed window keys");
                assertClose(dExp, dAct, "windowed decode " + dt + ": simd vs scalar");
            }
        }
    }

    @ParameterizedTest(name = "H {0} / Hkv {1}, D {2}")
    @CsvSource({"8, 2, 32", "8, 1, 64", "16, 2, 24", "8, 8, 128"})
    void listedSlotsMatchTheScalarTwin(int heads, int kvHeads, int d) {
        Random rnd = new Random(heads * 17L + d);
        int tpb = 16;
        AttentionShape s = AttentionShape.of(heads, kvHeads, d, tpb);
        int[] lens = {40, 700, 16, 333};
        Layout l = Layout.of(lens, new int[lens.length], tpb, rnd);
        int[][][] slots = new int[lens.length + 1][][]; // the last sequence is padding: null
        for (int i = 0; i < lens.length; i++) {
            slots[i] = new int[kvHeads][];
            for (int kvh = 0; kvh < kvHeads; kvh++) {
                List<Integer> sel = new ArrayList<>();
                for (int page = 0; page * 4 < lens[i]; page++) { // pages of 4 slots, each kept with probability 1/2
                    if (rnd.nextBoolean() || page == 0) {
                        for (int j = page * 4; j < Math.min(lens[i], page * 4 + 4); j++) {
                            sel.add(CpuAttention.physical(l.tables()[i], j, tpb));
                        }
                    }
                }
                slots[i][kvh] = sel.stream().mapToInt(Integer::intValue).toArray();
            }
        }
        float[] q = gaussian(rnd, (lens.length + 1) * heads * d, 3f);
        for (DType dt : new DType[] {DType.F32, DType.BF16, DType.F8_E4M3}) {
            try (CpuKvCache cache = filledCache(l, s, dt, rnd)) {
                float[] exp = new float[q.length];
                float[] act = new float[q.length];
                java.util.Arrays.fill(act, Float.NaN); // the padding rows must be written (zeros)
                scalar.listed(q, cache, slots, s, exp, SERIAL);
                simd.listed(q, cache, slots, s, act, PARALLEL);
                assertClose(exp, act, "listed " + dt);
            }
        }
    }
}
