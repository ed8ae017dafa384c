package io.rocketkv.cuda;

import io.rocketkv.cuda.bindings.NativeLibrary;
import io.rocketkv.cuda.bindings.cublasLt_h;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A cuBLASLt handle ({@code libcublasLt.so.13}, else {@code .12}) and the fp8 GEMM of {@code Kernels.matmul} for an
 * fp8 weight: {@code out = (sx · x) · (sw · w)ᵀ} with x [m, k] and w [n, k] e4m3 (row-major; w a Hugging Face
 * {@code [out_features, in_features]} weight), sx and sw per-tensor fp32 scales read from device memory, products
 * summed in fp32 (CUBLAS_COMPUTE_32F, no fast accumulation) into out [m, n] fp32. Per shape the matmul and layout
 * descriptors and the heuristic's algorithm are made once and kept (at most {@link #MAX_PLANS}); the scale pointers
 * are set on every call. Capturable into a CUDA graph once the shape has run eagerly. Not thread-safe.
 *
 * <p>cuBLASLt takes fp8 only as "TN": column-major, A transposed and B not. Row-major out[m, n] = x · wᵀ is
 * column-major outᵀ [n, m] = op(w) · xᵀ with w seen as a k × n column-major matrix (ld k, op = T) and x as k × m
 * (ld k, op = N), which is exactly that form.
 */
final class CublasLt implements AutoCloseable {

    /** Shapes whose descriptors are kept; past this the oldest is destroyed. */
    static final int MAX_PLANS = 256;

    private final CudaContext context;
    private final MemorySegment handle; // cublasLtHandle_t
    private final DeviceBuffer workspace;
    private final Map<Long, Plan> plans = new LinkedHashMap<>(16, 0.75f, true);
    private boolean closed;

    /** One shape's descriptors and the algorithm the heuristic chose (in an automatic arena: freed with the plan). */
    private record Plan(MemorySegment desc, MemorySegment a, MemorySegment b, MemorySegment d, MemorySegment algo) {
    }

    private CublasLt(CudaContext context, MemorySegment handle, DeviceBuffer workspace) {
        this.context = context;
        this.handle = handle;
        this.workspace = workspace;
    }

    /** True when the cuBLASLt library loads (a device is needed besides). */
    static boolean isLibraryAvailable() {
        return cublasLt_h.library().isLoaded();
    }

