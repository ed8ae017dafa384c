// Small row and conversion kernels of the CUDA backend's forward pass. Launched by
// io.rocketkv.cuda.CudaKernels.
//
// gather_rows_f32   out[i,:] = x[rows[i],:]      x (R, width) fp32, rows (n) int32, out (n, width) fp32
//                   one block per output row; also the fp32 embedding lookup (rows = token ids).
// f32_to_bf16       out[i] = bf16(x[i])          round to nearest even (as Bf16.encode), n elements;
//                   the activations of a GEMM with bf16 weights. Grid-stride.
// add_bias_f32      x[r,c] += bias[c]            x (rows, cols) fp32, bias (cols) fp32. Grid-stride.
//
// 64-bit indices throughout.

#include "attention_common.cuh"

extern "C" __global__ void gather_rows_f32(float* __restrict__ out,        // (n, width)
                                           const float* __restrict__ x,    // (R, width)
                                           const int* __restrict__ rows,   // (n)
                                           int width) {
    const long long src = static_cast<long long>(rows[blockIdx.x]) * width;
    const long long dst = static_cast<long long>(blockIdx.x) * width;
    for (int c = threadIdx.x; c < width; c += blockDim.x) {
        out[dst + c] = x[src + c];
    }
}

extern "C" __global__ void f32_to_bf16(unsigned short* __restrict__ out,  // (n)
                                       const float* __restrict__ x,       // (n)
                                       long long n) {
    const long long stride = static_cast<long long>(gridDim.x) * blockDim.x;
    for (long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
        out[i] = rkv_f32_to_bf16(x[i]);
    }
}

extern "C" __global__ void add_bias_f32(float* __restrict__ x,            // (rows, cols) in/out
                                        const float* __restrict__ bias,   // (cols)
                                        long long rows, int cols) {
    const long long n = rows * cols;
    const long long stride = static_cast<long long>(gridDim.x) * blockDim.x;
    for (long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
        x[i] += bias[i % cols];
    }
}
