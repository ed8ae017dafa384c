package io.rocketkv.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rocketkv.core.kernels.CpuKernels;
import io.rocketkv.core.kernels.StepBatch;
import io.rocketkv.core.kernels.Tensor;
import io.rocketkv.core.numeric.Bf16;
import io.rocketkv.core.numeric.DType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Random;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Each kernel of elementwise.cu against its CpuKernels twin on fresh seeded inputs of awkward sizes.
 * Tolerances: add is exact; silu·mul and RMSNorm within 1e-5 relative (fp32 with IEEE expf, sqrtf and
 * division on both sides; the bf16 weights are widened exactly on both sides, so the bf16-weight path
 * is held to the same bound, tighter than the 1e-2 a bf16 result would need; the in-place per-head RMSNorm too);
 * embedding exact.
 */
@RequiresCuda
class ElementwiseKernelsGpuTest {

    private static final double RTOL = 1e-5;
    private static final double ATOL = 1e-6;

    private static CudaContext ctx;
    private static ElementwiseKernels gpu;
    private static final CpuKernels cpu = new CpuKernels(false);

    @BeforeAll
    static void open() {
        ctx = Gpu.context();
        gpu = new ElementwiseKernels(ctx);
    }

    @AfterAll
    static void close() {
        if (gpu != null) {
            gpu.close();
        }
        if (ctx != null) {
            ctx.close();
        }
    }

    static Stream<Arguments> shapes() {
        return IntStream.of(1, 54, 97, 4096).boxed()
                .flatMap(rows -> IntStream.of(7, 1000, 4096).mapToObj(hidden -> Arguments.of(rows, hidden)));
    }

    static Stream<Arguments> headShapes() {
        return Stream.of(Arguments.of(1, 1, 24), Arguments.of(1, 16, 128), Arguments.of(54, 3, 32),
                Arguments.of(97, 8, 128), Arguments.of(4096, 2, 64), Arguments.of(7, 5, 80));
    }

    private static Tensor cpuTensor(float[] values, int rows, int cols) {
        Tensor t = cpu.allocate(DType.F32, rows, cols);
        cpu.upload(values, t);
        return t;
    }

    private static DeviceBuffer upload(float[] values) {
        DeviceBuffer b = ctx.allocate(4L * Math.max(1, values.length));
        b.copyFrom(values);
        return b;
    }

    /** The values as bf16 bits (round to nearest even) in native memory, for both the GPU and the CPU twin. */
    private static MemorySegment bf16(float[] values, Arena arena) {
        MemorySegment s = arena.allocate(2L * values.length, 2);
        Bf16.encode(values, 0, s, 0, values.length);
        return s;
    }

    @ParameterizedTest(name = "rows={0} hidden={1}")
    @MethodSource("shapes")
    void residualAdd(int rows, int hidden) {
        Random rnd = new Random(31L * rows + hidden);
        int n = rows * hidden;
        float[] x = Gpu.gaussian(rnd, n, 1f);
        float[] y = Gpu.gaussian(rnd, n, 1f);
        Tensor cx = cpuTensor(x, rows, hidden);
        cpu.add(cx, cpuTensor(y, rows, hidden));
        try (DeviceBuffer gx = upload(x); DeviceBuffer gy = upload(y)) {
            gpu.residualAdd(gx, gy, n, ctx.defaultStream());
            assertArrayEquals(cpu.download(cx), gx.toFloatArray(), "x + y is exact in fp32");
        }
    }

    @ParameterizedTest(name = "rows={0} hidden={1}")
    @MethodSource("shapes")
    void siluMul(int rows, int hidden) {
        Random rnd = new Random(37L * rows + hidden);
        int n = rows * hidden;
        float[] gate = Gpu.gaussian(rnd, n, 4f);
        float[] up = Gpu.gaussian(rnd, n, 1f);
        if (n > 3) {
            gate[0] = -100f; // exp overflow side
            gate[1] = 100f;
            gate[2] = 0f;
        }
        Tensor out = cpu.allocate(DType.F32, rows, hidden);
        cpu.siluMul(cpuTensor(gate, rows, hidden), cpuTensor(up, rows, hidden), out);
        try (DeviceBuffer g = upload(gate); DeviceBuffer u = upload(up); DeviceBuffer o = ctx.allocate(4L * n)) {
            gpu.siluMul(g, u, o, n, ctx.defaultStream());
            Gpu.assertClose("silu_mul rows=" + rows + " hidden=" + hidden, cpu.download(out), o.toFloatArray(), RTOL, ATOL);
        }
    }

