// rocket_decode.cu: RocketKV stage 2 (page selection) and sparse attention of a decode step, whole
// batch, one layer. CPU twin: CpuRocketKv.sparseDecode -> RocketKv.selectPages (PageScores, TopK),
// then exact attention over the selected pages' existing slots.
//
//   q          f32  [numSeqs][numHeads * headDim]   the step's queries (after RoPE)
//   kvCache    bf16 [numBlocks][2 (K|V)][numKvHeads][tokensPerBlock][headDim]
//   ktCache    KT   [numKtPages][2 (min|max)][numKvHeads][headDim]  (e5m2 bytes or bf16 bits, see rocket_kt.cu)
//   kvLens     i32  [numSeqs]  cache slots of each sequence (0 = a padding sequence: zero output)
//   tables     i32  [numSeqs][maxBlocks]  block ids, -1 padded
//   selPages   i32  [numSeqs][numKvHeads][topk]  selected logical page indices, ascending (scratch)
//   selCount   i32  [numSeqs][numKvHeads]        how many (min(topk, pages); 0 for padding)
//   pageWork   f32  [numSeqs][numKvHeads][G + 1][maxPages]  logits / exponentials per head, then the
//                   group score (scratch; maxPages = maxBlocks * tokensPerBlock / pageSize)
//   out        f32  [numSeqs][numHeads * headDim]
//   workspace  f32  numSeqs * numHeads * numSplits * (headDim + 2): acc [S][H][splits][D], then
//                   ml [S][H][splits][2] (max in log2 units, sum) -- only when numSplits > 1
//
// Kernels:
//   rocket_select_{fp8,bf16}_g{1,2,4,8,16}  grid (numSeqs, numKvHeads), block 256, static smem.
//       One block per (sequence, KV head) does the whole selection: channel filter (topr < D: the
//       topr largest sum_h |q[h,d]|, ties lower channel, by exact ranking), sign per channel
//       (sum_h q[h,d] > 0 reads kt_max), page logits (thread = page, sequential fp32 dot over the
//       channels without FMA, zero query channels skipped, times scale), per head softmax over the
//       pages (exact fp32 max; (float) exp((double) (x - max)); fp64 sum; fp32 e * (float) (1/sum)
//       added over the heads in order), mean over the group (/ (float) G), then block top-k
//       (rocket_common.cuh). Those are the CPU's operations in the CPU's order, so the scores are
//       bit-identical to PageScores' except where 1/sum sits on an fp32 rounding boundary, and the
//       selection (ties: lower page) is the CPU's. topk >= pages selects every page without scoring.
//       The template G is the smallest of 1, 2, 4, 8, 16 >= the group size (runtime G <= it).
//   rocket_sparse_attn_d{16,32,64,128,256}_g{1,2,4,8}  grid (numSeqs, numKvHeads * headChunks,
//       numSplits), block 128, static smem. The split-KV structure of attention_decode.cu v2 over a
//       gathered token list: split z takes selected entries [z * pagesPerSplit, (z+1) * pagesPerSplit)
//       of its (sequence, KV head); token t of the split is slot sel[t / P] * P + t % P, skipped
//       past kvLen (the partial last page). D/8 lanes read a 16-byte slice of one token's K and V;
//       4 tokens per lane group per step, loads issued before use; GT query heads of the group per
//       block (each K/V element read once per block); online softmax in fp32 (exp2 of prescaled
//       scores). An empty split (fewer pages, or a padding sequence) writes m = -inf, l = 0.
//   rocket_sparse_merge  grid (numSeqs, numHeads), block 128: combines the splits (all of them are
//       written); a row whose splits are all empty gets zeros.
//
// Launch parameters depend only on numSeqs, the shapes, the RocketKV parameters, the KV pool and
// maxBlocks (never on kvLens): the step can be captured in a CUDA graph and replayed.
#include "rocket_common.cuh"
#include <cuda_fp16.h>

#define RKV_SEL_THREADS 512
#define RKV_SEL_MAX_D 256

