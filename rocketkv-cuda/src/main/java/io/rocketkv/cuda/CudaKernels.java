package io.rocketkv.cuda;

import static io.rocketkv.cuda.CudaChecks.checkCache;
import static io.rocketkv.cuda.CudaChecks.requireFloats;

import io.rocketkv.core.kernels.AttentionShape;
import io.rocketkv.core.kernels.Kernels;
import io.rocketkv.core.kernels.MemoryInfo;
import io.rocketkv.core.kernels.RecordedStep;
import io.rocketkv.core.kernels.RopeTable;
import io.rocketkv.core.kernels.StepBatch;
import io.rocketkv.core.kernels.StepPlan;
import io.rocketkv.core.kernels.Tensor;
import io.rocketkv.core.model.UnsupportedModelException;
import io.rocketkv.core.numeric.Bf16;
import io.rocketkv.core.numeric.DType;
import io.rocketkv.core.numeric.NumericFormats;
import io.rocketkv.core.sparse.RocketKvParams;
import io.rocketkv.core.sparse.RocketKvPlan;
import io.rocketkv.core.weights.Fp8Weight;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.ArrayList;

/**
 * The CUDA backend of {@link Kernels}: dense attention here, RocketKV's four sparse ops in
 * {@link CudaRocketKv} (this class delegates to it; the KT cache is stored in the KT dtype, see
 * {@link #ktCacheDtype}).
 *
 * <p>Precision: activations are fp32. Weights keep their checkpoint dtype where cuBLAS can use it: F32
 * weights stay F32 (fp32 GEMM, {@link Cublas#gemmF32}), BF16 weights stay BF16 and the activations are
 * rounded to bf16 for the GEMM ({@link Cublas#gemmBf16}, fp32 accumulation), F16 weights are converted to
 * BF16 on upload. One-dimensional weights (norms, biases) are uploaded as F32. The KV cache is BF16, or F8_E4M3 when
 * opened with it ({@link #CudaKernels(int, DType)}: e4m3 with each layer's K and V scales, {@link #setKvCacheScales};
 * dense attention and RocketKV), layout {@code [numBlocks][2][Hkv][tokensPerBlock][D]}
 * ({@link #kvCacheDtype()}).
 *
 * <p>Everything runs in order on one created stream with the default (blocking) flag: it can be captured
 * into a CUDA graph, and the synchronous copies of {@link #upload} and {@link #download} (which go on the
 * legacy stream) still wait for the work queued before them and are waited for by the work after them. Once per
 * step, {@link #plan} uploads the index arrays of a {@link StepBatch} in one copy ({@link CudaStepPlanner}); every op
 * of every layer reads them from the plan. Dense attention lives in {@link CudaAttention}, RocketKV's ops in
 * {@link CudaRocketKv}, CUDA-graph recording in {@link CudaStepRecorder}; scratch memory (the bf16 copy of a GEMM's
 * activations, split-KV partials, the step plan) is grown lazily through one {@link CudaScratch} — the kernels
 * themselves never allocate.
 *
 * <p>Not thread-safe: one thread runs the ops (the engine's); {@link #close()} frees every tensor still
 * open, the scratch buffers, the modules, the cuBLAS handle and releases the context.
 */
public final class CudaKernels implements Kernels {

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(CudaKernels.class);

