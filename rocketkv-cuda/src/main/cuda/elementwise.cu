// Elementwise and row-wise kernels of the Llama forward pass: residual add, SiLU-gated product,
// RMSNorm (of rows, and in place of each head's vector) and the embedding gather. Launched by
// io.rocketkv.cuda.ElementwiseKernels; the CPU twins are CpuKernels.add, siluMul, rmsNorm, headRmsNorm and
// embedding, and ElementwiseKernelsGpuTest compares the two.
//
// Activations are fp32, row-major [rows, hidden]; weights and the embedding table are bf16 (or fp32
// for RMSNorm) and always widened to fp32 before any arithmetic. No fast math: expf, rsqrtf and
// division are the IEEE-accurate versions, so results stay within a few ulp of the CPU.
//
// residual_add_f32     x += y                                 x, y (n)            1 thread per element
// silu_mul_f32         out = silu(gate) * up                  gate, up, out (n)   1 thread per element
// rmsnorm_f32_w{f32,bf16}
//                      out[r,:] = w * (x[r,:] / sqrt(mean(x[r,:]^2) + eps))
//                                                             x, out (rows, hidden), w (hidden)
//                      version 1: one block per row; each thread sums the squares of a strided slice
//                      in fp32, the block reduces them (warp shuffles, then one warp over the warp sums),
//                      then every thread scales its slice. blockDim.x: a multiple of 32, <= 1024.
// rmsnorm_inplace_f32_wf32
//                      the same in place, x (rows, hidden) in/out: per-head RMSNorm (Qwen3's q_norm and
//                      k_norm) over x (tokens, heads * head_dim) launched as rows = tokens * heads rows of
//                      hidden = head_dim. Each thread reads its elements (both passes) before it writes them
//                      and no thread touches another's, so the aliasing is safe (the kernel's pointers are
//                      not __restrict__). CPU twin: CpuKernels.headRmsNorm.
// silu_mul_f32_bf16out, rmsnorm_bf16out_w{f32,bf16}
//                      the same with a bf16 out (round to nearest even, as f32_to_bf16): the activations
//                      that feed only a bf16 GEMM are written in its input type, so the GEMM needs no
//                      separate conversion pass (the values equal f32_to_bf16 of the fp32 outputs)
// embedding_bf16_f32   out[t,:] = table[ids[t],:]             table (vocab, hidden) bf16,
//                                                             ids (tokens) int32, out (tokens, hidden)
//                      one block per token; an id outside [0, vocab) yields a row of NaN instead of an
//                      out-of-bounds read (the launcher validates host ids before they get here).
//
// Grid-stride loops with 64-bit indices throughout, so any grid size is correct.

#include "rocketkv_common.cuh"
#include "attention_common.cuh"   // rkv_f32_to_bf16: the rounding of every bf16 activation

using rocketkv::bf16_to_f32;
using rocketkv::block_sum;

extern "C" __global__ void residual_add_f32(float* __restrict__ x,        // (n) in/out
                                            const float* __restrict__ y,  // (n)
                                            long long n) {
    const long long stride = static_cast<long long>(gridDim.x) * blockDim.x;
    for (long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
        x[i] += y[i];
    }
}

extern "C" __global__ void silu_mul_f32(float* __restrict__ out,          // (n)
                                        const float* __restrict__ gate,   // (n)
                                        const float* __restrict__ up,     // (n)
                                        long long n) {
    const long long stride = static_cast<long long>(gridDim.x) * blockDim.x;
    for (long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
        const float g = gate[i];
        out[i] = g / (1.0f + expf(-g)) * up[i];  // same operation order as CpuKernels.siluMul
    }
}

extern "C" __global__ void silu_mul_f32_bf16out(unsigned short* __restrict__ out,  // (n) bf16 bits
                                                const float* __restrict__ gate,    // (n)
                                                const float* __restrict__ up,      // (n)
                                                long long n) {
    const long long stride = static_cast<long long>(gridDim.x) * blockDim.x;
    for (long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
        const float g = gate[i];
        out[i] = rkv_f32_to_bf16(g / (1.0f + expf(-g)) * up[i]);
    }
}

__device__ __forceinline__ void store_out(float* p, long long i, float v) {
    p[i] = v;
}