// Shared by both selection kernels: the group's queries in shared memory, channel-filtered (topr < D),
// and the per-channel sign flag (1: read kt_max).
template <int GM>
__device__ __forceinline__ void load_group_queries(const float* __restrict__ q, float* qs, float* chan, int seq, int g,
                                                   int numHeads, int G, int D, int topr) {
    const int tid = threadIdx.x;
    const int bd = blockDim.x;
    for (int e = tid; e < G * D; e += bd) qs[e] = q[((size_t) seq * numHeads + g * G) * D + e];
    __syncthreads();
    if (topr < D) {
        for (int d = tid; d < D; d += bd) {
            float a = 0.f;
            for (int h = 0; h < G; h++) a = __fadd_rn(a, fabsf(qs[h * D + d]));
            chan[d] = a;
        }
        __syncthreads();
        bool keep[(RKV_SEL_MAX_D + 127) / 128];
        for (int d = tid, i = 0; d < D; d += bd, i++) {
            const float a = chan[d];
            int rank = 0;
            for (int o = 0; o < D; o++) {
                const float b = chan[o];
                rank += (b > a || (b == a && o < d)) ? 1 : 0;
            }
            keep[i] = rank < topr;
        }
        __syncthreads();
        for (int d = tid, i = 0; d < D; d += bd, i++) {
            if (!keep[i]) {
                for (int h = 0; h < G; h++) qs[h * D + d] = 0.f;
            }
        }
        __syncthreads();
    }
    for (int d = tid; d < D; d += bd) {
        float s = 0.f;
        for (int h = 0; h < G; h++) s = __fadd_rn(s, qs[h * D + d]);
        chan[d] = s > 0.f ? 1.f : 0.f;   // 1: read kt_max
    }
    __syncthreads();
}

// Kernel 1 of the selection: page logits, one page per thread for all heads of the group, blocks of
// RKV_LOGIT_THREADS pages: grid (numSeqs * numKvHeads, ceil(maxPages / RKV_LOGIT_THREADS)), so the
// sequential per-page dot products (the CPU's order) run on many SMs at once.
#define RKV_LOGIT_THREADS 128
template <class KT, int GM>
__device__ __forceinline__ void page_logits(
        const float* __restrict__ q, const typename KT::T* __restrict__ kt, const int* __restrict__ kvLens,
        const int* __restrict__ blockTables, float* __restrict__ pageWork, int numHeads, int numKvHeads,
        int headDim, int pageSize, int tokensPerBlock, int maxBlocks, int topk, int topr, float scale) {
    __shared__ __align__(16) float qs[GM * RKV_SEL_MAX_D];
    __shared__ float chan[RKV_SEL_MAX_D];
    const int seq = blockIdx.x / numKvHeads;
    const int g = blockIdx.x - seq * numKvHeads;
    const int D = headDim;
    const int G = numHeads / numKvHeads;
    const int len = kvLens[seq];
    const int pages = (len + pageSize - 1) / pageSize;
    if (len <= 0 || topk >= pages || blockIdx.y * RKV_LOGIT_THREADS >= pages) return;   // block-uniform
    load_group_queries<GM>(q, qs, chan, seq, g, numHeads, G, D, topr);
    const int p = blockIdx.y * RKV_LOGIT_THREADS + threadIdx.x;
    if (p >= pages) return;
    const int maxPages = maxBlocks * (tokensPerBlock / pageSize);
    float* work = pageWork + ((size_t) seq * numKvHeads + g) * (G + 1) * maxPages;   // [G + 1][maxPages]
    const int pagesPerBlock = tokensPerBlock / pageSize;
    const int* table = blockTables + (size_t) seq * maxBlocks;
    const int row = numKvHeads * D;
    constexpr int PER16 = 16 / KT::BYTES;   // KT elements per 16-byte load
    const int slot = p * pageSize;
    const size_t pp = (size_t) table[slot / tokensPerBlock] * pagesPerBlock + (slot % tokensPerBlock) / pageSize;
    const uint4* mn = reinterpret_cast<const uint4*>(kt + (pp * 2 + 0) * row + (size_t) g * D);
    const uint4* mx = reinterpret_cast<const uint4*>(kt + (pp * 2 + 1) * row + (size_t) g * D);
    float y[GM];
#pragma unroll
    for (int h = 0; h < GM; h++) y[h] = 0.f;
#pragma unroll 4
    for (int c = 0; c < D / PER16; c++) {   // unrolled: the loads of 4 chunks go out together
        const uint4 a = mn[c];
        const uint4 b = mx[c];
        const typename KT::T* ae = reinterpret_cast<const typename KT::T*>(&a);
        const typename KT::T* be = reinterpret_cast<const typename KT::T*>(&b);
#pragma unroll
        for (int i = 0; i < PER16; i++) {
            const int d = c * PER16 + i;
            const float bound = chan[d] != 0.f ? KT::decode(be[i]) : KT::decode(ae[i]);
#pragma unroll
            for (int h = 0; h < GM; h++) {
                if (h < G) {
                    const float qd = qs[h * D + d];
                    if (qd != 0.f) y[h] = __fadd_rn(y[h], __fmul_rn(qd, bound));
                }
            }
        }
    }
#pragma unroll
    for (int h = 0; h < GM; h++) {
        if (h < G) work[(size_t) h * maxPages + p] = __fmul_rn(y[h], scale);
    }
}