    @ParameterizedTest(name = "rows={0} hidden={1}")
    @MethodSource("shapes")
    void rmsNormF32AndBf16Weights(int rows, int hidden) {
        Random rnd = new Random(41L * rows + hidden);
        int n = rows * hidden;
        float[] x = Gpu.gaussian(rnd, n, 3f);
        float[] w = Gpu.gaussian(rnd, hidden, 1f);
        float eps = 1e-5f;
        try (Arena arena = Arena.ofConfined(); DeviceBuffer gx = upload(x); DeviceBuffer gw = upload(w);
             DeviceBuffer out = ctx.allocate(4L * n); DeviceBuffer gwb = ctx.allocate(2L * hidden)) {
            Tensor expected = cpu.allocate(DType.F32, rows, hidden);
            cpu.rmsNorm(cpuTensor(x, rows, hidden), cpuTensor(w, 1, hidden), eps, expected);
            gpu.rmsNorm(gx, gw, DType.F32, out, rows, hidden, eps, ctx.defaultStream());
            Gpu.assertClose("rmsnorm f32 weight rows=" + rows + " hidden=" + hidden, cpu.download(expected),
                    out.toFloatArray(), RTOL, ATOL);

            MemorySegment wb = bf16(w, arena);
            gwb.copyFrom(wb);
            Tensor expectedBf16 = cpu.allocate(DType.F32, rows, hidden);
            cpu.rmsNorm(cpuTensor(x, rows, hidden), cpu.weight(DType.BF16, new int[] {hidden}, wb), eps, expectedBf16);
            gpu.rmsNorm(gx, gwb, DType.BF16, out, rows, hidden, eps, ctx.defaultStream());
            Gpu.assertClose("rmsnorm bf16 weight rows=" + rows + " hidden=" + hidden, cpu.download(expectedBf16),
                    out.toFloatArray(), RTOL, ATOL);
        }
    }

    /** rmsnorm_inplace_f32_wf32 over tokens·heads rows of head_dim (Qwen3's q/k norm) against CpuKernels.headRmsNorm. */
    @ParameterizedTest(name = "tokens={0} heads={1} headDim={2}")
    @MethodSource("headShapes")
    void rmsNormInPlaceIsThePerHeadNorm(int tokens, int heads, int d) {
        Random rnd = new Random(43L * tokens + 7L * heads + d);
        int n = tokens * heads * d;
        float[] x = Gpu.gaussian(rnd, n, 3f);
        float[] w = Gpu.gaussian(rnd, d, 1f);
        float eps = 1e-6f;
        Tensor expected = cpuTensor(x, tokens, heads * d);
        Tensor weight = cpu.allocate(DType.F32, d);
        cpu.upload(w, weight);
        cpu.headRmsNorm(expected, weight, eps);
        try (DeviceBuffer gx = upload(x); DeviceBuffer gw = upload(w)) {
            gpu.rmsNormInPlace(gx, gw, tokens * heads, d, eps, ctx.defaultStream());
            Gpu.assertClose("rmsnorm in place tokens=" + tokens + " heads=" + heads + " d=" + d, cpu.download(expected),
                    gx.toFloatArray(), RTOL, ATOL);
        }
    }