__device__ __forceinline__ void store_out(unsigned short* p, long long i, float v) {
    p[i] = rkv_f32_to_bf16(v);
}

template <typename WeightT>
__device__ __forceinline__ float load_weight(const WeightT* w, int i);

template <>
__device__ __forceinline__ float load_weight<float>(const float* w, int i) {
    return w[i];
}

template <>
__device__ __forceinline__ float load_weight<uint16_t>(const uint16_t* w, int i) {
    return bf16_to_f32(w[i]);
}

// No __restrict__ here: rmsnorm_inplace_f32_wf32 passes out == x; the out-of-place kernels declare their
// pointers __restrict__, which still holds for this body once inlined.
template <typename WeightT, typename OutT>
__device__ __forceinline__ void rmsnorm_row(OutT* out, const float* x, const WeightT* w, int hidden, float eps) {
    const long long base = static_cast<long long>(blockIdx.x) * hidden;
    const float* xr = x + base;
    float ss = 0.0f;
    for (int i = threadIdx.x; i < hidden; i += blockDim.x) {
        const float v = xr[i];
        ss = fmaf(v, v, ss);
    }
    ss = block_sum(ss);
    const float inv = 1.0f / sqrtf(ss / static_cast<float>(hidden) + eps);  // as CpuKernels: 1 / sqrt(mean + eps)
    for (int i = threadIdx.x; i < hidden; i += blockDim.x) {
        store_out(out, base + i, load_weight(w, i) * (xr[i] * inv));
    }
}

extern "C" __global__ void rmsnorm_f32_wf32(float* __restrict__ out,        // (rows, hidden)
                                            const float* __restrict__ x,    // (rows, hidden)
                                            const float* __restrict__ w,    // (hidden)
                                            int hidden, float eps) {        // grid.x = rows
    rmsnorm_row(out, x, w, hidden, eps);
}

extern "C" __global__ void rmsnorm_f32_wbf16(float* __restrict__ out,       // (rows, hidden)
                                             const float* __restrict__ x,   // (rows, hidden)
                                             const uint16_t* __restrict__ w,  // (hidden) bf16 bits
                                             int hidden, float eps) {       // grid.x = rows
    rmsnorm_row(out, x, w, hidden, eps);
}

extern "C" __global__ void rmsnorm_inplace_f32_wf32(float* x,                       // (rows, hidden) in/out
                                                    const float* __restrict__ w,    // (hidden)
                                                    int hidden, float eps) {        // grid.x = rows
    rmsnorm_row(x, x, w, hidden, eps);
}

extern "C" __global__ void rmsnorm_bf16out_wf32(unsigned short* __restrict__ out,  // (rows, hidden) bf16 bits
                                                const float* __restrict__ x,       // (rows, hidden)
                                                const float* __restrict__ w,       // (hidden)
                                                int hidden, float eps) {           // grid.x = rows
    rmsnorm_row(out, x, w, hidden, eps);
}

extern "C" __global__ void rmsnorm_bf16out_wbf16(unsigned short* __restrict__ out,    // (rows, hidden) bf16 bits
                                                 const float* __restrict__ x,         // (rows, hidden)
                                                 const uint16_t* __restrict__ w,      // (hidden) bf16 bits
                                                 int hidden, float eps) {             // grid.x = rows
    rmsnorm_row(out, x, w, hidden, eps);
}

extern "C" __global__ void embedding_bf16_f32(float* __restrict__ out,              // (tokens, hidden)
                                              const uint16_t* __restrict__ table,   // (vocab, hidden) bf16 bits
                                              const int* __restrict__ ids,          // (tokens)
                                              int vocab, int hidden) {              // grid.x = tokens
    const int id = ids[blockIdx.x];
    float* outr = out + static_cast<long long>(blockIdx.x) * hidden;
    if (id < 0 || id >= vocab) {
        for (int i = threadIdx.x; i < hidden; i += blockDim.x) {
            outr[i] = __int_as_float(0x7fc00000);  // NaN marks the bad id
        }
        return;
    }
    const uint16_t* row = table + static_cast<long long>(id) * hidden;
    for (int i = threadIdx.x; i < hidden; i += blockDim.x) {
        outr[i] = bf16_to_f32(row[i]);
    }
}
