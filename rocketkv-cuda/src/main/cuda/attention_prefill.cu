// attention_prefill.cu: causal (prefill) attention of a batch of prompts, reading K and V from the
// paged bf16 cache through per-sequence block tables, so the same kernel serves prompts whose K/V
// were just written by kv_cache_write_bf16 and chunked prefill / cached prefixes (kvLen > queryLen).
// CPU twin: CpuKernels.prefillAttention (kvLen >= queryLen: it reads earlier chunks' keys from its cache too).
//
//   q           f32  [T][numHeads * headDim]     queries of all sequences, sequence after sequence
//   kvCache     bf16 [numBlocks][2 (K|V)][numKvHeads][tokensPerBlock][headDim]   (one layer)
//   queryStart  i32  [numSeqs + 1]   CSR offsets of each sequence's query rows in q / out
//   kvLens      i32  [numSeqs]       keys in the cache for each sequence, kvLen >= queryLen >= 1
//   blockTables i32  [numSeqs][maxBlocks] (flat, row stride maxBlocks) block ids, -1 padded
//   out         f32  [T][numHeads * headDim]
//   window      i32  the layer's sliding window W, or 0 for full attention (the last parameter of every kernel)
//
// Query i (0-based) of sequence s, whose queryLen = queryStart[s+1] - queryStart[s], sits at
// position p = kvLen - queryLen + i and attends keys 0..p (with a window: max(0, p - W + 1)..p, as transformers'
// sliding_window_overlay; the blocks wholly before the first query's window may be freed, -1 in the table, and are
// never read: v1, v2 and v3 start their key walk at the window; v4 and v5 ignore `window`, and the library refuses
// them for a windowed layer):
//   out = sum_j softmax_j(scale * q . k_j) v_j,  query head h reads KV head h / (numHeads / numKvHeads).
// Memory is O(tiles), never O(L^2): a 128k-token prompt needs no workspace at all.
//
// Precision: q is given in f32 and split inside the kernel into bf16 hi + lo parts (q = hi + lo to
// ~2^-17 relative), so QK^T = hi K^T + lo K^T on bf16 tensor cores keeps q's f32 precision; the
// probabilities P are rounded to bf16 for PV (as FlashAttention does); scores, max, sum and the
// output accumulator are fp32. Error against an fp64 reference on the same bf16 K/V: max abs
// 1.5e-3, max relative 2.1e-2 on outputs |ref| > 0.05 (inputs U(-1,1), q up to U(-8,8)); tested at
// |err| <= 4e-3 + 1e-2 |ref| (src/test/cuda/attention_test.cu). v1 keeps everything in fp32 (2e-7).
//
// Versions:
//   v1 attention_prefill_naive      one warp per (query row, head), keys one at a time, online
//                                   softmax; any headDim <= 256. A readable twin, and the fallback.
//   v2 attention_prefill_d{16,32,64,128}   flash-attention-2 style, bf16 WMMA (16x16x16) tensor
//                                   cores, fp32 accumulate: a block owns 64 query rows of one head,
//                                   4 warps x 16 rows; it walks 64-key tiles of K and V (loaded
//                                   into shared memory with 16-byte loads through the block table,
//                                   rows past kvLen zero-filled) only up to the tile's causal limit,
//                                   with an online softmax per row (each lane owns half a row:
//                                   row = lane % 16, half = lane / 16). S and the PV partial go
//                                   through per-warp shared scratch because WMMA's accumulator
//                                   layout is opaque. Query tiles are visited longest-first.
//                                   H200, Hq 32 / Hkv 8 / D 128, one prompt: 4096 tokens 2.2 ms
//                                   (62 TFLOP/s), 32768 tokens 121 ms (73 TFLOP/s), counting
//                                   4 * D * Hq * L(L+1)/2 FLOP.
//   v3 attention_prefill_mma_d{64,128}  (prefill_mma.cuh) flash-attention-2 style on mma.sync m16n8k16:
//                                   S, P and O in registers, K/V through a two-stage cp.async ring, q in
//                                   bf16 (no hi + lo split). The default for D 64 and 128. H100, Hq 32 /
//                                   Hkv 8 / D 128, one prompt: 4096 tokens 0.59 ms (234 TFLOP/s), 32768
//                                   tokens 31.5 ms (279), 131072 tokens 495 ms (284); cuBLAS bf16 GEMM
//                                   814 TFLOP/s in the same run. Error against fp64: max abs 2-6e-3 (tested
//                                   at |err| <= 1e-2 + 2e-2 |ref|).
//   v4 attention_prefill_wgmma_d{64,128}  (prefill_wgmma.cuh) Hopper wgmma, both operands of QK^T and V from
//                                   swizzled shared memory, two warpgroups loading and computing in step. sm_90a
//                                   only; opt-in. H100: as fast as v3 (253-283 TFLOP/s at 4k-128k, D 128).
//   v5 attention_prefill_ws_d{64,128}  (prefill_wgmma_ws.cuh) v4 warp-specialised as FlashAttention-3: a cp.async
//                                   producer warpgroup behind mbarriers, two consumer warpgroups taking turns,
//                                   each tile's softmax overlapping the previous tile's PV. sm_90a only; opt-in
//                                   until it has run on a GPU.
//
// Launch (all versions take the same parameter list; v3's launch is in prefill_mma.cuh):
//   v2: grid (ceil(maxQueryLen / 64), numHeads, numSeqs), block 128 threads,
//       dynamic shared memory PREFILL_SMEM_BYTES(D) =
//           2 * (64 + 2 * 64) * (D + 8)                  Q, K, V tiles, bf16, padded rows
//         + 4 * 16 * (max(D, 64) + 4) * 4               per-warp fp32 scratch (S, then PV)
//         + 4 * 16 * (64 + 8) * 2                       per-warp bf16 P
//       = D16: 35,840 B   D32: 41,984 B   D64: 54,272 B   D128: 95,232 B   (set
//       CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES first when above 48 KiB = 49,152 B).
//   v1: grid (ceil(maxQueryLen / 4), numHeads, numSeqs), block 128 threads (4 warps, a row each),
//       no shared memory.
//   No workspace. numSeqs <= 65535 and numHeads <= 65535 (grid y, z).
#include "attention_common.cuh"
#include <cuda_bf16.h>
#include <mma.h>

