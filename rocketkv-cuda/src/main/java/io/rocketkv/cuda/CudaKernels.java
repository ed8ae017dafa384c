package io.rocketkv.cuda;

import io.rocketkv.core.kernels.AttentionShape;
import io.rocketkv.core.kernels.Kernels;
import io.rocketkv.core.kernels.OutOfDeviceMemoryException;
import io.rocketkv.core.kernels.RecordedStep;
import io.rocketkv.core.kernels.RopeTable;
import io.rocketkv.core.kernels.StepBatch;
import io.rocketkv.core.kernels.Tensor;
import io.rocketkv.core.numeric.Bf16;
import io.rocketkv.core.numeric.DType;
import io.rocketkv.core.numeric.NumericFormats;
import io.rocketkv.core.sparse.RocketKvParams;
import io.rocketkv.core.sparse.RocketKvPlan;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.ArrayList;
import java.util.Map;
import java.util.Set;

/**
 * The CUDA backend of {@link Kernels}: dense attention here, RocketKV's four sparse ops in
 * {@link CudaRocketKv} (this class delegates to it; the KT cache is stored in the KT dtype, see
 * {@link #ktCacheDtype}).
 *
 * <p>Precision: activations are fp32. Weights keep their checkpoint dtype where cuBLAS can use it: F32
 * weights stay F32 (fp32 GEMM, {@link Cublas#gemmF32}), BF16 weights stay BF16 and the activations are
 * rounded to bf16 for the GEMM ({@link Cublas#gemmBf16}, fp32 accumulation), F16 weights are converted to
 * BF16 on upload. One-dimensional weights (norms, biases) are uploaded as F32. The KV cache is BF16
 * ({@link #kvCacheDtype()}), layout {@code [numBlocks][2][Hkv][tokensPerBlock][D]}.
 *
 * <p>Everything runs in order on one created stream with the default (blocking) flag: it can be captured
 * into a CUDA graph, and the synchronous copies of {@link #upload} and {@link #download} (which go on the
 * legacy stream) still wait for the work queued before them and are waited for by the work after them. Per step ("plan once"), the
 * index arrays of a {@link StepBatch} (token ids, positions, slot mapping, query starts, KV lengths and the
 * block tables flattened to {@code [numSeqs][maxBlocks]}, padded with −1) go to the device in one copy,
 * the first time an op sees that batch object; every layer reuses them. Scratch memory (the bf16 copy of a
 * GEMM's activations, the split-KV decode workspace, the step plan) is owned here and grown lazily when a
 * larger step needs more — the kernels themselves never allocate.
 *
 * <p>Not thread-safe: one thread runs the ops (the engine's); {@link #close()} frees every tensor still
 * open, the scratch buffers, the modules, the cuBLAS handle and releases the context.
 */
public final class CudaKernels implements Kernels {

    private static final int ROW_BLOCK = 256;
    /** Fewest keys one split of split-KV decode attention takes. */
    private static final int MIN_KV_PER_SPLIT = 256;
    /** cuBLAS's workspace, given to it up front so that no GEMM allocates (NVIDIA suggests 32 MiB on Hopper). */
    private static final long CUBLAS_WORKSPACE_BYTES = 32L << 20;
    private static final int PREFILL_TILE = 64;
    private static final int[] PREFILL_DIMS = {16, 32, 64, 128};
    private static final int[] DECODE_DIMS = {16, 32, 64, 128, 256};
    private static final int[] DECODE_GROUPS = {1, 2, 4, 8};

    private final CudaContext context;
    private final CudaStream stream;
    private final Cublas cublas;
    private final DeviceBuffer cublasWorkspace;
    private final ElementwiseKernels elementwise;
    private final CudaModule ropeModule;
    private final CudaModule rowsModule;
    private final CudaModule kvModule;
    private final CudaModule prefillModule;
    private final CudaModule decodeModule;
    private final CudaFunction ropeF32;
    private final CudaFunction gatherRows;
    private final CudaFunction f32ToBf16;
    private final CudaFunction addBias;
    private final CudaFunction kvWrite;
    private final CudaFunction prefillNaive;
    private final CudaFunction decodeNaive;
    private final CudaFunction decodeMerge;
    private final CudaRocketKv rocket;
    private final Map<String, CudaFunction> functions = new java.util.HashMap<>();
    private final Map<CudaFunction, Integer> residentBlocks = new java.util.HashMap<>();
    private final Set<CudaTensor> live = Collections.synchronizedSet(Collections.newSetFromMap(new IdentityHashMap<>()));

    /** Downloads to Java arrays up to this size go through {@link #downloadStaging}; larger ones stage per call. */
    private static final long MAX_DOWNLOAD_STAGING = 512L << 20;

    // scratch, grown lazily
    private final Object downloadLock = new Object();
    private PinnedHostBuffer downloadStaging; // page-locked, reused by download(); null until the first one
    private volatile boolean downloadStagingRefused; // the driver refused the page-locked buffer once
    private DeviceBuffer xBf16;
    private DeviceBuffer decodeWorkspace;
    private DeviceBuffer planBuffer;
    private DeviceBuffer rowsBuffer;
    private DeviceBuffer ropeBuffer;
    private RopeTable ropeFor;

    // the step plan of the last batch seen
    private StepBatch planFor;
    private Plan plan;

    private boolean closed;
    private boolean capturing;
    private boolean sawF32Matrix;
    private boolean sawBf16Matrix;
    private long scratchEpoch;
    private final Set<CudaRecordedStep> recordings = Collections.newSetFromMap(new IdentityHashMap<>());
    private int kvLenBound; // while recording: the longest KV length a replay may have (else 0)