// Kernel 1, v2 (head dims 16..128): one thread per (page, head of the group), the head's filtered
// query and the channel signs in registers, the channel loop unrolled at compile time; the same
// per-page operations in the same order as page_logits (and the CPU): sum over channels in order of
// q[d] * bound[d], skipping zero query channels, then times scale. fp8 e5m2 is the high byte of an
// fp16, so it widens exactly by a shift and one conversion. grid (numSeqs * numKvHeads,
// ceil(maxPages * G / 128)), block 128: thread i of the (sequence, KV head) takes page i / G, head i % G.
__device__ __forceinline__ float rkv_kt_widen(unsigned char b) {
    return __half2float(__ushort_as_half((unsigned short) (b << 8)));
}
__device__ __forceinline__ float rkv_kt_widen(unsigned short b) {
    return rkv_bf16_to_f32(b);
}

template <class KT, int D>
__device__ __forceinline__ void page_logits_v2(
        const float* __restrict__ q, const typename KT::T* __restrict__ kt, const int* __restrict__ kvLens,
        const int* __restrict__ blockTables, float* __restrict__ pageWork, int numHeads, int numKvHeads,
        int pageSize, int tokensPerBlock, int maxBlocks, int topk, int topr, float scale) {
    __shared__ __align__(16) float qs[16 * D];
    __shared__ float chan[D];
    const int seq = blockIdx.x / numKvHeads;
    const int g = blockIdx.x - seq * numKvHeads;
    const int G = numHeads / numKvHeads;
    const int len = kvLens[seq];
    const int pages = (len + pageSize - 1) / pageSize;
    if (len <= 0 || topk >= pages || blockIdx.y * RKV_LOGIT_THREADS >= pages * G) return;   // block-uniform
    load_group_queries<16>(q, qs, chan, seq, g, numHeads, G, D, topr);
    const int i = blockIdx.y * RKV_LOGIT_THREADS + threadIdx.x;
    if (i >= pages * G) return;
    const int p = i / G;
    const int h = i - p * G;
    float qr[D];
    unsigned useMax[(D + 31) / 32];
#pragma unroll
    for (int w = 0; w < (D + 31) / 32; w++) useMax[w] = 0u;
#pragma unroll
    for (int d = 0; d < D; d++) {
        qr[d] = qs[h * D + d];
        if (chan[d] != 0.f) useMax[d / 32] |= 1u << (d % 32);
    }
    const int maxPages = maxBlocks * (tokensPerBlock / pageSize);
    float* work = pageWork + ((size_t) seq * numKvHeads + g) * (G + 1) * maxPages;
    const int slot = p * pageSize;
    const size_t pp = (size_t) blockTables[(size_t) seq * maxBlocks + slot / tokensPerBlock] * (tokensPerBlock / pageSize)
            + (slot % tokensPerBlock) / pageSize;
    const int row = numKvHeads * D;
    const uint4* mn = reinterpret_cast<const uint4*>(kt + (pp * 2 + 0) * row + (size_t) g * D);
    const uint4* mx = reinterpret_cast<const uint4*>(kt + (pp * 2 + 1) * row + (size_t) g * D);
    constexpr int PER16 = 16 / KT::BYTES;
    constexpr int CHUNKS = D / PER16;
    uint4 a[CHUNKS], b[CHUNKS];
#pragma unroll
    for (int c = 0; c < CHUNKS; c++) {   // all loads first
        a[c] = mn[c];
        b[c] = mx[c];
    }
    float y = 0.f;
#pragma unroll
    for (int c = 0; c < CHUNKS; c++) {
        const typename KT::T* ae = reinterpret_cast<const typename KT::T*>(&a[c]);
        const typename KT::T* be = reinterpret_cast<const typename KT::T*>(&b[c]);
#pragma unroll
        for (int e = 0; e < PER16; e++) {
            const int d = c * PER16 + e;
            const bool hi = (useMax[d / 32] >> (d % 32)) & 1u;
            const float bound = rkv_kt_widen(hi ? be[e] : ae[e]);
            const float t = __fadd_rn(y, __fmul_rn(qr[d], bound));
            y = qr[d] != 0.f ? t : y;
        }
    }
    work[(size_t) h * maxPages + p] = __fmul_rn(y, scale);
}