// ---------------------------------------------------------------------------------------------
// v1: naive
// ---------------------------------------------------------------------------------------------
extern "C" __global__ void __launch_bounds__(128) attention_prefill_naive(
        const float* __restrict__ q,                 // [T][numHeads * headDim]
        const unsigned short* __restrict__ kvCache,  // [numBlocks][2][numKvHeads][tokensPerBlock][headDim]
        const int* __restrict__ queryStart,          // [numSeqs + 1]
        const int* __restrict__ kvLens,              // [numSeqs]
        const int* __restrict__ blockTables,         // [numSeqs][maxBlocks]
        float* __restrict__ out,                     // [T][numHeads * headDim]
        int numHeads, int numKvHeads, int headDim, int tokensPerBlock, int maxBlocks, float scale, int window) {
    const int seq = blockIdx.z;
    const int head = blockIdx.y;
    const int row = blockIdx.x * 4 + (threadIdx.x >> 5);
    const int qStart = queryStart[seq];
    const int qLen = queryStart[seq + 1] - qStart;
    if (row >= qLen) return;
    const int past = kvLens[seq] - qLen;
    const int kvHead = head / (numHeads / numKvHeads);
    const size_t o = ((size_t) (qStart + row) * numHeads + head) * headDim;
    rkv_naive_attention_row(q + o, kvCache, blockTables + (size_t) seq * maxBlocks,
                            rkv_first_key(past + row, window), past + row,
                            kvHead, numKvHeads, headDim, tokensPerBlock, scale, out + o);
}

