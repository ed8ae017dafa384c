// prefill_wgmma.cuh: v4 of the causal prefill attention of attention_prefill.cu for Hopper (sm_90a): the
// same parameters, semantics and CPU twin (CpuKernels.prefillAttention) as v3 (prefill_mma.cuh), with
// the two matrix products on warpgroup MMAs (wgmma.mma_async, wgmma_ops.cuh) that read K and V straight
// from shared memory. Included by attention_prefill.cu only; on targets other than sm_90a the kernels
// compile to a trap. CudaAttention launches v4 only when asked (-Drocketkv.cuda.prefillKernel=wgmma) and
// when attention_prefill_wgmma_probe reports sm_90a code for the device; v3 otherwise (the default).
//
// Shapes (as attention_prefill.cu): q f32 [T][Hq * D], kvCache bf16 [numBlocks][2][Hkv][P][D],
// queryStart i32 [S + 1], kvLens i32 [S] (kvLen >= queryLen: earlier chunks or a cached prefix),
// blockTables i32 [S][maxBlocks], out f32 [T][Hq * D]. D is 64 or 128.
//
// Launch: grid (numHeads, ceil(maxQueryLen / 128), numSeqs), block 256 threads (two warpgroups), dynamic
// shared memory Cfg::BYTES = 128 * D * 2 + 4 * BN * D * 2 + 1024 (the 1024 aligns the swizzled tiles):
//   D 128, BN 128: 164,864 B      D 64, BN 128: 82,944 B
// Heads vary fastest (the G query heads of a KV head read its tiles from L2 once between them); query
// tiles are visited longest-first.
//
// A block owns BM = 128 query rows of one head, 64 per warpgroup, and walks BN-key tiles of K and V up to
// the causal limit of its last row. Every thread copies its share of the next K/V tile through the
// block table by 16-byte cp.async into a two-stage ring of 128-byte-swizzled tiles while the current
// tile is computed. Per tile and warpgroup: S (64 x BN, fp32, registers) = Q K^T by D / 16 wgmma
// m64nBNk16 with both operands in shared memory; scale, causal mask (only on tiles crossing the
// diagonal) and online softmax on S in registers (each row over the 4 lanes of a quad); P packed to bf16
// from the S registers as the A operand; O (64 x D, fp32, registers) += P V by BN / 16 wgmma m64nDk16
// with V in shared memory read MN-major (imm-trans-b). A warpgroup whose rows all end before a tile skips
// it.
//
// Precision: as v3 (q rounded to bf16, P rounded to bf16 for PV; fp32 scores, softmax and accumulator).
#pragma once

#include <cuda_bf16.h>
#include <stdint.h>

#include "prefill_mma.cuh"
#include "wgmma_ops.cuh"

namespace rkv_prefill_wgmma {

// D head dim (64, 128), BN keys per tile (64, 128); VSWAP exchanges V's descriptor strides (test only).
template <int D_, int BN_, bool VSWAP_ = false>
struct Cfg {
    static constexpr int D = D_, BN = BN_, BM = 128, NTHREADS = 256;
    static constexpr bool VSWAP = VSWAP_;
    static constexpr uint32_t Q_BYTES = BM * D * 2;
    static constexpr uint32_t KV_BYTES = BN * D * 2;   // one K or one V tile
    static constexpr size_t BYTES = Q_BYTES + 4 * KV_BYTES + 1024;
};

// Byte offset of (row r, 16-byte chunk c) in a 128-byte-swizzled tile of `rows` rows.
static __device__ __forceinline__ uint32_t swz(int rows, int r, int c) {
    return (uint32_t) ((c >> 3) * rows * 128 + r * 128 + (((c & 7) ^ (r & 7)) << 4));
}

template <int BN>
static __device__ __forceinline__ void qk(float (&s)[BN / 2], uint64_t a, uint64_t b, int acc);
template <>
__device__ __forceinline__ void qk<128>(float (&s)[64], uint64_t a, uint64_t b, int acc) {
    rkv_wgmma::wgmma_ss_m64n128k16(s, a, b, acc);
}
template <>
__device__ __forceinline__ void qk<64>(float (&s)[32], uint64_t a, uint64_t b, int acc) {
    rkv_wgmma::wgmma_ss_m64n64k16(s, a, b, acc);
}
template <int D>
static __device__ __forceinline__ void pv(float (&o)[D / 2], const uint32_t (&p)[4], uint64_t b);
template <>
__device__ __forceinline__ void pv<128>(float (&o)[64], const uint32_t (&p)[4], uint64_t b) {
    rkv_wgmma::wgmma_rs_m64n128k16_tb(o, p, b);
}
template <>
__device__ __forceinline__ void pv<64>(float (&o)[32], const uint32_t (&p)[4], uint64_t b) {
    rkv_wgmma::wgmma_rs_m64n64k16_tb(o, p, b);
}

// One tile's online-softmax step of a warpgroup's 64 x BN scores s (accumulator layout), shared by v4 and v5:
// scale to log2 units, mask keys past each row's causal limit (only when the tile crosses the diagonal of the
// warp's rows: warpFirst is the last key of the warp's first row), fold the tile's row maxima into m, replace s by
// exp2(s - m), and rescale l by alpha (returned: the caller rescales O by it) before adding the tile's row sums.
// This lane's rows are rowA and rowA + 8; key j of the tile is j0 + 8 n + 2 (lane % 4) + {0, 1}.
template <int BN>
static __device__ __forceinline__ void online_softmax(float (&s)[BN / 2], int j0, int warpFirst, int past, int rowA,
        int lane, float sl2, float (&m)[2], float (&l)[2], float (&alpha)[2]) {
    using rkv_prefill_mma::ex2;
    const bool mask = j0 + BN - 1 > warpFirst;
    float mx[2] = {m[0], m[1]}, sum[2] = {0.f, 0.f}, use[2];
#pragma unroll
    for (int n = 0; n < BN / 8; n++) {
        const int j = j0 + n * 8 + 2 * (lane & 3);
#pragma unroll
        for (int e = 0; e < 4; e++) {
            float x = s[4 * n + e] * sl2;
            if (mask && j + (e & 1) > past + rowA + (e >> 1) * 8) x = -INFINITY;
            s[4 * n + e] = x;
            mx[e >> 1] = fmaxf(mx[e >> 1], x);
        }
    }
#pragma unroll
    for (int h = 0; h < 2; h++) {
        mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 1));
        mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 2));
        use[h] = mx[h] == -INFINITY ? 0.f : mx[h];
        alpha[h] = ex2(m[h] - use[h]);
        m[h] = mx[h];
    }
