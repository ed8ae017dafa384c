package io.rocketkv.benchmarks.gpu;

import io.rocketkv.core.kernels.AttentionShape;
import io.rocketkv.core.kernels.StepBatch;
import io.rocketkv.core.kernels.StepPlan;
import io.rocketkv.core.kernels.Tensor;
import io.rocketkv.core.numeric.Bf16;
import io.rocketkv.core.numeric.DType;
import io.rocketkv.core.kvcache.KtCacheManager;
import io.rocketkv.core.sparse.RocketKvParams;
import io.rocketkv.core.sparse.RocketKvPlan;
import io.rocketkv.cuda.Cublas;
import io.rocketkv.cuda.CudaContext;
import io.rocketkv.cuda.CudaDriver;
import io.rocketkv.cuda.CudaEvent;
import io.rocketkv.cuda.CudaGraph;
import io.rocketkv.cuda.CudaKernels;
import io.rocketkv.cuda.CudaRocketKvProbe;
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
 *   <li>RocketKV decode of one layer (KT update + page scoring + top-k + sparse attention; B 2048, P 4, topk 64,
 *       fp8 KT) captured in a CUDA graph and replayed, at batch 1, 8 and 32: µs per layer, bytes it must read,
 *       GB/s and % of copy bandwidth, beside dense decode (also graph-replayed) at contexts 32k and 128k and the
 *       speedup; RocketKV stage 1 of a 32k prompt against the dense prefill attention of the same layer. Decode
 *       graphs hold many distinct layers back to back (so a layer's data is not still in L2 from its previous
 *       replay); system properties {@code rocketkv.bench.batches} (e.g. {@code 1,32}) and
 *       {@code rocketkv.bench.rocketOnly} (no dense comparison, no stage 1) narrow the section;</li>
 *   <li>{@code CudaKernels.matmul} on bf16 weights (activation conversion included) against cuBLAS's
 *       bf16 GEMM called directly on bf16 inputs of the same shapes.</li>
 * </ul>
 * Run on a CUDA machine: {@code java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -cp ... io.rocketkv.benchmarks.gpu.CudaKernelsBench}.
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
            java.util.Set<String> only = java.util.Set.of(args);
            if (!only.isEmpty() && !only.contains("decode") && !only.contains("rocket") && !only.contains("gemm")) {
                throw new IllegalArgumentException("sections: decode, rocket, gemm (none: all), got " + only);
            }
            if (only.isEmpty() || only.contains("decode")) {
                System.out.println("decode attention (Hq 32, Hkv 8, D 128, bf16 cache); eager: launched one by one from"
                        + " Java, graph: the same launch replayed from a CUDA graph");
                System.out.printf("%8s %6s %10s %10s %10s %8s%n", "context", "batch", "eager us", "graph us", "KV GB/s",
                        "% copy");
                for (int batch : new int[] {1, 8}) {
                    for (int ctxLen : new int[] {4096, 8192, 16384, 32768}) {
                        decode(k, stream, ctxLen, batch, copy);
                    }
                }
            }
            System.out.println();
            if (only.isEmpty() || only.contains("rocket")) {
                rocketKv(k, copy);
            }
            System.out.println();
            if (!only.isEmpty() && !only.contains("gemm")) {
                return;
            }
            System.out.println("matmul, bf16 weights, GPU time (graph-replayed): CudaKernels.matmul with an f32 x"
                    + " (converted first) and with a bf16 x vs cuBLAS's bf16 GEMM called directly");
            System.out.printf("%6s %6s %6s %12s %12s %12s %8s %8s%n", "rows", "N", "K", "ours f32 x", "ours bf16 x",
                    "cuBLAS us", "f32/cub", "bf16/cub");
            try (Cublas direct = Cublas.create(ctx); DeviceBuffer directWs = ctx.allocate(32L << 20)) {
                direct.setStream(stream);
                direct.setWorkspace(directWs);
                for (int rows : new int[] {1, 8, 64, 512}) {
                    gemm(k, direct, stream, rows, 14336, 4096);
                    gemm(k, direct, stream, rows, 4096, 4096);
                }
            }
        }
    }

    /** Device-to-device copy of 1 GiB, GB/s of bytes read + written. */
    static double copyBandwidth(CudaContext ctx, CudaStream stream) {
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
        int[][] tables = shuffledTables(batch, blocksPerSeq, 7);
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
        StepPlan b = k.plan(new StepBatch(false, new int[batch], new int[batch], neg, qStart, kvLens, tables, rows));
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
            for (int i = 0; i < 300; i++) { // JIT-compiles the launch path
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
            double graphUs = denseDecodeGraph(k, ctxLen, batch);
            double kvBytes = 2.0 * HKV * D * 2 * ctxLen * batch;
            double gbs = kvBytes / (graphUs / 1e6) / 1e9;
            System.out.printf("%8d %6d %10.1f %10.1f %10.0f %7.1f%%%n", ctxLen, batch, us, graphUs, gbs, 100 * gbs / copy);
        }
    }

    // ---- RocketKV ------------------------------------------------------------------------------------

    private static final int RK_BUDGET = 2048;
    private static final int RK_PAGE = 4;
    private static final int RK_TOPK = 64;
    private static final int RK_CACHE = RK_BUDGET + 64; // the cache after stage 1 and 64 decode steps

    /** RocketKV decode vs dense decode (both graph-replayed), then stage 1 vs dense prefill at 32k. */
    private static void rocketKv(CudaKernels k, double copy) {
        System.out.printf("RocketKV decode, one layer (Hq 32, Hkv 8, D 128, B %d, P %d, topk %d, fp8 KT; cache %d tokens"
                + " after stage 1), CUDA graph replay%n", RK_BUDGET, RK_PAGE, RK_TOPK, RK_CACHE);
        System.out.printf("%6s %10s %10s %10s %8s | %8s %12s %12s %12s%n", "batch", "us/layer", "MB read", "GB/s",
                "% copy", "context", "dense us", "dense GB/s", "speedup");
        int[] batches = java.util.Arrays.stream(System.getProperty("rocketkv.bench.batches", "1,8,32").split(","))
                .mapToInt(x -> Integer.parseInt(x.trim())).toArray();
        boolean withDense = !Boolean.getBoolean("rocketkv.bench.rocketOnly");
        List<String> parts = new ArrayList<>();
        for (int batch : batches) {
            double[] rk = rocketDecode(k, batch, RK_BUDGET, RK_TOPK, RK_PAGE, true);
            parts.add(String.format("%6d %10.1f %12.1f %12.1f %10.1f", batch, rk[0], rk[2], rk[3], rk[2] + rk[3]));
            if (!withDense) {
                double gbs = rk[1] / (rk[0] / 1e6) / 1e9;
                System.out.printf("%6d %10.1f %10.2f %10.0f %7.1f%%%n", batch, rk[0], rk[1] / 1e6, gbs, 100 * gbs / copy);
                continue;
            }
            for (int ctxLen : new int[] {32768, 131072}) {
                double dense = denseDecodeGraph(k, ctxLen, batch);
                double denseGbs = 2.0 * HKV * D * 2 * ctxLen * batch / (dense / 1e6) / 1e9;
                double gbs = rk[1] / (rk[0] / 1e6) / 1e9;
                System.out.printf("%6d %10.1f %10.2f %10.0f %7.1f%% | %8d %12.1f %12.0f %11.1fx%n", batch, rk[0],
                        rk[1] / 1e6, gbs, 100 * gbs / copy, ctxLen, dense, denseGbs, dense / rk[0]);
            }
        }
        System.out.println("targets: <= 10 us/layer at batch 1; >= 60% of copy bandwidth at batch 32; >= 5x dense at 32k"
                + " and >= 15x at 128k, batch 1");
        System.out.println("\nthe two launches timed apart (each alone in its own graph of the same layers; their sum"
                + " is more than the step's when one launch's tail overlaps the next one's start)");
        System.out.printf("%6s %10s %12s %12s %10s%n", "batch", "step us", "selection us", "attention us", "sum us");
        parts.forEach(System.out::println);
        if (withDense) {
            stage1VsPrefill(k, 32768);
        }
    }

    /** Each sequence's blocks drawn at random (seeded) from the pool, as after many requests came and went. */
    static int[][] shuffledTables(int batch, int blocksPerSeq, long seed) {
        List<Integer> ids = new ArrayList<>();
        for (int i = 0; i < batch * blocksPerSeq; i++) {
            ids.add(i);
        }
        Collections.shuffle(ids, new Random(seed));
        int[][] tables = new int[batch][blocksPerSeq];
        for (int s = 0; s < batch; s++) {
            for (int j = 0; j < blocksPerSeq; j++) {
                tables[s][j] = ids.get(s * blocksPerSeq + j);
            }
        }
        return tables;
    }

    private static float[] gaussian(int n, long seed) {
        Random r = new Random(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) r.nextGaussian();
        }
        return a;
    }

    /** Tokens per sequence in the cache when RocketKV decode is timed: the budget plus 64 decode steps. */
    static int rocketCacheTokens(int budget) {
        return budget + 64;
    }

    /**
     * {µs per layer, bytes read per layer} of the graph-replayed RocketKV decode step (fp8 KT, W 32, kernel 63):
     * the cache holds {@link #rocketCacheTokens} tokens per sequence, as after stage 1 and 64 decode steps.
     */
    static double[] rocketDecode(CudaKernels k, int batch, int budget, int topk, int page) {
        return rocketDecode(k, batch, budget, topk, page, false);
    }

    /**
     * As {@link #rocketDecode(CudaKernels, int, int, int, int)}; with {@code parts}, also µs per layer of the
     * selection launch alone and of the attention launch alone (elements 2 and 3), each replayed in a graph of
     * its own over the same layers.
     */
    static double[] rocketDecode(CudaKernels k, int batch, int budget, int topk, int page, boolean parts) {
        int cacheTokens = rocketCacheTokens(budget);
        AttentionShape shape = AttentionShape.of(H, HKV, D, TPB);
        int blocksPerSeq = (cacheTokens + 1 + TPB - 1) / TPB;
        int blocks = blocksPerSeq * batch;
        int[][] tables = shuffledTables(batch, blocksPerSeq, 11);
        RocketKvParams p = RocketKvParams.builder().windowSize(32).kernelSize(63).promptBudget(budget).topk(topk)
                .topr(D).pageSize(page).ktDtype(DType.F8_E5M2).build();
        RocketKvPlan plan = new RocketKvPlan(p, new KtCacheManager(blocks, TPB, page, 1, HKV, D, 1));
        int t = cacheTokens * batch;
        StepPlan fill = k.plan(DecodeStepHarness.prefillShaped(tables, cacheTokens, TPB));
        int[] dq = new int[batch + 1];
        int[] dLens = new int[batch];
        int[] dSlots = new int[batch];
        int[] rows = new int[batch];
        for (int s = 0; s < batch; s++) {
            dq[s + 1] = s + 1;
            dLens[s] = cacheTokens + 1;
            dSlots[s] = tables[s][cacheTokens / TPB] * TPB + cacheTokens % TPB;
            rows[s] = s;
        }
        StepPlan dec = k.plan(new StepBatch(false, new int[batch], dLens.clone(), dSlots, dq, dLens, tables, rows));
        int pages = p.numPages(cacheTokens + 1);
        double bytes = AttentionCost.LLAMA_8B.rocketDecodeBytes(batch, pages, topk, page);
        int layers = layersFor(k, bytes, (long) blocks * 2 * HKV * TPB * D * 2 * 2);
        List<Tensor> held = new ArrayList<>();
        try (Tensor kf = k.allocate(DType.F32, t, HKV * D); Tensor vf = k.allocate(DType.F32, t, HKV * D)) {
            k.upload(gaussian(t * HKV * D, 1), kf);
            k.upload(gaussian(t * HKV * D, 2), vf);
            Runnable[] steps = new Runnable[layers];
            Runnable[] selection = new Runnable[layers];
            Runnable[] attention = new Runnable[layers];
            for (int l = 0; l < layers; l++) {
                Tensor cache = hold(held, k.allocate(DType.BF16, blocks, 2, HKV, TPB, D));
                Tensor kt = hold(held, k.allocate(k.ktCacheDtype(p), plan.kt().numPages(), 2, HKV, D));
                Tensor kNew = hold(held, k.allocate(DType.F32, batch, HKV * D));
                Tensor q = hold(held, k.allocate(DType.F32, batch, H * D));
                Tensor out = hold(held, k.allocate(DType.F32, batch, H * D));
                k.upload(gaussian(batch * HKV * D, 3 + l), kNew);
                k.upload(gaussian(batch * H * D, 1000 + l), q);
                k.writeKv(kf, vf, fill, shape, cache);
                k.ktBuild(cache, fill, shape, plan, kt);
                steps[l] = () -> k.rocketDecodeAttention(q, kNew, cache, kt, dec, shape, plan, out);
                selection[l] = () -> CudaRocketKvProbe.decodePart(k, q, kNew, cache, kt, dec, shape, plan, out, true);
                attention[l] = () -> CudaRocketKvProbe.decodePart(k, q, kNew, cache, kt, dec, shape, plan, out, false);
            }
            double step = perLayer(k, steps);
            if (!parts) {
                return new double[] {step, bytes};
            }
            return new double[] {step, bytes, perLayer(k, selection), perLayer(k, attention)};
        } finally {
            closeAll(held);
        }
    }

    /**
     * Layers captured per graph: enough distinct layers (each with its own caches) that one pass reads about 2.5
     * times the H200's 50 MB L2, so a layer's data is not still cached from its previous replay, as in a model
     * whose weights stream through L2 between steps; 2 to 64, fewer (at least 1) when that many layers'
     * {@code footprint} bytes would not fit in 70% of the free device memory.
     */
    private static int layersFor(CudaKernels k, double bytesPerLayer, long footprint) {
        int want = (int) Math.max(2, Math.min(64, Math.ceil(125e6 / bytesPerLayer)));
        long fit = (long) (0.7 * k.context().memoryInfo().free() / Math.max(1, footprint));
        return (int) Math.max(1, Math.min(want, fit));
    }

    private static Tensor hold(List<Tensor> held, Tensor t) {
        held.add(t);
        return t;
    }

    private static void closeAll(List<Tensor> held) {
        for (Tensor t : held) {
            t.close();
        }
        held.clear();
    }

    /**
     * µs per layer of the layers' steps captured back to back in one CUDA graph (as a decode step's layers are),
     * each run once before the capture to size the scratch.
     */
    private static double perLayer(CudaKernels k, Runnable[] steps) {
        for (Runnable r : steps) {
            r.run();
        }
        CudaStream stream = k.stream();
        try (CudaGraph graph = CudaGraph.capture(stream, () -> {
            for (Runnable r : steps) {
                r.run();
            }
        })) {
            return replay(k, graph, stream, Math.max(20, 400 / steps.length)) / steps.length;
        }
    }

    /** µs per layer of graph-replayed dense decode at ctxLen tokens per sequence (several layers per graph). */
    static double denseDecodeGraph(CudaKernels k, int ctxLen, int batch) {
        AttentionShape shape = AttentionShape.of(H, HKV, D, TPB);
        int blocksPerSeq = ctxLen / TPB;
        int[][] tables = shuffledTables(batch, blocksPerSeq, 7);
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
        StepPlan b = k.plan(new StepBatch(false, new int[batch], new int[batch], neg, qStart, kvLens, tables, rows));
        int layers = layersFor(k, 2.0 * HKV * D * 2 * ctxLen * batch, (long) blocksPerSeq * batch * 2 * HKV * TPB * D * 2);
        List<Tensor> held = new ArrayList<>();
        try {
            Runnable[] steps = new Runnable[layers];
            for (int l = 0; l < layers; l++) {
                Tensor cache = hold(held, k.allocate(DType.BF16, blocksPerSeq * batch, 2, HKV, TPB, D));
                Tensor q = hold(held, k.allocate(DType.F32, batch, H * D));
                Tensor out = hold(held, k.allocate(DType.F32, batch, H * D));
                k.upload(gaussian(batch * H * D, 5 + l), q);
                steps[l] = () -> k.decodeAttention(q, cache, b, shape, out);
            }
            return perLayer(k, steps);
        } finally {
            closeAll(held);
        }
    }

    /** µs per replay of {@code graph}, timed with events after a warm-up. */
    private static double replay(CudaKernels k, CudaGraph graph, CudaStream stream) {
        return replay(k, graph, stream, 200);
    }

    private static double replay(CudaKernels k, CudaGraph graph, CudaStream stream, int iters) {
        try (CudaEvent start = k.context().createEvent(); CudaEvent end = k.context().createEvent()) {
            for (int i = 0; i < 10; i++) {
                graph.launch(stream);
            }
            start.record(stream);
            for (int i = 0; i < iters; i++) {
                graph.launch(stream);
            }
            end.record(stream);
            end.synchronize();
            return CudaEvent.elapsedMillis(start, end) * 1e3 / iters;
        }
    }

    /** Stage 1 (B 2048) of one prompt of {@code len} tokens vs the dense prefill attention of the same layer. */
    private static void stage1VsPrefill(CudaKernels k, int len) {
        AttentionShape shape = AttentionShape.of(H, HKV, D, TPB);
        int blocks = (len + TPB - 1) / TPB;
        int[][] tables = shuffledTables(1, blocks, 13);
        int[] pos = new int[len];
        int[] slots = new int[len];
        for (int j = 0; j < len; j++) {
            pos[j] = j;
            slots[j] = tables[0][j / TPB] * TPB + j % TPB;
        }
        StepPlan b = k.plan(new StepBatch(true, new int[len], pos, slots, new int[] {0, len}, new int[] {len}, tables,
                new int[] {len - 1}));
        RocketKvParams p = RocketKvParams.builder().windowSize(32).kernelSize(63).promptBudget(RK_BUDGET).topk(RK_TOPK)
                .topr(D).pageSize(RK_PAGE).ktDtype(DType.F8_E5M2).build();
        CudaStream stream = k.stream();
        try (Tensor cache = k.allocate(DType.BF16, blocks, 2, HKV, TPB, D);
             Tensor q = k.allocate(DType.F32, len, H * D);
             Tensor kf = k.allocate(DType.F32, len, HKV * D);
             Tensor vf = k.allocate(DType.F32, len, HKV * D);
             Tensor out = k.allocate(DType.F32, len, H * D);
             CudaEvent start = k.context().createEvent(); CudaEvent end = k.context().createEvent()) {
            k.upload(gaussian(len * H * D, 6), q);
            k.upload(gaussian(len * HKV * D, 7), kf);
            k.upload(gaussian(len * HKV * D, 8), vf);
            k.writeKv(kf, vf, b, shape, cache);
            k.prefillAttention(q, kf, vf, cache, b, shape, out);
            int iters = 3;
            start.record(stream);
            for (int i = 0; i < iters; i++) {
                k.prefillAttention(q, kf, vf, cache, b, shape, out);
            }
            end.record(stream);
            end.synchronize();
            double prefill = CudaEvent.elapsedMillis(start, end) / iters;
            k.rocketStage1(q, null, b, shape, p, cache); // keys from the cache
            start.record(stream);
            for (int i = 0; i < iters; i++) {
                k.rocketStage1(q, null, b, shape, p, cache); // keys from the cache
            }
            end.record(stream);
            end.synchronize();
            double stage1 = CudaEvent.elapsedMillis(start, end) / iters;
            System.out.printf("stage 1 (B %d, W 32, kernel 63) of a %d-token prompt: %.2f ms; dense prefill attention of"
                    + " the layer: %.2f ms; stage 1 / prefill = %.3f%n", RK_BUDGET, len, stage1, prefill,
                    stage1 / prefill);
        }
    }

    /**
     * µs per call of {@code op}, GPU time only: 20 calls captured in one CUDA graph, the graph replayed 20 times
     * between two events (no host launch cost in the figure, for ours and cuBLAS alike).
     */
    static double graphMicros(CudaKernels k, CudaStream stream, Runnable op) {
        for (int i = 0; i < 3; i++) {
            op.run();
        }
        int calls = 20;
        try (CudaGraph g = CudaGraph.capture(stream, () -> {
            for (int i = 0; i < calls; i++) {
                op.run();
            }
        })) {
            return replay(k, g, stream, 20) / calls;
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
            DeviceBuffer xbuf = ((CudaTensor) xb).buffer();
            DeviceBuffer wbuf = ((CudaTensor) wt).buffer();
            DeviceBuffer obuf = ((CudaTensor) out).buffer();
            double ours = graphMicros(k, stream, () -> k.matmul(x, wt, null, out));
            // the model's path for bf16 weights: rmsNorm/siluMul write the bf16 x, the matmul takes it as is
            double oursBf16 = graphMicros(k, stream, () -> k.matmul(xb, wt, null, out));
            double cublas = graphMicros(k, stream, () -> direct.gemmBf16(xbuf, wbuf, obuf, rows, n, kd, DType.F32));
            System.out.printf("%6d %6d %6d %12.1f %12.1f %12.1f %7.2fx %7.2fx%n", rows, n, kd, ours, oursBf16, cublas,
                    ours / cublas, oursBf16 / cublas);
        }
    }
}