// ---------------------------------------------------------------------------------------------
// v2: tiled, tensor cores
// ---------------------------------------------------------------------------------------------
namespace rkv_prefill {

using namespace nvcuda;
typedef __nv_bfloat16 bf16;

constexpr int BM = 64;        // query rows per block
constexpr int BN = 64;        // keys per tile
constexpr int NWARPS = 4;     // 16 query rows per warp
constexpr int NTHREADS = NWARPS * 32;

template <int D>
struct Layout {
    static constexpr int LDQ = D + 8;                          // bf16 row stride of Q, K, V tiles
    static constexpr int LDS = (D > BN ? D : BN) + 4;          // fp32 row stride of the scratch
    static constexpr int LDP = BN + 8;                         // bf16 row stride of P
    static constexpr size_t Q_ELEMS = (size_t) BM * LDQ;
    static constexpr size_t KV_ELEMS = (size_t) BN * LDQ;
    static constexpr size_t SCR_FLOATS = (size_t) 16 * LDS;    // per warp
    static constexpr size_t P_ELEMS = (size_t) 16 * LDP;       // per warp
    static constexpr size_t BYTES = (Q_ELEMS + 2 * KV_ELEMS) * 2 + NWARPS * SCR_FLOATS * 4
                                  + NWARPS * P_ELEMS * 2;
};

template <int D>
__device__ __forceinline__ void prefill_tiled(
        const float* __restrict__ q, const unsigned short* __restrict__ kvCache,
        const int* __restrict__ queryStart, const int* __restrict__ kvLens,
        const int* __restrict__ blockTables, float* __restrict__ out,
        int numHeads, int numKvHeads, int tokensPerBlock, int maxBlocks, float scale, int window) {
    static_assert(D % 16 == 0 && D >= 16 && D <= 128, "head dim must be 16..128, a multiple of 16");
    using L = Layout<D>;
    constexpr int LDQ = L::LDQ, LDS = L::LDS, LDP = L::LDP;
    constexpr int HALF = D / 2;   // output columns per lane

    extern __shared__ __align__(128) unsigned char smem[];
    bf16* sQ = reinterpret_cast<bf16*>(smem);
    bf16* sK = sQ + L::Q_ELEMS;
    bf16* sV = sK + L::KV_ELEMS;
    float* sScr = reinterpret_cast<float*>(sV + L::KV_ELEMS);
    bf16* sP = reinterpret_cast<bf16*>(sScr + NWARPS * L::SCR_FLOATS);

    const int seq = blockIdx.z;
    const int head = blockIdx.y;
    const int qStart = queryStart[seq];
    const int qLen = queryStart[seq + 1] - qStart;
    const int q0 = (gridDim.x - 1 - blockIdx.x) * BM;   // longest (latest) query tiles first
    if (q0 >= qLen) return;
    const int kvLen = kvLens[seq];
    const int past = kvLen - qLen;
    const int kvHead = head / (numHeads / numKvHeads);
    const int rows = min(BM, qLen - q0);
    const int kvEnd = min(kvLen, past + q0 + rows);     // keys [kvBegin, kvEnd) are seen by some row
    const int kvBegin = rkv_first_key(past + q0, window); // the first row's window starts there (0 without one)
    const int* table = blockTables + (size_t) seq * maxBlocks;
    const size_t headStride = (size_t) tokensPerBlock * D;
    const size_t vDelta = (size_t) numKvHeads * headStride;

    const int tid = threadIdx.x;
    const int warp = tid >> 5;
    const int lane = tid & 31;

    // Q tile, split into bf16 hi + lo parts (q = hi + lo to ~2^-17 relative): QK^T = hi K^T + lo K^T
    // keeps q's f32 precision on bf16 tensor cores. hi goes to the Q tile, lo (temporarily) to the
    // K tile; rows past qLen are zero.
    for (int i = tid; i < BM * (D / 4); i += NTHREADS) {
        const int r = i / (D / 4);
        const int c = (i - r * (D / 4)) * 4;
        float4 x = make_float4(0.f, 0.f, 0.f, 0.f);
        if (r < rows) {
            x = *reinterpret_cast<const float4*>(q + ((size_t) (qStart + q0 + r) * numHeads + head) * D + c);
        }
        const __nv_bfloat162 h01 = __floats2bfloat162_rn(x.x, x.y);
        const __nv_bfloat162 h23 = __floats2bfloat162_rn(x.z, x.w);
        const float2 f01 = __bfloat1622float2(h01);
        const float2 f23 = __bfloat1622float2(h23);
        const __nv_bfloat162 l01 = __floats2bfloat162_rn(x.x - f01.x, x.y - f01.y);
        const __nv_bfloat162 l23 = __floats2bfloat162_rn(x.z - f23.x, x.w - f23.y);
        __nv_bfloat162* hq = reinterpret_cast<__nv_bfloat162*>(sQ + r * LDQ + c);
        __nv_bfloat162* lq = reinterpret_cast<__nv_bfloat162*>(sK + r * LDQ + c);
        hq[0] = h01;
        hq[1] = h23;
        lq[0] = l01;
        lq[1] = l23;
    }
    __syncthreads();

    wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major> qHi[D / 16], qLo[D / 16];
#pragma unroll
    for (int kk = 0; kk < D / 16; kk++) {
        wmma::load_matrix_sync(qHi[kk], sQ + warp * 16 * LDQ + kk * 16, LDQ);
        wmma::load_matrix_sync(qLo[kk], sK + warp * 16 * LDQ + kk * 16, LDQ);
    }

    // Lane ownership for softmax and output: row r of the warp's 16, columns of half h.
    const int r = lane & 15;
    const int h = lane >> 4;
    const int myRow = q0 + warp * 16 + r;            // query index within the sequence
    const int myLast = past + myRow;                 // last key this row attends
    const int myFirst = rkv_first_key(myLast, window); // first key this row attends
    const int warpFirstRow = q0 + warp * 16;
    const int warpLast = past + warpFirstRow + 15;   // last key any row of this warp attends
    const int warpBegin = rkv_first_key(past + warpFirstRow, window);   // first key any row of this warp attends
    const float sl2 = scale * RKV_LOG2E;

    float* scr = sScr + warp * L::SCR_FLOATS;
    bf16* pw = sP + warp * L::P_ELEMS;
    float o[HALF];
#pragma unroll
    for (int c = 0; c < HALF; c++) o[c] = 0.f;
    float m = -INFINITY, l = 0.f;

    for (int j0 = kvBegin / BN * BN; j0 < kvEnd; j0 += BN) {
        __syncthreads();   // everyone is done with the previous K/V tile
        for (int i = tid; i < BN * (D / 8); i += NTHREADS) {
            const int rr = i / (D / 8);
            const int c = (i - rr * (D / 8)) * 8;
            const int j = j0 + rr;
            uint4 kx = make_uint4(0u, 0u, 0u, 0u), vx = make_uint4(0u, 0u, 0u, 0u);
            if (j < kvEnd && j >= kvBegin) {   // keys before the window: zeros, their blocks never read
                const int pg = j / tokensPerBlock;
                const int off = j - pg * tokensPerBlock;
                const unsigned short* base =
                        kvCache + ((size_t) table[pg] * 2 * numKvHeads + kvHead) * headStride + (size_t) off * D + c;
                kx = *reinterpret_cast<const uint4*>(base);
                vx = *reinterpret_cast<const uint4*>(base + vDelta);
            }
            *reinterpret_cast<uint4*>(sK + rr * LDQ + c) = kx;
            *reinterpret_cast<uint4*>(sV + rr * LDQ + c) = vx;
        }
        __syncthreads();
        if (warpFirstRow >= qLen || j0 > warpLast || j0 + BN <= warpBegin) continue;   // nothing for this warp

        // S = Q K^T (16 x 64) -> scratch
#pragma unroll
        for (int nj = 0; nj < BN / 16; nj++) {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> sFrag;
            wmma::fill_fragment(sFrag, 0.f);
#pragma unroll
            for (int kk = 0; kk < D / 16; kk++) {
                wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::col_major> kFrag;
                wmma::load_matrix_sync(kFrag, sK + nj * 16 * LDQ + kk * 16, LDQ);
                wmma::mma_sync(sFrag, qLo[kk], kFrag, sFrag);
                wmma::mma_sync(sFrag, qHi[kk], kFrag, sFrag);
            }
            wmma::store_matrix_sync(scr + nj * 16, sFrag, LDS, wmma::mem_row_major);
        }
        __syncwarp();

        // Online softmax over this lane's 32 scores (row r, columns h*32 .. h*32+31).
        float sv[32];
        float mx = -INFINITY;
#pragma unroll
        for (int c4 = 0; c4 < 8; c4++) {
            const float4 s4 = *reinterpret_cast<const float4*>(scr + r * LDS + h * 32 + c4 * 4);
            const float s[4] = {s4.x, s4.y, s4.z, s4.w};
#pragma unroll
            for (int e = 0; e < 4; e++) {
                const int j = j0 + h * 32 + c4 * 4 + e;
                const float x = (j <= myLast && j >= myFirst && j < kvEnd) ? s[e] * sl2 : -INFINITY;
                sv[c4 * 4 + e] = x;
                mx = fmaxf(mx, x);
            }
        }
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 16));
        const float mNew = fmaxf(m, mx);
        // mNew is -inf only for padding rows (row >= qLen), whose output is never written, and for a row whose
        // window starts past this tile (nothing seen yet: alpha 1, p 0).
        const float alpha = mNew == -INFINITY ? 1.f : rkv_exp2(m - mNew);
        const float mUse = mNew == -INFINITY ? 0.f : mNew;
        float psum = 0.f;
#pragma unroll
        for (int c8 = 0; c8 < 4; c8++) {
            __nv_bfloat162 w[4];
#pragma unroll
            for (int e = 0; e < 4; e++) {
                const float p0 = rkv_exp2(sv[c8 * 8 + 2 * e] - mUse);
                const float p1 = rkv_exp2(sv[c8 * 8 + 2 * e + 1] - mUse);
                psum += p0 + p1;
                w[e] = __floats2bfloat162_rn(p0, p1);
            }
            *reinterpret_cast<uint4*>(pw + r * LDP + h * 32 + c8 * 8) = *reinterpret_cast<const uint4*>(w);
        }
        psum += __shfl_xor_sync(0xffffffffu, psum, 16);
        l = l * alpha + psum;
        m = mNew;
        __syncwarp();

