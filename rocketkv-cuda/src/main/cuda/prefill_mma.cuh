// prefill_mma.cuh: v3 of the causal prefill attention of attention_prefill.cu (same parameters, same
// semantics, same CPU twin CpuKernels.prefillAttention): flash-attention-2 style on mma.sync
// m16n8k16 bf16 tensor cores with S, P and O resident in registers. Included by attention_prefill.cu
// only; the extern "C" entry points (attention_prefill_mma_d64, attention_prefill_mma_d128) are there.
//
// Shapes (as attention_prefill.cu): q f32 [T][Hq * D], kvCache bf16 [numBlocks][2][Hkv][P][D],
// queryStart i32 [S + 1], kvLens i32 [S] (kvLen >= queryLen: earlier chunks or a cached prefix),
// blockTables i32 [S][maxBlocks], out f32 [T][Hq * D].
//
// Launch: grid (numHeads, ceil(maxQueryLen / BM), numSeqs), block NW * 32 threads, dynamic shared memory
// Cfg::BYTES = (BM + 2 * 2 * BN) * (D + 8) * 2 (set CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES first), with
// BM = NW * 16 * MT. The library's configurations (attention_prefill.cu; CudaAttention mirrors them):
//   D 64:  Cfg<64, 2, 4, 64, QREG>    BM 128, 128 threads,  55,296 B
//   D 128: Cfg<128, 2, 8, 64, smem Q> BM 256, 256 threads, 139,264 B
// Heads vary fastest in the grid, so the G query heads of one KV head run side by side and read each
// K/V tile from L2 once between them. Query tiles are visited longest-first (blockIdx.y reversed).
// ceil(maxQueryLen / BM) <= 65535, numSeqs <= 65535.
//
// A block owns BM query rows of one head and walks BN-key tiles of K and V up to the causal limit of
// its last row. Tiles arrive through the block table with 16-byte cp.async into a two-stage ring
// (tile t + 1 is in flight while tile t is computed); keys at or past the block's limit are zero-filled.
// Each warp owns MT m16 tiles of rows: Q (bf16) as mma A fragments in registers (QREG) or re-read from
// shared memory per tile; S = Q K^T (16 x BN per m-tile, fp32) in
// registers; the online softmax runs on S in place (each row spread over the 4 lanes of a quad, two
// rows per lane); P is re-packed from the S accumulators straight into A fragments (the m16n8 C layout
// of two adjacent n-tiles is the m16k16 A layout); O (16 x D, fp32) accumulates in registers and is
// rescaled by the running max. K fragments come from shared memory by ldmatrix, V by ldmatrix.trans;
// rows are padded by 8 bf16 (16 B), which keeps every ldmatrix phase conflict-free.
// Causal masking is applied only on tiles that cross a warp's diagonal; tiles wholly above a warp's
// rows are skipped by that warp.
//
// Precision: q is rounded to bf16 (relative 2^-9), K and V are bf16 in the cache, P is rounded to bf16
// for PV; scores, running max and sum and the O accumulator are fp32. Against an fp64 reference on the
// same bf16 K/V (src/test/cuda/attention_test.cu) the error is stated there; v2 kept q's f32 precision
// by a hi + lo split, which doubled the QK^T work.
#pragma once

#include <cuda_bf16.h>
#include <stdint.h>

namespace rkv_prefill_mma {

// One configuration: head dim D, MT m16 tiles (16 query rows each) per warp, NW warps, BN keys per
// tile, Q's A fragments kept in registers (QREG) or re-read from shared memory by ldmatrix per tile.
// A block owns BM = NW * 16 * MT query rows. More rows per warp reuse each K/V fragment more times
// (the kernel is bound by shared-memory reads at one m-tile per warp).
template <int D_, int MT_, int NW_, int BN_, bool QREG_>
struct Cfg {
    static constexpr int D = D_, MT = MT_, NW = NW_, BN = BN_;
    static constexpr bool QREG = QREG_;
    static constexpr int NTHREADS = NW * 32;
    static constexpr int BM = NW * 16 * MT;
    static constexpr int LD = D + 8;                        // bf16 row stride in shared memory
    static constexpr size_t Q_ELEMS = (size_t) BM * LD;
    static constexpr size_t KV_ELEMS = (size_t) BN * LD;    // one K or one V tile
    static constexpr size_t BYTES = (Q_ELEMS + 4 * KV_ELEMS) * 2;
};

static __device__ __forceinline__ uint32_t smem_addr(const void* p) {
    return (uint32_t) __cvta_generic_to_shared(p);
}

static __device__ __forceinline__ void ldsm_x4(uint32_t& r0, uint32_t& r1, uint32_t& r2, uint32_t& r3,
                                               const void* p) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
                 : "r"(smem_addr(p)));
}

