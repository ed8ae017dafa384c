package io.rocketkv.core.kernels;

import io.rocketkv.core.kernels.dense.DenseOps;
import io.rocketkv.core.kernels.dense.ScalarDenseOps;
import io.rocketkv.core.kernels.dense.WeightFormat;
import io.rocketkv.core.kernels.dense.WeightQuantizer;
import io.rocketkv.core.numeric.DType;
import io.rocketkv.core.sparse.RocketKvParams;
import io.rocketkv.core.sparse.RocketKvPlan;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * The CPU backend, fp32 arithmetic, parallel over output features (matmul) and over (sequence, head) pairs
 * (attention) on a fixed pool of threads when the work is large enough to pay for the fork. The dense ops (matmul,
 * rmsNorm, siluMul, add) run Vector API kernels by default and their scalar twins when asked
 * ({@link CpuKernelMode}); every CUDA kernel is tested against these methods.
 */
public final class CpuKernels implements Kernels {

    /** Below this many multiply-adds an op runs on the calling thread. */
    private static final long PARALLEL_THRESHOLD = 1L << 15;

    private final boolean parallel;
    private final CpuThreadPool pool;      // null when every op runs on the calling thread
    private final DenseOps dense;          // matmul, rmsNorm, siluMul, add: SIMD or the scalar twin
    private final DenseOps.Parallel fork = this::forEach;
    private final WeightFormat quantizeTo; // null: weights stay in the checkpoint's format

    /**
     * Every core, the dense-op kernels {@link CpuKernelMode#fromSystemProperty()} names (SIMD unless the property
     * says scalar; scalar, with one warning, in a JVM without the Vector API module).
     */
    public CpuKernels() {
        this(true);
    }

    /** @param parallel false runs every op on the calling thread (useful for debugging and profiling) */
    public CpuKernels(boolean parallel) {
        this(CpuKernelMode.fromSystemProperty(), parallel ? Runtime.getRuntime().availableProcessors() : 1, true);
    }

    /**
     * @param mode    the dense-op kernels
     * @param threads threads per op (the caller and {@code threads − 1} pool threads); 1 runs every op on the caller
     * @throws IllegalStateException    when {@code mode} is SIMD in a JVM without the Vector API module
     * @throws IllegalArgumentException when {@code threads < 1}
     */
    public CpuKernels(CpuKernelMode mode, int threads) {
        this(mode, threads, false, null);
    }

    /**
     * The default kernels ({@link #CpuKernels()}) on every core, with 2-D weights whose rows are a multiple of 32
     * elements quantized when loaded ({@link #weight}) to {@code quantizeTo}: {@link WeightFormat#Q8_0} or
     * {@link WeightFormat#Q4_0} (llama.cpp's block formats; {@link WeightQuantizer}); null keeps the checkpoint's.
     *
     * @throws IllegalArgumentException when {@code quantizeTo} is a float format
     */
    public static CpuKernels quantizing(WeightFormat quantizeTo) {
        return new CpuKernels(CpuKernelMode.fromSystemProperty(), Runtime.getRuntime().availableProcessors(), true,
                quantizeTo);
    }

    private CpuKernels(CpuKernelMode mode, int threads, boolean fallBack) {
        this(mode, threads, fallBack, null);
    }

    private CpuKernels(CpuKernelMode mode, int threads, boolean fallBack, WeightFormat quantizeTo) {
        if (threads < 1) {
            throw new IllegalArgumentException("CPU threads must be >= 1, got " + threads);
        }
        if (quantizeTo != null && !quantizeTo.quantized()) {
            throw new IllegalArgumentException("weight quantization to " + quantizeTo + ": expected Q8_0 or Q4_0");
        }
        this.parallel = threads > 1;
        this.pool = threads > 1 ? CpuThreadPool.of(threads) : null;
        this.dense = mode.ops(fallBack);
        this.quantizeTo = quantizeTo;
    }

    /** The format 2-D weights are quantized to when loaded, or null when they keep the checkpoint's. */
    public WeightFormat weightQuantization() {
        return quantizeTo;
    }

    /** The dense-op kernels in use: {@code "simd"} or {@code "scalar"}. */
    public String denseKernels() {
        return dense.name();
    }