        // PV (16 x D) -> scratch (S is consumed)
        wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major> pFrag[BN / 16];
#pragma unroll
        for (int kk = 0; kk < BN / 16; kk++) wmma::load_matrix_sync(pFrag[kk], pw + kk * 16, LDP);
#pragma unroll
        for (int nd = 0; nd < D / 16; nd++) {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> oFrag;
            wmma::fill_fragment(oFrag, 0.f);
#pragma unroll
            for (int kk = 0; kk < BN / 16; kk++) {
                wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::row_major> vFrag;
                wmma::load_matrix_sync(vFrag, sV + kk * 16 * LDQ + nd * 16, LDQ);
                wmma::mma_sync(oFrag, pFrag[kk], vFrag, oFrag);
            }
            wmma::store_matrix_sync(scr + nd * 16, oFrag, LDS, wmma::mem_row_major);
        }
        __syncwarp();
#pragma unroll
        for (int c4 = 0; c4 < HALF / 4; c4++) {
            const float4 pv = *reinterpret_cast<const float4*>(scr + r * LDS + h * HALF + c4 * 4);
            o[c4 * 4 + 0] = o[c4 * 4 + 0] * alpha + pv.x;
            o[c4 * 4 + 1] = o[c4 * 4 + 1] * alpha + pv.y;
            o[c4 * 4 + 2] = o[c4 * 4 + 2] * alpha + pv.z;
            o[c4 * 4 + 3] = o[c4 * 4 + 3] * alpha + pv.w;
        }
        __syncwarp();
    }

    if (myRow < qLen) {
        const float inv = 1.f / l;
        float* op = out + ((size_t) (qStart + myRow) * numHeads + head) * D + h * HALF;
#pragma unroll
        for (int c4 = 0; c4 < HALF / 4; c4++) {
            *reinterpret_cast<float4*>(op + c4 * 4) =
                    make_float4(o[c4 * 4] * inv, o[c4 * 4 + 1] * inv, o[c4 * 4 + 2] * inv, o[c4 * 4 + 3] * inv);
        }
    }
}

}  // namespace rkv_prefill