#pragma unroll
    for (int i = 0; i < BN / 2; i++) {
        s[i] = ex2(s[i] - use[(i >> 1) & 1]);
        sum[(i >> 1) & 1] += s[i];
    }
#pragma unroll
    for (int h = 0; h < 2; h++) l[h] = l[h] * alpha[h] + sum[h];
}

// The probabilities s (accumulator layout) as bf16 A fragments of the PV product, k16 step kk in p[kk].
template <int BN>
static __device__ __forceinline__ void pack_p(uint32_t (&p)[BN / 16][4], const float (&s)[BN / 2]) {
    using rkv_prefill_mma::pack_bf16;
#pragma unroll
    for (int kk = 0; kk < BN / 16; kk++) {
        p[kk][0] = pack_bf16(s[8 * kk + 0], s[8 * kk + 1]);
        p[kk][1] = pack_bf16(s[8 * kk + 2], s[8 * kk + 3]);
        p[kk][2] = pack_bf16(s[8 * kk + 4], s[8 * kk + 5]);
        p[kk][3] = pack_bf16(s[8 * kk + 6], s[8 * kk + 7]);
    }
}

// out rows rowA and rowA + 8 (those below qLen) of one head: O / (row sum of l over the quad), f32.
template <int D>
static __device__ __forceinline__ void store_o(float* __restrict__ out, const float (&o)[D / 2], const float (&l)[2],
        int rowA, int qLen, int qStart, int numHeads, int head, int lane) {
    const int col = 2 * (lane & 3);
#pragma unroll
    for (int h = 0; h < 2; h++) {
        float sum = l[h];
        sum += __shfl_xor_sync(0xffffffffu, sum, 1);
        sum += __shfl_xor_sync(0xffffffffu, sum, 2);
        const int row = rowA + h * 8;
        if (row < qLen) {
            const float inv = 1.f / sum;
            float* op = out + ((size_t) (qStart + row) * numHeads + head) * D + col;
#pragma unroll
            for (int n = 0; n < D / 8; n++) {
                *reinterpret_cast<float2*>(op + n * 8) = make_float2(o[4 * n + 2 * h] * inv, o[4 * n + 2 * h + 1] * inv);
            }
        }
    }
}