static __device__ __forceinline__ void ldsm_x4_trans(uint32_t& r0, uint32_t& r1, uint32_t& r2, uint32_t& r3,
                                                     const void* p) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
                 : "r"(smem_addr(p)));
}

// c += a (16 x 16, row) * b (16 x 8, col), bf16 in, fp32 accumulate.
static __device__ __forceinline__ void mma16816(float c[4], const uint32_t a[4], uint32_t b0, uint32_t b1) {
    asm volatile(
            "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
            "{%0, %1, %2, %3};"
            : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
            : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// 16-byte global -> shared copy; bytes = 0 zero-fills the destination without reading src.
static __device__ __forceinline__ void cp_async16(void* dst, const void* src, int bytes) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(smem_addr(dst)), "l"(src), "r"(bytes));
}

static __device__ __forceinline__ void cp_async_commit() {
    asm volatile("cp.async.commit_group;");
}

template <int N>
static __device__ __forceinline__ void cp_async_wait() {
    asm volatile("cp.async.wait_group %0;" ::"n"(N));
}

static __device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<uint32_t*>(&v);
}

// The query tile a prefill block owns (grid (numHeads, query tiles, numSeqs), tiles visited longest-first) and
// the keys it reads: rows [q0, q0 + rows) of head `head` of sequence `seq`, keys [kvBegin, kvEnd) in tiles
// firstTile .. numTiles - 1 of BN. kvBegin is the first row's sliding-window start (0, and firstTile 0, without a
// window: v4 and v5 pass none). Shared by v3, v4 and v5. live is false for a block past its sequence's last query
// tile (it returns at once).
template <int BM, int BN>
struct PrefillTile {
    int head, seq, qStart, qLen, q0, kvLen, past, kvHead, rows, kvBegin, kvEnd, firstTile, numTiles;
    const int* table;
    bool live;

    __device__ __forceinline__ PrefillTile(const int* __restrict__ queryStart, const int* __restrict__ kvLens,
            const int* __restrict__ blockTables, int numHeads, int numKvHeads, int maxBlocks, int window = 0) {
        head = blockIdx.x;
        seq = blockIdx.z;
        qStart = queryStart[seq];
        qLen = queryStart[seq + 1] - qStart;
        q0 = (gridDim.y - 1 - blockIdx.y) * BM;
        live = q0 < qLen;
        kvLen = kvLens[seq];
        past = kvLen - qLen;
        kvHead = head / (numHeads / numKvHeads);
        rows = min(BM, qLen - q0);
        kvEnd = min(kvLen, past + q0 + rows);   // keys [kvBegin, kvEnd) are seen by some row
        kvBegin = window > 0 ? max(0, past + q0 - window + 1) : 0;
        firstTile = kvBegin / BN;
        numTiles = (kvEnd + BN - 1) / BN;
        table = blockTables + (size_t) seq * maxBlocks;
    }
};

// Where chunk c (8 bf16) of key j's K row sits in the cache (V: + vDelta elements), through the block table.
static __device__ __forceinline__ const unsigned short* kv_row_chunk(const unsigned short* __restrict__ kvCache,
        const int* __restrict__ table, int kvHead, int numKvHeads, int tokensPerBlock, size_t headStride, int j,
        int c, int D) {
    const int pg = j / tokensPerBlock;
    const int off = j - pg * tokensPerBlock;
    return kvCache + ((size_t) table[pg] * 2 * numKvHeads + kvHead) * headStride + (size_t) off * D + c * 8;
}