#define RKV_LOGITS_V2(NAME, KT, D)                                                                           \
    extern "C" __global__ void __launch_bounds__(RKV_LOGIT_THREADS) rocket_page_logits_##NAME##_d##D(          \
            const float* __restrict__ q, const KT::T* __restrict__ kt, const int* __restrict__ kvLens,        \
            const int* __restrict__ blockTables, float* __restrict__ pageWork, int numHeads,                  \
            int numKvHeads, int pageSize, int tokensPerBlock, int maxBlocks, int topk, int topr,              \
            float scale) {                                                                                    \
        page_logits_v2<KT, D>(q, kt, kvLens, blockTables, pageWork, numHeads, numKvHeads, pageSize,          \
                              tokensPerBlock, maxBlocks, topk, topr, scale);                                  \
    }
RKV_LOGITS_V2(fp8, RkvKtFp8, 16)
RKV_LOGITS_V2(fp8, RkvKtFp8, 32)
RKV_LOGITS_V2(fp8, RkvKtFp8, 64)
RKV_LOGITS_V2(fp8, RkvKtFp8, 128)
RKV_LOGITS_V2(bf16, RkvKtBf16, 16)
RKV_LOGITS_V2(bf16, RkvKtBf16, 32)
RKV_LOGITS_V2(bf16, RkvKtBf16, 64)
RKV_LOGITS_V2(bf16, RkvKtBf16, 128)
#undef RKV_LOGITS_V2

