package io.rocketkv.cuda;

import static io.rocketkv.cuda.GpuTensors.act;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.rocketkv.core.kernels.AttentionShape;
import io.rocketkv.core.kernels.CpuKernels;
import io.rocketkv.core.kernels.StepBatch;
import io.rocketkv.core.kernels.StepPlan;
import io.rocketkv.core.kernels.Tensor;
import io.rocketkv.core.numeric.DType;
import io.rocketkv.core.numeric.Fp8E4M3;
import io.rocketkv.core.sparse.RocketKvParams;
import io.rocketkv.core.sparse.RocketKvPlan;
import io.rocketkv.cuda.CudaKernelsGpuTest.Layout;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The fp8 (e4m3) KV cache on CUDA against its CPU twin, an F8_E4M3 {@link CpuKernels} cache with the same per-layer
 * scales: the cache write stores the very bytes the CPU stores (values chosen to hit saturation, subnormals and
 * NaN), decode attention reads them directly and prefill through its bf16 copy, both within the bf16 tests'
 * tolerances (decode folds the K scale into the query, prefill rounds e4m3 · scale to bf16 once: each rounds a
 * little differently from the CPU's fp32 e4m3 · scale); RocketKV's KT pages built from it hold the CPU's bits and
 * its sparse attention over every page equals dense decode.
 */
@RequiresCuda
class CudaFp8KvCacheGpuTest {

    private static CudaKernels gpu;
    private static final CpuKernels cpu = new CpuKernels(true, DType.F8_E4M3);

    @BeforeAll
    static void open() {
        gpu = new CudaKernels(0, DType.F8_E4M3);
    }

    @AfterAll
    static void close() {
        if (gpu != null) {
            gpu.close();
        }
    }

    @Test
    void theCacheIsFp8() {
        assertEquals(DType.F8_E4M3, gpu.kvCacheDtype());
        AttentionShape shape = AttentionShape.of(4, 2, 32, 16);
        try (Tensor cache = gpu.allocate(DType.F8_E4M3, 3, 2, 2, 16, 32)) {
            assertEquals(3, CudaChecks.checkCache(cache, shape));
        }
    }

    @ParameterizedTest(name = "d {0}, k_scale {1}, v_scale {2}")
    @CsvSource({"32, 1.0, 1.0", "64, 0.37, 2.5", "128, 0.0625, 0.03"})
    void writeKvStoresTheCpuBytes(int d, float kScale, float vScale) {
        Random rnd = new Random(d);
        int[] lens = {5, 40, 97};
        int p = 16;
        int kvHeads = 2;
        Layout layout = Layout.of(lens, p, rnd);
        StepBatch b = CudaKernelsGpuTest.prefillBatch(lens, layout, p);
        AttentionShape shape = AttentionShape.of(4, kvHeads, d, p);
        int t = b.numTokens();
        float[] k = edgeValues(Gpu.gaussian(rnd, t * kvHeads * d, 3f), kScale);
        float[] v = edgeValues(Gpu.gaussian(rnd, t * kvHeads * d, 3f), vScale);
        Tensor ccache = cpu.allocate(DType.F8_E4M3, layout.numBlocks(), 2, kvHeads, p, d);
        cpu.setKvCacheScales(ccache, kScale, vScale);
        cpu.writeKv(act(cpu, k, t, kvHeads * d), act(cpu, v, t, kvHeads * d), cpu.plan(b), shape, ccache);
        float[] expected = cpu.download(ccache); // e4m3 · scale, every element
        try (Tensor gk = act(gpu, k, t, kvHeads * d); Tensor gv = act(gpu, v, t, kvHeads * d);
             Tensor cache = gpu.allocate(DType.F8_E4M3, layout.numBlocks(), 2, kvHeads, p, d)) {
            gpu.setKvCacheScales(cache, kScale, vScale);
            gpu.writeKv(gk, gv, gpu.plan(b), shape, cache);
            float[] actual = decodeFp8(cache, kScale, vScale, kvHeads * p * d);
            assertEquals(expected.length, actual.length);
            for (int i = 0; i < expected.length; i++) {
                if (Float.floatToRawIntBits(expected[i]) != Float.floatToRawIntBits(actual[i])
                        && !(Float.isNaN(expected[i]) && Float.isNaN(actual[i]))) {
                    throw new AssertionError("element " + i + ": CPU " + expected[i] + ", GPU " + actual[i]);
                }
            }
        }
    }

    @ParameterizedTest(name = "d {0}, heads {1}/{2}, k_scale {4}, v_scale {5}")
    @CsvSource({"32, 4, 1, 16, 1.0, 1.0", "64, 10, 2, 16, 0.5, 0.25", "128, 32, 8, 16, 0.37, 1.7",
            "128, 12, 1, 32, 1.0, 1.0", "256, 2, 1, 16, 2.0, 0.8"})
    void decodeMatchesCpu(int d, int heads, int kvHeads, int p, float kScale, float vScale) {
        Random rnd = new Random(d * 1000L + heads);
        int[] lens = {1, 17, 300, 2500};
        Layout layout = Layout.of(lens, p, rnd);
        StepBatch fill = CudaKernelsGpuTest.prefillBatch(lens, layout, p);
        AttentionShape shape = AttentionShape.of(heads, kvHeads, d, p);
        int t = fill.numTokens();
        float[] k = Gpu.gaussian(rnd, t * kvHeads * d, kScale);
        float[] v = Gpu.gaussian(rnd, t * kvHeads * d, vScale);
        int s = lens.length;
        float[] q = Gpu.gaussian(rnd, s * heads * d, 1f);
        StepBatch decode = CudaKernelsGpuTest.decodeBatch(lens, layout.tables());
        Tensor ccache = cpu.allocate(DType.F8_E4M3, layout.numBlocks(), 2, kvHeads, p, d);
        cpu.setKvCacheScales(ccache, kScale, vScale);
        cpu.writeKv(act(cpu, k, t, kvHeads * d), act(cpu, v, t, kvHeads * d), cpu.plan(fill), shape, ccache);
        Tensor co = cpu.allocate(DType.F32, s, heads * d);
        cpu.decodeAttention(act(cpu, q, s, heads * d), ccache, cpu.plan(decode), shape, co);
        try (Tensor gk = act(gpu, k, t, kvHeads * d); Tensor gv = act(gpu, v, t, kvHeads * d);
             Tensor gq = act(gpu, q, s, heads * d); Tensor go = gpu.allocate(DType.F32, s, heads * d);
             Tensor cache = gpu.allocate(DType.F8_E4M3, layout.numBlocks(), 2, kvHeads, p, d)) {
            gpu.setKvCacheScales(cache, kScale, vScale);
            gpu.writeKv(gk, gv, gpu.plan(fill), shape, cache);
            gpu.decodeAttention(gq, cache, gpu.plan(decode), shape, go);
            Gpu.assertClose("fp8 decode d=" + d + " heads " + heads + "/" + kvHeads, cpu.download(co),
                    gpu.download(go), 2e-2, 2e-3 * vScale);
        }
    }

    @ParameterizedTest(name = "d {0}, heads {1}/{2}, k_scale {4}, v_scale {5}")
    @CsvSource({"16, 4, 2, 16, 1.0, 1.0", "64, 8, 2, 16, 0.37, 1.7", "128, 8, 8, 32, 0.5, 0.5", "24, 4, 2, 16, 2.0, 1.0"})
    void prefillMatchesCpu(int d, int heads, int kvHeads, int p, float kScale, float vScale) {
        Random rnd = new Random(d * 1000L + heads + 7);
        int[] lens = {1, 54, 97, 300};
        Layout layout = Layout.of(lens, p, rnd);
        StepBatch b = CudaKernelsGpuTest.prefillBatch(lens, layout, p);
        AttentionShape shape = AttentionShape.of(heads, kvHeads, d, p);
        int t = b.numTokens();
        float[] q = Gpu.gaussian(rnd, t * heads * d, 1f);
        float[] k = Gpu.gaussian(rnd, t * kvHeads * d, kScale);
        float[] v = Gpu.gaussian(rnd, t * kvHeads * d, vScale);
        Tensor co = cpu.allocate(DType.F32, t, heads * d);
        Tensor ccache = cpu.allocate(DType.F8_E4M3, layout.numBlocks(), 2, kvHeads, p, d);
        cpu.setKvCacheScales(ccache, kScale, vScale);
        Tensor ck = act(cpu, k, t, kvHeads * d);
        Tensor cv = act(cpu, v, t, kvHeads * d);
        cpu.writeKv(ck, cv, cpu.plan(b), shape, ccache);
        cpu.prefillAttention(act(cpu, q, t, heads * d), ck, cv, ccache, cpu.plan(b), shape, co);
        try (Tensor gq = act(gpu, q, t, heads * d); Tensor gk = act(gpu, k, t, kvHeads * d);
             Tensor gv = act(gpu, v, t, kvHeads * d); Tensor go = gpu.allocate(DType.F32, t, heads * d);
             Tensor cache = gpu.allocate(DType.F8_E4M3, layout.numBlocks(), 2, kvHeads, p, d)) {
            gpu.setKvCacheScales(cache, kScale, vScale);
            gpu.writeKv(gk, gv, gpu.plan(b), shape, cache);
            gpu.prefillAttention(gq, gk, gv, cache, gpu.plan(b), shape, go);
            Gpu.assertClose("fp8 prefill d=" + d, cpu.download(co), gpu.download(go), Gpu.PREFILL_RTOL,
                    Gpu.PREFILL_ATOL * vScale);
        }
    }

    /**
     * RocketKV on an fp8 cache: the KT pages built from the e4m3 · k_scale keys hold the CPU twin's bits (fp8 e5m2 and
     * bf16 KT), and sparse attention selecting every page equals dense decode attention over the same fp8 cache.
     */
    @ParameterizedTest(name = "KT {0}, P {1}, d {2}")
    @CsvSource({"fp8, 4, 128", "bf16, 4, 64", "fp8, 16, 32"})
    void rocketKvOnAnFp8CacheMatchesTheCpuAndDense(String ktName, int pageSize, int d) {
        Random rnd = new Random(pageSize * 131L + d);
        int heads = 8;
        int kvHeads = 2;
        int tpb = 16;
        float kScale = 0.37f;
        float vScale = 1.7f;
        RocketKvParams p = new RocketKvParams(8, 7, 4096, 1024, d, pageSize,
                ktName.equals("fp8") ? DType.F8_E5M2 : DType.BF16);
        AttentionShape shape = AttentionShape.of(heads, kvHeads, d, tpb);
        int[] lens = {300, 1001, 17};
        int[] nb = new int[1];
        int[][] tables = CudaRocketKvGpuTest.tables(new int[] {301, 1002, 18}, tpb, rnd, nb);
        RocketKvPlan plan = CudaRocketKvGpuTest.plan(p, nb[0], tpb, kvHeads, d);
        int[] fillLens = {299, 1000, 16};
        StepBatch fill = CudaRocketKvGpuTest.prefill(fillLens, tables, tpb);
        int t = fill.numTokens();
        float[] k = Gpu.gaussian(rnd, t * kvHeads * d, kScale);
        float[] v = Gpu.gaussian(rnd, t * kvHeads * d, vScale);
        Tensor ccache = cpu.allocate(DType.F8_E4M3, nb[0], 2, kvHeads, tpb, d);
        cpu.setKvCacheScales(ccache, kScale, vScale);
        cpu.writeKv(act(cpu, k, t, kvHeads * d), act(cpu, v, t, kvHeads * d), cpu.plan(fill), shape, ccache);
        Tensor ckt = cpu.allocate(cpu.ktCacheDtype(p), plan.kt().numPages(), 2, kvHeads, d);
        cpu.ktBuild(ccache, cpu.plan(fill), shape, plan, ckt);
        StepBatch dec = CudaRocketKvGpuTest.decode(lens, tables, tpb);
        int s = lens.length;
        float[] q = Gpu.gaussian(rnd, s * heads * d, 1f);
        try (Tensor gk = act(gpu, k, t, kvHeads * d); Tensor gv = act(gpu, v, t, kvHeads * d);
             Tensor kNew = act(gpu, Gpu.gaussian(rnd, s * kvHeads * d, kScale), s, kvHeads * d);
             Tensor vNew = act(gpu, Gpu.gaussian(rnd, s * kvHeads * d, vScale), s, kvHeads * d);
             Tensor gq = act(gpu, q, s, heads * d);
             Tensor cache = gpu.allocate(DType.F8_E4M3, nb[0], 2, kvHeads, tpb, d);
             Tensor gkt = gpu.allocate(gpu.ktCacheDtype(p), plan.kt().numPages(), 2, kvHeads, d);
             Tensor sparse = gpu.allocate(DType.F32, s, heads * d);
             Tensor dense = gpu.allocate(DType.F32, s, heads * d)) {
            gpu.setKvCacheScales(cache, kScale, vScale);
            StepPlan fillPlan = gpu.plan(fill);
            gpu.writeKv(gk, gv, fillPlan, shape, cache);
            gpu.ktBuild(cache, fillPlan, shape, plan, gkt);
            assertArrayEquals(cpu.download(ckt), GpuTensors.decodeDevice(gkt), "KT built from fp8 keys, " + ktName);
            StepPlan decPlan = gpu.plan(dec);
            gpu.writeKv(kNew, vNew, decPlan, shape, cache);
            gpu.ktUpdate(kNew, decPlan, shape, plan, gkt);
            gpu.sparseDecodeAttention(gq, cache, gkt, decPlan, shape, plan, sparse);
            gpu.decodeAttention(gq, cache, gpu.plan(dec), shape, dense);
            Gpu.assertClose("fp8: topk covering the cache = dense", gpu.download(dense), gpu.download(sparse), 1e-3,
                    1e-4 * vScale);
        }
    }

    /** Some values replaced by ones at e4m3's edges once divided by {@code scale}: overflow, subnormals, NaN, inf. */
    private static float[] edgeValues(float[] x, float scale) {
        float[] edges = {1000f, -1000f, 448f, 464f, 0.001f, -0.0009f, 0x1p-10f, 3 * 0x1p-10f, 0f, -0f, Float.NaN,
                Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 1.0625f, 1.1875f};
        for (int i = 0; i < edges.length; i++) {
            x[i * 7] = edges[i] * scale;
        }
        return x;
    }

    /** The GPU cache's bytes as e4m3 · scale (K rows: the first {@code half} elements of each block). */
    private static float[] decodeFp8(Tensor cache, float kScale, float vScale, int half) {
        CudaTensor c = (CudaTensor) cache;
        int n = (int) c.numel();
        float[] out = new float[n];
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment host = arena.allocate(n, 16);
            c.buffer().copyTo(host.asSlice(0, n), 0);
            for (int i = 0; i < n; i++) {
                float scale = (i % (2 * half)) < half ? kScale : vScale;
                out[i] = Fp8E4M3.decode(host.get(ValueLayout.JAVA_BYTE, i)) * scale;
            }
        }
        return out;
    }
}
