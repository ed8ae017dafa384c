// rocket_common.cuh: device helpers shared by the RocketKV kernel families (rocket_kt.cu,
// rocket_stage1.cu, rocket_decode.cu). Header-only (static inline), like attention_common.cuh.
//
//   - KT element codecs: fp8 e5m2 (rkv_f32_to_e5m2, bit for bit Fp8E5M2.encode: round to nearest
//     even straight from fp32, subnormals kept, finite overflow saturates to +-57344, +-inf stays,
//     NaN -> 0x7E with the sign) and bf16 (rkv_f32_to_bf16 of attention_common.cuh).
//   - Java's Math.min / Math.max on floats (-0 < +0), so KT pages hold the CPU twin's very bits.
//   - A block-wide top-k with the CPU's rule (larger value first, ties: lower index), output in
//     ascending index order: radix select of the k-th key (4 passes of 8 bits over the order-
//     preserving uint32 of the float, -0 taken as +0 because TopK compares with < and ==), then one
//     index-ordered pass that keeps every value above the threshold and the lowest-index ones equal
//     to it, positions from a block-wide scan. Deterministic, no global atomics.
#pragma once

#include "attention_common.cuh"

#include <stdint.h>
#include <math.h>

// ---- KT element codecs -------------------------------------------------------------------------

static __device__ __forceinline__ unsigned rkv_f32_to_e5m2(float f) {
    const unsigned bits = __float_as_uint(f);
    const unsigned sign = (bits >> 24) & 0x80u;
    const unsigned mag = bits & 0x7fffffffu;
    if (mag >= 0x7f800000u) {
        return sign | (mag == 0x7f800000u ? 0x7cu : 0x7eu);
    }
    if (mag < (113u << 23)) {
        // below 2^-14 (e5m2's smallest normal): adding C = 2^7 makes the fp32 ulp 2^-16, e5m2's
        // subnormal step, so the (exact, round-to-nearest-even) addition rounds; the low bits of the
        // sum are the e5m2 fields (4 steps = the smallest normal, fields 0b00100).
        const unsigned c = 134u << 23;
        const float sum = __fadd_rn(__uint_as_float(mag), __uint_as_float(c));
        return sign | (__float_as_uint(sum) - c);
    }
    // normal: re-bias the exponent (127 -> 15), drop 21 mantissa bits rounding to nearest even; a
    // carry moves into the exponent; saturate at 0x7B = 57344.
    const unsigned rebiased = mag - (112u << 23);
    const unsigned rounded = (rebiased + ((1u << 20) - 1u) + ((rebiased >> 21) & 1u)) >> 21;
    return sign | (rounded < 0x7bu ? rounded : 0x7bu);
}

static __device__ __forceinline__ float rkv_e5m2_to_f32(unsigned b) {
    const unsigned e = (b >> 2) & 0x1fu;
    const unsigned m = b & 3u;
    float v;
    if (e == 0) {
        v = (float) m * 1.52587890625e-05f;            // m * 2^-16, exact
    } else if (e == 31) {
        v = m ? __uint_as_float(0x7fc00000u) : __uint_as_float(0x7f800000u);
    } else {
        v = __uint_as_float(((e + 112u) << 23) | (m << 21));
    }
    return __uint_as_float(__float_as_uint(v) | ((b & 0x80u) << 24));
}

// KT element type tags: the stored bits of a value and back.
struct RkvKtFp8 {
    typedef unsigned char T;
    static constexpr int BYTES = 1;
    static __device__ __forceinline__ T encode(float f) { return (T) rkv_f32_to_e5m2(f); }
    static __device__ __forceinline__ float decode(T b) { return rkv_e5m2_to_f32(b); }
};
struct RkvKtBf16 {
    typedef unsigned short T;
    static constexpr int BYTES = 2;
    static __device__ __forceinline__ T encode(float f) { return rkv_f32_to_bf16(f); }
    static __device__ __forceinline__ float decode(T b) { return rkv_bf16_to_f32(b); }
};