// Kernel 2 of the selection: per (sequence, KV head), softmax over the pages per head, the group mean
// and the top-k, from the logits kernel 1 wrote.
template <int GM>
__device__ __forceinline__ void select_pages(
        const int* __restrict__ kvLens, int* __restrict__ selPages, int* __restrict__ selCount,
        float* __restrict__ pageWork, int numHeads, int numKvHeads, int pageSize, int tokensPerBlock,
        int maxBlocks, int topk) {
    __shared__ RkvBlockShared sh;
    const int seq = blockIdx.x;
    const int g = blockIdx.y;
    const int tid = threadIdx.x;
    const int bd = blockDim.x;
    const int G = numHeads / numKvHeads;
    const int len = kvLens[seq];
    int* sel = selPages + ((size_t) seq * numKvHeads + g) * topk;
    int* count = selCount + (size_t) seq * numKvHeads + g;
    if (len <= 0) {
        if (tid == 0) *count = 0;
        return;
    }
    const int pages = (len + pageSize - 1) / pageSize;
    if (topk >= pages) {
        for (int p = tid; p < pages; p += bd) sel[p] = p;
        if (tid == 0) *count = pages;
        return;
    }
    const int maxPages = maxBlocks * (tokensPerBlock / pageSize);
    float* work = pageWork + ((size_t) seq * numKvHeads + g) * (G + 1) * maxPages;   // [G + 1][maxPages]
    float* score = work + (size_t) G * maxPages;
    // softmax over the pages per head, all heads at once (one max and one sum reduction for the group;
    // per head the same per-thread order and reduction tree as rkv_block_max / rkv_block_sum_double);
    // probabilities added over the heads in order, then the mean
    __shared__ float shMax[32][GM];
    __shared__ double shSum[32][GM];
    const int lane = tid & 31, warp = tid >> 5, nw = bd >> 5;
    float m[GM];
#pragma unroll
    for (int h = 0; h < GM; h++) m[h] = -INFINITY;
    for (int p = tid; p < pages; p += bd) {
#pragma unroll
        for (int h = 0; h < GM; h++) {
            if (h < G) m[h] = fmaxf(m[h], work[(size_t) h * maxPages + p]);
        }
    }
#pragma unroll
    for (int h = 0; h < GM; h++) {
        if (h < G) {
            float v = m[h];
#pragma unroll
            for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
            if (lane == 0) shMax[warp][h] = v;
        }
    }
    __syncthreads();
#pragma unroll
    for (int h = 0; h < GM; h++) {
        if (h < G) {
            float r = shMax[0][h];
            for (int w = 1; w < nw; w++) r = fmaxf(r, shMax[w][h]);
            m[h] = r;
        }
    }
    double sum[GM];
#pragma unroll
    for (int h = 0; h < GM; h++) sum[h] = 0.0;
    for (int p = tid; p < pages; p += bd) {
#pragma unroll
        for (int h = 0; h < GM; h++) {
            if (h < G) {
                float* lg = work + (size_t) h * maxPages;
                const float e = (float) exp((double) __fsub_rn(lg[p], m[h]));
                lg[p] = e;
                sum[h] += e;
            }
        }
    }
#pragma unroll
    for (int h = 0; h < GM; h++) {
        if (h < G) {
            double v = sum[h];
#pragma unroll
            for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
            if (lane == 0) shSum[warp][h] = v;
        }
    }
    __syncthreads();
    float inv[GM];
#pragma unroll
    for (int h = 0; h < GM; h++) {
        inv[h] = 0.f;
        if (h < G) {
            double t = 0.0;
            for (int w = 0; w < nw; w++) t += shSum[w][h];
            inv[h] = (float) (1.0 / t);
        }
    }
    for (int p = tid; p < pages; p += bd) {
        float sc = 0.f;
#pragma unroll
        for (int h = 0; h < GM; h++) {
            if (h < G) sc = __fadd_rn(sc, __fmul_rn(work[(size_t) h * maxPages + p], inv[h]));
        }
        score[p] = __fdiv_rn(sc, (float) G);
    }
    __syncthreads();
    rkv_block_topk_ascending(score, pages, topk, sel, sh);
    if (tid == 0) *count = topk;
}

#define RKV_SELECT_KERNEL(NAME, KT, GM)                                                                    \
    extern "C" __global__ void __launch_bounds__(RKV_LOGIT_THREADS) rocket_page_logits_##NAME##_g##GM(      \
            const float* __restrict__ q, const KT::T* __restrict__ kt, const int* __restrict__ kvLens,     \
            const int* __restrict__ blockTables, float* __restrict__ pageWork, int numHeads,               \
            int numKvHeads, int headDim, int pageSize, int tokensPerBlock, int maxBlocks, int topk,        \
            int topr, float scale) {                                                                       \
        page_logits<KT, GM>(q, kt, kvLens, blockTables, pageWork, numHeads, numKvHeads, headDim, pageSize, \
                            tokensPerBlock, maxBlocks, topk, topr, scale);                                 \
    }
#define RKV_SELECT_KERNELS(NAME, KT) \
    RKV_SELECT_KERNEL(NAME, KT, 1)   \
    RKV_SELECT_KERNEL(NAME, KT, 2)   \
    RKV_SELECT_KERNEL(NAME, KT, 4)   \
    RKV_SELECT_KERNEL(NAME, KT, 8)   \
    RKV_SELECT_KERNEL(NAME, KT, 16)
RKV_SELECT_KERNELS(fp8, RkvKtFp8)
RKV_SELECT_KERNELS(bf16, RkvKtBf16)
#undef RKV_SELECT_KERNELS
#undef RKV_SELECT_KERNEL

extern "C" __global__ void __launch_bounds__(RKV_SEL_THREADS) rocket_select_topk(
        const int* __restrict__ kvLens, int* __restrict__ selPages, int* __restrict__ selCount,
        float* __restrict__ pageWork, int numHeads, int numKvHeads, int pageSize, int tokensPerBlock,
        int maxBlocks, int topk) {
    select_pages<16>(kvLens, selPages, selCount, pageWork, numHeads, numKvHeads, pageSize, tokensPerBlock,
                     maxBlocks, topk);
}