    /** Threads per op. */
    public int threads() {
        return pool == null ? 1 : pool.threads();
    }

    @Override
    public String name() {
        return "cpu";
    }

    /**
     * A zeroed F32 heap tensor. Tensors of rank 4 and more (the paged KV cache and the KT cache) grow along their
     * first dimension (blocks, pages) as the ops reach them, so a large pool costs heap only for the blocks in use;
     * they read as zeros where nothing was written, like a tensor allocated whole.
     */
    @Override
    public Tensor allocate(DType dtype, int... shape) {
        if (dtype != DType.F32) {
            throw new IllegalArgumentException("CPU activations and caches are F32, got " + dtype);
        }
        return shape.length >= 4 ? CpuTensor.growable(shape) : CpuTensor.heap(shape);
    }

    /** The KV cache's array with every block the step names (slots, and tables up to each kvLen) addressable. */
    private static float[] cacheFor(Tensor kvCache, StepBatch b, AttentionShape s) {
        CpuTensor c = cpu(kvCache);
        c.ensureRows(Math.min(kvCache.dim(0), blocksTouched(b, s.tokensPerBlock())));
        return c.floats();
    }

    /** The KT cache's array with the pages of every block the step names addressable. */
    private static float[] ktFor(Tensor ktCache, StepBatch b, AttentionShape s, RocketKvPlan plan) {
        CpuTensor c = cpu(ktCache);
        long pages = (long) blocksTouched(b, s.tokensPerBlock()) * (s.tokensPerBlock() / plan.params().pageSize());
        c.ensureRows((int) Math.min(ktCache.dim(0), pages));
        return c.floats();
    }

    /** One past the highest block the step's slots, block tables (up to each sequence's kvLen) and compact tables name. */
    static int blocksTouched(StepBatch b, int tokensPerBlock) {
        int max = -1;
        for (int slot : b.slotMapping()) {
            max = Math.max(max, slot / tokensPerBlock); // −1 / tpb is 0: harmless
        }
        for (int i = 0; i < b.numSeqs(); i++) {
            int[] table = b.blockTables()[i];
            int need = Math.min(table.length, (b.kvLens()[i] + tokensPerBlock - 1) / tokensPerBlock);
            for (int j = 0; j < need; j++) {
                max = Math.max(max, table[j]);
            }
            if (b.compactTables() != null && b.compactTables()[i] != null) {
                for (int block : b.compactTables()[i]) {
                    max = Math.max(max, block); // where stage 1 writes the kept cache and the KT build reads it
                }
            }
        }
        return max + 1;
    }

    @Override
    public Tensor view(Tensor base, int rows) {
        return cpu(base).rows(rows);
    }

    @Override
    public Tensor weight(DType dtype, int[] shape, MemorySegment hostData) {
        CpuTensor mapped = CpuTensor.mapped(dtype, shape, hostData);
        if (quantizeTo == null || shape.length != 2 || shape[1] % WeightFormat.BLOCK != 0) {
            return mapped; // norms and biases (1-D) stay exact
        }
        return CpuTensor.quantized(dtype, shape, WeightQuantizer.quantize(quantizeTo, dtype, hostData, shape[0], shape[1]));
    }

    @Override
    public void upload(float[] src, Tensor dst) {
        CpuTensor t = cpu(dst);
        if (dst.shape().length > 0) {
            t.ensureRows(dst.dim(0));
        }
        float[] d = t.floats();
        if (dst.numel() != src.length) {
            throw new IllegalArgumentException("upload of " + src.length + " floats into " + Tensor.describe(dst));
        }
        System.arraycopy(src, 0, d, 0, src.length);
    }

    @Override
    public float[] download(Tensor src) {
        CpuTensor c = cpu(src);
        int n = Math.toIntExact(c.numel());
        return c.isHeap() ? Arrays.copyOf(c.floats(), n) : c.toFloats();
    }

