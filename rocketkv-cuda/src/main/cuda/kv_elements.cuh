// kv_elements.cuh: the element types a paged KV cache holds, as the attention kernels read them. A kernel
// templated on one of these structs reads a lane's 8 consecutive channels of a K or V row as one Chunk:
//   RkvBf16Kv   bf16 (the default cache): 16 bytes per chunk; values exact.
//   RkvE4m3Kv   fp8 e4m3 (kv_cache_config.dtype fp8): 8 bytes per chunk; the stored value is
//               e4m3(x / scale) (kv_cache_write_e4m3), read as e4m3 * scale: the kernels fold the
//               layer's K scale into the query and the V scale into the output (CPU twin: CpuKvCache,
//               which multiplies each element by its scale as it widens it; the two orders round
//               differently by about one float ulp).
// Each struct: T (the element's storage type), Chunk, scalar (one element's exact float value), unpack (8 floats),
// load (a streaming 8-channel load
// into registers), copy_async (an asynchronous global -> shared copy of one chunk, LDGSTS: 16 bytes with L1
// bypassed, 8 bytes through L1, which is the only way cp.async copies 8; ok = false writes zeros and reads
// nothing) and zero.
// Host-side conversions with the same rounding: io.rocketkv.core.numeric.Bf16 / Fp8E4M3.
#pragma once

#include <cuda_fp8.h>
#include <cuda_fp16.h>
#include "attention_common.cuh"

// float -> e4m3 bits exactly as io.rocketkv.core.numeric.Fp8E4M3.encode: round to nearest, ties to even;
// subnormals and the sign of zero kept; finite overflow SATURATES to +-448 (0x7E); NaN and +-inf become
// NaN (0x7F with the input's sign). (The hardware cvt.satfinite maps inf to 448, so it is not used.)
static __device__ __forceinline__ unsigned char rkv_f32_to_e4m3(float f) {
    const unsigned bits = __float_as_uint(f);
    const unsigned sign = (bits >> 24) & 0x80u;
    const unsigned abs = bits & 0x7fffffffu;
    if (abs >= 0x7f800000u) return (unsigned char) (sign | 0x7fu);
    unsigned mag;
    if (abs < ((1u - 7u + 127u) << 23)) {
        // Subnormal in e4m3 (or zero): adding 2^14 makes the float ulp 2^-9, the e4m3 subnormal step, so the
        // exact RNE addition rounds; the sum's low bits are the e4m3 fields (8 steps = the smallest normal).
        const unsigned c = (23u + 1u - 7u - 3u + 127u) << 23;
        mag = __float_as_uint(__fadd_rn(__uint_as_float(abs), __uint_as_float(c))) - c;
    } else {
        const unsigned rebiased = abs - ((127u - 7u) << 23);
        const unsigned rounded = (rebiased + ((1u << 19) - 1u) + ((rebiased >> 20) & 1u)) >> 20;
        mag = min(rounded, 0x7eu);
    }
    return (unsigned char) (sign | mag);
}

// The exact float value of an e4m3 bit pattern (e4m3 is a subset of fp16, so the conversion is exact).
static __device__ __forceinline__ float rkv_e4m3_to_f32(unsigned char b) {
    const __half_raw h = __nv_cvt_fp8_to_halfraw((__nv_fp8_storage_t) b, __NV_E4M3);
    return __half2float(__half(h));
}

// Unpacks 8 e4m3 (one 8-byte load, element 0 in the low byte of .x) into 8 floats.
static __device__ __forceinline__ void rkv_unpack8_e4m3(uint2 u, float f[8]) {
    const unsigned w[2] = {u.x, u.y};
#pragma unroll
    for (int i = 0; i < 2; i++) {
#pragma unroll
        for (int j = 0; j < 2; j++) {
            const __half2_raw h = __nv_cvt_fp8x2_to_halfraw2(
                    (__nv_fp8x2_storage_t) ((w[i] >> (16 * j)) & 0xffffu), __NV_E4M3);
            const float2 v = __half22float2(__half2(h));
            f[4 * i + 2 * j] = v.x;
            f[4 * i + 2 * j + 1] = v.y;
        }
    }
}

struct RkvBf16Kv {
    using T = unsigned short;
    using Chunk = uint4;
    static __device__ __forceinline__ float scalar(T x) { return rkv_bf16_to_f32(x); }
    static __device__ __forceinline__ void unpack(Chunk c, float f[8]) { rkv_unpack8(c, f); }
    static __device__ __forceinline__ Chunk load(const T* p) { return rkv_ld_stream16(p); }
    static __device__ __forceinline__ Chunk zero() { return make_uint4(0u, 0u, 0u, 0u); }
    static __device__ __forceinline__ void copy_async(Chunk* smem, const T* g, bool ok) {
        const unsigned s = (unsigned) __cvta_generic_to_shared(smem);
        asm volatile("cp.async.cg.shared.global.L2::256B [%0], [%1], 16, %2;" ::"r"(s), "l"(g), "r"(ok ? 16 : 0));
    }
};

struct RkvE4m3Kv {
    using T = unsigned char;
    using Chunk = uint2;
    static __device__ __forceinline__ float scalar(T x) { return rkv_e4m3_to_f32(x); }
    static __device__ __forceinline__ void unpack(Chunk c, float f[8]) { rkv_unpack8_e4m3(c, f); }
    static __device__ __forceinline__ Chunk load(const T* p) {
        Chunk r;
        asm("ld.global.nc.L1::no_allocate.L2::256B.v2.u32 {%0, %1}, [%2];" : "=r"(r.x), "=r"(r.y) : "l"(p));
        return r;
    }
    static __device__ __forceinline__ Chunk zero() { return make_uint2(0u, 0u); }
    static __device__ __forceinline__ void copy_async(Chunk* smem, const T* g, bool ok) {
        const unsigned s = (unsigned) __cvta_generic_to_shared(smem);
        asm volatile("cp.async.ca.shared.global [%0], [%1], 8, %2;" ::"r"(s), "l"(g), "r"(ok ? 8 : 0));
    }
};