// ---------------------------------------------------------------------------------------------
// Sparse attention over the selected pages
// ---------------------------------------------------------------------------------------------
namespace rkv_sparse {

constexpr int NTHREADS = 128;
constexpr int NW = NTHREADS / 32;
constexpr int U = 4;   // tokens per lane group per step

template <int D, int GT>
__device__ __forceinline__ void sparse_attn(
        const float* __restrict__ q, const unsigned short* __restrict__ kvCache, const int* __restrict__ kvLens,
        const int* __restrict__ blockTables, const int* __restrict__ selPages, const int* __restrict__ selCount,
        float* __restrict__ out, float* __restrict__ workspace, int numHeads, int numKvHeads, int tokensPerBlock,
        int maxBlocks, int pageSize, int topk, int pagesPerSplit, float scale) {
    constexpr int TG = D / 8;            // lanes per token row, 8 channels (16 bytes) each
    constexpr int GPW = 32 / TG;         // tokens (lane groups) per warp
    constexpr int NGRP = NW * GPW;
    constexpr int STRIDE = NGRP * U;     // tokens per block per step
    static_assert(D % 8 == 0 && TG >= 2 && TG <= 32 && (TG & (TG - 1)) == 0, "D/8 must be a power of two in 2..32");
    __shared__ float smM[NW][GT];
    __shared__ float smL[NW][GT];
    __shared__ __align__(16) float smAcc[NW][GT * D];

    const int seq = blockIdx.x;
    const int G = numHeads / numKvHeads;
    const int chunks = (G + GT - 1) / GT;
    const int kvHead = blockIdx.y / chunks;
    const int chunk = blockIdx.y - kvHead * chunks;
    const int split = blockIdx.z;
    const int numSplits = gridDim.z;
    const int len = kvLens[seq];
    const int count = len > 0 ? selCount[(size_t) seq * numKvHeads + kvHead] : 0;
    const int e0 = split * pagesPerSplit;
    const int e1 = min(count, e0 + pagesPerSplit);
    const int t0 = e0 * pageSize;             // the split's tokens: [t0, t1) of the gathered list
    const int t1 = e1 > e0 ? e1 * pageSize : t0;
    const int* sel = selPages + ((size_t) seq * numKvHeads + kvHead) * topk;

    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int tl = lane & (TG - 1);
    const int gw = lane / TG;
    const int headBase = kvHead * G + chunk * GT;
    const int nHeads = min(GT, G - chunk * GT);

    const float sl2 = scale * RKV_LOG2E;
    float qr[GT][8];
#pragma unroll
    for (int g = 0; g < GT; g++) {
        float4 a = make_float4(0.f, 0.f, 0.f, 0.f), b = a;
        if (g < nHeads) {
            const float4* qp = reinterpret_cast<const float4*>(q + ((size_t) seq * numHeads + headBase + g) * D + tl * 8);
            a = qp[0];
            b = qp[1];
        }
        qr[g][0] = a.x * sl2; qr[g][1] = a.y * sl2; qr[g][2] = a.z * sl2; qr[g][3] = a.w * sl2;
        qr[g][4] = b.x * sl2; qr[g][5] = b.y * sl2; qr[g][6] = b.z * sl2; qr[g][7] = b.w * sl2;
    }
    float m[GT], l[GT], acc[GT][8];
#pragma unroll
    for (int g = 0; g < GT; g++) {
        m[g] = -INFINITY;
        l[g] = 0.f;
#pragma unroll
        for (int e = 0; e < 8; e++) acc[g][e] = 0.f;
    }

    const int* table = blockTables + (size_t) seq * maxBlocks;
    const size_t vDelta = (size_t) numKvHeads * tokensPerBlock * D;
    // the warp's steps are uniform over its lanes (shuffles need all 32)
    for (int tw = t0 + warp * GPW * U; tw < t1; tw += STRIDE) {
        const int tb = tw + gw * U;
        uint4 kx[U], vx[U];
        bool ok[U];
#pragma unroll
        for (int u = 0; u < U; u++) {
            const int t = tb + u;
            ok[u] = false;
            kx[u] = make_uint4(0u, 0u, 0u, 0u);
            vx[u] = kx[u];
            if (t < t1) {
                const int slot = sel[t / pageSize] * pageSize + t % pageSize;
                if (slot < len) {
                    ok[u] = true;
                    const unsigned short* p = kvCache + rkv_k_offset(table[slot / tokensPerBlock], kvHead,
                            slot % tokensPerBlock, numKvHeads, tokensPerBlock, D) + tl * 8;
                    kx[u] = rkv_ld_stream16(p);
                    vx[u] = rkv_ld_stream16(p + vDelta);
                }
            }
        }
        float s[U][GT];
#pragma unroll
        for (int u = 0; u < U; u++) {
            float kf[8];
            rkv_unpack8(kx[u], kf);
#pragma unroll
            for (int g = 0; g < GT; g++) {
                float a = 0.f;
#pragma unroll
                for (int e = 0; e < 8; e++) a = fmaf(qr[g][e], kf[e], a);
                s[u][g] = a;
            }
        }
#pragma unroll
        for (int o = TG / 2; o >= 1; o >>= 1) {
#pragma unroll
            for (int u = 0; u < U; u++) {
#pragma unroll
                for (int g = 0; g < GT; g++) s[u][g] += __shfl_xor_sync(0xffffffffu, s[u][g], o);
            }
        }
        if (!ok[0] && !ok[1] && !ok[2] && !ok[3]) continue;   // no shuffles below
#pragma unroll
        for (int g = 0; g < GT; g++) {
            float mx = -INFINITY;
#pragma unroll
            for (int u = 0; u < U; u++) {
                if (ok[u]) mx = fmaxf(mx, s[u][g]);
            }
            const float mNew = fmaxf(m[g], mx);
            const float alpha = rkv_exp2(m[g] - mNew);   // 0 on the first update (m = -inf)
            float ps = 0.f;
            float p[U];
#pragma unroll
            for (int u = 0; u < U; u++) {
                p[u] = ok[u] ? rkv_exp2(s[u][g] - mNew) : 0.f;
                ps += p[u];
            }
            l[g] = l[g] * alpha + ps;
            m[g] = mNew;
#pragma unroll
            for (int e = 0; e < 8; e++) acc[g][e] *= alpha;
#pragma unroll
            for (int u = 0; u < U; u++) {
                float vf[8];
                rkv_unpack8(vx[u], vf);
#pragma unroll
                for (int e = 0; e < 8; e++) acc[g][e] = fmaf(p[u], vf[e], acc[g][e]);
            }
        }
    }

    // merge the lane groups of a warp (a group that saw no token has m = -inf, l = 0, acc = 0)
#pragma unroll
    for (int o = TG; o < 32; o <<= 1) {
#pragma unroll
        for (int g = 0; g < GT; g++) {
            const float mo = __shfl_xor_sync(0xffffffffu, m[g], o);
            const float lo = __shfl_xor_sync(0xffffffffu, l[g], o);
            const float mn = fmaxf(m[g], mo);
            const float a = m[g] == -INFINITY ? 0.f : rkv_exp2(m[g] - mn);
            const float b = mo == -INFINITY ? 0.f : rkv_exp2(mo - mn);
            l[g] = l[g] * a + lo * b;
#pragma unroll
            for (int e = 0; e < 8; e++) {
                const float ao = __shfl_xor_sync(0xffffffffu, acc[g][e], o);
                acc[g][e] = acc[g][e] * a + ao * b;
            }
            m[g] = mn;
        }
    }
    if (lane < TG) {
#pragma unroll
        for (int g = 0; g < GT; g++) {
            if (lane == 0) {
                smM[warp][g] = m[g];
                smL[warp][g] = l[g];
            }
            float* sa = &smAcc[warp][g * D + tl * 8];
            *reinterpret_cast<float4*>(sa) = make_float4(acc[g][0], acc[g][1], acc[g][2], acc[g][3]);
            *reinterpret_cast<float4*>(sa + 4) = make_float4(acc[g][4], acc[g][5], acc[g][6], acc[g][7]);
        }
    }
    __syncthreads();
    // merge the warps; write the split's result
    for (int i = threadIdx.x; i < GT * D; i += NTHREADS) {
        const int g = i / D;
        const int d = i - g * D;
        if (g >= nHeads) break;
        float M = -INFINITY;
#pragma unroll
        for (int w = 0; w < NW; w++) M = fmaxf(M, smM[w][g]);
        float Lsum = 0.f, A = 0.f;
#pragma unroll
        for (int w = 0; w < NW; w++) {
            const float wt = smM[w][g] == -INFINITY ? 0.f : rkv_exp2(smM[w][g] - M);
            Lsum += smL[w][g] * wt;
            A += smAcc[w][g * D + d] * wt;
        }
        const size_t rowIdx = (size_t) seq * numHeads + headBase + g;
        if (numSplits == 1) {
            out[rowIdx * D + d] = Lsum > 0.f ? A / Lsum : 0.f;
        } else {
            const size_t idx = rowIdx * numSplits + split;
            workspace[idx * D + d] = A;
            if (d == 0) {
                float* ml = workspace + (size_t) gridDim.x * numHeads * numSplits * D;
                ml[2 * idx] = M;
                ml[2 * idx + 1] = Lsum;
            }
        }
    }
}

}  // namespace rkv_sparse