    /**
     * The device copies of one step's index arrays, for kernel families that live in their own classes:
     * {@code tokenIds}, {@code positions}, {@code slots} [T]; {@code queryStart} [S+1]; {@code kvLens} [S];
     * {@code tables} [S][maxBlocks] padded with −1. Valid until the next step is planned.
     */
    record DevicePlan(DeviceBuffer tokenIds, DeviceBuffer positions, DeviceBuffer slots, DeviceBuffer queryStart,
                      DeviceBuffer kvLens, DeviceBuffer tables, int maxBlocks, int maxQueryLen, int maxKvLen) {
    }

    /** Offsets (in ints) of one step's index arrays inside {@link #planBuffer}. */
    private record Plan(int tokenIds, int positions, int slots, int queryStart, int kvLens, int tables, int rows,
                        int maxBlocks, int maxQueryLen, int maxKvLen, int total) {

        /** Same offsets (so a recorded step reads this plan where it read the recorded one). */
        boolean sameLayout(Plan o) {
            return tokenIds == o.tokenIds && positions == o.positions && slots == o.slots && queryStart == o.queryStart
                    && kvLens == o.kvLens && tables == o.tables && rows == o.rows && maxBlocks == o.maxBlocks
                    && total == o.total;
        }
    }

    /** Backend on device 0. */
    public CudaKernels() {
        this(0);
    }

