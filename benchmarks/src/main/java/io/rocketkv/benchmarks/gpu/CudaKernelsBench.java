package io.rocketkv.benchmarks.gpu;

import io.rocketkv.core.kernels.AttentionShape;
import io.rocketkv.core.kernels.StepBatch;
import io.rocketkv.core.kernels.Tensor;
import io.rocketkv.core.numeric.Bf16;
import io.rocketkv.core.numeric.DType;
import io.rocketkv.cuda.Cublas;
import io.rocketkv.cuda.CudaContext;
import io.rocketkv.cuda.CudaDriver;
import io.rocketkv.cuda.CudaEvent;
import io.rocketkv.cuda.CudaKernels;
import io.rocketkv.cuda.CudaStream;
import io.rocketkv.cuda.CudaTensor;
import io.rocketkv.cuda.DeviceBuffer;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * GPU figures of the CUDA backend, launched through Java (FFM) exactly as the engine launches them, each
 * beside its ceiling measured in the same run:
 * <ul>
 *   <li>the ceiling: device-to-device copy of 1 GiB (bytes read + written per second);</li>
 *   <li>{@code CudaKernels.decodeAttention} with Llama-3.1-8B heads (32 q, 8 KV, D 128, bf16 paged cache,
 *       32 tokens per block, blocks scattered at random) at contexts 4k–32k and batch 1 and 8: µs per call,
 *       KV bytes read per second and % of copy bandwidth;</li>
 *   <li>{@code CudaKernels.matmul} on bf16 weights (activation conversion included) against cuBLAS's
 *       bf16 GEMM called directly on bf16 inputs of the same shapes.</li>
 * </ul>
 * Run on a CUDA machine: {@code java --enable-native-access=ALL-UNNAMED -cp ... io.rocketkv.benchmarks.gpu.CudaKernelsBench}.
 */
public final class CudaKernelsBench {

    private static final int H = 32;
    private static final int HKV = 8;
    private static final int D = 128;
    private static final int TPB = 32;

    private CudaKernelsBench() {
    }

    public static void main(String[] args) {
        if (!CudaDriver.isAvailable()) {
            System.err.println("CUDA is unavailable: " + CudaDriver.unavailableReason());
            System.exit(2);
        }
        try (CudaKernels k = new CudaKernels()) {
            CudaContext ctx = k.context();
            CudaStream stream = k.stream();
            System.out.printf("device: %s%n", ctx.device());
            double copy = copyBandwidth(ctx, stream);
            System.out.printf("ceiling: device-to-device copy %.0f GB/s (read + write)%n%n", copy);
            System.out.println("decode attention (Hq 32, Hkv 8, D 128, bf16 cache)");
            System.out.printf("%8s %6s %10s %10s %8s%n", "context", "batch", "us/call", "KV GB/s", "% copy");
            for (int batch : new int[] {1, 8}) {
                for (int ctxLen : new int[] {4096, 8192, 16384, 32768}) {
                    decode(k, stream, ctxLen, batch, copy);
                }
            }
            System.out.println();
            System.out.println("matmul, bf16 weights: CudaKernels.matmul (f32 x) vs cuBLAS bf16 GEMM called directly");
            System.out.printf("%6s %6s %6s %12s %12s %12s %8s %8s%n", "rows", "N", "K", "ours f32 x", "ours bf16 x",
                    "cuBLAS us", "f32/cub", "bf16/cub");
            try (Cublas direct = Cublas.create(ctx)) {
                direct.setStream(stream);
                for (int rows : new int[] {1, 8, 64, 512}) {
                    gemm(k, direct, stream, rows, 14336, 4096);
                    gemm(k, direct, stream, rows, 4096, 4096);
                }
            }
        }
    }

    private static double copyBandwidth(CudaContext ctx, CudaStream stream) {
        long bytes = 1L << 30;
        try (DeviceBuffer a = ctx.allocate(bytes); DeviceBuffer b = ctx.allocate(bytes);
             CudaEvent start = ctx.createEvent(); CudaEvent end = ctx.createEvent()) {
            a.memset((byte) 1);
            b.copyFrom(a);
            int iters = 10;
            start.record(stream);
            for (int i = 0; i < iters; i++) {
                b.copyFrom(a);
            }
            end.record(stream);
            end.synchronize();
            double s = CudaEvent.elapsedMillis(start, end) / 1e3 / iters;
            return 2.0 * bytes / s / 1e9;
        }
    }