    @Override
    public void embedding(Tensor table, StepPlan step, Tensor out) {
        StepBatch batch = step.batch();
        CpuTensor tab = cpu(table);
        int vocab = table.dim(0);
        int hidden = table.dim(1);
        float[] o = cpu(out).floats();
        float[] row = new float[hidden];
        int[] ids = batch.tokenIds();
        for (int t = 0; t < ids.length; t++) {
            if (ids[t] < 0 || ids[t] >= vocab) {
                throw new IllegalArgumentException("token id " + ids[t] + " outside the embedding table [0, " + vocab + ")");
            }
            tab.readRow((long) ids[t] * hidden, row, hidden);
            System.arraycopy(row, 0, o, t * hidden, hidden);
        }
    }

    @Override
    public void rmsNorm(Tensor x, Tensor weight, float eps, Tensor out) {
        int rows = x.dim(0);
        int h = x.dim(1);
        float[] xs = cpu(x).floats();
        float[] os = cpu(out).floats();
        dense.rmsNorm(xs, rows, h, cpu(weight).weightFloats(), eps, os);
    }

    @Override
    public void matmul(Tensor x, Tensor w, Tensor bias, Tensor out) {
        int rows = x.dim(0);
        int k = x.dim(1);
        int n = w.dim(0);
        if (w.dim(1) != k || out.dim(0) != rows || out.dim(1) != n) {
            throw new IllegalArgumentException("matmul shapes: x " + Tensor.describe(x) + ", w " + Tensor.describe(w)
                    + ", out " + Tensor.describe(out));
        }
        float[] b = bias == null ? null : cpu(bias).weightFloats();
        dense.matmul(cpu(x).floats(), rows, cpu(w).matrix(), b, cpu(out).floats(), fork);
    }

    @Override
    public void rope(Tensor q, Tensor k, StepPlan step, RopeTable rope, AttentionShape shape) {
        StepBatch batch = step.batch();
        int d = shape.headDim();
        if (rope.headDim() != d) {
            throw new IllegalArgumentException("rope table for head dim " + rope.headDim() + ", attention head dim " + d);
        }
        float[] qs = cpu(q).floats();
        float[] ks = cpu(k).floats();
        int[] pos = batch.positions();
        int half = d / 2;
        float[] cos = new float[half];
        float[] sin = new float[half];
        for (int t = 0; t < pos.length; t++) {
            for (int i = 0; i < half; i++) {
                float angle = pos[t] * rope.freq(i); // fp32 product, as transformers computes it
                cos[i] = (float) Math.cos(angle);
                sin[i] = (float) Math.sin(angle);
            }
            rotate(qs, t * shape.numHeads() * d, shape.numHeads(), d, cos, sin);
            rotate(ks, t * shape.numKvHeads() * d, shape.numKvHeads(), d, cos, sin);
        }
    }

    private static void rotate(float[] x, int base, int heads, int d, float[] cos, float[] sin) {
        int half = d / 2;
        for (int h = 0; h < heads; h++) {
            int o = base + h * d;
            for (int i = 0; i < half; i++) {
                float x1 = x[o + i];
                float x2 = x[o + i + half];
                x[o + i] = x1 * cos[i] - x2 * sin[i];
                x[o + i + half] = x2 * cos[i] + x1 * sin[i];
            }
        }
    }

    @Override
    public void siluMul(Tensor gate, Tensor up, Tensor out) {
        float[] g = cpu(gate).floats();
        float[] u = cpu(up).floats();
        float[] o = cpu(out).floats();
        long n = out.numel();
        if (gate.numel() != n || up.numel() != n) {
            throw new IllegalArgumentException("siluMul shapes " + Tensor.describe(gate) + ", " + Tensor.describe(up)
                    + ", " + Tensor.describe(out));
        }
        dense.siluMul(g, u, o, (int) n, fork);
    }

    @Override
    public void add(Tensor x, Tensor y) {
        float[] a = cpu(x).floats();
        float[] b = cpu(y).floats();
        long n = x.numel();
        if (y.numel() != n) {
            throw new IllegalArgumentException("add shapes " + Tensor.describe(x) + " and " + Tensor.describe(y));
        }
        dense.add(a, b, (int) n);
    }

