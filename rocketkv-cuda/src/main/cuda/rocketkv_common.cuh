// Device helpers shared by the kernel families in src/main/cuda/*.cu.
//
// Header only, included by each .cu (every .cu is its own fatbin and CUmodule, see pom.xml), so
// everything here is static inline. Changing this file recompiles every fatbin.
#pragma once

#include <stdint.h>

namespace rocketkv {

// bf16 is the top half of an fp32: widening is exact, so no cuda_bf16.h dependency is needed.
static __device__ __forceinline__ float bf16_to_f32(uint16_t bits) {
    return __uint_as_float(static_cast<uint32_t>(bits) << 16);
}

// Sum over the 32 lanes of a full warp; every lane gets the result.
static __device__ __forceinline__ float warp_sum(float v) {
    #pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) {
        v += __shfl_xor_sync(0xffffffffu, v, offset);
    }
    return v;
}

// Sum over the whole block; every thread gets the result. blockDim.x must be a multiple of 32
// (at most 1024) and every thread of the block must call it (it synchronises the block).
static __device__ __forceinline__ float block_sum(float v) {
    __shared__ float warp_sums[32];
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int num_warps = blockDim.x >> 5;
    v = warp_sum(v);
    if (lane == 0) {
        warp_sums[warp] = v;
    }
    __syncthreads();
    if (warp == 0) {
        v = lane < num_warps ? warp_sums[lane] : 0.0f;
        v = warp_sum(v);
        if (lane == 0) {
            warp_sums[0] = v;  // every lane of warp 0 has read its slot (the shuffles synchronise the warp)
        }
    }
    __syncthreads();
    const float total = warp_sums[0];
    __syncthreads();  // lets a caller use block_sum again right away
    return total;
}

}  // namespace rocketkv