// Java's Math.min / Math.max: NaN wins, -0 < +0 (equal values differ only in the sign of zero, so
// OR / AND of the bits picks -0 / +0).
static __device__ __forceinline__ float rkv_jmin(float a, float b) {
    if (a < b) return a;
    if (b < a) return b;
    if (a != a) return a;
    if (b != b) return b;
    return __uint_as_float(__float_as_uint(a) | __float_as_uint(b));
}
static __device__ __forceinline__ float rkv_jmax(float a, float b) {
    if (a > b) return a;
    if (b > a) return b;
    if (a != a) return a;
    if (b != b) return b;
    return __uint_as_float(__float_as_uint(a) & __float_as_uint(b));
}

// ---- KT update of one decode token (kt_update in rocket_kt.cu, the fused selection in rocket_decode.cu) ----

// The physical KT page of a cache slot (pages are numbered block * pagesPerBlock + page in block).
static __device__ __forceinline__ size_t rkv_kt_page_of_slot(int slot, int tokensPerBlock, int pageSize) {
    return (size_t) (slot / tokensPerBlock) * (tokensPerBlock / pageSize) + (slot % tokensPerBlock) / pageSize;
}
// Whether the slot is the first of its page (its bounds start afresh).
static __device__ __forceinline__ bool rkv_kt_fresh(int slot, int tokensPerBlock, int pageSize) {
    return (slot % tokensPerBlock) % pageSize == 0;
}
// One element of the token's key folded into its page's bounds: the key rounded through the KT type; a
// fresh page takes it as both bounds, else Java min / max with the stored ones (the CPU twin's order).
template <class KT>
static __device__ __forceinline__ void rkv_kt_fold(typename KT::T* mn, typename KT::T* mx, float key, bool fresh) {
    const float v = KT::decode(KT::encode(key));
    if (fresh) {
        *mn = KT::encode(v);
        *mx = KT::encode(v);
    } else {
        *mn = KT::encode(rkv_jmin(KT::decode(*mn), v));
        *mx = KT::encode(rkv_jmax(KT::decode(*mx), v));
    }
}

// ---- block-wide reductions and scan (blockDim.x a multiple of 32, at most 1024; every thread calls) ----

struct RkvBlockShared {
    unsigned hist[256];
    int warpInts[33];
    float warpFloats[32];
    double warpDoubles[32];
    unsigned prefix;
    int remaining;
};

static __device__ __forceinline__ float rkv_block_max(float v, RkvBlockShared& sh) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    if (lane == 0) sh.warpFloats[warp] = v;
    __syncthreads();
    float m = sh.warpFloats[0];
    for (int w = 1; w < nw; w++) m = fmaxf(m, sh.warpFloats[w]);
    __syncthreads();
    return m;
}

static __device__ __forceinline__ double rkv_block_sum_double(double v, RkvBlockShared& sh) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    if (lane == 0) sh.warpDoubles[warp] = v;
    __syncthreads();
    double s = 0.0;
    for (int w = 0; w < nw; w++) s += sh.warpDoubles[w];
    __syncthreads();
    return s;
}

// Exclusive prefix sum of v over the block in thread order; *total gets the block's sum.
static __device__ __forceinline__ int rkv_block_exclusive_scan(int v, int* total, RkvBlockShared& sh) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    int x = v;
#pragma unroll
    for (int o = 1; o < 32; o <<= 1) {
        const int y = __shfl_up_sync(0xffffffffu, x, o);
        if (lane >= o) x += y;
    }
    if (lane == 31) sh.warpInts[warp] = x;
    __syncthreads();
    if (warp == 0) {
        int w = lane < nw ? sh.warpInts[lane] : 0;
#pragma unroll
        for (int o = 1; o < 32; o <<= 1) {
            const int y = __shfl_up_sync(0xffffffffu, w, o);
            if (lane >= o) w += y;
        }
        if (lane < nw) sh.warpInts[lane] = w;   // inclusive sums of the warps
    }
    __syncthreads();
    const int before = (warp > 0 ? sh.warpInts[warp - 1] : 0) + x - v;
    *total = sh.warpInts[nw - 1];
    __syncthreads();
    return before;
}