    @Override
    public void writeKv(Tensor k, Tensor v, StepPlan step, AttentionShape shape, Tensor kvCache) {
        StepBatch batch = step.batch();
        float[] ks = cpu(k).floats();
        float[] vs = cpu(v).floats();
        float[] cache = cacheFor(kvCache, batch, shape);
        int d = shape.headDim();
        int hkv = shape.numKvHeads();
        int p = shape.tokensPerBlock();
        int numBlocks = kvCache.dim(0);
        int[] slots = batch.slotMapping();
        for (int t = 0; t < slots.length; t++) {
            int slot = slots[t];
            if (slot < 0) {
                continue;
            }
            int block = slot / p;
            int off = slot % p;
            if (block >= numBlocks) {
                throw new IllegalArgumentException("slot " + slot + " is past the cache's " + numBlocks + " blocks");
            }
            for (int h = 0; h < hkv; h++) {
                System.arraycopy(ks, (t * hkv + h) * d, cache, kOffset(block, h, off, shape), d);
                System.arraycopy(vs, (t * hkv + h) * d, cache, vOffset(block, h, off, shape), d);
            }
        }
    }

    /** Float offset of K[block][kvHead][slot][0] in a cache laid out [block][K|V][kv_head][slot][head_dim]. */
    static int kOffset(int block, int kvHead, int slot, AttentionShape s) {
        return ((block * 2 * s.numKvHeads() + kvHead) * s.tokensPerBlock() + slot) * s.headDim();
    }

    static int vOffset(int block, int kvHead, int slot, AttentionShape s) {
        return (((block * 2 + 1) * s.numKvHeads() + kvHead) * s.tokensPerBlock() + slot) * s.headDim();
    }

    /**
     * Causal prefill attention, the twin of CUDA's {@code attention_prefill.cu}: query i of sequence s (queryLen new
     * tokens, kvLen cached after the write) sits at position {@code past + i}, {@code past = kvLen − queryLen}, and
     * attends keys {@code 0 … past + i}. Keys before {@code past} (earlier chunks of a chunked prefill) are read from
     * the paged cache through the block table (the CPU cache is fp32: exactly the values written); the step's own
     * keys from {@code k} and {@code v} (the same values {@link #writeKv} put in the cache).
     */
    @Override
    public void prefillAttention(Tensor q, Tensor k, Tensor v, Tensor kvCache, StepPlan step, AttentionShape shape,
                                 Tensor out) {
        StepBatch batch = step.batch();
        float[] qs = cpu(q).floats();
        float[] ks = cpu(k).floats();
        float[] vs = cpu(v).floats();
        float[] os = cpu(out).floats();
        int h = shape.numHeads();
        int hkv = shape.numKvHeads();
        int d = shape.headDim();
        int g = shape.groupSize();
        int p = shape.tokensPerBlock();
        int seqs = batch.numSeqs();
        long work = 0;
        boolean anyPast = false;
        for (int s = 0; s < seqs; s++) {
            int len = batch.queryLen(s);
            int kvLen = batch.kvLens()[s];
            if (kvLen < len) {
                throw new IllegalArgumentException("prefillAttention: sequence " + s + " has " + len
                        + " new tokens but kvLen " + kvLen + "; need kvLen >= new tokens");
            }
            anyPast |= kvLen > len;
            work += (long) len * kvLen * h * d;
        }
        float[] cache = anyPast ? cacheFor(kvCache, batch, shape) : null;
        for (int s = 0; anyPast && s < seqs; s++) {
            int past = batch.kvLens()[s] - batch.queryLen(s);
            if (past > 0 && (past + p - 1) / p > batch.blockTables()[s].length) {
                throw new IllegalArgumentException("sequence " + s + " has " + past + " earlier tokens but its block"
                        + " table has " + batch.blockTables()[s].length + " blocks of " + p);
            }
        }
        forEach(seqs * h, work, task -> {
            int s = task / h;
            int head = task % h;
            int kvh = head / g;
            int start = batch.queryStart()[s];
            int len = batch.queryLen(s);
            int past = batch.kvLens()[s] - len;
            int[] table = batch.blockTables()[s];
            float[] scores = new float[past + len];
            float[] acc = new float[d];
            for (int i = 0; i < len; i++) {
                int qo = ((start + i) * h + head) * d;
                int last = past + i; // keys 0 … last
                float max = Float.NEGATIVE_INFINITY;
                for (int j = 0; j <= last; j++) {
                    float sc = j < past
                            ? dot(qs, qo, cache, kOffset(table[j / p], kvh, j % p, shape), d)
                            : dot(qs, qo, ks, ((start + j - past) * hkv + kvh) * d, d);
                    sc *= shape.scale();
                    scores[j] = sc;
                    max = Math.max(max, sc);
                }
                Arrays.fill(acc, 0f);
                float sum = 0f;
                for (int j = 0; j <= last; j++) {
                    float e = (float) Math.exp(scores[j] - max);
                    sum += e;
                    if (j < past) {
                        axpy(e, cache, vOffset(table[j / p], kvh, j % p, shape), acc, d);
                    } else {
                        axpy(e, vs, ((start + j - past) * hkv + kvh) * d, acc, d);
                    }
                }
                float inv = 1f / sum;
                for (int c = 0; c < d; c++) {
                    os[qo + c] = acc[c] * inv;
                }
            }
        });
    }