    /** A handle in {@code context} whose matmuls use {@code workspace} (shared with cuBLAS: one stream runs both). */
    static CublasLt create(CudaContext context, DeviceBuffer workspace) {
        CudaDriver.require("CublasLt.create");
        NativeLibrary lib = cublasLt_h.library();
        if (!lib.isLoaded()) {
            throw new CudaUnavailableException("CublasLt.create", "cuBLASLt could not be loaded: "
                    + lib.failure().orElse("?") + "; install the CUDA toolkit's cuBLAS or put its lib64 directory on"
                    + " LD_LIBRARY_PATH");
        }
        context.ensureCurrent();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(cublasLt_h.C_POINTER);
            Cublas.check(cublasLt_h.cublasLtCreate(out), "cublasLtCreate", null);
            return new CublasLt(context, out.get(cublasLt_h.C_POINTER, 0), workspace);
        }
    }

    /**
     * Whether cuBLASLt has an fp8 algorithm for this shape on this device (the heuristic answers; nothing runs): the
     * caller uploads an fp8 weight only where it does, else a bf16 one.
     */
    boolean supportsFp8(int m, int n, int k) {
        try {
            plan(m, n, k);
            return true;
        } catch (CudaException e) {
            return false;
        }
    }

    /**
     * {@code out[m, n] = xScale · wScale · x[m, k] · w[n, k]ᵀ}: x and w e4m3, out fp32, the scales one float each at
     * the device addresses given. Queued on {@code stream}.
     */
    void gemmFp8(DeviceBuffer x, long xScale, DeviceBuffer w, long wScale, DeviceBuffer out, int m, int n, int k,
                 CudaStream stream) {
        if (m <= 0 || n <= 0 || k <= 0) {
            throw new IllegalArgumentException("gemmFp8 sizes must be positive, got m=" + m + " n=" + n + " k=" + k);
        }
        Cublas.requireBytes("x", x, (long) m * k);
        Cublas.requireBytes("w", w, (long) n * k);
        Cublas.requireBytes("out", out, (long) m * n * Float.BYTES);
        context.ensureCurrent();
        Plan p = plan(m, n, k);
        try (Arena a = Arena.ofConfined()) {
            setPointer(p.desc(), cublasLt_h.CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, wScale, a);
            setPointer(p.desc(), cublasLt_h.CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, xScale, a);
            MemorySegment alpha = a.allocateFrom(cublasLt_h.C_FLOAT, 1f);
            MemorySegment beta = a.allocateFrom(cublasLt_h.C_FLOAT, 0f);
            MemorySegment dOut = MemorySegment.ofAddress(out.address());
            int status = cublasLt_h.cublasLtMatmul(handle(), p.desc(), alpha, MemorySegment.ofAddress(w.address()),
                    p.a(), MemorySegment.ofAddress(x.address()), p.b(), beta, dOut, p.d(), dOut, p.d(), p.algo(),
                    MemorySegment.ofAddress(workspace.address()), workspace.byteSize(), stream.handle());
            Cublas.check(status, "cublasLtMatmul", "fp8 m=" + m + " n=" + n + " k=" + k);
        }
    }

    private Plan plan(int m, int n, int k) {
        long key = ((long) m << 42) ^ ((long) n << 21) ^ k;
        Plan p = plans.get(key);
        if (p != null) {
            return p;
        }
        context.ensureCurrent();
        List<MemorySegment> made = new ArrayList<>();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(cublasLt_h.C_POINTER);
            Cublas.check(cublasLt_h.cublasLtMatmulDescCreate(out, cublasLt_h.CUBLAS_COMPUTE_32F, cublasLt_h.CUDA_R_32F),
                    "cublasLtMatmulDescCreate", null);
            MemorySegment desc = out.get(cublasLt_h.C_POINTER, 0);
            made.add(desc);
            setInt(desc, cublasLt_h.CUBLASLT_MATMUL_DESC_TRANSA, cublasLt_h.CUBLAS_OP_T, a);
            setInt(desc, cublasLt_h.CUBLASLT_MATMUL_DESC_TRANSB, cublasLt_h.CUBLAS_OP_N, a);
            // the heuristic sees a scaled fp8 matmul: scale pointers set (to a valid address; each call sets its own)
            setPointer(desc, cublasLt_h.CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, workspace.address(), a);
            setPointer(desc, cublasLt_h.CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, workspace.address(), a);
            MemorySegment la = layout(cublasLt_h.CUDA_R_8F_E4M3, k, n, k, a);
            made.add(la);
            MemorySegment lb = layout(cublasLt_h.CUDA_R_8F_E4M3, k, m, k, a);
            made.add(lb);
            MemorySegment ld = layout(cublasLt_h.CUDA_R_32F, n, m, n, a);
            made.add(ld);
            Cublas.check(cublasLt_h.cublasLtMatmulPreferenceCreate(out), "cublasLtMatmulPreferenceCreate", null);
            MemorySegment pref = out.get(cublasLt_h.C_POINTER, 0);
            MemorySegment algo;
            try {
                MemorySegment ws = a.allocateFrom(cublasLt_h.C_LONG, workspace.byteSize());
                Cublas.check(cublasLt_h.cublasLtMatmulPreferenceSetAttribute(pref,
                        cublasLt_h.CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, ws, ws.byteSize()),
                        "cublasLtMatmulPreferenceSetAttribute", null);
                MemorySegment result = a.allocate(cublasLt_h.cublasLtMatmulHeuristicResult_t);
                MemorySegment count = a.allocate(cublasLt_h.C_INT);
                Cublas.check(cublasLt_h.cublasLtMatmulAlgoGetHeuristic(handle(), desc, la, lb, ld, ld, pref, 1, result,
                        count), "cublasLtMatmulAlgoGetHeuristic", "fp8 m=" + m + " n=" + n + " k=" + k);
                if (count.get(cublasLt_h.C_INT, 0) < 1) {
                    throw new CudaException("cublasLtMatmulAlgoGetHeuristic", cublasLt_h.CUBLAS_STATUS_NOT_SUPPORTED,
                            "CUBLAS_STATUS_NOT_SUPPORTED", "no fp8 algorithm for this shape on this device",
                            "fp8 m=" + m + " n=" + n + " k=" + k);
                }
                algo = Arena.ofAuto().allocate(64, 16).copyFrom(result.asSlice(0, 64));
            } finally {
                cublasLt_h.cublasLtMatmulPreferenceDestroy(pref);
            }
            p = new Plan(desc, la, lb, ld, algo);
        } catch (RuntimeException e) {
            destroy(made);
            throw e;
        }
        if (plans.size() >= MAX_PLANS) {
            var eldest = plans.entrySet().iterator();
            Plan old = eldest.next().getValue();
            eldest.remove();
            destroy(List.of(old.desc(), old.a(), old.b(), old.d()));
        }
        plans.put(key, p);
        return p;
    }

    private static MemorySegment layout(int type, long rows, long cols, long ld, Arena a) {
        MemorySegment out = a.allocate(cublasLt_h.C_POINTER);
        Cublas.check(cublasLt_h.cublasLtMatrixLayoutCreate(out, type, rows, cols, ld), "cublasLtMatrixLayoutCreate",
                null);
        return out.get(cublasLt_h.C_POINTER, 0);
    }

    private static void setInt(MemorySegment desc, int attr, int value, Arena a) {
        MemorySegment v = a.allocateFrom(cublasLt_h.C_INT, value);
        Cublas.check(cublasLt_h.cublasLtMatmulDescSetAttribute(desc, attr, v, v.byteSize()),
                "cublasLtMatmulDescSetAttribute", "attribute " + attr);
    }

    private static void setPointer(MemorySegment desc, int attr, long address, Arena a) {
        MemorySegment v = a.allocateFrom(cublasLt_h.C_LONG_LONG, address);
        Cublas.check(cublasLt_h.cublasLtMatmulDescSetAttribute(desc, attr, v, v.byteSize()),
                "cublasLtMatmulDescSetAttribute", "attribute " + attr);
    }

    /** The first three of {@code made} are layouts or the descriptor: destroyed by what they are. */
    private static void destroy(List<MemorySegment> made) {
        for (int i = 0; i < made.size(); i++) {
            if (i == 0) {
                cublasLt_h.cublasLtMatmulDescDestroy(made.get(i));
            } else {
                cublasLt_h.cublasLtMatrixLayoutDestroy(made.get(i));
            }
        }
    }

    private MemorySegment handle() {
        if (closed) {
            throw new IllegalStateException("cuBLASLt handle is closed");
        }
        return handle;
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        context.ensureCurrent();
        for (Plan p : plans.values()) {
            destroy(List.of(p.desc(), p.a(), p.b(), p.d()));
        }
        plans.clear();
        Cublas.check(cublasLt_h.cublasLtDestroy(handle), "cublasLtDestroy", null);
    }
}
