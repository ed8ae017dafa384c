package io.rocketkv.cuda;

import io.rocketkv.core.numeric.DType;
import io.rocketkv.cuda.bindings.NativeLibrary;
import io.rocketkv.cuda.bindings.cublas_h;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * A cuBLAS handle ({@code libcublas.so.13}, else {@code .12}) bound to a context, with its stream and
 * optional workspace, and the one GEMM RocketKV needs: bf16 inputs, fp32 accumulation, bf16 or fp32 output,
 * in the row-major, Hugging Face weight layout of {@code Kernels.matmul}. Not thread-safe: one handle per
 * thread that launches.
 */
public final class Cublas implements AutoCloseable {

    private final CudaContext context;
    private final MemorySegment handle; // cublasHandle_t
    private boolean closed;

    private Cublas(CudaContext context, MemorySegment handle) {
        this.context = context;
        this.handle = handle;
    }

    /** True when the cuBLAS library loads (a device is needed besides, see {@link CudaDriver#isAvailable()}). */
    public static boolean isLibraryAvailable() {
        return cublas_h.library().isLoaded();
    }

    /** A handle in {@code context}, on the legacy default stream until {@link #setStream}. */
    public static Cublas create(CudaContext context) {
        CudaDriver.require("Cublas.create");
        NativeLibrary lib = cublas_h.library();
        if (!lib.isLoaded()) {
            throw new CudaUnavailableException("Cublas.create", "cuBLAS could not be loaded: " + lib.failure().orElse("?")
                    + "; install the CUDA toolkit's cuBLAS or put its lib64 directory on LD_LIBRARY_PATH");
        }
        context.ensureCurrent();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(cublas_h.C_POINTER);
            check(cublas_h.cublasCreate_v2(out), "cublasCreate_v2", null);
            return new Cublas(context, out.get(cublas_h.C_POINTER, 0));
        }
    }

    /** cuBLAS's version as {@code major * 10000 + minor * 100 + patch}. */
    public int version() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(cublas_h.C_INT);
            check(cublas_h.cublasGetVersion_v2(handle(), out), "cublasGetVersion_v2", null);
            return out.get(cublas_h.C_INT, 0);
        }
    }

    /**
     * Queues later calls on {@code stream}. cuBLAS then falls back to its own workspace: call
     * {@link #setWorkspace} after this, not before.
     */
    public void setStream(CudaStream stream) {
        context.ensureCurrent();
        check(cublas_h.cublasSetStream_v2(handle(), stream.handle()), "cublasSetStream_v2", null);
    }

    /** Makes cuBLAS use {@code workspace} instead of allocating its own (what graph capture wants). */
    public void setWorkspace(DeviceBuffer workspace) {
        context.ensureCurrent();
        check(cublas_h.cublasSetWorkspace_v2(handle(), MemorySegment.ofAddress(workspace.address()),
                workspace.byteSize()), "cublasSetWorkspace_v2", null);
    }

    /**
     * {@code out = x · wᵀ}: x [m, k] bf16, w [n, k] bf16 (a Hugging Face {@code [out_features, in_features]}
     * weight), out [m, n] in {@code outType} (F32 or BF16), all row-major; products and sums in fp32
     * (CUBLAS_COMPUTE_32F). Queued on the handle's stream.
     */
    public void gemmBf16(DeviceBuffer x, DeviceBuffer w, DeviceBuffer out, int m, int n, int k, DType outType) {
        if (m <= 0 || n <= 0 || k <= 0) {
            throw new IllegalArgumentException("gemmBf16 sizes must be positive, got m=" + m + " n=" + n + " k=" + k);
        }
        if (outType != DType.F32 && outType != DType.BF16) {
            throw new IllegalArgumentException("gemmBf16 writes F32 or BF16, got " + outType);
        }
        requireBytes("x", x, (long) m * k * 2);
        requireBytes("w", w, (long) n * k * 2);
        requireBytes("out", out, (long) m * n * outType.byteSize());
        context.ensureCurrent();
        // Row-major out[m,n] = x[m,k]·w[n,k]ᵀ is column-major outᵀ[n,m] = op(w)·xᵀ with op = transpose:
        // cuBLAS sees w as a k×n column-major matrix (lda = k) and x as k×m (ldb = k).
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment alpha = arena.allocateFrom(cublas_h.C_FLOAT, 1f);
            MemorySegment beta = arena.allocateFrom(cublas_h.C_FLOAT, 0f);
            int cType = outType == DType.F32 ? cublas_h.CUDA_R_32F : cublas_h.CUDA_R_16BF;
            int status = cublas_h.cublasGemmEx(handle(), cublas_h.CUBLAS_OP_T, cublas_h.CUBLAS_OP_N, n, m, k, alpha,
                    MemorySegment.ofAddress(w.address()), cublas_h.CUDA_R_16BF, k,
                    MemorySegment.ofAddress(x.address()), cublas_h.CUDA_R_16BF, k, beta,
                    MemorySegment.ofAddress(out.address()), cType, n,
                    cublas_h.CUBLAS_COMPUTE_32F, cublas_h.CUBLAS_GEMM_DEFAULT);
            check(status, "cublasGemmEx", "bf16 m=" + m + " n=" + n + " k=" + k + " -> " + outType);
        }
    }

    /**
     * {@code out = x · wᵀ} in fp32 throughout: x [m, k], w [n, k] (Hugging Face layout), out [m, n], all
     * fp32 row-major; CUBLAS_COMPUTE_32F (no TF32 unless the handle's math mode allows it, which RocketKV
     * never sets). For checkpoints stored in F32, so the GPU computes what the CPU does.
     */
    public void gemmF32(DeviceBuffer x, DeviceBuffer w, DeviceBuffer out, int m, int n, int k) {
        if (m <= 0 || n <= 0 || k <= 0) {
            throw new IllegalArgumentException("gemmF32 sizes must be positive, got m=" + m + " n=" + n + " k=" + k);
        }
        requireBytes("x", x, (long) m * k * 4);
        requireBytes("w", w, (long) n * k * 4);
        requireBytes("out", out, (long) m * n * 4);
        context.ensureCurrent();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment alpha = arena.allocateFrom(cublas_h.C_FLOAT, 1f);
            MemorySegment beta = arena.allocateFrom(cublas_h.C_FLOAT, 0f);
            int status = cublas_h.cublasGemmEx(handle(), cublas_h.CUBLAS_OP_T, cublas_h.CUBLAS_OP_N, n, m, k, alpha,
                    MemorySegment.ofAddress(w.address()), cublas_h.CUDA_R_32F, k,
                    MemorySegment.ofAddress(x.address()), cublas_h.CUDA_R_32F, k, beta,
                    MemorySegment.ofAddress(out.address()), cublas_h.CUDA_R_32F, n,
                    cublas_h.CUBLAS_COMPUTE_32F, cublas_h.CUBLAS_GEMM_DEFAULT);
            check(status, "cublasGemmEx", "f32 m=" + m + " n=" + n + " k=" + k);
        }
    }

    static void requireBytes(String name, DeviceBuffer b, long bytes) {
        if (b.byteSize() < bytes) {
            throw new IllegalArgumentException("gemmBf16: " + name + " needs " + bytes + " bytes, " + b + " has "
                    + b.byteSize());
        }
    }

    private MemorySegment handle() {
        if (closed) {
            throw new IllegalStateException("cuBLAS handle is closed");
        }
        return handle;
    }

    /** Throws {@link CudaException} when a cuBLAS status is not CUBLAS_STATUS_SUCCESS. */
    static void check(int status, String function, String context) {
        if (status != cublas_h.CUBLAS_STATUS_SUCCESS) {
            throw new CudaException(function, status, statusText(status, true), statusText(status, false), context);
        }
    }

    private static String statusText(int status, boolean name) {
        try {
            MemorySegment s = name ? cublas_h.cublasGetStatusName(status) : cublas_h.cublasGetStatusString(status);
            if (!s.equals(MemorySegment.NULL)) {
                return s.getString(0);
            }
        } catch (RuntimeException e) {
            // fall through
        }
        return name ? "cublasStatus_t " + status : "unknown cuBLAS status " + status;
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (!context.isClosed()) {
            context.ensureCurrent();
            check(cublas_h.cublasDestroy_v2(handle), "cublasDestroy_v2", null);
        }
    }
}