    @Override
    public void decodeAttention(Tensor q, Tensor kvCache, StepPlan step, AttentionShape shape, Tensor out) {
        StepBatch batch = step.batch();
        float[] qs = cpu(q).floats();
        float[] cache = cacheFor(kvCache, batch, shape);
        float[] os = cpu(out).floats();
        int h = shape.numHeads();
        int d = shape.headDim();
        int g = shape.groupSize();
        int p = shape.tokensPerBlock();
        int seqs = batch.numSeqs();
        long work = 0;
        for (int s = 0; s < seqs; s++) {
            work += (long) batch.kvLens()[s] * h * d * 2;
        }
        int hkv = shape.numKvHeads();
        // one task per (sequence, KV head): each K and V row is read once for the whole GQA group; every
        // query head's arithmetic (dot, softmax, accumulation order) is the same as attending head by head
        forEach(seqs * hkv, work, task -> {
            int s = task / hkv;
            int kvh = task % hkv;
            int len = batch.kvLens()[s];
            int[] table = batch.blockTables()[s];
            if ((len + p - 1) / p > table.length) {
                throw new IllegalArgumentException("sequence " + s + " holds " + len + " tokens but its block table has "
                        + table.length + " blocks of " + p);
            }
            int q0 = (s * h + kvh * g) * d; // first query head of the group
            float[][] scores = new float[g][len];
            float[] max = new float[g];
            Arrays.fill(max, Float.NEGATIVE_INFINITY);
            for (int j = 0; j < len; j++) {
                int ko = kOffset(table[j / p], kvh, j % p, shape);
                for (int gi = 0; gi < g; gi++) {
                    float sc = dot(qs, q0 + gi * d, cache, ko, d) * shape.scale();
                    scores[gi][j] = sc;
                    max[gi] = Math.max(max[gi], sc);
                }
            }
            float[][] acc = new float[g][d];
            float[] sum = new float[g];
            for (int j = 0; j < len; j++) {
                int vo = vOffset(table[j / p], kvh, j % p, shape);
                for (int gi = 0; gi < g; gi++) {
                    float e = (float) Math.exp(scores[gi][j] - max[gi]);
                    sum[gi] += e;
                    axpy(e, cache, vo, acc[gi], d);
                }
            }
            for (int gi = 0; gi < g; gi++) {
                float inv = len == 0 ? 0f : 1f / sum[gi]; // a padding sequence (kvLen 0) gets zeros
                int qo = q0 + gi * d;
                for (int c = 0; c < d; c++) {
                    os[qo + c] = acc[gi][c] * inv;
                }
            }
        });
    }

    @Override
    public void rocketStashWindow(Tensor q, StepPlan step, AttentionShape shape, RocketKvParams params,
                                  Tensor windowStash) {
        StepBatch batch = step.batch();
        int chunk = CpuRocketKv.stashedSequence(batch, params);
        if (chunk < 0) {
            return;
        }
        CpuRocketKv.checkStash(windowStash, shape, params);
        CpuRocketKv.stashWindow(cpu(q).floats(), batch, shape, params, chunk, cpu(windowStash).floats());
    }

