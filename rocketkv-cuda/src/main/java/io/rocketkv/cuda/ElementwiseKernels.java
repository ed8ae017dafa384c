package io.rocketkv.cuda;

import io.rocketkv.core.numeric.DType;

/**
 * Launchers for {@code src/main/cuda/elementwise.cu}: residual add, SiLU-gated product, RMSNorm and the
 * embedding gather, the GPU twins of {@code CpuKernels.add}, {@code siluMul}, {@code rmsNorm} and
 * {@code embedding}. Each checks its sizes against the buffers before launching; kernels run
 * asynchronously on the given stream.
 */
public final class ElementwiseKernels implements AutoCloseable {

    /** The kernel family, i.e. {@code src/main/cuda/elementwise.cu}. */
    public static final String FAMILY = "elementwise";

    private static final int BLOCK = 256;
    private static final int MAX_BLOCK = 1024;

    private final CudaModule module;
    private final CudaFunction residualAdd;
    private final CudaFunction siluMul;
    private final CudaFunction rmsNormF32;
    private final CudaFunction rmsNormBf16;
    private final CudaFunction embeddingBf16;
    private final CudaFunction siluMulBf16Out;
    private final CudaFunction rmsNormF32Bf16Out;
    private final CudaFunction rmsNormBf16Bf16Out;
    private final CudaFunction rmsNormInPlace;

    /** Loads the elementwise fatbin into {@code context}. */
    public ElementwiseKernels(CudaContext context) {
        this.module = KernelImages.load(context, FAMILY);
        this.residualAdd = module.function("residual_add_f32");
        this.siluMul = module.function("silu_mul_f32");
        this.rmsNormF32 = module.function("rmsnorm_f32_wf32");
        this.rmsNormBf16 = module.function("rmsnorm_f32_wbf16");
        this.embeddingBf16 = module.function("embedding_bf16_f32");
        this.siluMulBf16Out = module.function("silu_mul_f32_bf16out");
        this.rmsNormF32Bf16Out = module.function("rmsnorm_bf16out_wf32");
        this.rmsNormBf16Bf16Out = module.function("rmsnorm_bf16out_wbf16");
        this.rmsNormInPlace = module.function("rmsnorm_inplace_f32_wf32");
    }

    /** {@code x[i] += y[i]} for i in [0, n); x and y fp32. */
    public void residualAdd(DeviceBuffer x, DeviceBuffer y, long n, CudaStream stream) {
        requireCount("n", n);
        requireFloats("x", x, n);
        requireFloats("y", y, n);
        if (n == 0) {
            return;
        }
        residualAdd.launch(Dim3.of(Dim3.blocksFor(n, BLOCK)), Dim3.of(BLOCK), 0, stream, x, y, n);
    }

    /** {@code out[i] = silu(gate[i]) * up[i]} for i in [0, n); all fp32. */
    public void siluMul(DeviceBuffer gate, DeviceBuffer up, DeviceBuffer out, long n, CudaStream stream) {
        siluMul(gate, up, out, DType.F32, n, stream);
    }

    /** As {@link #siluMul(DeviceBuffer, DeviceBuffer, DeviceBuffer, long, CudaStream)} with out in {@code outType} (F32 or BF16, rounded to nearest even). */
    public void siluMul(DeviceBuffer gate, DeviceBuffer up, DeviceBuffer out, DType outType, long n, CudaStream stream) {
        requireCount("n", n);
        requireFloats("gate", gate, n);
        requireFloats("up", up, n);
        CudaFunction kernel = switch (outType) {
            case F32 -> siluMul;
            case BF16 -> siluMulBf16Out;
            default -> throw new IllegalArgumentException("siluMul: out must be F32 or BF16, got " + outType);
        };
        requireBytes("out", out, n * outType.byteSize());
        if (n == 0) {
            return;
        }
        kernel.launch(Dim3.of(Dim3.blocksFor(n, BLOCK)), Dim3.of(BLOCK), 0, stream, out, gate, up, n);
    }

    /**
     * {@code out[r, :] = weight * x[r, :] / sqrt(mean(x[r, :]²) + eps)}; x, out [rows, hidden] fp32,
     * weight [hidden] in {@code weightType} (F32 or BF16). One block per row.
     */
    public void rmsNorm(DeviceBuffer x, DeviceBuffer weight, DType weightType, DeviceBuffer out, int rows, int hidden,
                        float eps, CudaStream stream) {
        rmsNorm(x, weight, weightType, out, DType.F32, rows, hidden, eps, stream);
    }