    private static void decode(CudaKernels k, CudaStream stream, int ctxLen, int batch, double copy) {
        AttentionShape shape = AttentionShape.of(H, HKV, D, TPB);
        int blocksPerSeq = ctxLen / TPB;
        int blocks = blocksPerSeq * batch;
        List<Integer> ids = new ArrayList<>();
        for (int i = 0; i < blocks; i++) {
            ids.add(i);
        }
        Collections.shuffle(ids, new Random(7));
        int[][] tables = new int[batch][blocksPerSeq];
        for (int s = 0; s < batch; s++) {
            for (int j = 0; j < blocksPerSeq; j++) {
                tables[s][j] = ids.get(s * blocksPerSeq + j);
            }
        }
        int[] qStart = new int[batch + 1];
        int[] kvLens = new int[batch];
        int[] rows = new int[batch];
        int[] neg = new int[batch];
        for (int s = 0; s < batch; s++) {
            qStart[s + 1] = s + 1;
            kvLens[s] = ctxLen;
            rows[s] = s;
            neg[s] = -1;
        }
        StepBatch b = new StepBatch(false, new int[batch], new int[batch], neg, qStart, kvLens, tables, rows);
        try (Tensor cache = k.allocate(DType.BF16, blocks, 2, HKV, TPB, D);
             Tensor q = k.allocate(DType.F32, batch, H * D);
             Tensor out = k.allocate(DType.F32, batch, H * D);
             CudaEvent start = k.context().createEvent(); CudaEvent end = k.context().createEvent()) {
            float[] qs = new float[batch * H * D];
            Random r = new Random(1);
            for (int i = 0; i < qs.length; i++) {
                qs[i] = (float) r.nextGaussian();
            }
            k.upload(qs, q);
            for (int i = 0; i < 5; i++) {
                k.decodeAttention(q, cache, b, shape, out);
            }
            int iters = 50;
            start.record(stream);
            for (int i = 0; i < iters; i++) {
                k.decodeAttention(q, cache, b, shape, out);
            }
            end.record(stream);
            end.synchronize();
            double us = CudaEvent.elapsedMillis(start, end) * 1e3 / iters;
            double kvBytes = 2.0 * HKV * D * 2 * ctxLen * batch;
            double gbs = kvBytes / (us / 1e6) / 1e9;
            System.out.printf("%8d %6d %10.1f %10.0f %7.1f%%%n", ctxLen, batch, us, gbs, 100 * gbs / copy);
        }
    }

    private static void gemm(CudaKernels k, Cublas direct, CudaStream stream, int rows, int n, int kd) {
        short[] w = new short[n * kd];
        Random r = new Random(3);
        for (int i = 0; i < w.length; i++) {
            w[i] = Bf16.encode((float) (r.nextGaussian() * 0.02));
        }
        float[] xs = new float[rows * kd];
        for (int i = 0; i < xs.length; i++) {
            xs[i] = (float) r.nextGaussian();
        }
        try (Tensor wt = k.weight(DType.BF16, new int[] {n, kd}, MemorySegment.ofArray(w));
             Tensor x = k.allocate(DType.F32, rows, kd);
             Tensor out = k.allocate(DType.F32, rows, n);
             Tensor xb = k.allocate(DType.BF16, rows, kd);
             CudaEvent start = k.context().createEvent(); CudaEvent end = k.context().createEvent()) {
            k.upload(xs, x);
            int iters = 30;
            for (int i = 0; i < 3; i++) {
                k.matmul(x, wt, null, out);
            }
            start.record(stream);
            for (int i = 0; i < iters; i++) {
                k.matmul(x, wt, null, out);
            }
            end.record(stream);
            end.synchronize();
            double ours = CudaEvent.elapsedMillis(start, end) * 1e3 / iters;
            // the model's path for bf16 weights: rmsNorm/siluMul write the bf16 x, the matmul takes it as is
            for (int i = 0; i < 3; i++) {
                k.matmul(xb, wt, null, out);
            }
            start.record(stream);
            for (int i = 0; i < iters; i++) {
                k.matmul(xb, wt, null, out);
            }
            end.record(stream);
            end.synchronize();
            double oursBf16 = CudaEvent.elapsedMillis(start, end) * 1e3 / iters;
            DeviceBuffer xbuf = ((CudaTensor) xb).buffer();
            DeviceBuffer wbuf = ((CudaTensor) wt).buffer();
            DeviceBuffer obuf = ((CudaTensor) out).buffer();
            for (int i = 0; i < 3; i++) {
                direct.gemmBf16(xbuf, wbuf, obuf, rows, n, kd, DType.F32);
            }
            start.record(stream);
            for (int i = 0; i < iters; i++) {
                direct.gemmBf16(xbuf, wbuf, obuf, rows, n, kd, DType.F32);
            }
            end.record(stream);
            end.synchronize();
            double cublas = CudaEvent.elapsedMillis(start, end) * 1e3 / iters;
            System.out.printf("%6d %6d %6d %12.1f %12.1f %12.1f %7.2fx %7.2fx%n", rows, n, kd, ours, oursBf16, cublas,
                    ours / cublas, oursBf16 / cublas);
        }
    }
}