extern "C" __global__ void __launch_bounds__(128) rocket_sparse_merge(
        const float* __restrict__ workspace, float* __restrict__ out, int numHeads, int headDim, int numSplits) {
    const int seq = blockIdx.x;
    const int head = blockIdx.y;
    const int numSeqs = gridDim.x;
    const size_t base = ((size_t) seq * numHeads + head) * numSplits;
    const float* ml = workspace + (size_t) numSeqs * numHeads * numSplits * headDim + 2 * base;
    float M = -INFINITY;
    for (int i = 0; i < numSplits; i++) M = fmaxf(M, ml[2 * i]);
    float Lsum = 0.f;
    for (int i = 0; i < numSplits; i++) {
        if (ml[2 * i] != -INFINITY) Lsum += ml[2 * i + 1] * exp2f(ml[2 * i] - M);
    }
    const float inv = Lsum > 0.f ? 1.f / Lsum : 0.f;
    const float* acc = workspace + base * headDim;
    for (int d = threadIdx.x; d < headDim; d += blockDim.x) {
        float A = 0.f;
        for (int i = 0; i < numSplits; i++) {
            if (ml[2 * i] != -INFINITY) A += acc[(size_t) i * headDim + d] * exp2f(ml[2 * i] - M);
        }
        out[((size_t) seq * numHeads + head) * headDim + d] = A * inv;
    }
}

