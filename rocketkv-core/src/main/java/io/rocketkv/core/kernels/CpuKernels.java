package io.rocketkv.core.kernels;

import io.rocketkv.core.numeric.DType;
import io.rocketkv.core.sparse.RocketKvParams;
import io.rocketkv.core.sparse.RocketKvPlan;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.stream.IntStream;

/**
 * The reference backend: plain Java, fp32 arithmetic, parallel over output features (matmul) and over
 * (sequence, head) pairs (attention) when the work is large enough to pay for the fork. Every CUDA
 * kernel is tested against these methods.
 */
public final class CpuKernels implements Kernels {

    /** Below this many multiply-adds an op runs on the calling thread. */
    private static final long PARALLEL_THRESHOLD = 1L << 15;
    private static final int MATMUL_ROWS_PER_TASK = 16;

    /** System property choosing the default KV cache dtype: {@code bf16} (the default) or {@code fp32}. */
    public static final String KV_DTYPE_PROPERTY = "rocketkv.cpu.kvCacheDtype";

    private final boolean parallel;
    private final DType kvDtype;
    private final CpuAttention attention;

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
        this(parallel, kvCacheDtype, CpuAttention.select());
    }

    CpuKernels(boolean parallel, DType kvCacheDtype, CpuAttention attention) {
        if (!CpuKvCache.supports(kvCacheDtype)) {
            throw new IllegalArgumentException("the CPU KV cache holds BF16 or F32 (" + KV_DTYPE_PROPERTY
                    + "=bf16|fp32), got " + kvCacheDtype);
        }
        this.parallel = parallel;
        this.kvDtype = kvCacheDtype;
        this.attention = attention;
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
            default -> throw new IllegalArgumentException(KV_DTYPE_PROPERTY + " must be bf16 or fp32, got '" + v
                    + "' (the CPU KV cache holds BF16 or F32)");
        };
    }

    /** BF16 unless chosen otherwise ({@value #KV_DTYPE_PROPERTY}, or the constructor): off-heap, see {@link CpuKvCache}. */
    @Override
    public DType kvCacheDtype() {
        return kvDtype;
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
        return CpuTensor.mapped(dtype, shape, hostData);
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
        float[] w = cpu(weight).toFloats();
        for (int r = 0; r < rows; r++) {
            int base = r * h;
            double ss = 0;
            for (int i = 0; i < h; i++) {
                ss += (double) xs[base + i] * xs[base + i];
            }
            float inv = (float) (1.0 / Math.sqrt((float) (ss / h) + eps));
            for (int i = 0; i < h; i++) {
                os[base + i] = w[i] * (xs[base + i] * inv);
            }
        }
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
        float[] xs = cpu(x).floats();
        float[] os = cpu(out).floats();
        CpuTensor wt = cpu(w);
        float[] b = bias == null ? null : cpu(bias).toFloats();
        int tasks = (n + MATMUL_ROWS_PER_TASK - 1) / MATMUL_ROWS_PER_TASK;
        forEach(tasks, (long) rows * n * k, task -> {
            float[] wrow = new float[k];
            int end = Math.min(n, (task + 1) * MATMUL_ROWS_PER_TASK);
            for (int j = task * MATMUL_ROWS_PER_TASK; j < end; j++) {
                wt.readRow((long) j * k, wrow, k);
                float bj = b == null ? 0f : b[j];
                for (int r = 0; r < rows; r++) {
                    os[r * n + j] = dot(xs, r * k, wrow, 0, k) + bj;
                }
            }
        });
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
        for (int i = 0; i < n; i++) {
            float v = g[i];
            o[i] = v / (1f + (float) Math.exp(-v)) * u[i];
        }
    }

    @Override
    public void add(Tensor x, Tensor y) {
        float[] a = cpu(x).floats();
        float[] b = cpu(y).floats();
        long n = x.numel();
        if (y.numel() != n) {
            throw new IllegalArgumentException("add shapes " + Tensor.describe(x) + " and " + Tensor.describe(y));
        }
        for (int i = 0; i < n; i++) {
            a[i] += b[i];
        }
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
        float s0 = 0f, s1 = 0f, s2 = 0f, s3 = 0f;
        int i = 0;
        for (; i + 3 < n; i += 4) {
            s0 += a[ao + i] * b[bo + i];
            s1 += a[ao + i + 1] * b[bo + i + 1];
            s2 += a[ao + i + 2] * b[bo + i + 2];
            s3 += a[ao + i + 3] * b[bo + i + 3];
        }
        for (; i < n; i++) {
            s0 += a[ao + i] * b[bo + i];
        }
        return (s0 + s1) + (s2 + s3);
    }

    private static void axpy(float alpha, float[] x, int xo, float[] y, int n) {
        for (int i = 0; i < n; i++) {
            y[i] += alpha * x[xo + i];
        }
    }

    private void forEach(int tasks, long work, java.util.function.IntConsumer body) {
        if (parallel && tasks > 1 && work >= PARALLEL_THRESHOLD) {
            IntStream.range(0, tasks).parallel().forEach(body);
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