    /** Backend on device {@code ordinal}: retains its primary context and loads the kernels. */
    public CudaKernels(int ordinal) {
        CudaDriver.require("CudaKernels");
        this.context = CudaContext.primary(ordinal);
        List<AutoCloseable> made = new ArrayList<>();
        try {
            this.stream = context.createStream(false);
            made.add(stream);
            this.cublas = Cublas.create(context);
            made.add(cublas);
            cublas.setStream(stream);
            this.cublasWorkspace = context.allocate(CUBLAS_WORKSPACE_BYTES);
            made.add(cublasWorkspace);
            cublas.setWorkspace(cublasWorkspace);
            this.elementwise = new ElementwiseKernels(context);
            made.add(elementwise);
            this.ropeModule = KernelImages.load(context, "rope");
            made.add(ropeModule);
            this.rowsModule = KernelImages.load(context, "rows");
            made.add(rowsModule);
            this.kvModule = KernelImages.load(context, "kv_cache");
            made.add(kvModule);
            this.prefillModule = KernelImages.load(context, "attention_prefill");
            made.add(prefillModule);
            this.decodeModule = KernelImages.load(context, "attention_decode");
            made.add(decodeModule);
            this.ropeF32 = ropeModule.function("rope_f32");
            this.gatherRows = rowsModule.function("gather_rows_f32");
            this.f32ToBf16 = rowsModule.function("f32_to_bf16");
            this.addBias = rowsModule.function("add_bias_f32");
            this.kvWrite = kvModule.function("kv_cache_write_bf16");
            this.prefillNaive = prefillModule.function("attention_prefill_naive");
            this.decodeNaive = decodeModule.function("attention_decode_naive");
            this.decodeMerge = decodeModule.function("attention_decode_merge");
            for (int d : PREFILL_DIMS) {
                CudaFunction f = prefillModule.function("attention_prefill_d" + d);
                int smem = prefillSharedBytes(d);
                if (smem > 48 * 1024) {
                    f.setMaxDynamicSharedMemory(smem);
                }
                functions.put("attention_prefill_d" + d, f);
            }
            this.rocket = new CudaRocketKv(this, context);
            made.add(rocket);
        } catch (RuntimeException e) {
            for (int i = made.size() - 1; i >= 0; i--) {
                try {
                    made.get(i).close();
                } catch (Exception suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            context.close();
            throw e;
        }
    }

    /** The context the tensors live in. */
    public CudaContext context() {
        return context;
    }

    /** Free and total device memory now. */
    public CudaContext.MemoryInfo memoryInfo() {
        return context.memoryInfo();
    }

    @Override
    public String name() {
        return "cuda";
    }

    @Override
    public DType kvCacheDtype() {
        return DType.BF16;
    }

    /** The KT dtype itself: F8_E5M2 (e5m2 bytes) or BF16. */
    @Override
    public DType ktCacheDtype(RocketKvParams p) {
        return p.ktDtype();
    }

    // ---- tensors ----------------------------------------------------------------------------------

    @Override
    public Tensor allocate(DType dtype, int... shape) {
        if (dtype != DType.F32 && dtype != DType.BF16 && dtype != DType.F8_E5M2) {
            throw new IllegalArgumentException("CUDA tensors are F32 (activations), BF16 (KV cache, KT cache) or F8_E5M2"
                    + " (KT cache), got " + dtype);
        }
        long bytes = CudaTensor.numel(shape) * dtype.byteSize();
        DeviceBuffer b = deviceAlloc(Math.max(bytes, 16), dtype + java.util.Arrays.toString(shape));
        b.memset((byte) 0);
        return track(new CudaTensor(dtype, shape, b, live::remove));
    }

    /**
     * A {@link CudaTensor} over a {@link DeviceBuffer#slice slice} of {@code base}'s buffer: same device
     * memory, no allocation, not tracked (closing it frees nothing). A view of zero rows keeps a 16-byte
     * slice, as {@link #allocate} keeps 16 bytes for an empty tensor.
     */
    @Override
    public Tensor view(Tensor base, int rows) {
        CudaTensor b = cuda(base);
        int[] sh = b.shape();
        if (sh.length != 2 || rows < 0 || rows > sh[0]) {
            throw new IllegalArgumentException("cannot view " + rows + " rows of " + Tensor.describe(base));
        }
        DeviceBuffer buf = b.buffer();
        long bytes = (long) rows * sh[1] * b.dtype().byteSize();
        DeviceBuffer slice = buf.slice(0, Math.min(buf.byteSize(), Math.max(bytes, 16)));
        return new CudaTensor(b.dtype(), new int[] {rows, sh[1]}, slice, t -> { });
    }

    @Override
    public Tensor weight(DType dtype, int[] shape, MemorySegment hostData) {
        long n = CudaTensor.numel(shape);
        if (hostData.byteSize() != n * dtype.byteSize()) {
            throw new IllegalArgumentException("weight " + dtype + java.util.Arrays.toString(shape) + " needs "
                    + n * dtype.byteSize() + " bytes, got " + hostData.byteSize());
        }
        if (dtype != DType.F32 && dtype != DType.F16 && dtype != DType.BF16) {
            throw new IllegalArgumentException("CUDA weights must be F32, F16 or BF16, got " + dtype);
        }
        // vectors (norms, biases) as F32; matrices F32 or BF16 (F16 -> BF16)
        DType target = shape.length < 2 ? DType.F32 : (dtype == DType.F16 ? DType.BF16 : dtype);
        if (shape.length >= 2) {
            sawF32Matrix |= target == DType.F32;
            sawBf16Matrix |= target == DType.BF16;
        }
        DeviceBuffer b = deviceAlloc(Math.max(n * target.byteSize(), 16), "weight " + target
                + java.util.Arrays.toString(shape));
        try {
            if (target == dtype) {
                b.copyFrom(hostData);
            } else {
                convertUpload(dtype, hostData, target, b, n);
            }
        } catch (RuntimeException e) {
            b.close();
            throw e;
        }
        return track(new CudaTensor(target, shape, b, live::remove));
    }

    /** Converts on the host in chunks (F16/BF16 -> F32, F16 -> BF16) and copies each chunk up. */
    private static void convertUpload(DType from, MemorySegment src, DType to, DeviceBuffer dst, long n) {
        final int chunk = 1 << 20;
        float[] f = new float[(int) Math.min(n, chunk)];
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment staged = arena.allocate((long) f.length * to.byteSize(), 16);
            for (long i = 0; i < n; i += chunk) {
                int c = (int) Math.min(chunk, n - i);
                NumericFormats.decode(from, src, i * from.byteSize(), f, 0, c);
                MemorySegment part = staged.asSlice(0, (long) c * to.byteSize());
                if (to == DType.F32) {
                    MemorySegment.copy(f, 0, part, ValueLayout.JAVA_FLOAT_UNALIGNED, 0, c);
                } else {
                    Bf16.encode(f, 0, part, 0, c);
                }
                dst.copyFrom(part, i * to.byteSize());
            }
        }
    }

    /**
     * cuMemAlloc, with CUDA_ERROR_OUT_OF_MEMORY turned into an {@link OutOfDeviceMemoryException} that says
     * how much was asked for and how much is free.
     */
    private DeviceBuffer deviceAlloc(long bytes, String what) {
        try {
            return context.allocate(bytes);
        } catch (CudaException e) {
            if (e.status() != io.rocketkv.cuda.bindings.cuda_h.CUDA_ERROR_OUT_OF_MEMORY) {
                throw e;
            }
            String free;
            try {
                CudaContext.MemoryInfo m = context.memoryInfo();
                free = (m.free() >> 20) + " MiB free of " + (m.total() >> 20) + " MiB";
            } catch (RuntimeException ignored) {
                free = "free memory unknown";
            }
            throw new OutOfDeviceMemoryException(what + " needs " + (bytes >> 20) + " MiB (" + bytes + " bytes), "
                    + free + " on " + context.device(), bytes, e);
        }
    }

    private CudaTensor track(CudaTensor t) {
        live.add(t);
        return t;
    }

    @Override
    public void upload(float[] src, Tensor dst) {
        CudaTensor d = f32(dst, "upload");
        if (d.numel() != src.length) {
            throw new IllegalArgumentException("upload of " + src.length + " floats into " + Tensor.describe(dst));
        }
        d.buffer().copyFrom(src);
    }

    @Override
    public float[] download(Tensor src) {
        CudaTensor s = f32(src, "download");
        int n = Math.toIntExact(s.numel());
        long bytes = (long) n * Float.BYTES;
        if (bytes == 0 || bytes > MAX_DOWNLOAD_STAGING || downloadStagingRefused) {
            return s.buffer().toFloatArray(n);
        }
        // through one reused page-locked buffer: a decode step's logits (batch x vocabulary floats, 131 MB at
        // batch 256 with a 128k vocabulary) would otherwise need a fresh zeroed native buffer, a pageable copy
        // and its page faults on every step
        synchronized (downloadLock) {
            if (downloadStaging == null || downloadStaging.byteSize() < bytes) {
                if (downloadStaging != null) {
                    downloadStaging.close();
                    downloadStaging = null;
                }
                long size = Math.min(MAX_DOWNLOAD_STAGING, Math.max(bytes, 1L << 20));
                try {
                    downloadStaging = context.allocatePinned(size);
                } catch (CudaException e) {
                    // page-locked memory is a limited resource: without it, downloads stage per call as before
                    downloadStagingRefused = true;
                    return s.buffer().toFloatArray(n);
                }
            }
            MemorySegment staged = downloadStaging.segment().asSlice(0, bytes);
            s.buffer().copyTo(staged);
            float[] out = new float[n];
            MemorySegment.copy(staged, java.lang.foreign.ValueLayout.JAVA_FLOAT, 0, out, 0, n);
            return out;
        }
    }

    // ---- ops --------------------------------------------------------------------------------------

    @Override
    public void embedding(Tensor table, StepBatch batch, Tensor out) {
        CudaTensor tab = cuda(table);
        int vocab = table.dim(0);
        int hidden = table.dim(1);
        ElementwiseKernels.checkTokenIds(batch.tokenIds(), vocab);
        Plan p = plan(batch);
        int t = batch.numTokens();
        DeviceBuffer ids = ints(p.tokenIds(), t);
        requireFloats(out, (long) t * hidden, "embedding out");
        switch (tab.dtype()) {
            case BF16 -> elementwise.embedding(tab.buffer(), vocab, hidden, ids, t, cuda(out).buffer(), stream);
            case F32 -> gatherRows.launch(Dim3.of(t), Dim3.of(ROW_BLOCK), 0, stream, cuda(out).buffer(), tab.buffer(),
                    ids, hidden);
            default -> throw new IllegalArgumentException("embedding table must be F32 or BF16, got " + tab.dtype());
        }
    }

    /**
     * BF16 once a BF16 weight matrix is loaded and no F32 one (F32 checkpoints keep fp32 GEMMs and fp32
     * activations): rmsNorm and siluMul then write bf16 (rounded exactly as the conversion before a bf16
     * GEMM would) and the GEMM reads them directly.
     */
    @Override
    public DType gemmInputDtype() {
        return sawBf16Matrix && !sawF32Matrix ? DType.BF16 : DType.F32;
    }

    @Override
    public void rmsNorm(Tensor x, Tensor weight, float eps, Tensor out) {
        int rows = x.dim(0);
        int h = x.dim(1);
        elementwise.rmsNorm(f32(x, "rmsNorm x").buffer(), cuda(weight).buffer(), weight.dtype(),
                activation(out, "rmsNorm out").buffer(), out.dtype(), rows, h, eps, stream);
    }

    @Override
    public void matmul(Tensor x, Tensor w, Tensor bias, Tensor out) {
        int rows = x.dim(0);
        int k = x.dim(1);
        int n = w.dim(0);
        if (w.shape().length != 2 || w.dim(1) != k || out.dim(0) != rows || out.dim(1) != n) {
            throw new IllegalArgumentException("matmul shapes: x " + Tensor.describe(x) + ", w " + Tensor.describe(w)
                    + ", out " + Tensor.describe(out));
        }
        DeviceBuffer xs = activation(x, "matmul x").buffer();
        DeviceBuffer os = f32(out, "matmul out").buffer();
        CudaTensor wt = cuda(w);
        if (x.dtype() == DType.BF16 && wt.dtype() != DType.BF16) {
            throw new IllegalArgumentException("matmul of a BF16 x needs BF16 weights, got " + Tensor.describe(w));
        }
        switch (wt.dtype()) {
            case F32 -> cublas.gemmF32(xs, wt.buffer(), os, rows, n, k);
            case BF16 -> {
                if (x.dtype() == DType.BF16) {
                    cublas.gemmBf16(xs, wt.buffer(), os, rows, n, k, DType.F32); // already the GEMM's input type
                    break;
                }
                long elems = (long) rows * k;
                DeviceBuffer xb = xBf16 = grow(xBf16, elems * 2);
                f32ToBf16.launch(Dim3.of(blocks(elems)), Dim3.of(ROW_BLOCK), 0, stream, xb, xs, elems);
                cublas.gemmBf16(xb, wt.buffer(), os, rows, n, k, DType.F32);
            }
            default -> throw new IllegalArgumentException("matmul weight must be F32 or BF16, got " + wt.dtype());
        }
        if (bias != null) {
            if (bias.numel() != n || bias.dtype() != DType.F32) {
                throw new IllegalArgumentException("matmul bias must be F32 [" + n + "], got " + Tensor.describe(bias));
            }
            long elems = (long) rows * n;
            addBias.launch(Dim3.of(blocks(elems)), Dim3.of(ROW_BLOCK), 0, stream, os, cuda(bias).buffer(), (long) rows, n);
        }
    }

    @Override
    public void rope(Tensor q, Tensor k, StepBatch batch, RopeTable rope, AttentionShape shape) {
        int d = shape.headDim();
        if (rope.headDim() != d) {
            throw new IllegalArgumentException("rope table for head dim " + rope.headDim() + ", attention head dim " + d);
        }
        int t = batch.numTokens();
        requireFloats(q, (long) t * shape.numHeads() * d, "rope q");
        requireFloats(k, (long) t * shape.numKvHeads() * d, "rope k");
        if (ropeFor != rope) {
            float[] inv = rope.invFreq();
            ropeBuffer = grow(ropeBuffer, (long) inv.length * Float.BYTES);
            ropeBuffer.copyFrom(MemorySegment.ofArray(inv), 0);
            ropeFor = rope;
        }
        Plan p = plan(batch);
        ropeF32.launch(Dim3.of(t), Dim3.of(128), 0, stream, cuda(q).buffer(), cuda(k).buffer(), ints(p.positions(), t),
                ropeBuffer, shape.numHeads(), shape.numKvHeads(), d);
    }

    @Override
    public void siluMul(Tensor gate, Tensor up, Tensor out) {
        if (gate.numel() != out.numel() || up.numel() != out.numel()) {
            throw new IllegalArgumentException("siluMul shapes: gate " + Tensor.describe(gate) + ", up "
                    + Tensor.describe(up) + ", out " + Tensor.describe(out));
        }
        elementwise.siluMul(f32(gate, "siluMul gate").buffer(), f32(up, "siluMul up").buffer(),
                activation(out, "siluMul out").buffer(), out.dtype(), out.numel(), stream);
    }

    @Override
    public void add(Tensor x, Tensor y) {
        if (x.numel() != y.numel()) {
            throw new IllegalArgumentException("add shapes " + Tensor.describe(x) + " and " + Tensor.describe(y));
        }
        elementwise.residualAdd(f32(x, "add x").buffer(), f32(y, "add y").buffer(), x.numel(), stream);
    }

    @Override
    public void writeKv(Tensor k, Tensor v, StepBatch batch, AttentionShape shape, Tensor kvCache) {
        int numBlocks = checkCache(kvCache, shape);
        int t = batch.numTokens();
        long rowFloats = (long) shape.numKvHeads() * shape.headDim();
        requireFloats(k, t * rowFloats, "writeKv k");
        requireFloats(v, t * rowFloats, "writeKv v");
        long slots = (long) numBlocks * shape.tokensPerBlock();
        for (int s : batch.slotMapping()) {
            if (s >= slots) {
                throw new IllegalArgumentException("slot " + s + " is past the cache's " + numBlocks + " blocks");
            }
        }
        Plan p = plan(batch);
        kvWrite.launch(Dim3.of(t), Dim3.of(128), 0, stream, cuda(k).buffer(), cuda(v).buffer(), ints(p.slots(), t),
                cuda(kvCache).buffer(), t, shape.numKvHeads(), shape.headDim(), shape.tokensPerBlock(), numBlocks);
    }

    @Override
    public void prefillAttention(Tensor q, Tensor k, Tensor v, Tensor kvCache, StepBatch batch, AttentionShape shape,
                                 Tensor out) {
        int numBlocks = checkCache(kvCache, shape);
        int t = batch.numTokens();
        int d = shape.headDim();
        requireFloats(q, (long) t * shape.numHeads() * d, "prefill q");
        requireFloats(out, (long) t * shape.numHeads() * d, "prefill out");
        checkTables(batch, shape, numBlocks);
        Plan p = plan(batch);
        int seqs = batch.numSeqs();
        checkGrid(seqs, shape.numHeads());
        Object[] args = {cuda(q).buffer(), cuda(kvCache).buffer(), ints(p.queryStart(), seqs + 1),
                ints(p.kvLens(), seqs), ints(p.tables(), seqs * p.maxBlocks()), cuda(out).buffer(), shape.numHeads(),
                shape.numKvHeads(), d, shape.tokensPerBlock(), p.maxBlocks(), shape.scale()};
        CudaFunction v2 = d % 4 == 0 ? functions.get("attention_prefill_d" + d) : null;
        if (v2 != null) {
            v2.launch(new Dim3(ceilDiv(p.maxQueryLen(), PREFILL_TILE), shape.numHeads(), seqs), Dim3.of(128),
                    prefillSharedBytes(d), stream, args);
        } else if (d <= 256) {
            prefillNaive.launch(new Dim3(ceilDiv(p.maxQueryLen(), 4), shape.numHeads(), seqs), Dim3.of(128), 0, stream,
                    args);
        } else {
            throw new IllegalArgumentException("CUDA prefill attention supports head dims up to 256, got " + d);
        }
    }

    @Override
    public void decodeAttention(Tensor q, Tensor kvCache, StepBatch batch, AttentionShape shape, Tensor out) {
        int numBlocks = checkCache(kvCache, shape);
        int seqs = batch.numSeqs();
        int h = shape.numHeads();
        int hkv = shape.numKvHeads();
        int d = shape.headDim();
        if (batch.numTokens() != seqs) {
            throw new IllegalArgumentException("decode attention takes one query per sequence, got " + batch.numTokens()
                    + " tokens for " + seqs + " sequences");
        }
        requireFloats(q, (long) seqs * h * d, "decode q");
        requireFloats(out, (long) seqs * h * d, "decode out");
        checkTables(batch, shape, numBlocks);
        checkGrid(seqs, h);
        Plan p = plan(batch);
        DeviceBuffer kvLens = ints(p.kvLens(), seqs);
        DeviceBuffer tables = ints(p.tables(), seqs * p.maxBlocks());
        DeviceBuffer qb = cuda(q).buffer();
        DeviceBuffer ob = cuda(out).buffer();
        DeviceBuffer cache = cuda(kvCache).buffer();
        int g = shape.groupSize();
        if (!contains(DECODE_DIMS, d)) {
            if (d > 256) {
                throw new IllegalArgumentException("CUDA decode attention supports head dims up to 256, got " + d);
            }
            decodeNaive.launch(Dim3.of(seqs, h), Dim3.of(32), 0, stream, qb, cache, kvLens, tables, ob, h, hkv, d,
                    shape.tokensPerBlock(), p.maxBlocks(), shape.scale());
            return;
        }
        int gt = 8;
        for (int c : DECODE_GROUPS) {
            if (c >= g) {
                gt = c;
                break;
            }
        }
        int headChunks = ceilDiv(g, gt);
        String fname = "attention_decode_d" + d + "_g" + gt;
        CudaFunction split = functions.computeIfAbsent(fname, decodeModule::function);
        int resident = residentBlocks.computeIfAbsent(split, f -> Math.max(1,
                f.maxActiveBlocksPerMultiprocessor(128, 0) * context.device().multiprocessorCount()));
        long base = (long) seqs * hkv * headChunks;
        // the launch depends on the lengths only through this bound (each sequence's split length is
        // computed on the device), so a recorded step replays for any lengths up to the bound
        int maxKv = Math.max(p.maxKvLen(), kvLenBound);
        int numSplits = (int) Math.max(1, Math.min(2L * resident / base, ceilDiv(maxKv, MIN_KV_PER_SPLIT)));
        int kvPerSplit = MIN_KV_PER_SPLIT;
        DeviceBuffer ws = ob;
        if (numSplits > 1) {
            long floats = (long) seqs * h * numSplits * (d + 2);
            ws = decodeWorkspace = grow(decodeWorkspace, floats * Float.BYTES);
        }
        split.launch(new Dim3(seqs, hkv * headChunks, numSplits), Dim3.of(128), 0, stream, qb, cache, kvLens, tables,
                ob, ws, h, hkv, d, shape.tokensPerBlock(), p.maxBlocks(), kvPerSplit, shape.scale());
        if (numSplits > 1) {
            decodeMerge.launch(Dim3.of(seqs, h), Dim3.of(128), 0, stream, ws, kvLens, ob, h, d, kvPerSplit, numSplits);
        }
    }

    @Override
    public void rocketStage1(Tensor q, Tensor k, StepBatch batch, AttentionShape shape, RocketKvParams params,
                             Tensor kvCache) {
        rocket.stage1(cuda(q), cuda(k), batch, shape, params, cuda(kvCache));
    }

    @Override
    public void ktBuild(Tensor kvCache, StepBatch batch, AttentionShape shape, RocketKvPlan plan, Tensor ktCache) {
        rocket.ktBuild(cuda(kvCache), batch, shape, plan, cuda(ktCache));
    }

    @Override
    public void ktUpdate(Tensor k, StepBatch batch, AttentionShape shape, RocketKvPlan plan, Tensor ktCache) {
        rocket.ktUpdate(cuda(k), batch, shape, plan, cuda(ktCache));
    }

    @Override
    public void sparseDecodeAttention(Tensor q, Tensor kvCache, Tensor ktCache, StepBatch batch, AttentionShape shape,
                                      RocketKvPlan plan, Tensor out) {
        rocket.sparseDecode(cuda(q), null, cuda(kvCache), cuda(ktCache), batch, shape, plan, cuda(out));
    }

    @Override
    public void rocketDecodeAttention(Tensor q, Tensor k, Tensor kvCache, Tensor ktCache, StepBatch batch,
                                      AttentionShape shape, RocketKvPlan plan, Tensor out) {
        rocket.sparseDecode(cuda(q), cuda(k), cuda(kvCache), cuda(ktCache), batch, shape, plan, cuda(out));
    }

    /**
     * {@link #rocketDecodeAttention} with only one of its two launches, for benchmarks that time them apart:
     * {@code selection} true launches the fused KT update + page selection alone; false launches the sparse
     * attention alone, over the pages that a previous full call with the same shapes and batch selected.
     */
    public void rocketDecodePart(Tensor q, Tensor k, Tensor kvCache, Tensor ktCache, StepBatch batch,
                                 AttentionShape shape, RocketKvPlan plan, Tensor out, boolean selection) {
        rocket.sparseDecode(cuda(q), cuda(k), cuda(kvCache), cuda(ktCache), batch, shape, plan, cuda(out), selection,
                !selection);
    }

    /** The RocketKV ops (package-private, for their tests). */
    CudaRocketKv rocket() {
        return rocket;
    }

    @Override
    public void gatherRows(Tensor x, int[] rows, Tensor out) {
        int r = x.dim(0);
        int w = x.dim(1);
        for (int row : rows) {
            if (row < 0 || row >= r) {
                throw new IllegalArgumentException("row " + row + " outside [0, " + r + ")");
            }
        }
        requireFloats(out, (long) rows.length * w, "gatherRows out");
        f32(x, "gatherRows x");
        if (rows.length == 0) {
            return;
        }
        DeviceBuffer rowsOnDevice;
        if (planFor != null && rows == planFor.logitRows()) {
            rowsOnDevice = ints(plan.rows(), rows.length); // the planned step's logit rows are on the device already
        } else {
            rowsOnDevice = rowsBuffer = grow(rowsBuffer, (long) rows.length * Integer.BYTES);
            rowsBuffer.copyFrom(MemorySegment.ofArray(rows), 0);
        }
        gatherRows.launch(Dim3.of(rows.length), Dim3.of(ROW_BLOCK), 0, stream, cuda(out).buffer(), cuda(x).buffer(),
                rowsOnDevice, w);
    }

    // ---- recorded steps (CUDA graphs) ----------------------------------------------------------------

    @Override
    public boolean recordsSteps() {
        return true;
    }

    /**
     * Runs {@code work} once eagerly (with split-KV attention sized for {@code kvLenBound}, so that every
     * scratch buffer the replays need is allocated now), then captures the ops it queues into a CUDA graph
     * (global capture mode: nothing may allocate or synchronise meanwhile; an op that would grow scratch
     * memory throws). The batch's index arrays are uploaded before the capture; a replay uploads its own
     * batch's arrays to the same offsets and launches the graph.
     */
    @Override
    public RecordedStep record(StepBatch batch, int kvLenBound, Runnable work) {
        if (closed) {
            throw new IllegalStateException("CudaKernels is closed");
        }
        if (kvLenBound < 1) {
            throw new IllegalArgumentException("kvLenBound must be >= 1, got " + kvLenBound);
        }
        int savedBound = this.kvLenBound;
        this.kvLenBound = kvLenBound;
        try {
            planFor = null; // upload now, outside the capture
            plan(batch);
            work.run();
            Plan recorded = plan(batch);
            long epoch = scratchEpoch;
            CudaGraph graph;
            capturing = true;
            try {
                graph = CudaGraph.capture(stream, work);
            } finally {
                capturing = false;
            }
            CudaRecordedStep step = new CudaRecordedStep(graph, recorded, batch.numSeqs(), batch.numTokens(), epoch);
            recordings.add(step);
            return step;
        } finally {
            this.kvLenBound = savedBound;
        }
    }

    /** A decode step captured by {@link #record}. */
    private final class CudaRecordedStep implements RecordedStep {
        private final CudaGraph graph;
        private final Plan layout;
        private final int seqs;
        private final int tokens;
        private final long epoch;
        private boolean released;

        CudaRecordedStep(CudaGraph graph, Plan layout, int seqs, int tokens, long epoch) {
            this.graph = graph;
            this.layout = layout;
            this.seqs = seqs;
            this.tokens = tokens;
            this.epoch = epoch;
        }

        @Override
        public void replay(StepBatch batch) {
            if (released) {
                throw new IllegalStateException("the recorded step is closed");
            }
            if (isStale()) {
                throw new IllegalStateException("the recorded step is stale (scratch memory moved); record it again");
            }
            if (batch.numSeqs() != seqs || batch.numTokens() != tokens) {
                throw new IllegalArgumentException("recorded for " + seqs + " sequences and " + tokens + " tokens, got "
                        + batch.numSeqs() + " and " + batch.numTokens());
            }
            planFor = null;
            Plan p = plan(batch);
            if (!p.sameLayout(layout)) {
                throw new IllegalArgumentException("the step's index layout differs from the recorded one (block-table"
                        + " width " + p.maxBlocks() + ", recorded " + layout.maxBlocks() + "); pad it the same way");
            }
            if (scratchEpoch != epoch) {
                throw new IllegalStateException("uploading the step moved scratch memory; record it again");
            }
            graph.launch(stream);
        }

        @Override
        public boolean isStale() {
            return closed || scratchEpoch != epoch;
        }

        @Override
        public void close() {
            if (released) {
                return;
            }
            released = true;
            recordings.remove(this);
            if (!closed) {
                graph.close();
            }
        }
    }

    // ---- the step plan ------------------------------------------------------------------------------

    /** The step's index arrays on the device (uploaded once per batch object; see {@link DevicePlan}). */
    DevicePlan devicePlan(StepBatch batch) {
        Plan p = plan(batch);
        int t = batch.numTokens();
        int s = batch.numSeqs();
        return new DevicePlan(ints(p.tokenIds(), t), ints(p.positions(), t), ints(p.slots(), t),
                ints(p.queryStart(), s + 1), ints(p.kvLens(), s), ints(p.tables(), s * p.maxBlocks()), p.maxBlocks(),
                p.maxQueryLen(), p.maxKvLen());
    }

    /** How many times scratch memory was reallocated; a graph captured at an older epoch is stale. */
    long scratchEpoch() {
        return scratchEpoch;
    }

    /** The stream every op of this backend runs on (events recorded on it time the ops). */
    public CudaStream stream() {
        return stream;
    }

    /**
     * Scratch memory for a kernel family: returns {@code b} when it holds {@code bytes}, else frees it and
     * allocates a larger buffer. Reallocation changes device addresses, so it advances {@link #scratchEpoch()}
     * (graphs captured before must be re-captured) and is refused while a graph is being captured.
     */
    DeviceBuffer growScratch(DeviceBuffer b, long bytes) {
        return grow(b, bytes);
    }

    /** Uploads the batch's index arrays once (the first op to see this batch object); later calls reuse them. */
    private Plan plan(StepBatch batch) {
        if (batch == planFor) {
            return plan;
        }
        int t = batch.numTokens();
        int s = batch.numSeqs();
        int maxBlocks = 1;
        int maxQ = 1;
        int maxKv = 1;
        for (int i = 0; i < s; i++) {
            maxBlocks = Math.max(maxBlocks, batch.blockTables()[i].length);
            maxQ = Math.max(maxQ, batch.queryLen(i));
            maxKv = Math.max(maxKv, batch.kvLens()[i]);
        }
        int tokenIds = 0;
        int positions = align(tokenIds + t);
        int slots = align(positions + t);
        int queryStart = align(slots + t);
        int kvLens = align(queryStart + s + 1);
        int tables = align(kvLens + s);
        int rows = align(tables + s * maxBlocks);
        int total = align(rows + batch.logitRows().length);
        int[] host = new int[total];
        System.arraycopy(batch.tokenIds(), 0, host, tokenIds, t);
        System.arraycopy(batch.positions(), 0, host, positions, t);
        System.arraycopy(batch.slotMapping(), 0, host, slots, t);
        System.arraycopy(batch.queryStart(), 0, host, queryStart, s + 1);
        System.arraycopy(batch.kvLens(), 0, host, kvLens, s);
        java.util.Arrays.fill(host, tables, tables + s * maxBlocks, -1);
        for (int i = 0; i < s; i++) {
            int[] row = batch.blockTables()[i];
            System.arraycopy(row, 0, host, tables + i * maxBlocks, row.length);
        }
        System.arraycopy(batch.logitRows(), 0, host, rows, batch.logitRows().length);
        planBuffer = grow(planBuffer, (long) total * Integer.BYTES);
        planBuffer.copyFrom(MemorySegment.ofArray(host), 0);
        plan = new Plan(tokenIds, positions, slots, queryStart, kvLens, tables, rows, maxBlocks, maxQ, maxKv, total);
        planFor = batch;
        return plan;
    }

    private static int align(int ints) {
        return (ints + 3) & ~3;
    }

    private DeviceBuffer ints(int offset, int count) {
        return planBuffer.slice((long) offset * Integer.BYTES, (long) Math.max(count, 1) * Integer.BYTES);
    }

    // ---- checks and helpers -------------------------------------------------------------------------

    private static int checkCache(Tensor kvCache, AttentionShape shape) {
        int[] sh = kvCache.shape();
        if (kvCache.dtype() != DType.BF16 || sh.length != 5 || sh[1] != 2 || sh[2] != shape.numKvHeads()
                || sh[3] != shape.tokensPerBlock() || sh[4] != shape.headDim()) {
            throw new IllegalArgumentException("the CUDA KV cache must be BF16 [numBlocks, 2, " + shape.numKvHeads() + ", "
                    + shape.tokensPerBlock() + ", " + shape.headDim() + "], got " + Tensor.describe(kvCache));
        }
        return sh[0];
    }

    private static void checkTables(StepBatch batch, AttentionShape shape, int numBlocks) {
        int p = shape.tokensPerBlock();
        for (int s = 0; s < batch.numSeqs(); s++) {
            int len = batch.kvLens()[s];
            int[] table = batch.blockTables()[s];
            int need = (len + p - 1) / p;
            if (need > table.length) {
                throw new IllegalArgumentException("sequence " + s + " holds " + len + " tokens but its block table has "
                        + table.length + " blocks of " + p);
            }
            for (int j = 0; j < need; j++) {
                if (table[j] < 0 || table[j] >= numBlocks) {
                    throw new IllegalArgumentException("sequence " + s + " block " + j + " is " + table[j]
                            + ", outside the cache's [0, " + numBlocks + ")");
                }
            }
        }
    }

    private static void checkGrid(int seqs, int heads) {
        if (seqs > 65535 || heads > 65535) {
            throw new IllegalArgumentException("at most 65535 sequences and heads per launch, got " + seqs + " and "
                    + heads);
        }
    }

    static int prefillSharedBytes(int d) {
        return 2 * 192 * (d + 8) + 256 * (Math.max(d, 64) + 4) + 9216;
    }

    private DeviceBuffer grow(DeviceBuffer b, long bytes) {
        if (b != null && b.byteSize() >= bytes) {
            return b;
        }
        if (capturing) {
            throw new IllegalStateException("scratch memory of " + bytes + " bytes would be allocated while a CUDA graph"
                    + " is being captured; run the step once without capture first");
        }
        scratchEpoch++;
        if (b != null) {
            b.close(); // cuMemFree waits for the work queued before it
        }
        long size = Math.max(bytes, 256);
        if (b != null) {
            size = Math.max(size, b.byteSize() + b.byteSize() / 2);
        }
        return deviceAlloc(size, "scratch memory");
    }

    private static int blocks(long n) {
        return (int) Math.min(65535L * 16, Math.max(1, (n + ROW_BLOCK - 1) / ROW_BLOCK));
    }

    private static int ceilDiv(long a, long b) {
        return (int) ((a + b - 1) / b);
    }

    private static boolean contains(int[] a, int v) {
        for (int x : a) {
            if (x == v) {
                return true;
            }
        }
        return false;
    }

    private static void requireFloats(Tensor t, long count, String what) {
        if (t.dtype() != DType.F32 || t.numel() < count) {
            throw new IllegalArgumentException(what + " must be F32 with at least " + count + " elements, got "
                    + Tensor.describe(t));
        }
    }

    /** An F32 or BF16 tensor (an activation that may be in {@link #gemmInputDtype()}). */
    private CudaTensor activation(Tensor t, String what) {
        CudaTensor c = cuda(t);
        if (c.dtype() != DType.F32 && c.dtype() != DType.BF16) {
            throw new IllegalArgumentException(what + " must be F32 or BF16, got " + Tensor.describe(t));
        }
        return c;
    }

    private CudaTensor f32(Tensor t, String what) {
        CudaTensor c = cuda(t);
        if (c.dtype() != DType.F32) {
            throw new IllegalArgumentException(what + " must be F32, got " + Tensor.describe(t));
        }
        return c;
    }

    private CudaTensor cuda(Tensor t) {
        if (closed) {
            throw new IllegalStateException("CudaKernels is closed");
        }
        if (t instanceof CudaTensor c) {
            return c;
        }
        throw new IllegalArgumentException("CudaKernels got a tensor of another backend: " + t.getClass().getName());
    }

    /** Frees every tensor still open, the scratch buffers, the modules and the cuBLAS handle; releases the context. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        RuntimeException failure = null;
        List<AutoCloseable> all = new ArrayList<>();
        for (CudaRecordedStep r : List.copyOf(recordings)) {
            all.add(r); // before the modules and buffers they point at
        }
        synchronized (live) {
            all.addAll(live);
        }
        synchronized (downloadLock) {
            all.add(downloadStaging);
            downloadStaging = null;
        }
        all.add(xBf16);
        all.add(decodeWorkspace);
        all.add(planBuffer);
        all.add(rowsBuffer);
        all.add(ropeBuffer);
        all.add(cublas);
        all.add(cublasWorkspace);
        all.add(elementwise);
        all.add(ropeModule);
        all.add(rowsModule);
        all.add(kvModule);
        all.add(prefillModule);
        all.add(decodeModule);
        all.add(rocket);
        all.add(stream);
        try {
            context.synchronize();
        } catch (RuntimeException e) {
            failure = e;
        }
        failure = Closeables.closeAll(failure, all);
        closed = true;
        planFor = null;
        ropeFor = null;
        try {
            context.close();
        } catch (RuntimeException e) {
            if (failure == null) {
                failure = e;
            } else {
                failure.addSuppressed(e);
            }
        }
        if (failure != null) {
            throw failure;
        }
    }
}
