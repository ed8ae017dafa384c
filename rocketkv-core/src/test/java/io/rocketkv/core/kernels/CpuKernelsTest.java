package io.rocketkv.core.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.rocketkv.core.numeric.Bf16;
import io.rocketkv.core.numeric.DType;
import io.rocketkv.core.numeric.Fp16;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/** CpuKernels against plain double-precision formulas written here, on seeded random inputs. */
class CpuKernelsTest {

    private final CpuKernels k = new CpuKernels();
    private final SplittableRandom rnd = new SplittableRandom(42);

    private float[] random(int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) rnd.nextDouble(-1, 1);
        }
        return a;
    }

    private Tensor act(float[] data, int... shape) {
        Tensor t = k.allocate(DType.F32, shape);
        k.upload(data, t);
        return t;
    }

    private static void assertClose(float[] expected, float[] actual, double tol, String what) {
        assertEquals(expected.length, actual.length, what + ": length");
        for (int i = 0; i < expected.length; i++) {
            double err = Math.abs(expected[i] - actual[i]);
            if (err > tol * (1 + Math.abs(expected[i]))) {
                throw new AssertionError(what + ": element " + i + " expected " + expected[i] + " got " + actual[i]);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"F32", "F16", "BF16"})
    void matmulMatchesDoubleReference(String dtypeName) {
        DType dt = DType.valueOf(dtypeName);
        int rows = 5, kd = 67, n = 131;
        float[] x = random(rows * kd);
        float[] w = random(n * kd);
        float[] bias = random(n);
        // round the weights to the storage format first: the reference uses the exact stored values
        MemorySegment seg = Arena.ofAuto().allocate((long) n * kd * dt.byteSize());
        for (int i = 0; i < w.length; i++) {
            switch (dt) {
                case F32 -> seg.set(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 4L * i, w[i]);
                case F16 -> {
                    short h = Fp16.encode(w[i]);
                    w[i] = Fp16.decode(h);
                    seg.set(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 2L * i, h);
                }
                default -> {
                    short h = Bf16.encode(w[i]);
                    w[i] = Bf16.decode(h);
                    seg.set(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 2L * i, h);
                }
            }
        }
        Tensor wt = k.weight(dt, new int[] {n, kd}, seg);
        Tensor out = k.allocate(DType.F32, rows, n);
        k.matmul(act(x, rows, kd), wt, act(bias, n), out);
        float[] expected = new float[rows * n];
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < n; j++) {
                double s = bias[j];
                for (int i = 0; i < kd; i++) {
                    s += (double) x[r * kd + i] * w[j * kd + i];
                }
                expected[r * n + j] = (float) s;
            }
        }
        assertClose(expected, k.download(out), 1e-5, "matmul " + dt);
    }

    @Test
    void rmsNormMatchesFormula() {
        int rows = 3, h = 97;
        float[] x = random(rows * h);
        float[] w = random(h);
        Tensor out = k.allocate(DType.F32, rows, h);
        k.rmsNorm(act(x, rows, h), act(w, h), 1e-5f, out);
        float[] expected = new float[rows * h];
        rmsNormReference(x, rows, h, w, 1e-5, expected);
        assertClose(expected, k.download(out), 1e-6, "rmsnorm");
    }

    /** {@code out[r, :] = w · x[r, :] / sqrt(mean(x[r, :]²) + eps)} in double precision over rows of width h. */
    private static void rmsNormReference(float[] x, int rows, int h, float[] w, double eps, float[] out) {
        for (int r = 0; r < rows; r++) {
            double ss = 0;
            for (int i = 0; i < h; i++) {
                ss += x[r * h + i] * (double) x[r * h + i];
            }
            double inv = 1 / Math.sqrt(ss / h + eps);
            for (int i = 0; i < h; i++) {
                out[r * h + i] = (float) (w[i] * x[r * h + i] * inv);
            }
        }
    }

    /**
     * Per-head RMSNorm in place (Qwen3's q_norm / k_norm) against the formula over each head's D-wide vector, in
     * both kernel modes, on a row-view of a larger buffer (as the model's workspace hands it over): rows past the
     * view stay as they were.
     */
    @ParameterizedTest
    @CsvSource({"SCALAR, 1, 3, 32", "SIMD, 1, 3, 32", "SCALAR, 5, 4, 24", "SIMD, 5, 4, 24", "SIMD, 7, 2, 130"})
    void headRmsNormNormsEachHeadInPlace(String mode, int rows, int heads, int d) {
        CpuKernels kernels = new CpuKernels(CpuKernelMode.valueOf(mode), 1);
        int width = heads * d;
        float[] x = random((rows + 2) * width);
        float[] w = random(d);
        Tensor base = kernels.allocate(DType.F32, rows + 2, width);
        kernels.upload(x, base);
        Tensor weight = kernels.allocate(DType.F32, d);
        kernels.upload(w, weight);
        kernels.headRmsNorm(kernels.view(base, rows), weight, 1e-6f);
        float[] expected = x.clone(); // the rows past the view keep their values
        rmsNormReference(x, rows * heads, d, w, 1e-6, expected);
        assertClose(expected, kernels.download(base), 1e-6, "headRmsNorm " + mode + " " + rows + "x" + heads + "x" + d);
    }

    @Test
    void headRmsNormRefusesAWeightThatDoesNotDivideTheRow() {
        Tensor x = k.allocate(DType.F32, 2, 40);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> k.headRmsNorm(x, k.allocate(DType.F32, 16), 1e-6f));
        assertEquals("headRmsNorm needs x F32 [rows, heads * D] and weight [D], got x F32[2, 40] and weight F32[16]",
                e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> k.headRmsNorm(x, k.allocate(DType.F32, 2, 20), 1e-6f));
    }

    @Test
    void ropeRotatesPairsHalfApart() {
        int heads = 3, kvHeads = 1, d = 16, t = 4;
        AttentionShape shape = AttentionShape.of(heads, kvHeads, d, 4);
        float[] inv = new float[d / 2];
        for (int i = 0; i < d / 2; i++) {
            inv[i] = (float) Math.pow(10000, -2.0 * i / d);
        }
        int[] pos = {0, 1, 37, 5000};
        float[] q = random(t * heads * d);
        float[] kk = random(t * kvHeads * d);
        Tensor qt = act(q, t, heads * d);
        Tensor kt = act(kk, t, kvHeads * d);
        StepBatch b = new StepBatch(true, new int[t], pos, new int[] {-1, -1, -1, -1}, new int[] {0, t}, new int[] {t},
                new int[][] {{}}, new int[] {t - 1});
        k.rope(qt, kt, k.plan(b), new RopeTable(inv), shape);
        float[] gotQ = k.download(qt);
        for (int tok = 0; tok < t; tok++) {
            for (int hh = 0; hh < heads; hh++) {
                for (int i = 0; i < d / 2; i++) {
                    double a = pos[tok] * (double) inv[i];
                    int o = (tok * heads + hh) * d;
                    double x1 = q[o + i], x2 = q[o + i + d / 2];
                    assertEquals(x1 * Math.cos(a) - x2 * Math.sin(a), gotQ[o + i], 2e-3);
                    assertEquals(x2 * Math.cos(a) + x1 * Math.sin(a), gotQ[o + i + d / 2], 2e-3);
                }
            }
        }
    }

    @Test
    void partialRopeRotatesTheFirstChannelsAsAHeadOfThatWidthAndLeavesTheRest() {
        // transformers' apply_rotary_pos_emb with rotary_dim < head_dim: rotate q[..., :R] (pairs i, i + R/2),
        // concatenate q[..., R:] unchanged
        int heads = 3, kvHeads = 1, d = 16, r = 12, t = 4;
        float[] inv = new float[r / 2];
        for (int i = 0; i < inv.length; i++) {
            inv[i] = (float) Math.pow(10000, -2.0 * i / r);
        }
        int[] pos = {0, 1, 37, 5000};
        StepBatch b = new StepBatch(true, new int[t], pos, new int[] {-1, -1, -1, -1}, new int[] {0, t}, new int[] {t},
                new int[][] {{}}, new int[] {t - 1});
        float[] q = random(t * heads * d);
        float[] kk = random(t * kvHeads * d);
        Tensor qt = act(q, t, heads * d);
        Tensor kt = act(kk, t, kvHeads * d);
        RopeTable partial = RopeTable.fixed("default", inv, 1.25f);
        assertEquals(r, partial.rotaryDim());
        k.rope(qt, kt, k.plan(b), partial, AttentionShape.of(heads, kvHeads, d, 4));
        // the reference: the first r channels of each head alone, as heads of width r under full rope
        float[] qr = new float[t * heads * r];
        float[] kr = new float[t * kvHeads * r];
        for (int row = 0; row < t * heads; row++) {
            System.arraycopy(q, row * d, qr, row * r, r);
        }
        for (int row = 0; row < t * kvHeads; row++) {
            System.arraycopy(kk, row * d, kr, row * r, r);
        }
        Tensor qrt = act(qr, t, heads * r);
        Tensor krt = act(kr, t, kvHeads * r);
        k.rope(qrt, krt, k.plan(b), partial, AttentionShape.of(heads, kvHeads, r, 4));
        assertRotatedPrefix(q, k.download(qt), k.download(qrt), t * heads, d, r);
        assertRotatedPrefix(kk, k.download(kt), k.download(krt), t * kvHeads, d, r);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> k.rope(qrt, krt, k.plan(b), new RopeTable(new float[8]), AttentionShape.of(heads, kvHeads, r, 4)));
        assertEquals("rope table rotating 16 channels, attention head dim 12", e.getMessage());
    }

    /** Each row's first r channels equal the width-r rotation's, bit for bit; the others the input's. */
    private static void assertRotatedPrefix(float[] in, float[] got, float[] rotated, int rows, int d, int r) {
        for (int row = 0; row < rows; row++) {
            for (int c = 0; c < d; c++) {
                float want = c < r ? rotated[row * r + c] : in[row * d + c];
                assertEquals(want, got[row * d + c], "row " + row + " channel " + c);
            }
        }
    }

    /** Naive attention in double: query row i of a sequence attends to keys 0..limit. */
    private static float[] naiveAttention(float[] q, int qRow, float[] keys, float[] vals, int firstKeyRow, int numKeys,
                                          int head, AttentionShape s) {
        int d = s.headDim();
        int kvh = head / s.groupSize();
        double[] sc = new double[numKeys];
        double max = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < numKeys; j++) {
            double dot = 0;
            for (int c = 0; c < d; c++) {
                dot += q[(qRow * s.numHeads() + head) * d + c] * (double) keys[((firstKeyRow + j) * s.numKvHeads() + kvh) * d + c];
            }
            sc[j] = dot / Math.sqrt(d);
            max = Math.max(max, sc[j]);
        }
        double sum = 0;
        for (int j = 0; j < numKeys; j++) {
            sc[j] = Math.exp(sc[j] - max);
            sum += sc[j];
        }
        float[] out = new float[d];
        for (int c = 0; c < d; c++) {
            double acc = 0;
            for (int j = 0; j < numKeys; j++) {
                acc += sc[j] * vals[((firstKeyRow + j) * s.numKvHeads() + kvh) * d + c];
            }
            out[c] = (float) (acc / sum);
        }
        return out;
    }

    /**
     * Chunked prefill: each sequence's earlier tokens are already in the cache (written by an earlier step), the step
     * holds the next chunk (kvLen > queryLen), and chunk row i attends keys 0 … past + i: against naive attention in
     * double over the whole sequence's keys.
     */
    @ParameterizedTest
    @CsvSource({"4,4,16,1", "8,2,32,4", "8,1,64,16", "4,1,16,32"})
    void prefillAttentionOverEarlierChunksMatchesNaive(int heads, int kvHeads, int d, int blockSize) {
        AttentionShape s = AttentionShape.of(heads, kvHeads, d, blockSize);
        int[] kvLens = {17, 54, 97, 33};
        int[] qLens = {17, 20, 1, 16}; // whole, a middle chunk, one token, a chunk ending mid-block
        int n = kvLens.length;
        int totalKv = 0;
        int[] kvStart = new int[n + 1];
        int[] qStart = new int[n + 1];
        for (int i = 0; i < n; i++) {
            kvStart[i + 1] = kvStart[i] + kvLens[i];
            qStart[i + 1] = qStart[i] + qLens[i];
        }
        totalKv = kvStart[n];
        int t = qStart[n];
        float[] q = random(t * heads * d);
        float[] kAll = random(totalKv * kvHeads * d); // [sequence's rows, concatenated][Hkv·D]
        float[] vAll = random(totalKv * kvHeads * d);
        int numBlocks = 0;
        int[][] tables = new int[n][];
        for (int i = 0; i < n; i++) {
            numBlocks += (kvLens[i] + blockSize - 1) / blockSize;
        }
        numBlocks += 2;
        List<Integer> free = new ArrayList<>();
        for (int b = 0; b < numBlocks; b++) {
            free.add(b);
        }
        Collections.shuffle(free, new java.util.Random(11));
        for (int i = 0; i < n; i++) {
            tables[i] = new int[(kvLens[i] + blockSize - 1) / blockSize];
            for (int b = 0; b < tables[i].length; b++) {
                tables[i][b] = free.removeFirst();
            }
        }
        Tensor cache = k.allocate(DType.F32, numBlocks, 2, kvHeads, blockSize, d);
        // the earlier chunks: every sequence's first kvLen − qLen tokens, written by a step of their own
        int pastTotal = totalKv - t;
        int[] pastSlots = new int[pastTotal];
        float[] kPast = new float[pastTotal * kvHeads * d];
        float[] vPast = new float[pastTotal * kvHeads * d];
        int[] slots = new int[t];
        float[] kStep = new float[t * kvHeads * d];
        float[] vStep = new float[t * kvHeads * d];
        int pr = 0;
        for (int i = 0; i < n; i++) {
            int past = kvLens[i] - qLens[i];
            for (int j = 0; j < kvLens[i]; j++) {
                int slot = tables[i][j / blockSize] * blockSize + j % blockSize;
                int src = (kvStart[i] + j) * kvHeads * d;
                if (j < past) {
                    pastSlots[pr] = slot;
                    System.arraycopy(kAll, src, kPast, pr * kvHeads * d, kvHeads * d);
                    System.arraycopy(vAll, src, vPast, pr * kvHeads * d, kvHeads * d);
                    pr++;
                } else {
                    int row = qStart[i] + j - past;
                    slots[row] = slot;
                    System.arraycopy(kAll, src, kStep, row * kvHeads * d, kvHeads * d);
                    System.arraycopy(vAll, src, vStep, row * kvHeads * d, kvHeads * d);
                }
            }
        }
        if (pastTotal > 0) {
            StepBatch earlier = new StepBatch(true, new int[pastTotal], new int[pastTotal], pastSlots,
                    new int[] {0, pastTotal}, new int[] {pastTotal}, new int[][] {new int[0]}, new int[] {0});
            k.writeKv(act(kPast, pastTotal, kvHeads * d), act(vPast, pastTotal, kvHeads * d), k.plan(earlier), s, cache);
        }
        int[] rows = new int[n];
        int[] prefillLens = new int[n];
        for (int i = 0; i < n; i++) {
            rows[i] = qStart[i + 1] - 1;
            prefillLens[i] = kvLens[i] + 5; // not the last chunk: attention does not care
        }
        StepBatch chunk = new StepBatch(true, new int[t], new int[t], slots, qStart, kvLens, tables, rows, prefillLens);
        Tensor kt = act(kStep, t, kvHeads * d);
        Tensor vt = act(vStep, t, kvHeads * d);
        k.writeKv(kt, vt, k.plan(chunk), s, cache);
        Tensor out = k.allocate(DType.F32, t, heads * d);
        k.prefillAttention(act(q, t, heads * d), kt, vt, cache, k.plan(chunk), s, out);
        float[] got = k.download(out);
        for (int i = 0; i < n; i++) {
            int past = kvLens[i] - qLens[i];
            for (int r = 0; r < qLens[i]; r++) {
                int row = qStart[i] + r;
                for (int h = 0; h < heads; h++) {
                    float[] exp = naiveAttention(q, row, kAll, vAll, kvStart[i], past + r + 1, h, s);
                    float[] act = new float[d];
                    System.arraycopy(got, (row * heads + h) * d, act, 0, d);
                    assertClose(exp, act, 1e-5, "chunk of seq " + i + " row " + r + " head " + h);
                }
            }
        }
    }

    @ParameterizedTest
    @CsvSource({"4,4,16,1", "8,2,32,4", "8,1,64,16", "4,1,16,32"})
    void prefillAndPagedDecodeAttentionMatchNaive(int heads, int kvHeads, int d, int blockSize) {
        AttentionShape s = AttentionShape.of(heads, kvHeads, d, blockSize);
        int[] lens = {1, 54, 97};
        int t = 0;
        int[] qStart = new int[lens.length + 1];
        for (int i = 0; i < lens.length; i++) {
            qStart[i] = t;
            t += lens[i];
        }
        qStart[lens.length] = t;
        float[] q = random(t * heads * d);
        float[] kk = random(t * kvHeads * d);
        float[] v = random(t * kvHeads * d);
        // scatter each sequence over shuffled blocks of the pool
        int blocksPerSeq = 0;
        for (int len : lens) {
            blocksPerSeq = Math.max(blocksPerSeq, (len + blockSize - 1) / blockSize);
        }
        int numBlocks = blocksPerSeq * lens.length + 3;
        List<Integer> free = new ArrayList<>();
        for (int i = 0; i < numBlocks; i++) {
            free.add(i);
        }
        Collections.shuffle(free, new java.util.Random(7));
        int[][] tables = new int[lens.length][];
        int[] slots = new int[t];
        int tok = 0;
        for (int sIdx = 0; sIdx < lens.length; sIdx++) {
            int nb = (lens[sIdx] + blockSize - 1) / blockSize;
            tables[sIdx] = new int[nb];
            for (int b = 0; b < nb; b++) {
                tables[sIdx][b] = free.removeFirst();
            }
            for (int j = 0; j < lens[sIdx]; j++) {
                slots[tok++] = tables[sIdx][j / blockSize] * blockSize + j % blockSize;
            }
        }
        int[] lastRows = new int[lens.length];
        for (int i = 0; i < lens.length; i++) {
            lastRows[i] = qStart[i + 1] - 1;
        }
        StepBatch prefill = new StepBatch(true, new int[t], new int[t], slots, qStart, lens, tables, lastRows);
        Tensor cache = k.allocate(DType.F32, numBlocks, 2, kvHeads, blockSize, d);
        Tensor kt = act(kk, t, kvHeads * d);
        Tensor vt = act(v, t, kvHeads * d);
        k.writeKv(kt, vt, k.plan(prefill), s, cache);
        Tensor out = k.allocate(DType.F32, t, heads * d);
        k.prefillAttention(act(q, t, heads * d), kt, vt, cache, k.plan(prefill), s, out);
        float[] got = k.download(out);
        for (int sIdx = 0; sIdx < lens.length; sIdx++) {
            for (int i = 0; i < lens[sIdx]; i++) {
                int row = qStart[sIdx] + i;
                for (int h = 0; h < heads; h++) {
                    float[] exp = naiveAttention(q, row, kk, v, qStart[sIdx], i + 1, h, s);
                    float[] act = new float[d];
                    System.arraycopy(got, (row * heads + h) * d, act, 0, d);
                    assertClose(exp, act, 1e-5, "prefill seq " + sIdx + " row " + i + " head " + h);
                }
            }
        }
        // decode: the last token of each sequence attends through the paged cache
        float[] qLast = new float[lens.length * heads * d];
        for (int sIdx = 0; sIdx < lens.length; sIdx++) {
            System.arraycopy(q, lastRows[sIdx] * heads * d, qLast, sIdx * heads * d, heads * d);
        }
        int[] decQStart = new int[lens.length + 1];
        for (int i = 0; i <= lens.length; i++) {
            decQStart[i] = i;
        }
        StepBatch decode = new StepBatch(false, new int[lens.length], new int[lens.length], new int[lens.length],
                decQStart, lens, tables, new int[] {0, 1, 2});
        Tensor dout = k.allocate(DType.F32, lens.length, heads * d);
        k.decodeAttention(act(qLast, lens.length, heads * d), cache, k.plan(decode), s, dout);
        float[] dgot = k.download(dout);
        for (int sIdx = 0; sIdx < lens.length; sIdx++) {
            float[] exp = new float[heads * d];
            System.arraycopy(got, lastRows[sIdx] * heads * d, exp, 0, heads * d);
            float[] act = new float[heads * d];
            System.arraycopy(dgot, sIdx * heads * d, act, 0, heads * d);
            assertClose(exp, act, 1e-5, "paged decode seq " + sIdx);
        }
    }

    @Test
    void siluMulAddGatherAndEmbedding() {
        float[] g = random(10);
        float[] u = random(10);
        Tensor o = k.allocate(DType.F32, 2, 5);
        k.siluMul(act(g, 2, 5), act(u, 2, 5), o);
        float[] got = k.download(o);
        for (int i = 0; i < 10; i++) {
            assertEquals(g[i] / (1 + Math.exp(-g[i])) * u[i], got[i], 1e-6);
        }
        Tensor x = act(new float[] {1, 2, 3, 4, 5, 6}, 3, 2);
        k.add(x, act(new float[] {1, 1, 1, 1, 1, 1}, 3, 2));
        Tensor rows = k.allocate(DType.F32, 2, 2);
        k.gatherRows(x, new int[] {2, 0}, rows);
        assertArrayEquals(new float[] {6, 7, 2, 3}, k.download(rows));
        Tensor table = act(new float[] {0, 0, 10, 11, 20, 21}, 3, 2);
        StepBatch b = new StepBatch(true, new int[] {2, 1}, new int[2], new int[] {-1, -1}, new int[] {0, 2},
                new int[] {2}, new int[][] {{}}, new int[] {1});
        Tensor e = k.allocate(DType.F32, 2, 2);
        k.embedding(table, k.plan(b), e);
        assertArrayEquals(new float[] {20, 21, 10, 11}, k.download(e));
        StepBatch bad = new StepBatch(true, new int[] {3}, new int[1], new int[] {-1}, new int[] {0, 1},
                new int[] {1}, new int[][] {{}}, new int[] {0});
        assertThrows(IllegalArgumentException.class, () -> k.embedding(table, k.plan(bad), k.allocate(DType.F32, 1, 2)));
    }
}