template <class C>
__device__ __forceinline__ void prefill(
        const float* __restrict__ q, const unsigned short* __restrict__ kvCache,
        const int* __restrict__ queryStart, const int* __restrict__ kvLens,
        const int* __restrict__ blockTables, float* __restrict__ out,
        int numHeads, int numKvHeads, int tokensPerBlock, int maxBlocks, float scale) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    using namespace rkv_prefill_mma;
    constexpr int D = C::D, BN = C::BN, BM = C::BM, NTHREADS = C::NTHREADS;
    static_assert(D == 64 || D == 128, "v4 prefill covers head dims 64 and 128");
    static_assert(BN == 64 || BN == 128, "v4 prefill tiles are 64 or 128 keys");
    constexpr int SREG = BN / 2;       // S registers per thread
    constexpr int OREG = D / 2;        // O registers per thread

    extern __shared__ __align__(1024) unsigned char smemRaw[];
    const uint32_t rawAddr = smem_addr(smemRaw);
    const uint32_t base = (rawAddr + 1023u) & ~1023u;
    unsigned char* smem = smemRaw + (base - rawAddr);
    const uint32_t sQ = base;
    auto sK = [&](int stage) { return C::Q_BYTES + (uint32_t) (2 * stage) * C::KV_BYTES; };   // offsets from base

    const rkv_prefill_mma::PrefillTile<BM, BN> tile(queryStart, kvLens, blockTables, numHeads, numKvHeads, maxBlocks);
    if (!tile.live) return;
    const int head = tile.head, qStart = tile.qStart, qLen = tile.qLen, q0 = tile.q0, past = tile.past;
    const int kvHead = tile.kvHead, rows = tile.rows, kvEnd = tile.kvEnd, numTiles = tile.numTiles;
    const int* table = tile.table;

    const int tid = threadIdx.x;
    const int wg = tid >> 7;
    const int warp = (tid >> 5) & 3;
    const int lane = tid & 31;

    auto loadTile = [&](int j0, int stage) {
        unsigned char* dK = smem + sK(stage);
        load_kv_tile<D, BN, NTHREADS>(dK, dK + C::KV_BYTES, kvCache, table, kvHead, numKvHeads, tokensPerBlock, j0,
                kvEnd, tid, [](int r, int c) { return swz(BN, r, c); });
    };

    loadTile(0, 0);
    cp_async_commit();

    // Q tile (f32 -> bf16, swizzled), rows past qLen zero.
    load_q_tile<D, BM, NTHREADS>(smem, q, qStart + q0, numHeads, head, rows, tid,
            [](int r, int c) { return swz(BM, r, c); });

    const int rowA = q0 + wg * 64 + warp * 16 + (lane >> 2);   // this lane's rows: rowA, rowA + 8
    const int wgFirst = past + q0 + wg * 64;                    // last key of the warpgroup's first row
    const int warpFirst = wgFirst + warp * 16;
    const bool wgLive = q0 + wg * 64 < qLen;
    const float sl2 = scale * 1.4426950408889634f;
    const uint32_t qBase = sQ + wg * 64 * 128;

    float o[OREG];
#pragma unroll
    for (int i = 0; i < OREG; i++) o[i] = 0.f;
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};

    for (int t = 0; t < numTiles; t++) {
        if (t + 1 < numTiles) {
            loadTile((t + 1) * BN, (t + 1) & 1);
            cp_async_commit();
            cp_async_wait<1>();
        } else {
            cp_async_wait<0>();
        }
        rkv_wgmma::fence_proxy_async();
        __syncthreads();
        const int j0 = t * BN;
        if (wgLive && j0 <= wgFirst + 63) {
            const uint32_t kAddr = base + sK(t & 1);
            const uint32_t vAddr = kAddr + C::KV_BYTES;

            float s[SREG];
            rkv_wgmma::fence();
#pragma unroll
            for (int kk = 0; kk < D / 16; kk++) {
                const uint64_t da = rkv_wgmma::desc_sw128(qBase + (kk >> 2) * BM * 128 + (kk & 3) * 32, 16, 1024);
                const uint64_t db = rkv_wgmma::desc_sw128(kAddr + (kk >> 2) * BN * 128 + (kk & 3) * 32, 16, 1024);
                qk<BN>(s, da, db, kk > 0);
            }
            rkv_wgmma::commit();
            rkv_wgmma::wait<0>();
            rkv_wgmma::pin(s);

            float alpha[2];
            online_softmax<BN>(s, j0, warpFirst, past, rowA, lane, sl2, m, l, alpha);
#pragma unroll
            for (int i = 0; i < OREG; i++) o[i] *= alpha[(i >> 1) & 1];

            uint32_t p[BN / 16][4];
            pack_p<BN>(p, s);
            rkv_wgmma::pin(o);
            rkv_wgmma::fence();
            constexpr uint32_t V_LBO = C::VSWAP ? 1024u : (uint32_t) BN * 128u;
            constexpr uint32_t V_SBO = C::VSWAP ? (uint32_t) BN * 128u : 1024u;
#pragma unroll
            for (int kk = 0; kk < BN / 16; kk++) {
                pv<D>(o, p[kk], rkv_wgmma::desc_sw128(vAddr + kk * 16 * 128, V_LBO, V_SBO));
            }
            rkv_wgmma::commit();
            rkv_wgmma::wait<0>();
            rkv_wgmma::pin(o);
        }
        __syncthreads();   // the next iteration's copy overwrites this stage
    }

    store_o<D>(out, o, l, rowA, qLen, qStart, numHeads, head, lane);
#else
    __trap();
#endif
}

}  // namespace rkv_prefill_wgmma
