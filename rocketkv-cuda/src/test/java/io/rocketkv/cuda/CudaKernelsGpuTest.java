package io.rocketkv.cuda;

import static io.rocketkv.cuda.GpuTensors.act;
import static io.rocketkv.cuda.GpuTensors.bf16Round;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rocketkv.core.kernels.AttentionShape;
import io.rocketkv.core.kernels.CpuKernels;
import io.rocketkv.core.kernels.RopeTable;
import io.rocketkv.core.kernels.StepBatch;
import io.rocketkv.core.kernels.Tensor;
import io.rocketkv.core.model.UnsupportedModelException;
import io.rocketkv.core.numeric.Bf16;
import io.rocketkv.core.numeric.DType;
import io.rocketkv.core.numeric.Fp16;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/** {@link CudaKernels} against {@link CpuKernels} on seeded random inputs, op by op. */
@RequiresCuda
class CudaKernelsGpuTest {

    private static CudaKernels gpu;
    private static final CpuKernels cpu = new CpuKernels();
    private static final Arena arena = Arena.ofShared();

    @BeforeAll
    static void open() {
        gpu = new CudaKernels();
    }

    @AfterAll
    static void close() {
        if (gpu != null) {
            gpu.close();
        }
    }

    // ---- helpers ------------------------------------------------------------------------------------