#define RKV_SPARSE_KERNEL(D, GT, MINB)                                                                       \
    extern "C" __global__ void __launch_bounds__(rkv_sparse::NTHREADS, MINB) rocket_sparse_attn_d##D##_g##GT( \
            const float* __restrict__ q, const unsigned short* __restrict__ kvCache,                          \
            const int* __restrict__ kvLens, const int* __restrict__ blockTables,                              \
            const int* __restrict__ selPages, const int* __restrict__ selCount, float* __restrict__ out,      \
            float* __restrict__ workspace, int numHeads, int numKvHeads, int tokensPerBlock, int maxBlocks,   \
            int pageSize, int topk, int pagesPerSplit, float scale) {                                         \
        rkv_sparse::sparse_attn<D, GT>(q, kvCache, kvLens, blockTables, selPages, selCount, out, workspace,   \
                                       numHeads, numKvHeads, tokensPerBlock, maxBlocks, pageSize, topk,       \
                                       pagesPerSplit, scale);                                                 \
    }
#define RKV_SPARSE_KERNELS_FOR_D(D) \
    RKV_SPARSE_KERNEL(D, 1, 4)      \
    RKV_SPARSE_KERNEL(D, 2, 4)      \
    RKV_SPARSE_KERNEL(D, 4, 4)      \
    RKV_SPARSE_KERNEL(D, 8, 1)
RKV_SPARSE_KERNELS_FOR_D(16)
RKV_SPARSE_KERNELS_FOR_D(32)
RKV_SPARSE_KERNELS_FOR_D(64)
RKV_SPARSE_KERNELS_FOR_D(128)
RKV_SPARSE_KERNELS_FOR_D(256)
#undef RKV_SPARSE_KERNELS_FOR_D
#undef RKV_SPARSE_KERNEL
