// fp8_quant.cu: per-tensor dynamic fp8 (e4m3) quantization of activations, the input the fp8 GEMM
// (cuBLASLt, CublasLt.gemmFp8) multiplies with e4m3 weights. CPU twin: Fp8Quantization.perTensor.
//
//   x      f32 [n]   the activations (a GEMM's [rows][k] input, any layout: one tensor, one scale); the _bf16
//                    kernels read bf16 activations (the GEMM input a bf16 model's norms write), widened exactly
//   amax   u32 [1]   max |x| as float bits (non-negative floats order as their bits); NaN is skipped
//   q      e4m3 [n]  out: e4m3(x / scale) (IEEE division, then Fp8E4M3.encode's rounding, saturating at 448)
//   scale  f32 [1]   out: amax / 448, or 1 when amax is 0 (all zeros), the GEMM's B scale
//
// Kernels (all capturable into a CUDA graph; no host reads):
//   fp8_amax_zero      grid (1), block 1: amax = 0
//   fp8_amax_{f32,bf16}        grid (ceil(n / 1024) capped at 1024), block 256: grid-stride max |x| into amax
//                              (one atomicMax per block)
//   fp8_quantize_e4m3_{f32,bf16}  grid (ceil(n / 1024) capped at 4096), block 256: grid-stride q and, from thread 0
//                              of block 0, scale
// Traffic: reads x twice (4 bytes per element each), writes 1 byte per element.
#include "kv_elements.cuh"

extern "C" __global__ void fp8_amax_zero(unsigned* __restrict__ amax) {
    if (threadIdx.x == 0 && blockIdx.x == 0) *amax = 0u;
}

static __device__ __forceinline__ float rkv_load(const float* x, long long i) { return x[i]; }
static __device__ __forceinline__ float rkv_load(const unsigned short* x, long long i) { return rkv_bf16_to_f32(x[i]); }

template <class T>
__device__ __forceinline__ void amax(const T* __restrict__ x, long long n, unsigned* __restrict__ out) {
    float m = 0.f;
    for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x) {
        m = fmaxf(m, fabsf(rkv_load(x, i)));   // fmaxf drops a NaN operand
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
    __shared__ float warpMax[8];
    const int warp = threadIdx.x >> 5;
    if ((threadIdx.x & 31) == 0) warpMax[warp] = m;
    __syncthreads();
    if (threadIdx.x == 0) {
        float b = 0.f;
        for (int w = 0; w < (int) (blockDim.x >> 5); w++) b = fmaxf(b, warpMax[w]);
        atomicMax(out, __float_as_uint(b));
    }
}

template <class T>
__device__ __forceinline__ void quantize(const T* __restrict__ x, long long n, const unsigned* __restrict__ amax,
                                         unsigned char* __restrict__ q, float* __restrict__ scale) {
    const float a = __uint_as_float(*amax);
    const float s = a > 0.f ? __fdiv_rn(a, 448.f) : 1.f;
    if (blockIdx.x == 0 && threadIdx.x == 0) *scale = s;
    for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x) {
        q[i] = rkv_f32_to_e4m3(__fdiv_rn(rkv_load(x, i), s));
    }
}

extern "C" __global__ void __launch_bounds__(256) fp8_amax_f32(const float* __restrict__ x, long long n,
                                                               unsigned* __restrict__ out) {
    amax(x, n, out);
}

extern "C" __global__ void __launch_bounds__(256) fp8_amax_bf16(const unsigned short* __restrict__ x, long long n,
                                                                unsigned* __restrict__ out) {
    amax(x, n, out);
}

extern "C" __global__ void __launch_bounds__(256) fp8_quantize_e4m3_f32(const float* __restrict__ x, long long n,
        const unsigned* __restrict__ amax, unsigned char* __restrict__ q, float* __restrict__ scale) {
    quantize(x, n, amax, q, scale);
}

extern "C" __global__ void __launch_bounds__(256) fp8_quantize_e4m3_bf16(const unsigned short* __restrict__ x,
        long long n, const unsigned* __restrict__ amax, unsigned char* __restrict__ q, float* __restrict__ scale) {
    quantize(x, n, amax, q, scale);
}