// Order-preserving key of a float (larger float -> larger key; -0 counts as +0).
static __device__ __forceinline__ unsigned rkv_order_key(float v) {
    unsigned b = __float_as_uint(v);
    if ((b & 0x7fffffffu) == 0u) b = 0u;   // -0 -> +0
    return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}

// The indices of the k highest-ranked of vals[0 .. n) (larger value first, ties: lower index),
// ascending, into out[0 .. k). Needs 1 <= k < n. vals may be global or shared memory and must
// not change during the call.
static __device__ void rkv_block_topk_ascending(const float* vals, int n, int k, int* out, RkvBlockShared& sh) {
    const int tid = threadIdx.x;
    const int bd = blockDim.x;
    const int lane = tid & 31;
    unsigned prefix = 0, mask = 0;
    int remaining = k;
#pragma unroll 1
    for (int shift = 24; shift >= 0; shift -= 8) {
        for (int i = tid; i < 256; i += bd) sh.hist[i] = 0;
        __syncthreads();
        // warp-aggregated: lanes with the same bin (plateaus of equal values are common after a max-pool)
        // add once, so one hot bin does not serialise 32 atomics per instruction
#pragma unroll 1
        for (int j0 = 0; j0 < n; j0 += bd) {
            const int j = j0 + tid;
            int bin = -1;
            if (j < n) {
                const unsigned u = rkv_order_key(vals[j]);
                if ((u & mask) == prefix) bin = (int) ((u >> shift) & 255u);
            }
            const unsigned peers = __match_any_sync(0xffffffffu, bin);
            if (bin >= 0 && (__ffs(peers) - 1) == lane) atomicAdd(&sh.hist[bin], (unsigned) __popc(peers));
        }
        __syncthreads();
        if (tid < 32) {
            // lane l sums bins 255 - 8l .. 248 - 8l (from the top), then a prefix over the lanes
            // finds the bin where the count of larger keys reaches `remaining`
            int c = 0;
#pragma unroll
            for (int b = 0; b < 8; b++) c += (int) sh.hist[255 - 8 * lane - b];
            int incl = c;
#pragma unroll
            for (int o = 1; o < 32; o <<= 1) {
                const int y = __shfl_up_sync(0xffffffffu, incl, o);
                if (lane >= o) incl += y;
            }
            const unsigned hit = __ballot_sync(0xffffffffu, incl >= remaining);
            const int first = __ffs(hit) - 1;   // always set: the lanes cover every key still in play
            if (lane == first) {
                int cum = incl - c;
                for (int b = 0; b < 8; b++) {
                    const int bin = 255 - 8 * lane - b;
                    const int h = (int) sh.hist[bin];
                    if (cum + h >= remaining) {
                        sh.prefix = prefix | ((unsigned) bin << shift);
                        sh.remaining = remaining - cum;
                        break;
                    }
                    cum += h;
                }
            }
        }
        __syncthreads();
        prefix = sh.prefix;
        remaining = sh.remaining;
        mask |= 255u << shift;
        __syncthreads();
    }
    // prefix: key of the k-th ranked value; take `remaining` of the keys equal to it (lowest index first)
    const int take = remaining;
    int eqBefore = 0;   // keys equal to the threshold in earlier chunks
    int outBase = 0;
#pragma unroll 1
    for (int base = 0; base < n; base += bd) {
        const int j = base + tid;
        int above = 0, eq = 0;
        if (j < n) {
            const unsigned u = rkv_order_key(vals[j]);
            above = u > prefix;
            eq = u == prefix;
        }
        int total;
        const int before = rkv_block_exclusive_scan(above | (eq << 16), &total, sh);
        const int aboveRank = before & 0xffff;
        const int eqRank = before >> 16;
        const int takeLeft = max(0, take - eqBefore);
        if (above || (eq && eqRank < takeLeft)) {
            out[outBase + aboveRank + min(eqRank, takeLeft)] = j;
        }
        const int eqChunk = total >> 16;
        outBase += (total & 0xffff) + min(eqChunk, takeLeft);
        eqBefore += eqChunk;
    }
}