// Keys [j0, j0 + BN) of one KV head, read through the block table, into a K tile at dK and a V tile at dV in
// shared memory by 16-byte cp.async (keys at or past kvEnd, and before kvBegin, zero-filled: a sliding window's
// freed blocks are never looked up): chunk c (8 bf16) of row r lands at byte
// offset at(r, c) of each tile. Each of the NTHREADS threads copies BN * D / 8 / NTHREADS chunks of K and of V.
// Shared by v3 (padded rows) and v4 (128-byte-swizzled panels), which differ only in `at`.
template <int D, int BN, int NTHREADS, class At>
static __device__ __forceinline__ void load_kv_tile(unsigned char* dK, unsigned char* dV,
        const unsigned short* __restrict__ kvCache, const int* __restrict__ table, int kvHead, int numKvHeads,
        int tokensPerBlock, int j0, int kvEnd, int tid, At at, int kvBegin = 0) {
    constexpr int CHUNKS = D / 8;
    static_assert((BN * CHUNKS) % NTHREADS == 0, "tile copy must split evenly over the threads");
    const size_t headStride = (size_t) tokensPerBlock * D;
    const size_t vDelta = (size_t) numKvHeads * headStride;
#pragma unroll
    for (int it = 0; it < BN * CHUNKS / NTHREADS; it++) {
        const int i = tid + it * NTHREADS;
        const int r = i / CHUNKS;
        const int c = i % CHUNKS;
        const int j = j0 + r;
        const unsigned short* src = kvCache;
        int bytes = 0;
        if (j < kvEnd && j >= kvBegin) {
            src = kv_row_chunk(kvCache, table, kvHead, numKvHeads, tokensPerBlock, headStride, j, c, D);
            bytes = 16;
        }
        const uint32_t o = at(r, c);
        cp_async16(dK + o, src, bytes);
        cp_async16(dV + o, bytes ? src + vDelta : src, bytes);
    }
}

// As load_kv_tile for one of the two: the K rows (v = false) or the V rows (v = true) into the tile at dst. v5
// (prefill_wgmma_ws.cuh) fills K and V stages apart.
template <int D, int BN, int NTHREADS, class At>
static __device__ __forceinline__ void load_kv_rows(unsigned char* dst, const unsigned short* __restrict__ kvCache,
        const int* __restrict__ table, int kvHead, int numKvHeads, int tokensPerBlock, int j0, int kvEnd, int tid,
        bool v, At at) {
    constexpr int CHUNKS = D / 8;
    static_assert((BN * CHUNKS) % NTHREADS == 0, "tile copy must split evenly over the threads");
    const size_t headStride = (size_t) tokensPerBlock * D;
    const size_t delta = v ? (size_t) numKvHeads * headStride : 0;
#pragma unroll 4   // the producer warpgroup runs on 40 registers
    for (int it = 0; it < BN * CHUNKS / NTHREADS; it++) {
        const int i = tid + it * NTHREADS;
        const int r = i / CHUNKS;
        const int c = i % CHUNKS;
        const int j = j0 + r;
        const unsigned short* src = kvCache;
        int bytes = 0;
        if (j < kvEnd) {
            src = kv_row_chunk(kvCache, table, kvHead, numKvHeads, tokensPerBlock, headStride, j, c, D) + delta;
            bytes = 16;
        }
        cp_async16(dst + at(r, c), src, bytes);
    }
}

// BM query rows of one head (f32, the first at token `firstToken`) rounded to bf16 into shared memory at dst, rows
// at or past `rows` zero: chunk c (8 values) of row r lands at byte offset at(r, c). Shared by v3 and v4.
template <int D, int BM, int NTHREADS, class At>
static __device__ __forceinline__ void load_q_tile(unsigned char* dst, const float* __restrict__ q, int firstToken,
        int numHeads, int head, int rows, int tid, At at) {
    constexpr int CHUNKS = D / 8;
    for (int i = tid; i < BM * CHUNKS; i += NTHREADS) {
        const int r = i / CHUNKS;
        const int c = i % CHUNKS;
        float4 x0 = make_float4(0.f, 0.f, 0.f, 0.f), x1 = x0;
        if (r < rows) {
            const float* src = q + ((size_t) (firstToken + r) * numHeads + head) * D + c * 8;
            x0 = *reinterpret_cast<const float4*>(src);
            x1 = *reinterpret_cast<const float4*>(src + 4);
        }
        uint4 v;
        v.x = pack_bf16(x0.x, x0.y);
        v.y = pack_bf16(x0.z, x0.w);
        v.z = pack_bf16(x1.x, x1.y);
        v.w = pack_bf16(x1.z, x1.w);
        *reinterpret_cast<uint4*>(dst + at(r, c)) = v;
    }
}

