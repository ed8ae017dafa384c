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

    /** System property choosing the default KV cache dtype: {@code bf16} (the default) or {@code fp32}. */
    public static final String KV_DTYPE_PROPERTY = "rocketkv.cpu.kvCacheDtype";

    private final boolean parallel;
    private final DType kvDtype;
    private final CpuAttention attention;
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
        this(parallel, defaultKvCacheDtype());
    }

    /**
     * @param parallel     false runs every op on the calling thread
     * @param kvCacheDtype the paged KV cache's element type ({@link #kvCacheDtype()}): BF16, or F32 (the exact
     *                     reference)
     * @throws IllegalArgumentException for another dtype
     */
    public CpuKernels(boolean parallel, DType kvCacheDtype) {
        this(CpuKernelMode.fromSystemProperty(), parallel ? Runtime.getRuntime().availableProcessors() : 1,
                !CpuKernelMode.propertySet(), null, kvCacheDtype);
    }

    /**
     * @param mode    the dense-op and attention kernels
     * @param threads threads per op (the caller and {@code threads − 1} pool threads); 1 runs every op on the caller
     * @throws IllegalStateException    when {@code mode} is SIMD in a JVM without the Vector API module
     * @throws IllegalArgumentException when {@code threads < 1}
     */
    public CpuKernels(CpuKernelMode mode, int threads) {
        this(mode, threads, false, null, defaultKvCacheDtype());
    }

    /**
     * The default kernels ({@link #CpuKernels()}) on every core, with 2-D weights whose rows are a multiple of 32
     * elements quantized when loaded ({@link #weight}) to {@code quantizeTo}: {@link WeightFormat#Q8_0} or
     * {@link WeightFormat#Q4_0} (llama.cpp's block formats; {@link WeightQuantizer}); null keeps the checkpoint's.
     *
     * @throws IllegalArgumentException when {@code quantizeTo} is a float format
     */
    public static CpuKernels quantizing(WeightFormat quantizeTo) {
        return new CpuKernels(CpuKernelMode.fromSystemProperty(), Runtime.getRuntime().availableProcessors(),
                !CpuKernelMode.propertySet(), quantizeTo, defaultKvCacheDtype());
    }

    /**
     * @param fallBack SIMD without the Vector API module runs the scalar twins (one warning) instead of throwing:
     *                 for the default, not for an explicit request
     */
    private CpuKernels(CpuKernelMode mode, int threads, boolean fallBack, WeightFormat quantizeTo,
                       DType kvCacheDtype) {
        if (threads < 1) {
            throw new IllegalArgumentException("CPU threads must be >= 1, got " + threads);
        }
        if (quantizeTo != null && !quantizeTo.quantized()) {
            throw new IllegalArgumentException("weight quantization to " + quantizeTo + ": expected Q8_0 or Q4_0");
        }
        if (!CpuKvCache.supports(kvCacheDtype)) {
            throw new IllegalArgumentException("the CPU KV cache holds BF16, F32 or F8_E4M3 (" + KV_DTYPE_PROPERTY
                    + "=bf16|fp32|fp8), got " + kvCacheDtype);
        }
        this.dense = mode.ops(fallBack);
        this.attention = CpuKernelMode.attention(dense);
        this.parallel = threads > 1;
        this.pool = threads > 1 ? CpuThreadPool.of(threads) : null;
        this.quantizeTo = quantizeTo;
        this.kvDtype = kvCacheDtype;
    }

    /** {@value #KV_DTYPE_PROPERTY}: unset or {@code bf16}/{@code bfloat16} is BF16, {@code fp32}/{@code float32} F32. */
    static DType defaultKvCacheDtype() {
        String v = System.getProperty(KV_DTYPE_PROPERTY);
        if (v == null || v.isBlank()) {
            return DType.BF16;
        }
        return switch (v.trim().toLowerCase(java.util.Locale.ROOT)) {
            case "bf16", "bfloat16" -> DType.BF16;
            case "fp32", "f32", "float32" -> DType.F32;
            case "fp8", "f8_e4m3" -> DType.F8_E4M3;
            default -> throw new IllegalArgumentException(KV_DTYPE_PROPERTY + " must be bf16, fp32 or fp8, got '" + v
                    + "' (the CPU KV cache holds BF16, F32 or F8_E4M3)");
        };
    }

    /** BF16 unless chosen otherwise ({@value #KV_DTYPE_PROPERTY}, or the constructor): off-heap, see {@link CpuKvCache}. */
    @Override
    public DType kvCacheDtype() {
        return kvDtype;
    }

    /** The format 2-D weights are quantized to when loaded, or null when they keep the checkpoint's. */
    public WeightFormat weightQuantization() {
        return quantizeTo;
    }

    /** The dense-op and attention kernels in use: {@code "simd"} or {@code "scalar"}. */
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
     * A zeroed tensor. A rank-5 tensor is a paged KV cache {@code [numBlocks, 2, Hkv, tokensPerBlock, D]}, F32 or
     * BF16, off the heap ({@link CpuKvCache}: a block costs memory once an op reaches it). Everything else is an F32
     * heap tensor; those of rank 4 (the KT cache) grow along their first dimension (pages) as the ops reach them,
     * so a large pool costs heap only for the pages in use; they read as zeros where nothing was written, like a
     * tensor allocated whole.
     */
    @Override
    public Tensor allocate(DType dtype, int... shape) {
        if (shape.length == 5) {
            return new CpuKvCache(dtype, shape);
        }
        if (dtype != DType.F32) {
            throw new IllegalArgumentException("CPU activations and KT caches are F32 (a KV cache [numBlocks, 2, Hkv,"
                    + " tokensPerBlock, D] may be BF16), got " + dtype + java.util.Arrays.toString(shape));
        }
        return shape.length >= 4 ? CpuTensor.growable(shape) : CpuTensor.heap(shape);
    }

    @Override
    public void setKvCacheScales(Tensor kvCache, float kScale, float vScale) {
        if (!(kvCache instanceof CpuKvCache c)) {
            throw new IllegalArgumentException("KV cache scales go to a CPU KV cache, got " + Tensor.describe(kvCache));
        }
        c.setScales(kScale, vScale);
    }

    /** The KV cache with every block the step names (slots, tables up to each kvLen, compact tables) allocated. */
    private static CpuKvCache cacheFor(Tensor kvCache, StepBatch b) {
        CpuKvCache c = kv(kvCache);
        c.ensure(b);
        return c;
    }

    private static CpuKvCache kv(Tensor t) {
        if (t instanceof CpuKvCache c) {
            return c;
        }
        throw new IllegalArgumentException("expected a CPU KV cache [numBlocks, 2, Hkv, tokensPerBlock, D] (rank 5,"
                + " from allocate), got " + (t == null ? "null" : Tensor.describe(t)));
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
        if (dst instanceof CpuKvCache c) {
            c.upload(src);
            return;
        }
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
        if (src instanceof CpuKvCache kv) {
            return kv.toFloats();
        }
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
    public void headRmsNorm(Tensor x, Tensor weight, float eps) {
        int d = Kernels.headRmsNormWidth(x, weight);
        int vectors = Math.multiplyExact(x.dim(0), x.dim(1) / d);
        float[] xs = cpu(x).floats();
        dense.rmsNorm(xs, vectors, d, cpu(weight).weightFloats(), eps, xs); // each row is read before it is written
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
        rope.checkHeadDim(d);
        float[] qs = cpu(q).floats();
        float[] ks = cpu(k).floats();
        int[] pos = batch.positions();
        int half = rope.rotaryDim() / 2;
        float attention = rope.attentionFactor();
        float[] cos = new float[half];
        float[] sin = new float[half];
        for (int s = 0; s < batch.numSeqs(); s++) {
            float[] inv = rope.freqs(batch.ropeLength(s));
            for (int t = batch.queryStart()[s]; t < batch.queryStart()[s + 1]; t++) {
                for (int i = 0; i < half; i++) {
                    float angle = pos[t] * inv[i]; // fp32 product, as transformers computes it
                    // emb.cos() * attention_scaling: a float32 product (exact for the factor 1 of most kinds)
                    cos[i] = (float) Math.cos(angle) * attention;
                    sin[i] = (float) Math.sin(angle) * attention;
                }
                rotate(qs, t * shape.numHeads() * d, shape.numHeads(), d, cos, sin);
                rotate(ks, t * shape.numKvHeads() * d, shape.numKvHeads(), d, cos, sin);
            }
        }
    }

    /** Rotates channel i with i + cos.length of each of {@code heads} heads of {@code d} channels from {@code base}. */
    private static void rotate(float[] x, int base, int heads, int d, float[] cos, float[] sin) {
        int half = cos.length;
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
        CpuKvCache cache = cacheFor(kvCache, batch);
        int d = shape.headDim();
        int hkv = shape.numKvHeads();
        int p = shape.tokensPerBlock();
        int[] slots = batch.slotMapping();
        for (int t = 0; t < slots.length; t++) {
            int slot = slots[t];
            if (slot < 0) {
                continue;
            }
            java.lang.foreign.MemorySegment blk = cache.block(slot / p);
            for (int h = 0; h < hkv; h++) {
                cache.writeRow(ks, (t * hkv + h) * d, blk, cache.kOffset(h, slot % p));
                cache.writeRow(vs, (t * hkv + h) * d, blk, cache.vOffset(h, slot % p));
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
     * the paged cache through the block table; the step's own keys from {@code k} and {@code v}, rounded to the
     * cache's dtype (the values {@link #writeKv} put in the cache). Runs the {@link CpuAttention} twin chosen.
     */
    @Override
    public void prefillAttention(Tensor q, Tensor k, Tensor v, Tensor kvCache, StepPlan step, AttentionShape shape,
                                 Tensor out) {
        StepBatch batch = step.batch();
        attention.prefill(cpu(q).floats(), cpu(k).floats(), cpu(v).floats(), cacheFor(kvCache, batch), batch, shape,
                cpu(out).floats(), this::forEach);
    }

    @Override
    public void decodeAttention(Tensor q, Tensor kvCache, StepPlan step, AttentionShape shape, Tensor out) {
        StepBatch batch = step.batch();
        attention.decode(cpu(q).floats(), cacheFor(kvCache, batch), batch, shape, cpu(out).floats(), this::forEach);
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
        CpuRocketKv.stage1(cpu(q).floats(), stash, batch, shape, params, cacheFor(kvCache, batch), this::forEach);
    }

    @Override
    public void ktBuild(Tensor kvCache, StepPlan step, AttentionShape shape, RocketKvPlan plan, Tensor ktCache) {
        StepBatch batch = step.batch();
        CpuRocketKv.ktBuild(cacheFor(kvCache, batch), batch, shape, plan, ktFor(ktCache, batch, shape, plan));
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
        CpuRocketKv.sparseDecode(cpu(q).floats(), cacheFor(kvCache, batch), ktFor(ktCache, batch, shape, plan),
                batch, shape, plan, cpu(out).floats(), attention, this::forEach);
    }

    @Override
    public StepPlan plan(StepBatch batch, int kvLenBound) {
        return HostStepPlan.of(batch, kvLenBound);
    }

    /**
     * The host's physical memory as the OS reports it (container limits included; page cache counts as used): the
     * KV cache is off the heap, allocated block by block as the ops reach them.
     */
    @Override
    public MemoryInfo memoryInfo() {
        var os = (com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory
                .getOperatingSystemMXBean();
        return new MemoryInfo(os.getFreeMemorySize(), os.getTotalMemorySize(), true, Long.MAX_VALUE);
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