    /** As {@link #rmsNorm(DeviceBuffer, DeviceBuffer, DType, DeviceBuffer, int, int, float, CudaStream)} with out in {@code outType} (F32 or BF16, rounded to nearest even). */
    public void rmsNorm(DeviceBuffer x, DeviceBuffer weight, DType weightType, DeviceBuffer out, DType outType, int rows,
                        int hidden, float eps, CudaStream stream) {
        if (outType != DType.F32 && outType != DType.BF16) {
            throw new IllegalArgumentException("rmsNorm: out must be F32 or BF16, got " + outType);
        }
        boolean bf16Out = outType == DType.BF16;
        requireCount("rows", rows);
        checkNormArgs(hidden, eps);
        CudaFunction kernel = switch (weightType) {
            case F32 -> bf16Out ? rmsNormF32Bf16Out : rmsNormF32;
            case BF16 -> bf16Out ? rmsNormBf16Bf16Out : rmsNormBf16;
            default -> throw new IllegalArgumentException("rmsNorm: weight must be F32 or BF16, got " + weightType);
        };
        requireFloats("x", x, (long) rows * hidden);
        requireBytes("out", out, (long) rows * hidden * outType.byteSize());
        requireBytes("weight", weight, (long) hidden * weightType.byteSize());
        if (rows == 0) {
            return;
        }
        int block = Math.min(MAX_BLOCK, roundUpToWarp(hidden));
        kernel.launch(Dim3.of(rows), Dim3.of(block), 0, stream, out, x, weight, hidden, eps);
    }

    /**
     * {@code x[r, :] = weight * x[r, :] / sqrt(mean(x[r, :]²) + eps)} in place; x [rows, hidden] fp32, weight
     * [hidden] fp32. Per-head RMSNorm of x [tokens, heads·D] is rows = tokens·heads, hidden = D. One block per row.
     */
    public void rmsNormInPlace(DeviceBuffer x, DeviceBuffer weight, int rows, int hidden, float eps,
                               CudaStream stream) {
        requireCount("rows", rows);
        checkNormArgs(hidden, eps);
        requireFloats("x", x, (long) rows * hidden);
        requireFloats("weight", weight, hidden);
        if (rows == 0) {
            return;
        }
        rmsNormInPlace.launch(Dim3.of(rows), Dim3.of(Math.min(MAX_BLOCK, roundUpToWarp(hidden))), 0, stream, x,
                weight, hidden, eps);
    }

    private static void checkNormArgs(int hidden, float eps) {
        if (hidden <= 0) {
            throw new IllegalArgumentException("rmsNorm: hidden must be positive, got " + hidden);
        }
        if (!(eps >= 0f) || Float.isInfinite(eps)) {
            throw new IllegalArgumentException("rmsNorm: eps must be finite and >= 0, got " + eps);
        }
    }

    /**
     * {@code out[t, :] = table[ids[t], :]}: table [vocab, hidden] bf16, ids [numTokens] int32 on the device,
     * out [numTokens, hidden] fp32. An id outside [0, vocab) gives a row of NaN (validate host ids with
     * {@link #checkTokenIds} before uploading them).
     */
    public void embedding(DeviceBuffer table, int vocab, int hidden, DeviceBuffer ids, int numTokens, DeviceBuffer out,
                          CudaStream stream) {
        if (vocab <= 0 || hidden <= 0) {
            throw new IllegalArgumentException("embedding: vocab and hidden must be positive, got " + vocab + " and "
                    + hidden);
        }
        requireCount("numTokens", numTokens);
        requireBytes("table", table, (long) vocab * hidden * DType.BF16.byteSize());
        requireBytes("ids", ids, (long) numTokens * Integer.BYTES);
        requireFloats("out", out, (long) numTokens * hidden);
        if (numTokens == 0) {
            return;
        }
        int block = Math.min(MAX_BLOCK, roundUpToWarp(hidden));
        embeddingBf16.launch(Dim3.of(numTokens), Dim3.of(block), 0, stream, out, table, ids, vocab, hidden);
    }

    /** Throws {@link IllegalArgumentException} naming the first id outside [0, vocab). */
    public static void checkTokenIds(int[] ids, int vocab) {
        for (int t = 0; t < ids.length; t++) {
            if (ids[t] < 0 || ids[t] >= vocab) {
                throw new IllegalArgumentException("token id " + ids[t] + " at position " + t
                        + " is outside the embedding table [0, " + vocab + ")");
            }
        }
    }

    private static int roundUpToWarp(int n) {
        return (int) Math.min(MAX_BLOCK, ((long) n + 31) / 32 * 32);
    }

    private static void requireCount(String name, long n) {
        if (n < 0) {
            throw new IllegalArgumentException(name + " must be >= 0, got " + n);
        }
    }

    private static void requireFloats(String name, DeviceBuffer b, long count) {
        requireBytes(name, b, count * Float.BYTES);
    }

    private static void requireBytes(String name, DeviceBuffer b, long bytes) {
        if (b.byteSize() < bytes) {
            throw new IllegalArgumentException(name + " needs " + bytes + " bytes, " + b + " has " + b.byteSize());
        }
    }

    /** Unloads the module. */
    @Override
    public void close() {
        module.close();
    }
}