    private static MemorySegment bytes(DType dtype, float[] v) {
        MemorySegment s = arena.allocate((long) v.length * dtype.byteSize(), 16);
        for (int i = 0; i < v.length; i++) {
            switch (dtype) {
                case F32 -> s.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, v[i]);
                case BF16 -> s.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, Bf16.encode(v[i]));
                case F16 -> s.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, Fp16.encode(v[i]));
                default -> throw new IllegalArgumentException();
            }
        }
        return s;
    }

    // ---- ops ----------------------------------------------------------------------------------------

    @Test
    void kvCacheIsBf16AndKtCacheIsTheKtDtype() {
        assertEquals(DType.BF16, gpu.kvCacheDtype());
        for (DType kt : new DType[] {DType.F8_E5M2, DType.BF16}) {
            var p = new io.rocketkv.core.sparse.RocketKvParams(4, 3, 16, 2, 8, 4, kt);
            assertEquals(kt, gpu.ktCacheDtype(p));
            try (Tensor t = gpu.allocate(gpu.ktCacheDtype(p), 8, 2, 2, 16)) {
                assertEquals(kt, t.dtype());
            }
        }
        var e = assertThrows(IllegalArgumentException.class, () -> gpu.allocate(DType.F16, 4));
        assertTrue(e.getMessage().contains("F16"), e.getMessage());
    }

    @Test
    void allocateZeroFillsAndUploadDownloadRoundTrip() {
        try (Tensor t = gpu.allocate(DType.F32, 3, 5)) {
            assertArrayEquals(new float[15], gpu.download(t));
            float[] v = Gpu.gaussian(new Random(1), 15, 1f);
            gpu.upload(v, t);
            assertArrayEquals(v, gpu.download(t));
        }
    }

    @ParameterizedTest
    @CsvSource({"1, 4, 2, 16, 1, 16", "37, 4, 2, 64, 1, 64", "97, 32, 8, 128, 1, 128", "5, 3, 1, 24, 1, 24",
            "37, 4, 2, 64, 1.2079442, 64", "97, 32, 8, 128, 0.8, 128",
            // partial_rotary_factor: Phi-4-mini's 96 of 128 channels, 0.5 of 64, 12 of 16
            "97, 24, 8, 128, 1.1902381, 96", "37, 4, 2, 64, 1, 32", "5, 4, 2, 16, 1, 12"})
    void ropeMatchesCpu(int tokens, int heads, int kvHeads, int d, float attentionFactor, int rotary) {
        Random rnd = new Random(tokens * 31 + d);
        float[] inv = new float[rotary / 2];
        for (int i = 0; i < inv.length; i++) {
            inv[i] = (float) Math.pow(500000, -2.0 * i / rotary);
        }
        RopeTable rope = RopeTable.fixed("yarn", inv, attentionFactor); // the attention factor multiplies cos and sin
        AttentionShape shape = AttentionShape.of(heads, kvHeads, d, 16);
        int[] pos = new int[tokens];
        for (int i = 0; i < tokens; i++) {
            pos[i] = i == 0 ? 0 : rnd.nextInt(130_000);
        }
        StepBatch b = new StepBatch(true, new int[tokens], pos, filled(tokens, -1), new int[] {0, tokens},
                new int[] {tokens}, new int[][] {{0}}, new int[] {tokens - 1});
        float[] q = Gpu.gaussian(rnd, tokens * heads * d, 1f);
        float[] k = Gpu.gaussian(rnd, tokens * kvHeads * d, 1f);
        Tensor cq = act(cpu, q, tokens, heads * d);
        Tensor ck = act(cpu, k, tokens, kvHeads * d);
        cpu.rope(cq, ck, cpu.plan(b), rope, shape);
        try (Tensor gq = act(gpu, q, tokens, heads * d); Tensor gk = act(gpu, k, tokens, kvHeads * d)) {
            gpu.rope(gq, gk, gpu.plan(b), rope, shape);
            Gpu.assertClose("rope q", cpu.download(cq), gpu.download(gq), 1e-5, 2e-6);
            Gpu.assertClose("rope k", cpu.download(ck), gpu.download(gk), 1e-5, 2e-6);
        }
    }

    @Test
    void ropeWhoseFrequenciesDependOnLengthIsRefused() {
        float[] inv = {1f, 0.1f};
        RopeTable dynamic = RopeTable.lengthDependent("dynamic", inv, 1f, 64, seqLen -> inv);
        UnsupportedModelException e = assertThrows(UnsupportedModelException.class, () -> gpu.checkRope(dynamic));
        assertTrue(e.getMessage().contains("\"dynamic\"") && e.getMessage().contains("CPU backend"), e.getMessage());
        gpu.checkRope(RopeTable.fixed("yarn", inv, 1.2f));
    }

    @Test
    void gatherRowsAndF32EmbeddingAreExact() {
        Random rnd = new Random(3);
        int rows = 50;
        int width = 300;
        float[] x = Gpu.gaussian(rnd, rows * width, 1f);
        int[] pick = {49, 0, 7, 7, 23};
        Tensor cx = act(cpu, x, rows, width);
        Tensor co = cpu.allocate(DType.F32, pick.length, width);
        cpu.gatherRows(cx, pick, co);
        try (Tensor gx = act(gpu, x, rows, width); Tensor go = gpu.allocate(DType.F32, pick.length, width)) {
            gpu.gatherRows(gx, pick, go);
            assertArrayEquals(cpu.download(co), gpu.download(go));
        }
        for (DType dt : new DType[] {DType.F32, DType.BF16, DType.F16}) {
            Tensor ctab = cpu.weight(dt, new int[] {rows, width}, bytes(dt, x));
            StepBatch b = new StepBatch(true, pick, new int[pick.length], filled(pick.length, -1),
                    new int[] {0, pick.length}, new int[] {pick.length}, new int[][] {{0}}, new int[] {0});
            Tensor ce = cpu.allocate(DType.F32, pick.length, width);
            cpu.embedding(ctab, cpu.plan(b), ce);
            try (Tensor gtab = gpu.weight(dt, new int[] {rows, width}, bytes(dt, x));
                 Tensor ge = gpu.allocate(DType.F32, pick.length, width)) {
                gpu.embedding(gtab, gpu.plan(b), ge);
                // F16 is converted to bf16 on upload
                float[] want = dt == DType.F16 ? bf16Round(cpu.download(ce)) : cpu.download(ce);
                assertArrayEquals(want, gpu.download(ge), "embedding " + dt);
            }
        }
    }

    @ParameterizedTest
    @CsvSource({"1, 64, 96", "17, 1000, 300", "5, 172, 64"})
    void matmulWithBiasMatchesCpu(int m, int n, int k) {
        Random rnd = new Random(m * 7 + n);
        float[] x = Gpu.gaussian(rnd, m * k, 1f);
        float[] w = Gpu.gaussian(rnd, n * k, 0.05f);
        float[] bias = Gpu.gaussian(rnd, n, 0.5f);
        for (DType dt : new DType[] {DType.F32, DType.BF16, DType.F16}) {
            Tensor cb = cpu.weight(DType.F32, new int[] {n}, bytes(DType.F32, bias));
            // bf16 path: the GPU rounds x to bf16 before the GEMM; the CPU twin gets the same rounded x.
            // F16 weights become bf16 on upload: the CPU twin gets bf16 weights.
            float[] xIn = dt == DType.F32 ? x : bf16Round(x);
            DType cpuW = dt == DType.F16 ? DType.BF16 : dt;
            float[] wIn = dt == DType.F16 ? bf16Round(decodedF16(w)) : w;
            Tensor cw = cpu.weight(cpuW, new int[] {n, k}, bytes(cpuW, wIn));
            Tensor co = cpu.allocate(DType.F32, m, n);
            cpu.matmul(act(cpu, xIn, m, k), cw, cb, co);
            try (Tensor gw = gpu.weight(dt, new int[] {n, k}, bytes(dt, w));
                 Tensor gb = gpu.weight(DType.F32, new int[] {n}, bytes(DType.F32, bias));
                 Tensor gx = act(gpu, x, m, k);
                 Tensor go = gpu.allocate(DType.F32, m, n)) {
                assertEquals(dt == DType.F32 ? DType.F32 : DType.BF16, gw.dtype());
                gpu.matmul(gx, gw, gb, go);
                Gpu.assertClose("matmul " + dt + " m=" + m + " n=" + n + " k=" + k, cpu.download(co), gpu.download(go),
                        1e-4, 1e-4);
                gpu.matmul(gx, gw, null, go);
                float[] noBias = cpu.download(co);
                for (int r = 0; r < m; r++) {
                    for (int j = 0; j < n; j++) {
                        noBias[r * n + j] -= bias[j];
                    }
                }
                Gpu.assertClose("matmul without bias " + dt, noBias, gpu.download(go), 1e-4, 1e-4);
            }
        }
    }

    private static float[] decodedF16(float[] w) {
        float[] r = new float[w.length];
        for (int i = 0; i < w.length; i++) {
            r[i] = Fp16.decode(Fp16.encode(w[i]));
        }
        return r;
    }

    @Test
    void rmsNormSiluAddMatchCpu() {
        Random rnd = new Random(5);
        int rows = 7;
        int h = 96;
        float[] x = Gpu.gaussian(rnd, rows * h, 1f);
        float[] y = Gpu.gaussian(rnd, rows * h, 1f);
        float[] w = Gpu.gaussian(rnd, h, 1f);
        for (DType dt : new DType[] {DType.F32, DType.BF16}) {
            Tensor cw = cpu.weight(dt, new int[] {h}, bytes(dt, w));
            Tensor cx = act(cpu, x, rows, h);
            Tensor co = cpu.allocate(DType.F32, rows, h);
            cpu.rmsNorm(cx, cw, 1e-5f, co);
            cpu.siluMul(co, act(cpu, y, rows, h), co);
            cpu.add(co, act(cpu, y, rows, h));
            try (Tensor gw = gpu.weight(dt, new int[] {h}, bytes(dt, w)); Tensor gx = act(gpu, x, rows, h);
                 Tensor gy = act(gpu, y, rows, h); Tensor go = gpu.allocate(DType.F32, rows, h)) {
                gpu.rmsNorm(gx, gw, 1e-5f, go);
                gpu.siluMul(go, gy, go);
                gpu.add(go, gy);
                Gpu.assertClose("rmsnorm/silu/add " + dt, cpu.download(co), gpu.download(go), 1e-5, 1e-5);
            }
        }
    }

    /**
     * Per-head RMSNorm in place (Qwen3's q_norm / k_norm) against CpuKernels.headRmsNorm, on a row-view of a larger
     * buffer as the model's workspace hands it over (the rows past the view stay as they were); the weight F32, BF16
     * or F16 as a checkpoint stores it (the backend holds vectors in F32). Within 1e-5 relative, as rmsNorm.
     */
    @ParameterizedTest
    @CsvSource({"1, 1, 24", "1, 8, 128", "54, 3, 32", "97, 16, 128", "5, 2, 80"})
    void headRmsNormMatchesCpu(int tokens, int heads, int d) {
        Random rnd = new Random(tokens * 131L + heads * 7L + d);
        int width = heads * d;
        float[] x = Gpu.gaussian(rnd, (tokens + 3) * width, 2f);
        float[] w = Gpu.gaussian(rnd, d, 1f);
        for (DType dt : new DType[] {DType.F32, DType.BF16, DType.F16}) {
            Tensor cx = act(cpu, x, tokens + 3, width);
            cpu.headRmsNorm(cpu.view(cx, tokens), cpu.weight(dt, new int[] {d}, bytes(dt, w)), 1e-6f);
            try (Tensor gw = gpu.weight(dt, new int[] {d}, bytes(dt, w)); Tensor gx = act(gpu, x, tokens + 3, width)) {
                gpu.headRmsNorm(gpu.view(gx, tokens), gw, 1e-6f);
                Gpu.assertClose("headRmsNorm " + dt + " " + tokens + "x" + heads + "x" + d, cpu.download(cx),
                        gpu.download(gx), 1e-5, 1e-6);
            }
        }
        try (Tensor gx = gpu.allocate(DType.F32, 2, 40); Tensor gw = gpu.allocate(DType.F32, 16)) {
            var e = assertThrows(IllegalArgumentException.class, () -> gpu.headRmsNorm(gx, gw, 1e-6f));
            assertTrue(e.getMessage().contains("F32[2, 40]") && e.getMessage().contains("F32[16]"), e.getMessage());
        }
    }

    private static float[] downloadBf16(Tensor t) {
        short[] bits = new short[Math.toIntExact(t.numel())];
        ((CudaTensor) t).buffer().copyTo(bits);
        float[] f = new float[bits.length];
        for (int i = 0; i < f.length; i++) {
            f[i] = Bf16.decode(bits[i]);
        }
        return f;
    }

    /**
     * rmsNorm and siluMul with a BF16 out (the GEMM input type for bf16 weights) give the CPU's fp32 result
     * rounded to bf16: equal, or one bf16 step apart where the fp32 values (a few ulp apart, different
     * summation order) straddle a rounding boundary. A matmul of that BF16 x is bit-identical to the matmul
     * of the F32 x it was rounded from (the F32 path rounds the same way before the same GEMM).
     */
    @ParameterizedTest
    @CsvSource({"1, 64", "3, 96", "17, 4096"})
    void bf16OutputsEqualRoundedCpuAndFeedTheGemmUnchanged(int rows, int h) {
        Random rnd = new Random(rows * 31L + h);
        float[] x = Gpu.gaussian(rnd, rows * h, 1f);
        float[] up = Gpu.gaussian(rnd, rows * h, 1f);
        float[] w = Gpu.gaussian(rnd, h, 1f);
        Tensor cw = cpu.weight(DType.F32, new int[] {h}, bytes(DType.F32, w));
        Tensor cx = act(cpu, x, rows, h);
        Tensor cn = cpu.allocate(DType.F32, rows, h);
        cpu.rmsNorm(cx, cw, 1e-5f, cn);
        Tensor cs = cpu.allocate(DType.F32, rows, h);
        cpu.siluMul(cx, act(cpu, up, rows, h), cs);
        int n = 48;
        float[] wm = Gpu.gaussian(rnd, n * h, 0.05f);
        try (Tensor gw = gpu.weight(DType.F32, new int[] {h}, bytes(DType.F32, w)); Tensor gx = act(gpu, x, rows, h);
             Tensor gup = act(gpu, up, rows, h);
             Tensor gn = gpu.allocate(DType.BF16, rows, h); Tensor gnF = gpu.allocate(DType.F32, rows, h);
             Tensor gs = gpu.allocate(DType.BF16, rows, h);
             Tensor wmat = gpu.weight(DType.BF16, new int[] {n, h}, bytes(DType.BF16, wm));
             Tensor o1 = gpu.allocate(DType.F32, rows, n); Tensor o2 = gpu.allocate(DType.F32, rows, n)) {
            gpu.rmsNorm(gx, gw, 1e-5f, gn);
            gpu.rmsNorm(gx, gw, 1e-5f, gnF);
            gpu.siluMul(gx, gup, gs);
            assertWithinOneBf16Step("rmsNorm bf16 out", bf16Round(cpu.download(cn)), downloadBf16(gn));
            assertWithinOneBf16Step("siluMul bf16 out", bf16Round(cpu.download(cs)), downloadBf16(gs));
            assertArrayEquals(bf16Round(gpu.download(gnF)), downloadBf16(gn), "bf16 out = the GPU's fp32 out rounded");
            gpu.matmul(gn, wmat, null, o1);
            gpu.matmul(gnF, wmat, null, o2);
            assertArrayEquals(gpu.download(o2), gpu.download(o1), "GEMM of the bf16 x = GEMM of the f32 x");
            Tensor f32Weight = gpu.weight(DType.F32, new int[] {n, h}, bytes(DType.F32, wm));
            assertThrows(IllegalArgumentException.class, () -> gpu.matmul(gn, f32Weight, null, o1));
            f32Weight.close();
        }
    }

    private static void assertWithinOneBf16Step(String what, float[] expected, float[] actual) {
        assertEquals(expected.length, actual.length);
        int differ = 0;
        for (int i = 0; i < expected.length; i++) {
            if (expected[i] != actual[i]) {
                float step = Math.ulp(expected[i]) * 65536f; // one bf16 step at this magnitude
                assertTrue(Math.abs(expected[i] - actual[i]) <= step * 1.0001f,
                        what + " at " + i + ": expected " + expected[i] + ", got " + actual[i]);
                differ++;
            }
        }
        assertTrue(differ <= expected.length / 50 + 1, what + ": " + differ + " of " + expected.length
                + " values a bf16 step apart");
    }

    // ---- attention ----------------------------------------------------------------------------------

    /** A random paged layout: each sequence's blocks drawn from a shuffled pool. */
    record Layout(int[][] tables, int numBlocks) {
        static Layout of(int[] lens, int p, Random rnd) {
            int total = 0;
            for (int len : lens) {
                total += (len + p - 1) / p;
            }
            int numBlocks = total + 3;
            List<Integer> pool = new ArrayList<>();
            for (int i = 0; i < numBlocks; i++) {
                pool.add(i);
            }
            Collections.shuffle(pool, rnd);
            int[][] tables = new int[lens.length][];
            int next = 0;
            for (int s = 0; s < lens.length; s++) {
                int need = (lens[s] + p - 1) / p;
                tables[s] = new int[need + (s % 2)]; // some rows longer than needed (padding)
                for (int j = 0; j < tables[s].length; j++) {
                    tables[s][j] = j < need ? pool.get(next++) : pool.get(numBlocks - 1);
                }
            }
            return new Layout(tables, numBlocks);
        }

        int[] slots(int[] lens, int p) {
            int t = 0;
            for (int len : lens) {
                t += len;
            }
            int[] slots = new int[t];
            int i = 0;
            for (int s = 0; s < lens.length; s++) {
                for (int j = 0; j < lens[s]; j++) {
                    slots[i++] = tables[s][j / p] * p + j % p;
                }
            }
            return slots;
        }
    }

    static StepBatch prefillBatch(int[] lens, Layout layout, int p) {
        int t = 0;
        int[] qStart = new int[lens.length + 1];
        int[] last = new int[lens.length];
        for (int s = 0; s < lens.length; s++) {
            t += lens[s];
            qStart[s + 1] = t;
            last[s] = t - 1;
        }
        int[] pos = new int[t];
        for (int s = 0; s < lens.length; s++) {
            for (int j = 0; j < lens[s]; j++) {
                pos[qStart[s] + j] = j;
            }
        }
        return new StepBatch(true, new int[t], pos, layout.slots(lens, p), qStart, lens.clone(), layout.tables(), last);
    }

    @ParameterizedTest
    @CsvSource({"16, 4, 2, 16", "32, 4, 1, 16", "64, 8, 2, 16", "128, 8, 8, 32", "24, 4, 2, 16"})
    void prefillAttentionMatchesCpu(int d, int heads, int kvHeads, int p) {
        checkPrefill(gpu, new int[] {1, 54, 97, 300}, d, heads, kvHeads, p, new Random(d * 1000 + heads));
    }

    /** Prefill of sequences of {@code lens} tokens on the GPU vs the CPU twin on the same bf16-rounded K/V. */
    static void checkPrefill(CudaKernels gpu, int[] lens, int d, int heads, int kvHeads, int p, Random rnd) {
        Layout layout = Layout.of(lens, p, rnd);
        StepBatch b = prefillBatch(lens, layout, p);
        AttentionShape shape = AttentionShape.of(heads, kvHeads, d, p);
        int t = b.numTokens();
        float[] q = Gpu.gaussian(rnd, t * heads * d, 1f);
        float[] k = Gpu.gaussian(rnd, t * kvHeads * d, 1f);
        float[] v = Gpu.gaussian(rnd, t * kvHeads * d, 1f);
        // the CPU twin attends over the bf16-rounded K/V the GPU cache holds
        Tensor co = cpu.allocate(DType.F32, t, heads * d);
        Tensor ccache = cpu.allocate(DType.F32, layout.numBlocks(), 2, kvHeads, p, d);
        cpu.prefillAttention(act(cpu, q, t, heads * d), act(cpu, bf16Round(k), t, kvHeads * d),
                act(cpu, bf16Round(v), t, kvHeads * d), ccache, cpu.plan(b), shape, co);
        try (Tensor gq = act(gpu, q, t, heads * d); Tensor gk = act(gpu, k, t, kvHeads * d);
             Tensor gv = act(gpu, v, t, kvHeads * d); Tensor go = gpu.allocate(DType.F32, t, heads * d);
             Tensor cache = gpu.allocate(DType.BF16, layout.numBlocks(), 2, kvHeads, p, d)) {
            gpu.writeKv(gk, gv, gpu.plan(b), shape, cache);
            gpu.prefillAttention(gq, gk, gv, cache, gpu.plan(b), shape, go);
            Gpu.assertClose("prefill d=" + d + " lengths " + java.util.Arrays.toString(lens), cpu.download(co),
                    gpu.download(go), Gpu.PREFILL_RTOL, Gpu.PREFILL_ATOL);
        }
    }

    @ParameterizedTest
    @CsvSource({"16, 4, 2, 16", "32, 4, 1, 16", "64, 10, 2, 16", "128, 32, 8, 16", "128, 12, 1, 32", "24, 4, 2, 16",
            "256, 2, 1, 16"})
    void decodeAttentionMatchesCpu(int d, int heads, int kvHeads, int p) {
        checkDecode(new int[] {1, 17, 300, 2500}, d, heads, kvHeads, p, new Random(d * 1000 + heads + 1));
    }

    /** Decode of one query per sequence over {@code lens} cached keys on the GPU vs the CPU twin. */
    private static void checkDecode(int[] lens, int d, int heads, int kvHeads, int p, Random rnd) {
        Layout layout = Layout.of(lens, p, rnd);
        StepBatch fill = prefillBatch(lens, layout, p);
        AttentionShape shape = AttentionShape.of(heads, kvHeads, d, p);
        int t = fill.numTokens();
        float[] k = Gpu.gaussian(rnd, t * kvHeads * d, 1f);
        float[] v = Gpu.gaussian(rnd, t * kvHeads * d, 1f);
        int s = lens.length;
        float[] q = Gpu.gaussian(rnd, s * heads * d, 1f);
        StepBatch decode = decodeBatch(lens, layout.tables());
        Tensor ccache = cpu.allocate(DType.F32, layout.numBlocks(), 2, kvHeads, p, d);
        cpu.writeKv(act(cpu, bf16Round(k), t, kvHeads * d), act(cpu, bf16Round(v), t, kvHeads * d), cpu.plan(fill), shape, ccache);
        Tensor co = cpu.allocate(DType.F32, s, heads * d);
        cpu.decodeAttention(act(cpu, q, s, heads * d), ccache, cpu.plan(decode), shape, co);
        try (Tensor gk = act(gpu, k, t, kvHeads * d); Tensor gv = act(gpu, v, t, kvHeads * d);
             Tensor gq = act(gpu, q, s, heads * d); Tensor go = gpu.allocate(DType.F32, s, heads * d);
             Tensor cache = gpu.allocate(DType.BF16, layout.numBlocks(), 2, kvHeads, p, d)) {
            gpu.writeKv(gk, gv, gpu.plan(fill), shape, cache);
            gpu.decodeAttention(gq, cache, gpu.plan(decode), shape, go);
            Gpu.assertClose("decode d=" + d + " heads " + heads + "/" + kvHeads + " batch " + s, cpu.download(co),
                    gpu.download(go), 2e-2, 2e-3);
        }
    }

    /**
     * Prefill at the long lengths (4096 and one of 32769 tokens) and the GQA groups 1 and 8, against
     * the CPU twin on the same bf16-rounded K/V.
     */
    @ParameterizedTest(name = "d {0}, heads {1}/{2}, lengths {4}")
    @CsvSource({"64, 8, 8, 16, 4096", "64, 8, 1, 16, 1;97;4096", "32, 4, 1, 32, 32769"})
    void prefillAttentionLongPromptsMatchCpu(int d, int heads, int kvHeads, int p, String lengths) {
        int[] lens = java.util.Arrays.stream(lengths.split(";")).mapToInt(Integer::parseInt).toArray();
        checkPrefill(gpu, lens, d, heads, kvHeads, p, new Random(d * 7919L + heads * 31L + lens.length));
    }

    /** Decode at batch 17 with lengths from 1 to 32769 and the GQA groups 1, 4 and 8, against the CPU twin. */
    @ParameterizedTest(name = "d {0}, heads {1}/{2}")
    @CsvSource({"64, 4, 4, 16", "128, 16, 4, 32", "128, 8, 1, 16"})
    void decodeAttentionBatch17UpTo32kMatchesCpu(int d, int heads, int kvHeads, int p) {
        Random rnd = new Random(d * 131L + heads * 7L + kvHeads);
        int[] lens = new int[17];
        for (int i = 0; i < lens.length; i++) {
            lens[i] = 1 + rnd.nextInt(3000);
        }
        lens[0] = 1;
        lens[5] = 32769;
        lens[11] = 4096;
        checkDecode(lens, d, heads, kvHeads, p, rnd);
    }

    /** One query per sequence, at position lens[s] − 1 over its lens[s] cached keys; no cache slot written. */
    static StepBatch decodeBatch(int[] lens, int[][] tables) {
        int s = lens.length;
        int[] qStart = new int[s + 1];
        int[] rows = new int[s];
        int[] pos = new int[s];
        for (int i = 0; i < s; i++) {
            qStart[i + 1] = i + 1;
            rows[i] = i;
            pos[i] = lens[i] - 1;
        }
        return new StepBatch(false, new int[s], pos, filled(s, -1), qStart, lens.clone(), tables, rows);
    }

    static int[] filled(int n, int value) {
        int[] a = new int[n];
        java.util.Arrays.fill(a, value);
        return a;
    }
}
