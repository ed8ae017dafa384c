package io.rocketkv.benchmarks.gpu;

import io.rocketkv.benchmarks.gpu.EndToEndReport.StepRow;
import io.rocketkv.benchmarks.gpu.GpuReport.Algo;
import io.rocketkv.core.kernels.AttentionShape;
import io.rocketkv.core.kernels.RecordedStep;
import io.rocketkv.core.kernels.StepBatch;
import io.rocketkv.core.kernels.StepPlan;
import io.rocketkv.core.kernels.Tensor;
import io.rocketkv.core.kvcache.KtCacheManager;
import io.rocketkv.core.model.Model;
import io.rocketkv.core.model.StepWorkspace;
import io.rocketkv.core.numeric.DType;
import io.rocketkv.core.sparse.RocketKvParams;
import io.rocketkv.core.sparse.RocketKvPlan;
import io.rocketkv.cuda.CudaEvent;
import io.rocketkv.cuda.CudaKernels;
import io.rocketkv.cuda.CudaStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * The model's whole decode step at long contexts and large batches, without the prefills that would fill the
 * cache first (a 128k-token prefill of this model takes about a minute; filling 64 sequences would take an
 * hour). The KV cache of {@code batch} sequences is filled with random K and V (written by the same
 * {@code writeKv} kernel a prefill uses; with RocketKV, {@code prompt_budget + 64} tokens per sequence, as
 * after stage 1 and 64 decode steps, and their KT pages built by {@code ktBuild}); then one decode step (every
 * layer, the final norm, lm_head) is recorded as the engine records it ({@link io.rocketkv.core.kernels.Kernels#record})
 * and replayed. The step time includes the logits' copy to the host, as in the engine; it leaves out what the
 * engine does on the host around a step (scheduling, sampling).
 */
final class DecodeStepHarness {

    /** Decode steps the RocketKV cache holds past the prompt budget when timed (as in the attention sweep). */
    static final int ROCKET_EXTRA_TOKENS = 64;
    private static final int FILL_CHUNK = 4096;

    private final CudaKernels k;
    private final Model model;
    private final DecodeCost cost;

    DecodeStepHarness(CudaKernels k, Model model, DecodeCost cost) {
        this.k = k;
        this.model = model;
        this.cost = cost;
    }

    /** Tokens per sequence in the cache when the step is timed. */
    static int cacheTokens(Algo a, int context) {
        return a.isDense() ? context : Math.min(context, a.budget()) + ROCKET_EXTRA_TOKENS;
    }

    /** Device bytes {@link #measure} allocates (caches, KT pages, fill buffers, workspace), a bound. */
    long footprint(Algo a, int context, int batch) {
        AttentionShape shape = model.attentionShape();
        long blocks = (long) cost.attention().blocksFor(cacheTokens(a, context) + 1) * batch;
        long cache = blocks * shape.blockElements() * 2L * model.numLayers();
        long kt = a.isDense() ? 0 : cache / a.page() / 2;
        long fill = 2L * FILL_CHUNK * shape.numKvHeads() * shape.headDim() * 4;
        return cache + kt + fill + model.workspaceBytes(batch, batch) + (64L << 20);
    }

    StepRow measure(Algo a, int context, int batch, double copyGbs) {
        AttentionShape shape = model.attentionShape();
        int tpb = shape.tokensPerBlock();
        int layers = model.numLayers();
        int cacheTokens = cacheTokens(a, context);
        int blocksPerSeq = cost.attention().blocksFor(cacheTokens + 1);
        int numBlocks = Math.multiplyExact(blocksPerSeq, batch);
        int[][] tables = CudaKernelsBench.shuffledTables(batch, blocksPerSeq, 7);
        List<AutoCloseable> held = new ArrayList<>();
        try {
            Tensor[] caches = new Tensor[layers];
            for (int l = 0; l < layers; l++) {
                caches[l] = hold(held, k.allocate(k.kvCacheDtype(), numBlocks, 2, shape.numKvHeads(), tpb, shape.headDim()));
            }
            fill(caches, tables, cacheTokens, held);
            RocketKvPlan plan = null;
            Tensor[] kts = null;
            if (!a.isDense()) {
                RocketKvParams p = RocketKvParams.builder().windowSize(32).kernelSize(63).promptBudget(a.budget())
                        .topk(a.topk()).topr(shape.headDim()).pageSize(a.page()).ktDtype(DType.F8_E5M2).build();
                DType ktDtype = k.ktCacheDtype(p);
                plan = new RocketKvPlan(p, new KtCacheManager(numBlocks, tpb, a.page(), layers, shape.numKvHeads(),
                        shape.headDim(), ktDtype.byteSize()));
                kts = new Tensor[layers];
                StepPlan all = k.plan(prefillShaped(tables, cacheTokens, tpb));
                for (int l = 0; l < layers; l++) {
                    kts[l] = hold(held, k.allocate(ktDtype, plan.kt().numPages(), 2, shape.numKvHeads(), shape.headDim()));
                    k.ktBuild(caches[l], all, shape, plan, kts[l]);
                }
            }
            StepBatch step = decodeStep(tables, cacheTokens, context, tpb);
            StepWorkspace ws = hold(held, model.newWorkspace(batch, batch));
            RocketKvPlan fplan = plan;
            Tensor[] fkts = kts;
            int bound = blocksPerSeq * tpb;
            StepPlan first = k.plan(step, bound);
            RecordedStep g = k.record(first, () -> model.run(first, caches, fkts, fplan, ws));
            if (g == null) {
                throw new IllegalStateException("the CUDA backend did not record the decode step");
            }
            held.add(g);
            for (int i = 0; i < 3; i++) {
                g.replay(k.plan(step, bound));
                model.readLogits(ws, batch);
            }
            long t0 = System.nanoTime();
            g.replay(k.plan(step, bound));
            model.readLogits(ws, batch);
            double firstMs = (System.nanoTime() - t0) / 1e6;
            int iters = (int) Math.max(5, Math.min(50, 1500 / Math.max(firstMs, 0.01)));
            t0 = System.nanoTime();
            for (int i = 0; i < iters; i++) {
                g.replay(k.plan(step, bound));
                model.readLogits(ws, batch);
            }
            double stepMs = (System.nanoTime() - t0) / 1e6 / iters;
            double gpuMs = gpuMillis(g, step, bound, iters);
            double bytes = a.isDense() ? cost.denseStepBytes(cacheTokens + 1, batch)
                    : cost.rocketStepBytes(cacheTokens + 1, batch, a.topk(), a.page());
            double floorMs = DecodeCost.floorSeconds(bytes, copyGbs) * 1e3;
            return new StepRow(a, context, batch, cacheTokens, stepMs, gpuMs, batch / (stepMs / 1e3), bytes, floorMs,
                    batch / (floorMs / 1e3), 100 * floorMs / stepMs);
        } finally {
            for (int i = held.size() - 1; i >= 0; i--) {
                try {
                    held.get(i).close();
                } catch (Exception e) {
                    System.err.println("closing " + held.get(i) + " failed: " + e);
                }
            }
        }
    }

    private double gpuMillis(RecordedStep g, StepBatch step, int bound, int iters) {
        CudaStream stream = k.stream();
        try (CudaEvent start = k.context().createEvent(); CudaEvent end = k.context().createEvent()) {
            start.record(stream);
            for (int i = 0; i < iters; i++) {
                g.replay(k.plan(step, bound));
            }
            end.record(stream);
            end.synchronize();
            return CudaEvent.elapsedMillis(start, end) / iters;
        }
    }

    /** Random K and V (N(0, 1), f32 → the cache dtype) in every cached slot of every layer. */
    private void fill(Tensor[] caches, int[][] tables, int cacheTokens, List<AutoCloseable> held) {
        AttentionShape shape = model.attentionShape();
        int rowFloats = shape.numKvHeads() * shape.headDim();
        int chunk = Math.min(FILL_CHUNK, cacheTokens);
        Tensor kf = hold(held, k.allocate(DType.F32, chunk, rowFloats));
        Tensor vf = hold(held, k.allocate(DType.F32, chunk, rowFloats));
        Random r = new Random(17);
        float[] values = new float[chunk * rowFloats];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) r.nextGaussian();
        }
        k.upload(values, kf);
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) r.nextGaussian();
        }
        k.upload(values, vf);
        int tpb = shape.tokensPerBlock();
        List<StepBatch> pieces = new ArrayList<>();
        for (int[] table : tables) {
            for (int a = 0; a < cacheTokens; a += chunk) {
                int n = Math.min(chunk, cacheTokens - a);
                int[] pos = new int[n];
                int[] slots = new int[n];
                for (int j = 0; j < n; j++) {
                    pos[j] = a + j;
                    slots[j] = table[(a + j) / tpb] * tpb + (a + j) % tpb;
                }
                pieces.add(new StepBatch(true, new int[n], pos, slots, new int[] {0, n}, new int[] {a + n},
                        new int[][] {table}, new int[] {n - 1}));
            }
        }
        for (Tensor cache : caches) {
            for (StepBatch piece : pieces) {
                int n = piece.numTokens();
                k.writeKv(k.view(kf, n), k.view(vf, n), k.plan(piece), shape, cache);
            }
        }
    }

    /** All sequences' cached tokens as one prefill-shaped batch (what ktBuild reads). */
    static StepBatch prefillShaped(int[][] tables, int cacheTokens, int tpb) {
        int batch = tables.length;
        int t = Math.multiplyExact(cacheTokens, batch);
        int[] pos = new int[t];
        int[] slots = new int[t];
        int[] qStart = new int[batch + 1];
        int[] lens = new int[batch];
        int[] last = new int[batch];
        for (int s = 0; s < batch; s++) {
            qStart[s + 1] = (s + 1) * cacheTokens;
            lens[s] = cacheTokens;
            last[s] = (s + 1) * cacheTokens - 1;
            for (int j = 0; j < cacheTokens; j++) {
                pos[s * cacheTokens + j] = j;
                slots[s * cacheTokens + j] = tables[s][j / tpb] * tpb + j % tpb;
            }
        }
        return new StepBatch(true, new int[t], pos, slots, qStart, lens, tables, last);
    }

    /** One decode token per sequence: true position {@code context}, written to cache slot {@code cacheTokens}. */
    private static StepBatch decodeStep(int[][] tables, int cacheTokens, int context, int tpb) {
        int batch = tables.length;
        int[] ids = new int[batch];
        int[] pos = new int[batch];
        int[] slots = new int[batch];
        int[] qStart = new int[batch + 1];
        int[] lens = new int[batch];
        int[] rows = new int[batch];
        for (int s = 0; s < batch; s++) {
            ids[s] = EndToEndBench.promptToken(s);
            pos[s] = context;
            slots[s] = tables[s][cacheTokens / tpb] * tpb + cacheTokens % tpb;
            qStart[s + 1] = s + 1;
            lens[s] = cacheTokens + 1;
            rows[s] = s;
        }
        return new StepBatch(false, ids, pos, slots, qStart, lens, tables, rows);
    }

    private static <T extends AutoCloseable> T hold(List<AutoCloseable> held, T t) {
        held.add(t);
        return t;
    }
}