static __device__ __forceinline__ float ex2(float x) {
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}

template <class C>
__device__ __forceinline__ void prefill(
        const float* __restrict__ q, const unsigned short* __restrict__ kvCache,
        const int* __restrict__ queryStart, const int* __restrict__ kvLens,
        const int* __restrict__ blockTables, float* __restrict__ out,
        int numHeads, int numKvHeads, int tokensPerBlock, int maxBlocks, float scale, int window) {
    constexpr int D = C::D, MT = C::MT, BN = C::BN, BM = C::BM, NTHREADS = C::NTHREADS, LD = C::LD;
    static_assert(D % 16 == 0 && D >= 32 && D <= 128, "v3 prefill covers head dims 32..128, multiples of 16");
    static_assert((BN * (D / 8)) % NTHREADS == 0 && BN % 16 == 0, "tile copy must split evenly over the threads");
    constexpr int KSTEPS = D / 16;     // k16 steps of Q K^T
    constexpr int NT_S = BN / 8;       // n8 tiles of S
    constexpr int NT_O = D / 8;        // n8 tiles of O
    constexpr int WROWS = 16 * MT;     // query rows per warp

    extern __shared__ __align__(128) unsigned char smem[];
    __nv_bfloat16* sQ = reinterpret_cast<__nv_bfloat16*>(smem);
    __nv_bfloat16* sKV = sQ + C::Q_ELEMS;   // stage s: K at sKV + 2 s KV_ELEMS, V right after

    const PrefillTile<BM, BN> tile(queryStart, kvLens, blockTables, numHeads, numKvHeads, maxBlocks, window);
    if (!tile.live) return;
    const int head = tile.head, qStart = tile.qStart, qLen = tile.qLen, q0 = tile.q0, past = tile.past;
    const int kvHead = tile.kvHead, rows = tile.rows, kvEnd = tile.kvEnd, numTiles = tile.numTiles;
    const int kvBegin = tile.kvBegin, firstTile = tile.firstTile;
    const int* table = tile.table;

    const int tid = threadIdx.x;
    const int warp = tid >> 5;
    const int lane = tid & 31;

    // Padded rows: chunk c of row r at byte (r * LD + c * 8) * 2.
    auto padded = [](int r, int c) { return (uint32_t) ((r * LD + c * 8) * 2); };
    // K/V tile j0 -> stage (K at sKV + 2 stage KV_ELEMS, V right after).
    auto loadTile = [&](int j0, int stage) {
        __nv_bfloat16* sK = sKV + (size_t) stage * 2 * C::KV_ELEMS;
        load_kv_tile<D, BN, NTHREADS>(reinterpret_cast<unsigned char*>(sK),
                reinterpret_cast<unsigned char*>(sK + C::KV_ELEMS), kvCache, table, kvHead, numKvHeads,
                tokensPerBlock, j0, kvEnd, tid, padded, kvBegin);
    };

    loadTile(firstTile * BN, firstTile & 1);
    cp_async_commit();

    // Q tile (f32 -> bf16), rows past qLen zero.
    load_q_tile<D, BM, NTHREADS>(reinterpret_cast<unsigned char*>(sQ), q, qStart + q0, numHeads, head, rows, tid,
            padded);
    __syncthreads();
    const __nv_bfloat16* qWarp = sQ + (warp * WROWS + (lane & 15)) * LD + (lane >> 4) * 8;
    uint32_t qf[C::QREG ? MT : 1][C::QREG ? KSTEPS : 1][4];
    if constexpr (C::QREG) {
#pragma unroll
        for (int mt = 0; mt < MT; mt++) {
#pragma unroll
            for (int kk = 0; kk < KSTEPS; kk++) {
                ldsm_x4(qf[mt][kk][0], qf[mt][kk][1], qf[mt][kk][2], qf[mt][kk][3], qWarp + mt * 16 * LD + kk * 16);
            }
        }
    }

    // This lane's rows: g and g + 8 of each of the warp's m-tiles, and their last keys.
    const int row0 = q0 + warp * WROWS + (lane >> 2);
    const int warpFirst = past + q0 + warp * WROWS;   // last key of the warp's first row
    // sliding window: the first key of the warp's first row (nothing before it is seen by the warp) and of its last
    // row (tiles starting before it need the window mask)
    const int warpBegin = window > 0 ? max(0, warpFirst - window + 1) : 0;
    const int warpLastBegin = window > 0 ? max(0, warpFirst + WROWS - 1 - window + 1) : 0;
    const bool warpLive = q0 + warp * WROWS < qLen;
    const float sl2 = scale * 1.4426950408889634f;

    float o[MT][NT_O][4];
    float m[MT][2], l[MT][2];
#pragma unroll
    for (int mt = 0; mt < MT; mt++) {
#pragma unroll
        for (int n = 0; n < NT_O; n++) o[mt][n][0] = o[mt][n][1] = o[mt][n][2] = o[mt][n][3] = 0.f;
        m[mt][0] = m[mt][1] = -INFINITY;
        l[mt][0] = l[mt][1] = 0.f;
    }

    for (int t = firstTile; t < numTiles; t++) {
        if (t + 1 < numTiles) {
            loadTile((t + 1) * BN, (t + 1) & 1);
            cp_async_commit();
            cp_async_wait<1>();
        } else {
            cp_async_wait<0>();
        }
        __syncthreads();
        const int j0 = t * BN;
        if (warpLive && j0 <= warpFirst + WROWS - 1 && j0 + BN > warpBegin) {
            const __nv_bfloat16* sK = sKV + (size_t) (t & 1) * 2 * C::KV_ELEMS;
            const __nv_bfloat16* sV = sK + C::KV_ELEMS;

            float s[MT][NT_S][4];
#pragma unroll
            for (int mt = 0; mt < MT; mt++) {
#pragma unroll
                for (int n = 0; n < NT_S; n++) s[mt][n][0] = s[mt][n][1] = s[mt][n][2] = s[mt][n][3] = 0.f;
            }
#pragma unroll
            for (int kk = 0; kk < KSTEPS; kk++) {
                uint32_t qa[MT][4];
#pragma unroll
                for (int mt = 0; mt < MT; mt++) {
                    if constexpr (C::QREG) {
#pragma unroll
                        for (int e = 0; e < 4; e++) qa[mt][e] = qf[C::QREG ? mt : 0][C::QREG ? kk : 0][e];
                    } else {
                        ldsm_x4(qa[mt][0], qa[mt][1], qa[mt][2], qa[mt][3], qWarp + mt * 16 * LD + kk * 16);
                    }
                }
#pragma unroll
                for (int np = 0; np < NT_S / 2; np++) {
                    uint32_t b0, b1, b2, b3;
                    ldsm_x4(b0, b1, b2, b3,
                            sK + (np * 16 + (lane >> 4) * 8 + (lane & 7)) * LD + kk * 16 + ((lane >> 3) & 1) * 8);
#pragma unroll
                    for (int mt = 0; mt < MT; mt++) {
                        mma16816(s[mt][2 * np], qa[mt], b0, b1);
                        mma16816(s[mt][2 * np + 1], qa[mt], b2, b3);
                    }
                }
            }

            // Scale to log2 units; mask keys past a row's causal limit (only on tiles crossing the
            // diagonal); online softmax per row. A row whose max is still -inf has seen no key yet (only
            // rows past qLen): it keeps alpha 1 and p 0, and its output is never written.
            const bool mask = j0 + BN - 1 > warpFirst;
            const bool windowMask = j0 < warpLastBegin;   // some row's window starts inside or after this tile
#pragma unroll
            for (int mt = 0; mt < MT; mt++) {
                const int lastA = past + row0 + mt * 16;
                float mx[2] = {m[mt][0], m[mt][1]};
#pragma unroll
                for (int n = 0; n < NT_S; n++) {
                    const int j = j0 + n * 8 + 2 * (lane & 3);
#pragma unroll
                    for (int e = 0; e < 4; e++) {
                        float x = s[mt][n][e] * sl2;
                        if (mask && j + (e & 1) > lastA + (e >> 1) * 8) x = -INFINITY;
                        if (windowMask && j + (e & 1) <= lastA + (e >> 1) * 8 - window) x = -INFINITY;
                        s[mt][n][e] = x;
                        mx[e >> 1] = fmaxf(mx[e >> 1], x);
                    }
                }
                float use[2], alpha[2], sum[2] = {0.f, 0.f};
#pragma unroll
                for (int h = 0; h < 2; h++) {
                    mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 1));
                    mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 2));
                    use[h] = mx[h] == -INFINITY ? 0.f : mx[h];
                    alpha[h] = ex2(m[mt][h] - use[h]);
                    m[mt][h] = mx[h];
                }