    @ParameterizedTest(name = "tokens={0} hidden={1}")
    @MethodSource("shapes")
    void embeddingGather(int tokens, int hidden) {
        Random rnd = new Random(43L * tokens + hidden);
        int vocab = 1000;
        float[] table = Gpu.gaussian(rnd, vocab * hidden, 1f);
        int[] ids = rnd.ints(tokens, 0, vocab).toArray();
        ids[0] = vocab - 1;
        try (Arena arena = Arena.ofConfined(); DeviceBuffer gt = ctx.allocate(2L * vocab * hidden);
             DeviceBuffer gi = ctx.allocate(4L * tokens); DeviceBuffer out = ctx.allocate(4L * tokens * hidden)) {
            MemorySegment tb = bf16(table, arena);
            gt.copyFrom(tb);
            ElementwiseKernels.checkTokenIds(ids, vocab);
            gi.copyFrom(ids);
            gpu.embedding(gt, vocab, hidden, gi, tokens, out, ctx.defaultStream());
            Tensor expected = cpu.allocate(DType.F32, tokens, hidden);
            cpu.embedding(cpu.weight(DType.BF16, new int[] {vocab, hidden}, tb), cpu.plan(batchOf(ids)), expected);
            assertArrayEquals(cpu.download(expected), out.toFloatArray(), "bf16 widening is exact");
        }
    }

    private static StepBatch batchOf(int[] ids) {
        int t = ids.length;
        int[] minusOnes = new int[t];
        Arrays.fill(minusOnes, -1);
        return new StepBatch(true, ids, IntStream.range(0, t).toArray(), minusOnes, new int[] {0, t}, new int[] {t},
                new int[][] {{}}, new int[] {t - 1});
    }

    @Test
    void badTokenIdsAreCaughtOnTheHostAndMarkedOnTheDevice() {
        assertThrows(IllegalArgumentException.class, () -> ElementwiseKernels.checkTokenIds(new int[] {0, 5, -1}, 10));
        assertThrows(IllegalArgumentException.class, () -> ElementwiseKernels.checkTokenIds(new int[] {10}, 10));
        try (DeviceBuffer table = ctx.allocate(2 * 10 * 8); DeviceBuffer ids = ctx.allocate(8);
             DeviceBuffer out = ctx.allocate(4 * 2 * 8)) {
            table.memset((byte) 0);
            ids.copyFrom(new int[] {3, 99});
            gpu.embedding(table, 10, 8, ids, 2, out, ctx.defaultStream());
            float[] o = out.toFloatArray();
            assertTrue(IntStream.range(0, 8).allMatch(i -> o[i] == 0f));
            assertTrue(IntStream.range(8, 16).allMatch(i -> Float.isNaN(o[i])), Arrays.toString(o));
        }
    }

    @Test
    void launchersCheckTheirBuffers() {
        try (DeviceBuffer small = ctx.allocate(16); DeviceBuffer big = ctx.allocate(4096)) {
            var s = ctx.defaultStream();
            assertThrows(IllegalArgumentException.class, () -> gpu.residualAdd(big, small, 100, s));
            assertThrows(IllegalArgumentException.class, () -> gpu.siluMul(big, big, small, 100, s));
            assertThrows(IllegalArgumentException.class, () -> gpu.rmsNorm(big, small, DType.F32, big, 2, 8, 1e-5f, s));
            assertThrows(IllegalArgumentException.class, () -> gpu.rmsNorm(big, big, DType.F16, big, 1, 8, 1e-5f, s));
            assertThrows(IllegalArgumentException.class, () -> gpu.rmsNorm(big, big, DType.F32, big, 1, 0, 1e-5f, s));
            assertThrows(IllegalArgumentException.class, () -> gpu.rmsNorm(big, big, DType.F32, big, 1, 8, Float.NaN, s));
            assertThrows(IllegalArgumentException.class, () -> gpu.rmsNormInPlace(small, big, 2, 8, 1e-5f, s));
            assertThrows(IllegalArgumentException.class, () -> gpu.rmsNormInPlace(big, small, 1, 8, 1e-5f, s));
            assertThrows(IllegalArgumentException.class, () -> gpu.rmsNormInPlace(big, big, 1, 0, 1e-5f, s));
            assertThrows(IllegalArgumentException.class, () -> gpu.embedding(small, 100, 8, big, 1, big, s));
            assertThrows(IllegalArgumentException.class, () -> gpu.residualAdd(big, big, -1, s));
            gpu.residualAdd(big, big, 0, s); // nothing to do is fine
        }
    }
}