    private static final int ROW_BLOCK = 256;
    /** cuBLAS's workspace, given to it up front so that no GEMM allocates (NVIDIA suggests 32 MiB on Hopper). */
    private static final long CUBLAS_WORKSPACE_BYTES = 32L << 20;
    private final CudaContext context;
    private final CudaStream stream;
    private final Cublas cublas;
    private final DeviceBuffer cublasWorkspace;
    private final ElementwiseKernels elementwise;
    private final CudaModule ropeModule;
    private final CudaModule rowsModule;
    private final CudaModule kvModule;
    private final CudaFunction ropeF32;
    private final CudaFunction gatherRows;
    private final CudaFunction f32ToBf16;
    private final CudaFunction addBias;
    private final CudaFunction kvWrite;
    private final CudaFunction kvWriteFp8;
    private final CudaModule fp8Module;
    private final CudaModule greedyModule;
    private final CudaFunction greedyRowsF32;
    private DeviceBuffer greedyOut; // ids, logprobs, topIds, topLogprobs of the last greedyRows
    private final CudaFunction fp8AmaxZero;
    private final CudaFunction[] fp8Amax = new CudaFunction[2];     // [f32, bf16] activations
    private final CudaFunction[] fp8Quantize = new CudaFunction[2];
    /** The fp8 GEMM ({@link Fp8Gemm}); null where fp8 weights are dequantized to bf16 when they load. */
    private final CublasLt cublasLt;
    private final DType kvDtype;
    /** The scales {@link #setKvCacheScales} gave each F8_E4M3 KV cache tensor: {kScale, vScale}. */
    private final java.util.Map<CudaTensor, float[]> kvScales = java.util.Collections.synchronizedMap(
            new java.util.WeakHashMap<>()); // CudaTensor keeps Object's identity equals
    private final CudaScratch scratch;
    private final CudaStepPlanner planner;
    private final CudaStepRecorder recorder;
    private final CudaAttention attention;
    private final CudaRocketKv rocket;
    private final java.util.Set<CudaTensor> live = java.util.Collections.synchronizedSet(
            java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>()));

    /** Downloads to Java arrays up to this size go through {@link #downloadStaging}; larger ones stage per call. */
    private static final long MAX_DOWNLOAD_STAGING = 512L << 20;

    // scratch, grown lazily
    private final Object downloadLock = new Object();
    private PinnedHostBuffer downloadStaging; // page-locked, reused by download(); null until the first one
    private volatile boolean downloadStagingRefused; // the driver refused the page-locked buffer once
    private DeviceBuffer xBf16;
    private DeviceBuffer xFp8;       // the e4m3 activations of an fp8 GEMM
    private DeviceBuffer fp8Scales;  // [amax bits][activation scale] of the last fp8 GEMM
    private DeviceBuffer rowsBuffer;
    private DeviceBuffer ropeBuffer;
    private float[] ropeOnDevice; // the inverse frequencies in ropeBuffer (compared by value)

    private boolean closed;
    private boolean sawF32Matrix;
    private boolean sawBf16Matrix;
    /** Backend on device 0. */
    public CudaKernels() {
        this(0);
    }

    /** Backend on device {@code ordinal} with a BF16 KV cache: retains its primary context and loads the kernels. */
    public CudaKernels(int ordinal) {
        this(ordinal, DType.BF16);
    }

    /**
     * Backend on device {@code ordinal} whose KV cache holds {@code kvCacheDtype}: BF16, or F8_E4M3 (e4m3 with
     * per-layer scales; decode attention reads it directly, prefill through a bf16 copy of the blocks it reads).
     */
    public CudaKernels(int ordinal, DType kvCacheDtype) {
        if (kvCacheDtype != DType.BF16 && kvCacheDtype != DType.F8_E4M3) {
            throw new IllegalArgumentException("the CUDA KV cache holds BF16 or F8_E4M3, got " + kvCacheDtype);
        }
        this.kvDtype = kvCacheDtype;
        CudaDriver.require("CudaKernels");
        KernelImages.require("the CUDA backend (CudaKernels)");
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
            this.ropeF32 = ropeModule.function("rope_f32");
            this.gatherRows = rowsModule.function("gather_rows_f32");
            this.f32ToBf16 = rowsModule.function("f32_to_bf16");
            this.addBias = rowsModule.function("add_bias_f32");
            this.kvWrite = kvModule.function("kv_cache_write_bf16");
            this.kvWriteFp8 = kvModule.function("kv_cache_write_e4m3");
            this.fp8Module = KernelImages.load(context, "fp8_quant");
            made.add(fp8Module);
            this.greedyModule = KernelImages.load(context, "greedy");
            made.add(greedyModule);
            this.greedyRowsF32 = greedyModule.function("greedy_rows_f32");
            this.fp8AmaxZero = fp8Module.function("fp8_amax_zero");
            this.fp8Amax[0] = fp8Module.function("fp8_amax_f32");
            this.fp8Amax[1] = fp8Module.function("fp8_amax_bf16");
            this.fp8Quantize[0] = fp8Module.function("fp8_quantize_e4m3_f32");
            this.fp8Quantize[1] = fp8Module.function("fp8_quantize_e4m3_bf16");
            this.cublasLt = openCublasLt(context, cublasWorkspace);
            if (cublasLt != null) {
                made.add(cublasLt);
            }
            this.scratch = new CudaScratch(context);
            this.planner = new CudaStepPlanner(scratch);
            made.add(planner);
            this.recorder = new CudaStepRecorder(stream, scratch, planner);
            made.add(recorder);
            this.attention = new CudaAttention(context, stream, scratch, kvModule.function("kv_cache_e4m3_to_bf16"));
            made.add(attention);
            this.rocket = new CudaRocketKv(context, stream, scratch);
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
    @Override
    public MemoryInfo memoryInfo() {
        CudaContext.MemoryInfo m = context.memoryInfo();
        return new MemoryInfo(m.free(), m.total(), false, Long.MAX_VALUE);
    }

    @Override
    public String name() {
        return "cuda";
    }

    @Override
    public DType kvCacheDtype() {
        return kvDtype;
    }

    @Override
    public boolean hasGreedyRows() {
        return true;
    }

    /**
     * {@code greedy_rows_f32} (greedy.cu) on the device, one block per row; only the ids, log-probabilities and top-k
     * pairs are copied back (the copy waits for the kernel).
     */
    @Override
    public void greedyRows(Tensor logits, int rows, int topK, int[] ids, float[] logprobs, int[] topIds,
                           float[] topLogprobs) {
        CudaTensor l = f32(logits, "greedyRows logits");
        if (l.shape().length != 2 || l.dim(0) < rows || rows < 0 || topK < 0 || topK > l.dim(1)) {
            throw new IllegalArgumentException("greedyRows of " + rows + " rows, top " + topK + " over "
                    + Tensor.describe(logits));
        }
        if (ids.length < rows || logprobs.length < rows || topIds.length < rows * topK
                || topLogprobs.length < rows * topK) {
            throw new IllegalArgumentException("greedyRows outputs hold fewer than " + rows + " rows of top " + topK);
        }
        if (rows == 0) {
            return;
        }
        long perRow = 2L + 2L * topK; // id, logprob, topK ids, topK logprobs: 4 bytes each
        greedyOut = scratch.grow(greedyOut, rows * perRow * Integer.BYTES + 8); // + 8: the top slices when topK = 0
        DeviceBuffer dIds = greedyOut.slice(0, (long) rows * Integer.BYTES);
        DeviceBuffer dLps = greedyOut.slice((long) rows * Integer.BYTES, (long) rows * Float.BYTES);
        long topBytes = Math.max(4, (long) rows * topK * Integer.BYTES);
        DeviceBuffer dTopIds = greedyOut.slice(2L * rows * Integer.BYTES, topBytes);
        DeviceBuffer dTopLps = greedyOut.slice(2L * rows * Integer.BYTES + (long) rows * topK * Integer.BYTES,
                topBytes);
        greedyRowsF32.launch(Dim3.of(rows), Dim3.of(1024), 0, stream, l.buffer(), l.dim(1), topK, dIds, dLps, dTopIds,
                dTopLps);
        int[] head = new int[rows];
        dIds.copyTo(MemorySegment.ofArray(head));
        System.arraycopy(head, 0, ids, 0, rows);
        float[] lp = new float[rows];
        dLps.copyTo(MemorySegment.ofArray(lp));
        System.arraycopy(lp, 0, logprobs, 0, rows);
        if (topK > 0) {
            int[] ti = new int[rows * topK];
            float[] tl = new float[rows * topK];
            dTopIds.copyTo(MemorySegment.ofArray(ti));
            dTopLps.copyTo(MemorySegment.ofArray(tl));
            System.arraycopy(ti, 0, topIds, 0, ti.length);
            System.arraycopy(tl, 0, topLogprobs, 0, tl.length);
        }
    }

    /** With an F8_E4M3 cache: the bf16 copy prefill reads ({@code CudaAttention}), 2 bytes an element; else 0. */
    @Override
    public long prefillScratchBytes(long kvElementsPerToken, long tokens) {
        return kvDtype == DType.F8_E4M3 ? kvElementsPerToken * tokens * Short.BYTES : 0;
    }

    /** Records the layer's scales for an F8_E4M3 cache this backend allocated; a BF16 cache takes 1.0 only. */
    @Override
    public void setKvCacheScales(Tensor kvCache, float kScale, float vScale) {
        CudaTensor c = cuda(kvCache);
        if (!(kScale > 0) || !Float.isFinite(kScale) || !(vScale > 0) || !Float.isFinite(vScale)) {
            throw new IllegalArgumentException("KV cache scales must be positive and finite, got k_scale " + kScale
                    + ", v_scale " + vScale);
        }
        if (c.dtype() != DType.F8_E4M3) {
            if (kScale != 1f || vScale != 1f) {
                throw new IllegalArgumentException("a " + c.dtype() + " KV cache stores values unscaled; k_scale "
                        + kScale + " and v_scale " + vScale + " apply to an F8_E4M3 cache only");
            }
            return;
        }
        kvScales.put(c, new float[] {kScale, vScale});
    }

    /** {kScale, vScale} of {@code kvCache}: what {@link #setKvCacheScales} recorded, else 1.0 and 1.0. */
    private float[] scales(CudaTensor kvCache) {
        float[] s = kvScales.get(kvCache);
        return s == null ? new float[] {1f, 1f} : s;
    }

    /** The KT dtype itself: F8_E5M2 (e5m2 bytes) or BF16. */
    @Override
    public DType ktCacheDtype(RocketKvParams p) {
        return p.ktDtype();
    }

    // ---- tensors ----------------------------------------------------------------------------------

    @Override
    public Tensor allocate(DType dtype, int... shape) {
        if (dtype != DType.F32 && dtype != DType.BF16 && dtype != DType.F8_E5M2 && dtype != DType.F8_E4M3) {
            throw new IllegalArgumentException("CUDA tensors are F32 (activations), BF16 (KV cache, KT cache), F8_E5M2"
                    + " (KT cache) or F8_E4M3 (KV cache), got " + dtype);
        }
        long bytes = CudaTensor.numel(shape) * dtype.byteSize();
        DeviceBuffer b = scratch.allocate(Math.max(bytes, 16), dtype + java.util.Arrays.toString(shape));
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
        DeviceBuffer b = scratch.allocate(Math.max(n * target.byteSize(), 16), "weight " + target
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

    /**
     * An fp8 linear-layer weight. With fp8 GEMMs ({@link Fp8Gemm}), a per-tensor-scaled weight whose sides are multiples
     * of 16 and for which cuBLASLt has an algorithm is uploaded as it is: an F8_E4M3 tensor [rows, cols] whose buffer
     * holds the e4m3 bytes and, 16-byte aligned after them, the fp32 scale ({@link #fp8ScaleOffset}); {@link #matmul}
     * then runs it through {@link CublasLt#gemmFp8}. Otherwise it is dequantized on the host ({@code e4m3 · scale} in
     * fp32, rounded once to BF16) and uploaded as a BF16 weight, whatever {@code dequantTo} says.
     */
    @Override
    public Tensor fp8Weight(Fp8Weight w, DType dequantTo) {
        int rows = w.rows();
        int cols = w.cols();
        if (cublasLt != null && !w.perChannel() && rows % 16 == 0 && cols % 16 == 0
                && cublasLt.supportsFp8(1, rows, cols) && cublasLt.supportsFp8(16, rows, cols)
                && cublasLt.supportsFp8(4096, rows, cols)) {
            long offset = fp8ScaleOffset(rows, cols);
            DeviceBuffer b = scratch.allocate(offset + 16, "fp8 weight [" + rows + ", " + cols + "]");
            try {
                b.copyFrom(w.data(), 0);
                b.copyFrom(MemorySegment.ofArray(new float[] {w.scale(0)}), offset);
            } catch (RuntimeException e) {
                b.close();
                throw e;
            }
            return track(new CudaTensor(DType.F8_E4M3, new int[] {rows, cols}, b, live::remove));
        }
        try (Arena staging = Arena.ofConfined()) {
            return weight(DType.BF16, new int[] {w.rows(), w.cols()}, w.dequantize(DType.BF16, staging));
        }
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
    public void embedding(Tensor table, StepPlan step, Tensor out) {
        CudaStepPlan p = planner.current(step);
        StepBatch batch = p.batch();
        CudaTensor tab = cuda(table);
        int vocab = table.dim(0);
        int hidden = table.dim(1);
        ElementwiseKernels.checkTokenIds(batch.tokenIds(), vocab);
        int t = batch.numTokens();
        DeviceBuffer ids = p.tokenIds();
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
    public void headRmsNorm(Tensor x, Tensor weight, float eps) {
        int d = Kernels.headRmsNormWidth(x, weight);
        int vectors = Math.multiplyExact(x.dim(0), x.dim(1) / d);
        elementwise.rmsNormInPlace(f32(x, "headRmsNorm x").buffer(), f32(weight, "headRmsNorm weight").buffer(),
                vectors, d, eps, stream);
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
        if (x.dtype() == DType.BF16 && wt.dtype() == DType.F32) {
            throw new IllegalArgumentException("matmul of a BF16 x needs BF16 (or fp8) weights, got "
                    + Tensor.describe(w));
        }
        switch (wt.dtype()) {
            case F32 -> cublas.gemmF32(xs, wt.buffer(), os, rows, n, k);
            case BF16 -> {
                if (x.dtype() == DType.BF16) {
                    cublas.gemmBf16(xs, wt.buffer(), os, rows, n, k, DType.F32); // already the GEMM's input type
                    break;
                }
                long elems = (long) rows * k;
                DeviceBuffer xb = xBf16 = scratch.grow(xBf16, elems * 2);
                f32ToBf16.launch(Dim3.of(blocks(elems)), Dim3.of(ROW_BLOCK), 0, stream, xb, xs, elems);
                cublas.gemmBf16(xb, wt.buffer(), os, rows, n, k, DType.F32);
            }
            case F8_E4M3 -> fp8Matmul(x, xs, wt, os, rows, n, k);
            default -> throw new IllegalArgumentException("matmul weight must be F32, BF16 or F8_E4M3 (an fp8 checkpoint"
                    + " weight), got " + wt.dtype());
        }
        if (bias != null) {
            if (bias.numel() != n || bias.dtype() != DType.F32) {
                throw new IllegalArgumentException("matmul bias must be F32 [" + n + "], got " + Tensor.describe(bias));
            }
            long elems = (long) rows * n;
            addBias.launch(Dim3.of(blocks(elems)), Dim3.of(ROW_BLOCK), 0, stream, os, cuda(bias).buffer(), (long) rows, n);
        }
    }

    /**
     * The fp8 GEMM's handle where {@link Fp8Gemm} enables it, else null; with {@code auto}, a cuBLASLt that fails to
     * create a handle leaves fp8 weights to load as bf16 (logged) instead of failing the backend.
     */
    private static CublasLt openCublasLt(CudaContext context, DeviceBuffer workspace) {
        Fp8Gemm asked = Fp8Gemm.requested();
        if (!asked.enabled(context.device().computeCapability().smVersion(), CublasLt.isLibraryAvailable())) {
            return null;
        }
        try {
            return CublasLt.create(context, workspace);
        } catch (RuntimeException e) {
            if (asked == Fp8Gemm.ON) {
                throw e;
            }
            LOG.warn("cuBLASLt could not create a handle ({}); fp8 weights load as bf16 (-D{}=off silences this)",
                    e.getMessage(), Fp8Gemm.PROPERTY);
            return null;
        }
    }

    /** Where an fp8 weight's scale sits in its buffer: after its rows · cols e4m3 bytes, 16-byte aligned. */
    static long fp8ScaleOffset(int rows, int cols) {
        return ((long) rows * cols + 15) & ~15L;
    }

    /**
     * out[rows, n] = x · wᵀ for an fp8 weight: x (F32 or BF16) quantized per tensor to e4m3 on the device
     * ({@code fp8_quant.cu}: max |x|, then e4m3(x / scale), CPU twin {@code Fp8Quantization.perTensor}), then the fp8
     * GEMM with both scales read from device memory. Nothing is read back to the host, so the step stays capturable.
     */
    private void fp8Matmul(Tensor x, DeviceBuffer xs, CudaTensor w, DeviceBuffer os, int rows, int n, int k) {
        if (cublasLt == null) {
            throw new IllegalStateException("an F8_E4M3 weight needs the fp8 GEMM, which is off on this backend");
        }
        long elems = (long) rows * k;
        int in = x.dtype() == DType.BF16 ? 1 : 0;
        xFp8 = scratch.grow(xFp8, elems);
        fp8Scales = scratch.grow(fp8Scales, 16);
        DeviceBuffer amax = fp8Scales.slice(0, 4);
        DeviceBuffer scale = fp8Scales.slice(4, 4);
        fp8AmaxZero.launch(Dim3.of(1), Dim3.of(1), 0, stream, amax);
        fp8Amax[in].launch(Dim3.of((int) Math.min(1024, Math.max(1, (elems + 1023) / 1024))), Dim3.of(256), 0, stream,
                xs, elems, amax);
        fp8Quantize[in].launch(Dim3.of((int) Math.min(4096, Math.max(1, (elems + 1023) / 1024))), Dim3.of(256), 0,
                stream, xs, elems, amax, xFp8, scale);
        cublasLt.gemmFp8(xFp8, scale.address(), w.buffer(), w.buffer().address() + fp8ScaleOffset(n, k), os, rows, n, k,
                stream);
    }

    @Override
    public void rope(Tensor q, Tensor k, StepPlan step, RopeTable rope, AttentionShape shape) {
        checkRope(rope);
        CudaStepPlan p = planner.current(step);
        int d = shape.headDim();
        rope.checkHeadDim(d);
        int t = p.batch().numTokens();
        requireFloats(q, (long) t * shape.numHeads() * d, "rope q");
        requireFloats(k, (long) t * shape.numKvHeads() * d, "rope k");
        float[] inv = rope.invFreq();
        if (!java.util.Arrays.equals(inv, ropeOnDevice)) { // a model's table: uploaded once, outside any capture
            ropeBuffer = scratch.grow(ropeBuffer, (long) inv.length * Float.BYTES);
            ropeBuffer.copyFrom(MemorySegment.ofArray(inv), 0);
            ropeOnDevice = inv;
        }
        ropeF32.launch(Dim3.of(t), Dim3.of(128), 0, stream, cuda(q).buffer(), cuda(k).buffer(), p.positions(),
                ropeBuffer, rope.attentionFactor(), shape.numHeads(), shape.numKvHeads(), d, rope.rotaryDim());
    }

    /** One table for every token: frequencies that change with the sequence's length are refused. */
    @Override
    public void checkRope(RopeTable rope) {
        if (rope.dependsOnLength()) {
            throw new UnsupportedModelException("rope_scaling rope_type \"" + rope.ropeType() + "\" (config.json) is "
                    + "not supported by the CUDA backend: its RoPE frequencies change with each sequence's length, and "
                    + "the CUDA rope kernel applies one table to every token. The CPU backend supports it.");
        }
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
    public void writeKv(Tensor k, Tensor v, StepPlan step, AttentionShape shape, Tensor kvCache) {
        CudaStepPlan p = planner.current(step);
        StepBatch batch = p.batch();
        int numBlocks = checkCache(kvCache, shape);
        int t = batch.numTokens();
        long rowFloats = (long) shape.numKvHeads() * shape.headDim();
        requireFloats(k, t * rowFloats, "writeKv k");
        requireFloats(v, t * rowFloats, "writeKv v");
        CudaChecks.checkSlots(batch, numBlocks, shape.tokensPerBlock(), "cache");
        CudaTensor cache = cuda(kvCache);
        if (cache.dtype() == DType.F8_E4M3) {
            float[] s = scales(cache);
            kvWriteFp8.launch(Dim3.of(t), Dim3.of(128), 0, stream, cuda(k).buffer(), cuda(v).buffer(), p.slots(),
                    cache.buffer(), t, shape.numKvHeads(), shape.headDim(), shape.tokensPerBlock(), numBlocks, s[0], s[1]);
            return;
        }
        kvWrite.launch(Dim3.of(t), Dim3.of(128), 0, stream, cuda(k).buffer(), cuda(v).buffer(), p.slots(),
                cache.buffer(), t, shape.numKvHeads(), shape.headDim(), shape.tokensPerBlock(), numBlocks);
    }

    /** The prefill attention kernel for head dims 64 and 128 on this device ({@code CudaAttention}). */
    PrefillKernel prefillKernel() {
        return attention.prefillKernel();
    }

    @Override
    public void prefillAttention(Tensor q, Tensor k, Tensor v, Tensor kvCache, StepPlan step, AttentionShape shape,
                                 Tensor out) {
        float[] s = scales(cuda(kvCache));
        attention.prefill(cuda(q), cuda(kvCache), planner.current(step), shape, cuda(out), s[0], s[1]);
    }

    @Override
    public void decodeAttention(Tensor q, Tensor kvCache, StepPlan step, AttentionShape shape, Tensor out) {
        float[] s = scales(cuda(kvCache));
        attention.decode(cuda(q), cuda(kvCache), planner.current(step), shape, cuda(out), s[0], s[1]);
    }

    @Override
    public void rocketStashWindow(Tensor q, StepPlan step, AttentionShape shape, RocketKvParams params,
                                  Tensor windowStash) {
        rocket.stashWindow(cuda(q), planner.current(step), shape, params, cuda(windowStash));
    }

    @Override
    public void rocketStage1(Tensor q, Tensor windowStash, StepPlan step, AttentionShape shape, RocketKvParams params,
                             Tensor kvCache) {
        rocket.stage1(cuda(q), windowStash == null ? null : cuda(windowStash), planner.current(step), shape, params,
                cuda(kvCache), scales(cuda(kvCache))[0]);
    }

    @Override
    public void ktBuild(Tensor kvCache, StepPlan step, AttentionShape shape, RocketKvPlan plan, Tensor ktCache) {
        rocket.ktBuild(cuda(kvCache), planner.current(step), shape, plan, cuda(ktCache), scales(cuda(kvCache))[0]);
    }

    @Override
    public void ktUpdate(Tensor k, StepPlan step, AttentionShape shape, RocketKvPlan plan, Tensor ktCache) {
        rocket.ktUpdate(cuda(k), planner.current(step), shape, plan, cuda(ktCache));
    }

    @Override
    public void sparseDecodeAttention(Tensor q, Tensor kvCache, Tensor ktCache, StepPlan step, AttentionShape shape,
                                      RocketKvPlan plan, Tensor out) {
        rocket.sparseDecode(cuda(q), null, cuda(kvCache), cuda(ktCache), planner.current(step), shape, plan, cuda(out),
                scales(cuda(kvCache)));
    }

    @Override
    public void rocketDecodeAttention(Tensor q, Tensor k, Tensor kvCache, Tensor ktCache, StepPlan step,
                                      AttentionShape shape, RocketKvPlan plan, Tensor out) {
        rocket.sparseDecode(cuda(q), cuda(k), cuda(kvCache), cuda(ktCache), planner.current(step), shape, plan,
                cuda(out), scales(cuda(kvCache)));
    }

    /** The RocketKV ops (for test probes). */
    CudaRocketKv rocket() {
        return rocket;
    }

    /** {@code step} on the device (for test probes). */
    CudaStepPlan devicePlan(StepPlan step) {
        return planner.current(step);
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
        rowsBuffer = scratch.grow(rowsBuffer, (long) rows.length * Integer.BYTES);
        rowsBuffer.copyFrom(MemorySegment.ofArray(rows), 0); // synchronous: not for recorded steps
        gatherRows.launch(Dim3.of(rows.length), Dim3.of(ROW_BLOCK), 0, stream, cuda(out).buffer(), cuda(x).buffer(),
                rowsBuffer, w);
    }

    /** The step's logit rows from its plan (already on the device: recordable). */
    @Override
    public void gatherLogitRows(Tensor x, StepPlan step, Tensor out) {
        CudaStepPlan p = planner.current(step);
        int[] rows = p.batch().logitRows();
        int r = x.dim(0);
        int w = x.dim(1);
        for (int row : rows) {
            if (row < 0 || row >= r) {
                throw new IllegalArgumentException("row " + row + " outside [0, " + r + ")");
            }
        }
        requireFloats(out, (long) rows.length * w, "gatherLogitRows out");
        f32(x, "gatherLogitRows x");
        if (rows.length > 0) {
            gatherRows.launch(Dim3.of(rows.length), Dim3.of(ROW_BLOCK), 0, stream, cuda(out).buffer(),
                    cuda(x).buffer(), p.logitRows(), w);
        }
    }

    // ---- the step plan and recorded steps (CUDA graphs) -------------------------------------------------

    @Override
    public StepPlan plan(StepBatch batch, int kvLenBound) {
        if (closed) {
            throw new IllegalStateException("CudaKernels is closed");
        }
        return planner.plan(batch, kvLenBound);
    }

    @Override
    public boolean recordsSteps() {
        return true;
    }

    /** See {@link CudaStepRecorder#record}. */
    @Override
    public RecordedStep record(StepPlan step, Runnable work) {
        if (closed) {
            throw new IllegalStateException("CudaKernels is closed");
        }
        return recorder.record(step, work);
    }

    /** How many times scratch memory was reallocated; a graph captured at an older epoch is stale. */
    long scratchEpoch() {
        return scratch.epoch();
    }

    /** The stream every op of this backend runs on (events recorded on it time the ops). */
    public CudaStream stream() {
        return stream;
    }

    // ---- checks and helpers -------------------------------------------------------------------------

    private static int blocks(long n) {
        return (int) Math.min(65535L * 16, Math.max(1, (n + ROW_BLOCK - 1) / ROW_BLOCK));
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
        kvScales.clear();
        if (closed) {
            return;
        }
        RuntimeException failure = null;
        List<AutoCloseable> all = new ArrayList<>();
        all.add(recorder); // the recordings, before the modules and buffers they point at
        synchronized (live) {
            all.addAll(live);
        }
        synchronized (downloadLock) {
            all.add(downloadStaging);
            downloadStaging = null;
        }
        all.add(xBf16);
        all.add(xFp8);
        all.add(greedyOut);
        all.add(fp8Scales);
        all.add(planner);
        all.add(rowsBuffer);
        all.add(ropeBuffer);
        all.add(cublas);
        all.add(cublasLt); // before the workspace it uses
        all.add(cublasWorkspace);
        all.add(elementwise);
        all.add(ropeModule);
        all.add(rowsModule);
        all.add(kvModule);
        all.add(fp8Module);
        all.add(greedyModule);
        all.add(attention);
        all.add(rocket);
        all.add(stream);
        try {
            context.synchronize();
        } catch (RuntimeException e) {
            failure = e;
        }
        failure = Closeables.closeAll(failure, all);
        closed = true;
        ropeOnDevice = null;
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