#define RKV_PREFILL_KERNEL(D)                                                                          \
    extern "C" __global__ void __launch_bounds__(rkv_prefill::NTHREADS) attention_prefill_d##D(       \
            const float* __restrict__ q, const unsigned short* __restrict__ kvCache,                   \
            const int* __restrict__ queryStart, const int* __restrict__ kvLens,                        \
            const int* __restrict__ blockTables, float* __restrict__ out,                              \
            int numHeads, int numKvHeads, int headDim, int tokensPerBlock, int maxBlocks, float scale,  \
            int window) {                                                                              \
        (void) headDim; /* must equal D */                                                            \
        rkv_prefill::prefill_tiled<D>(q, kvCache, queryStart, kvLens, blockTables, out,               \
                                      numHeads, numKvHeads, tokensPerBlock, maxBlocks, scale, window); \
    }

RKV_PREFILL_KERNEL(16)
RKV_PREFILL_KERNEL(32)
RKV_PREFILL_KERNEL(64)
RKV_PREFILL_KERNEL(128)

#undef RKV_PREFILL_KERNEL

// ---------------------------------------------------------------------------------------------
// v3: mma.sync, registers (prefill_mma.cuh)
// ---------------------------------------------------------------------------------------------
#include "prefill_mma.cuh"

// The configurations the library launches (CudaAttention mirrors BM, threads and shared memory).
// Chosen by attention_test's `prefill` benchmark on an H100 (Hq 32 / Hkv 8, 4k-128k): for D 128, two m-tiles
// per warp and 8 warps (BM 256, Q re-read from shared memory) reached 234-284 TFLOP/s where one m-tile with Q in
// registers reached 189-221; for D 64, two m-tiles and 4 warps (BM 128, Q in registers) 237 against 227.
typedef rkv_prefill_mma::Cfg<64, 2, 4, 64, true> RkvPrefillMmaD64;
typedef rkv_prefill_mma::Cfg<128, 2, 8, 64, false> RkvPrefillMmaD128;