    @Override
    public void rocketStage1(Tensor q, Tensor windowStash, StepPlan step, AttentionShape shape, RocketKvParams params,
                             Tensor kvCache) {
        StepBatch batch = step.batch();
        if (!batch.prefill()) {
            throw new IllegalArgumentException("RocketKV stage 1 runs after a prefill step");
        }
        float[] stash = null;
        for (int s = 0; s < batch.numSeqs(); s++) {
            if (batch.endsPrefill(s) && batch.needsWindowStash(s, params.promptBudget(), params.windowSize())) {
                if (windowStash == null) {
                    throw new IllegalArgumentException("sequence " + s + " ends a chunked prefill: RocketKV stage 1"
                            + " needs the window stash its chunks filled (rocketStashWindow)");
                }
                CpuRocketKv.checkStash(windowStash, shape, params);
                stash = cpu(windowStash).floats();
            }
        }
        CpuRocketKv.stage1(cpu(q).floats(), stash, batch, shape, params, cacheFor(kvCache, batch, shape), parallel);
    }

    @Override
    public void ktBuild(Tensor kvCache, StepPlan step, AttentionShape shape, RocketKvPlan plan, Tensor ktCache) {
        StepBatch batch = step.batch();
        CpuRocketKv.ktBuild(cacheFor(kvCache, batch, shape), batch, shape, plan, ktFor(ktCache, batch, shape, plan));
    }

    @Override
    public void ktUpdate(Tensor k, StepPlan step, AttentionShape shape, RocketKvPlan plan, Tensor ktCache) {
        StepBatch batch = step.batch();
        CpuRocketKv.ktUpdate(cpu(k).floats(), batch, shape, plan, ktFor(ktCache, batch, shape, plan));
    }

    @Override
    public void sparseDecodeAttention(Tensor q, Tensor kvCache, Tensor ktCache, StepPlan step, AttentionShape shape,
                                      RocketKvPlan plan, Tensor out) {
        StepBatch batch = step.batch();
        CpuRocketKv.sparseDecode(cpu(q).floats(), cacheFor(kvCache, batch, shape), ktFor(ktCache, batch, shape, plan),
                batch, shape, plan, cpu(out).floats(), parallel);
    }

    @Override
    public StepPlan plan(StepBatch batch, int kvLenBound) {
        return HostStepPlan.of(batch, kvLenBound);
    }

    /** The JVM heap: tensors are float arrays (at most {@link Integer#MAX_VALUE} − 8 elements each). */
    @Override
    public MemoryInfo memoryInfo() {
        Runtime rt = Runtime.getRuntime();
        long used = rt.totalMemory() - rt.freeMemory();
        return new MemoryInfo(Math.max(0, rt.maxMemory() - used), rt.maxMemory(), true,
                (Integer.MAX_VALUE - 8L) * Float.BYTES);
    }

    @Override
    public void gatherLogitRows(Tensor x, StepPlan step, Tensor out) {
        gatherRows(x, step.batch().logitRows(), out);
    }

    @Override
    public void gatherRows(Tensor x, int[] rows, Tensor out) {
        float[] xs = cpu(x).floats();
        float[] os = cpu(out).floats();
        int w = x.dim(1);
        for (int i = 0; i < rows.length; i++) {
            System.arraycopy(xs, rows[i] * w, os, i * w, w);
        }
    }

    static float dot(float[] a, int ao, float[] b, int bo, int n) {
        return ScalarDenseOps.dot(a, ao, b, bo, n);
    }

    private static void axpy(float alpha, float[] x, int xo, float[] y, int n) {
        for (int i = 0; i < n; i++) {
            y[i] += alpha * x[xo + i];
        }
    }

    private void forEach(int tasks, long work, java.util.function.IntConsumer body) {
        if (parallel && tasks > 1 && work >= PARALLEL_THRESHOLD) {
            pool.forEach(tasks, body);
        } else {
            for (int t = 0; t < tasks; t++) {
                body.accept(t);
            }
        }
    }

    private static CpuTensor cpu(Tensor t) {
        if (t instanceof CpuTensor c) {
            return c;
        }
        throw new IllegalArgumentException("CpuKernels got a tensor of another backend: " + t.getClass().getName());
    }
}
