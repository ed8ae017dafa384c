// attention_common.cuh: small device helpers shared by kv_cache.cu, attention_prefill.cu and
// attention_decode.cu. Header-only (static inline), so every .cu file stays a self-contained
// compilation unit: the files may be compiled into one fatbin each or together into one.
//
// bf16 travels as its 16-bit pattern (`unsigned short`), so kernel signatures stay plain C.
#pragma once

#include <stdint.h>
#include <math.h>

#define RKV_LOG2E 1.4426950408889634f

// The exact float value of a bfloat16 bit pattern (bf16 is the upper half of a binary32).
static __device__ __forceinline__ float rkv_bf16_to_f32(unsigned short h) {
    return __uint_as_float(((unsigned) h) << 16);
}

// Unpacks 8 bf16 (one 16-byte load, element 0 in the low half of .x) into 8 floats.
static __device__ __forceinline__ void rkv_unpack8(uint4 u, float f[8]) {
    f[0] = __uint_as_float(u.x << 16); f[1] = __uint_as_float(u.x & 0xffff0000u);
    f[2] = __uint_as_float(u.y << 16); f[3] = __uint_as_float(u.y & 0xffff0000u);
    f[4] = __uint_as_float(u.z << 16); f[5] = __uint_as_float(u.z & 0xffff0000u);
    f[6] = __uint_as_float(u.w << 16); f[7] = __uint_as_float(u.w & 0xffff0000u);
}

// float -> bf16 bits exactly as io.rocketkv.core.numeric.Bf16.encode: round to nearest, ties to
// even; subnormals and the sign of zero kept; finite overflow SATURATES to +-0x7F7F (never inf);
// +-inf stays +-inf; NaN becomes the quiet NaN 0x7FC0 with the input's sign.
static __device__ __forceinline__ unsigned short rkv_f32_to_bf16(float f) {
    unsigned bits = __float_as_uint(f);
    unsigned sign = (bits >> 16) & 0x8000u;
    unsigned mag = bits & 0x7fffffffu;
    if (mag >= 0x7f800000u) {
        return (unsigned short) (sign | (mag == 0x7f800000u ? 0x7f80u : 0x7fc0u));
    }
    unsigned r = (mag + 0x7fffu + ((mag >> 16) & 1u)) >> 16;
    if (r > 0x7f7fu) {
        r = 0x7f7fu;
    }
    return (unsigned short) (sign | r);
}

// 2^x with the SFU (ex2.approx.ftz: relative error ~2^-22; ex2(-inf) = +0).
static __device__ __forceinline__ float rkv_exp2(float x) {
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}

// Streaming 16-byte load of read-only data: not kept in L1 (so block tables stay there), L2
// told to fetch 256-byte lines (KV rows are read front to back).
static __device__ __forceinline__ uint4 rkv_ld_stream16(const void* p) {
    uint4 r;
    asm("ld.global.nc.L1::no_allocate.L2::256B.v4.u32 {%0, %1, %2, %3}, [%4];"
        : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w)
        : "l"(p));
    return r;
}

// The first key a query at `position` attends under a sliding window of `window` keys (0: full attention): keys at
// positions > position - window, as transformers' sliding_window_overlay (kv_idx > q_idx - sliding_window). Mirrors
// AttentionShape.firstKey.
static __device__ __forceinline__ int rkv_first_key(int position, int window) {
    return window > 0 ? max(0, position - window + 1) : 0;
}

// Offset (in bf16 elements) of K[block][kvHead][slot][0] in one layer's paged cache
// [numBlocks][2 (K|V)][numKvHeads][tokensPerBlock][headDim]; V is numKvHeads*tokensPerBlock*headDim
// further on. Mirrors CpuKernels.kOffset / vOffset.
static __device__ __forceinline__ size_t rkv_k_offset(int block, int kvHead, int slot,
                                                      int numKvHeads, int tokensPerBlock, int headDim) {
    return (((size_t) block * 2 * numKvHeads + kvHead) * tokensPerBlock + slot) * (size_t) headDim;
}

// ---------------------------------------------------------------------------------------------
// Version 1 (naive) attention of ONE query row, shared by attention_prefill_naive and
// attention_decode_naive: one warp walks keys firstKey..lastKey one by one (dot product by warp
// shuffles, online softmax with expf), lane l owning channels l, l+32, ... (headDim <= 256).
// Any head dimension, no shared memory, no workspace; slow but a readable twin of CpuKernels.
// ---------------------------------------------------------------------------------------------
#define RKV_NAIVE_MAX_PER_LANE 8   // headDim <= 32 * 8 = 256

static __device__ __forceinline__ void rkv_naive_attention_row(
        const float* __restrict__ qRow,          // [headDim] this query head's row
        const unsigned short* __restrict__ kvCache,
        const int* __restrict__ table,           // this sequence's block table
        int firstKey,                            // attend keys firstKey..lastKey (inclusive); firstKey > 0 only
        int lastKey,                             // with a sliding window (the blocks before it are never read)
        int kvHead, int numKvHeads, int headDim, int tokensPerBlock, float scale,
        float* __restrict__ outRow) {            // [headDim]
    const int lane = threadIdx.x & 31;
    float qv[RKV_NAIVE_MAX_PER_LANE];
    float acc[RKV_NAIVE_MAX_PER_LANE];
#pragma unroll
    for (int i = 0; i < RKV_NAIVE_MAX_PER_LANE; i++) {
        int d = lane + 32 * i;
        qv[i] = d < headDim ? qRow[d] : 0.f;
        acc[i] = 0.f;
    }
    const size_t vDelta = (size_t) numKvHeads * tokensPerBlock * headDim;
    float m = -INFINITY, l = 0.f;
    for (int j = firstKey; j <= lastKey; j++) {
        int block = table[j / tokensPerBlock];
        const unsigned short* kp = kvCache + rkv_k_offset(block, kvHead, j % tokensPerBlock,
                                                          numKvHeads, tokensPerBlock, headDim);
        float s = 0.f;
#pragma unroll
        for (int i = 0; i < RKV_NAIVE_MAX_PER_LANE; i++) {
            int d = lane + 32 * i;
            if (d < headDim) s += qv[i] * rkv_bf16_to_f32(kp[d]);
        }
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
        s *= scale;
        float mNew = fmaxf(m, s);
        float alpha = expf(m - mNew);       // m = -inf on the first key: alpha = 0
        float p = expf(s - mNew);
        l = l * alpha + p;
#pragma unroll
        for (int i = 0; i < RKV_NAIVE_MAX_PER_LANE; i++) {
            int d = lane + 32 * i;
            float v = d < headDim ? rkv_bf16_to_f32(kp[vDelta + d]) : 0.f;
            acc[i] = acc[i] * alpha + p * v;
        }
        m = mNew;
    }
    float inv = 1.f / l;
#pragma unroll
    for (int i = 0; i < RKV_NAIVE_MAX_PER_LANE; i++) {
        int d = lane + 32 * i;
        if (d < headDim) outRow[d] = acc[i] * inv;
    }
}