#define RKV_PREFILL_MMA_KERNEL(NAME, CFG, MINB)                                                        \
    extern "C" __global__ void __launch_bounds__(CFG::NTHREADS, MINB) NAME(                            \
            const float* __restrict__ q, const unsigned short* __restrict__ kvCache,                   \
            const int* __restrict__ queryStart, const int* __restrict__ kvLens,                        \
            const int* __restrict__ blockTables, float* __restrict__ out,                              \
            int numHeads, int numKvHeads, int headDim, int tokensPerBlock, int maxBlocks, float scale,  \
            int window) {                                                                              \
        (void) headDim; /* must equal CFG::D */                                                        \
        rkv_prefill_mma::prefill<CFG>(q, kvCache, queryStart, kvLens, blockTables, out,               \
                                      numHeads, numKvHeads, tokensPerBlock, maxBlocks, scale, window); \
    }

RKV_PREFILL_MMA_KERNEL(attention_prefill_mma_d64, RkvPrefillMmaD64, 2)
RKV_PREFILL_MMA_KERNEL(attention_prefill_mma_d128, RkvPrefillMmaD128, 1)

// v4 (prefill_wgmma.cuh): sm_90a warpgroup MMAs; a trap on every other target (the library launches v3 there).
#include "prefill_wgmma.cuh"

typedef rkv_prefill_wgmma::Cfg<64, 128> RkvPrefillWgmmaD64;
typedef rkv_prefill_wgmma::Cfg<128, 128> RkvPrefillWgmmaD128;

// One extern "C" entry point NAME running NS::prefill<CFG> (v4: NS rkv_prefill_wgmma, v5: rkv_prefill_ws).
#define RKV_PREFILL_HOPPER_KERNEL(NAME, NS, CFG)                                                       \
    extern "C" __global__ void __launch_bounds__(CFG::NTHREADS, 1) NAME(                               \
            const float* __restrict__ q, const unsigned short* __restrict__ kvCache,                   \
            const int* __restrict__ queryStart, const int* __restrict__ kvLens,                        \
            const int* __restrict__ blockTables, float* __restrict__ out,                              \
            int numHeads, int numKvHeads, int headDim, int tokensPerBlock, int maxBlocks, float scale,  \
            int window) {                                                                              \
        (void) headDim; /* must equal CFG::D */                                                        \
        (void) window; /* full attention only: refused by the library for a windowed layer */         \
        NS::prefill<CFG>(q, kvCache, queryStart, kvLens, blockTables, out, numHeads, numKvHeads,      \
                         tokensPerBlock, maxBlocks, scale);                                            \
    }
#define RKV_PREFILL_WGMMA_KERNEL(NAME, CFG) RKV_PREFILL_HOPPER_KERNEL(NAME, rkv_prefill_wgmma, CFG)

RKV_PREFILL_WGMMA_KERNEL(attention_prefill_wgmma_d64, RkvPrefillWgmmaD64)
RKV_PREFILL_WGMMA_KERNEL(attention_prefill_wgmma_d128, RkvPrefillWgmmaD128)

// v5 (prefill_wgmma_ws.cuh): v4 warp-specialised (a cp.async producer warpgroup, two consumers taking turns,
// softmax overlapping PV); sm_90a only, a trap elsewhere.
#include "prefill_wgmma_ws.cuh"

typedef rkv_prefill_ws::Cfg<64, 128, 3> RkvPrefillWsD64;
typedef rkv_prefill_ws::Cfg<128, 128, 2> RkvPrefillWsD128;

#define RKV_PREFILL_WS_KERNEL(NAME, CFG) RKV_PREFILL_HOPPER_KERNEL(NAME, rkv_prefill_ws, CFG)

RKV_PREFILL_WS_KERNEL(attention_prefill_ws_d64, RkvPrefillWsD64)
RKV_PREFILL_WS_KERNEL(attention_prefill_ws_d128, RkvPrefillWsD128)

// Writes 1 to flag[0] where this image's code for the running device has the v4 (sm_90a) kernels, else 0:
// the library launches v4 only after this probe says 1 (an image built for plain sm_90 traps in v4).
extern "C" __global__ void attention_prefill_wgmma_probe(int* flag) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    flag[0] = 1;
#else
    flag[0] = 0;
#endif
}