#pragma unroll
                for (int n = 0; n < NT_S; n++) {
#pragma unroll
                    for (int e = 0; e < 4; e++) {
                        s[mt][n][e] = ex2(s[mt][n][e] - use[e >> 1]);
                        sum[e >> 1] += s[mt][n][e];
                    }
                }
#pragma unroll
                for (int h = 0; h < 2; h++) l[mt][h] = l[mt][h] * alpha[h] + sum[h];   // per-lane partial sums
#pragma unroll
                for (int n = 0; n < NT_O; n++) {
                    o[mt][n][0] *= alpha[0];
                    o[mt][n][1] *= alpha[0];
                    o[mt][n][2] *= alpha[1];
                    o[mt][n][3] *= alpha[1];
                }
            }

            // O += P V: P's A fragments straight from the S accumulators.
#pragma unroll
            for (int kk = 0; kk < BN / 16; kk++) {
                uint32_t pa[MT][4];
#pragma unroll
                for (int mt = 0; mt < MT; mt++) {
                    pa[mt][0] = pack_bf16(s[mt][2 * kk][0], s[mt][2 * kk][1]);
                    pa[mt][1] = pack_bf16(s[mt][2 * kk][2], s[mt][2 * kk][3]);
                    pa[mt][2] = pack_bf16(s[mt][2 * kk + 1][0], s[mt][2 * kk + 1][1]);
                    pa[mt][3] = pack_bf16(s[mt][2 * kk + 1][2], s[mt][2 * kk + 1][3]);
                }
#pragma unroll
                for (int np = 0; np < NT_O / 2; np++) {
                    uint32_t b0, b1, b2, b3;
                    ldsm_x4_trans(b0, b1, b2, b3,
                                  sV + (kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8) * LD + np * 16 + (lane >> 4) * 8);
#pragma unroll
                    for (int mt = 0; mt < MT; mt++) {
                        mma16816(o[mt][2 * np], pa[mt], b0, b1);
                        mma16816(o[mt][2 * np + 1], pa[mt], b2, b3);
                    }
                }
            }
        }
        __syncthreads();   // the next iteration's copy overwrites this stage
    }

    const int col = 2 * (lane & 3);
#pragma unroll
    for (int mt = 0; mt < MT; mt++) {
#pragma unroll
        for (int h = 0; h < 2; h++) {
            float sum = l[mt][h];
            sum += __shfl_xor_sync(0xffffffffu, sum, 1);
            sum += __shfl_xor_sync(0xffffffffu, sum, 2);
            const int row = row0 + mt * 16 + h * 8;
            if (row < qLen) {
                const float inv = 1.f / sum;
                float* op = out + ((size_t) (qStart + row) * numHeads + head) * D + col;
#pragma unroll
                for (int n = 0; n < NT_O; n++) {
                    *reinterpret_cast<float2*>(op + n * 8) = make_float2(o[mt][n][2 * h] * inv, o[mt][n][2 * h + 1] * inv);
                }
            }
        }
    }
}

}  // namespace rkv_prefill_mma
