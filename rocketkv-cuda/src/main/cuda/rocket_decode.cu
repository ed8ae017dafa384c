// rocket_decode.cu: RocketKV stage 2 (page selection) and sparse attention of a decode step, whole
// batch, one layer. CPU twin: CpuRocketKv.sparseDecode -> RocketKv.selectPages (PageScores, TopK),
// then exact attention over the selected pages' existing slots.
//
//   q          f32  [numSeqs][numHeads * headDim]   the step's queries (after RoPE)
//   k          f32  [numSeqs][numKvHeads * headDim] the step's keys (after RoPE), folded into the KT
//                   cache by the selection kernel; null when the KT cache is already up to date
//   slots      i32  [numSeqs]  the step token's cache slot (-1: a padding sequence)
//   kvCache    bf16 [numBlocks][2 (K|V)][numKvHeads][tokensPerBlock][headDim]
//   ktCache    KT   [numKtPages][2 (min|max)][numKvHeads][headDim]  (e5m2 bytes or bf16 bits, see rocket_kt.cu)
//   kvLens     i32  [numSeqs]  cache slots of each sequence, the step's token included (0 = padding)
//   tables     i32  [numSeqs][maxBlocks]  block ids, -1 padded
//   selPages   i32  [numSeqs][numKvHeads][topk]  selected logical page indices, ascending (scratch)
//   selPhys    i32  [numSeqs][numKvHeads][topk]  their physical KT pages (block * pagesPerBlock + page in block)
//   selCount   i32  [numSeqs][numKvHeads]        how many (min(topk, pages); 0 for padding)
//   pageWork   f32  [numSeqs][numKvHeads][G + 1][maxPages]  logits per head, then (when they do not fit
//                   in shared memory) exponentials and the group score (scratch; maxPages = maxBlocks *
//                   tokensPerBlock / pageSize)
//   counters   i32  zero between launches: blocks finished per (sequence, KV head) for the selection,
//                   per (sequence, KV head, head chunk) for the attention; the last block resets its own
//   out        f32  [numSeqs][numHeads * headDim]
//   workspace  f32  numSeqs * numHeads * numSplits * (headDim + 2): acc [S][H][splits][D], then
//                   ml [S][H][splits][2] (max in log2 units, sum) -- only when numSplits > 1
//
// Kernels (two launches per step and layer):
//   rocket_select_{fp8,bf16}_d{16,32,64,128,256}  grid (numSeqs * numKvHeads, logit blocks), block 256,
//       dynamic smem. KT update of the step's token, page logits spread over many blocks, and in the
//       last block of each (sequence, KV head) the softmax, group mean and top-k (see select_fused).
//       Channel filter (topr < D: the topr largest sum_h |q[h,d]|, ties lower channel, by exact
//       ranking), sign per channel (sum_h q[h,d] > 0 reads kt_max), page logits (sequential fp32 dot
//       over the channels without FMA, zero query channels skipped or adding +-0, times scale): the
//       CPU's operations in the CPU's order. One logit item per (page, head) when D <= 128 and G < 4,
//       else one per page for all its heads (CudaRocketKv sizes the grid the same way). topk >= pages
//       selects every page without scoring.
//   rocket_sparse_attn_d{16,32,64,128,256}_g{1,2,4,8}  grid (numSeqs, numKvHeads * headChunks,
//       numSplits), block 128, static smem. The split body is rkv_split_attention (split_attention.cuh,
//       the same body as attention_decode.cu's split kernels, here with direct loads and butterfly
//       reductions: PIPE 0, TR false) over a gathered token list, SelectedKeys below: split z takes
//       selected entries [z * pagesPerSplit, (z+1) * pagesPerSplit) of its (sequence, KV head); token
//       t of the split is slot sel[t / P] * P + t % P, skipped past kvLen (the partial last page).
//       D/8 lanes read a 16-byte slice of one token's K and V; 4 tokens per lane group per step, loads
//       issued before use; GT query heads of the group per block (each K/V element read once per
//       block); online softmax in fp32 (exp2 of prescaled scores). An empty split (fewer pages, or a
//       padding sequence) writes m = -inf, l = 0. With several splits, the last one to finish merges
//       them (no separate merge launch).
//
// Launch parameters depend only on numSeqs, the shapes, the RocketKV parameters, the KV pool and
// maxBlocks (never on kvLens): the step can be captured in a CUDA graph and replayed.
#include "rocket_common.cuh"
#include "split_attention.cuh"
#include <cuda_fp16.h>

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

// Page logits, one page per thread for all heads of the group (head dim 256): the per-page
// sequential dot products (the CPU's order). Block b of a (sequence, KV head) takes pages
// [b * RKV_LOGIT_THREADS, (b + 1) * RKV_LOGIT_THREADS). kt is written in the same kernel (the KT update
// of the step's token), so it is read through the coherent path (no __restrict__, no const).
#define RKV_LOGIT_THREADS 256
template <class KT, int GM>
__device__ __forceinline__ void page_logits_per_page(
        const float* __restrict__ q, const typename KT::T* kt, const int* __restrict__ blockTables,
        float* __restrict__ work, int seq, int g, int pages, int numHeads, int numKvHeads, int headDim,
        int pageSize, int tokensPerBlock, int maxBlocks, int topr, float scale, int maxPages) {
    __shared__ __align__(16) float qs[GM * RKV_SEL_MAX_D];
    __shared__ float chan[RKV_SEL_MAX_D];
    const int D = headDim;
    const int G = numHeads / numKvHeads;
    load_group_queries<GM>(q, qs, chan, seq, g, numHeads, G, D, topr);
#pragma unroll 1
    for (int p = blockIdx.y * RKV_LOGIT_THREADS + threadIdx.x; p < pages; p += gridDim.y * RKV_LOGIT_THREADS) {
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
}

// Page logits for head dims 16..128: one thread per (page, head of the group), the head's filtered
// query and the channel signs in registers, the channel loop unrolled at compile time; the same
// per-page operations in the same order as page_logits_per_page (and the CPU): sum over channels in
// order of q[d] * bound[d], skipping zero query channels, then times scale. fp8 e5m2 is the high byte
// of an fp16, so it widens exactly by a shift and one conversion. Block b of a (sequence, KV head)
// takes items [b * RKV_LOGIT_THREADS, ...): item i is page i / G, head i % G.
__device__ __forceinline__ float rkv_kt_widen(unsigned char b) {
    return __half2float(__ushort_as_half((unsigned short) (b << 8)));
}
__device__ __forceinline__ float rkv_kt_widen(unsigned short b) {
    return rkv_bf16_to_f32(b);
}

template <class KT, int D>
__device__ __forceinline__ void page_logits_per_head(
        const float* __restrict__ q, const typename KT::T* kt, const int* __restrict__ blockTables,
        float* __restrict__ work, int seq, int g, int pages, int numHeads, int numKvHeads, int pageSize,
        int tokensPerBlock, int maxBlocks, int topr, float scale, int maxPages, float* qs, float* chan) {
    constexpr int QS = D + 4;   // padded head stride: the G heads of a warp read different banks
    __shared__ __align__(16) float qp[4 * QS];   // G < 4 here
    const int G = numHeads / numKvHeads;
    load_group_queries<16>(q, qs, chan, seq, g, numHeads, G, D, topr);
    for (int e = threadIdx.x; e < G * D; e += blockDim.x) qp[(e / D) * QS + e % D] = qs[e];
    __syncthreads();
#pragma unroll 1
    for (int i = blockIdx.y * RKV_LOGIT_THREADS + threadIdx.x; i < pages * G; i += gridDim.y * RKV_LOGIT_THREADS) {
    const int p = i / G;
    const int h = i - p * G;
    const int slot = p * pageSize;
    const size_t pp = (size_t) blockTables[(size_t) seq * maxBlocks + slot / tokensPerBlock] * (tokensPerBlock / pageSize)
            + (slot % tokensPerBlock) / pageSize;
    const int row = numKvHeads * D;
    const uint4* mn = reinterpret_cast<const uint4*>(kt + (pp * 2 + 0) * row + (size_t) g * D);
    const uint4* mx = reinterpret_cast<const uint4*>(kt + (pp * 2 + 1) * row + (size_t) g * D);
    constexpr int PER16 = 16 / KT::BYTES;
    constexpr int CHUNKS = D / PER16;
    const float* qh = qp + h * QS;
    // rolled over the 16-byte chunks (small code: it runs once per block on a cold instruction cache), the
    // next chunk's loads issued before this chunk's arithmetic
    uint4 a = mn[0], b = mx[0];
    float y = 0.f;
#pragma unroll 1
    for (int c = 0; c < CHUNKS; c++) {
        uint4 na = a, nb = b;
        if (c + 1 < CHUNKS) {
            na = mn[c + 1];
            nb = mx[c + 1];
        }
        const typename KT::T* ae = reinterpret_cast<const typename KT::T*>(&a);
        const typename KT::T* be = reinterpret_cast<const typename KT::T*>(&b);
#pragma unroll
        for (int e = 0; e < PER16; e++) {
            const int d = c * PER16 + e;
            const float qd = qh[d];
            const float bound = rkv_kt_widen(chan[d] != 0.f ? be[e] : ae[e]);
            const float t = __fadd_rn(y, __fmul_rn(qd, bound));
            y = qd != 0.f ? t : y;
        }
        a = na;
        b = nb;
    }
    work[(size_t) h * maxPages + p] = __fmul_rn(y, scale);
    }
}

// Page logits for head dims 16..128 and groups of 4 or more heads: one thread per page, the heads in
// chunks of 4, so each KT element is decoded once per chunk rather than once per head. The bound of
// each channel (kt_max where the channel's sign flag is set, else kt_min) is picked for 4 (fp8) or 2
// (bf16) channels at once by a byte permute whose selector comes from the flags; fp8 e5m2 widens
// exactly as the high byte of an fp16. Each head's sum is the CPU's: channels in order, q[d] * bound[d]
// rounded, then added, no FMA, then times scale. The CPU skips channels whose query is zero; here they
// add q * bound = +-0, which leaves the sum unchanged (the sum starts at +0 and can never become -0)
// as long as the bounds are finite -- which the saturating KT encoders guarantee for finite keys.
template <class KT>
__device__ __forceinline__ void rkv_bounds4(unsigned w, float f[4 / KT::BYTES]);
template <>
__device__ __forceinline__ void rkv_bounds4<RkvKtFp8>(unsigned w, float f[4]) {
    const float2 lo = __half22float2(__halves2half2(__ushort_as_half((unsigned short) __byte_perm(w, 0u, 0x04)),
                                                    __ushort_as_half((unsigned short) __byte_perm(w, 0u, 0x14))));
    const float2 hi = __half22float2(__halves2half2(__ushort_as_half((unsigned short) __byte_perm(w, 0u, 0x24)),
                                                    __ushort_as_half((unsigned short) __byte_perm(w, 0u, 0x34))));
    f[0] = lo.x; f[1] = lo.y; f[2] = hi.x; f[3] = hi.y;
}
template <>
__device__ __forceinline__ void rkv_bounds4<RkvKtBf16>(unsigned w, float f[2]) {
    f[0] = __uint_as_float(w << 16);
    f[1] = __uint_as_float(w & 0xffff0000u);
}

template <class KT, int D>
__device__ __forceinline__ void page_logits_per_page4(
        const float* __restrict__ q, const typename KT::T* kt, const int* __restrict__ blockTables,
        float* __restrict__ work, int seq, int g, int pages, int numHeads, int numKvHeads, int pageSize,
        int tokensPerBlock, int maxBlocks, int topr, float scale, int maxPages, float* qs, float* chan) {
    constexpr int CPW = 4 / KT::BYTES;     // channels per 32-bit word
    constexpr int WORDS = D / CPW;
    __shared__ __align__(16) unsigned selw[WORDS];
    const int G = numHeads / numKvHeads;
    const int G4 = (G + 3) & ~3;
    load_group_queries<16>(q, qs, chan, seq, g, numHeads, G, D, topr);
    for (int e = G * D + threadIdx.x; e < G4 * D; e += blockDim.x) qs[e] = 0.f;   // heads past G: zero queries
    for (int w = threadIdx.x; w < WORDS; w += blockDim.x) {
        unsigned s = 0;
#pragma unroll
        for (int i = 0; i < CPW; i++) {
            const bool useMax = chan[w * CPW + i] != 0.f;
#pragma unroll
            for (int b = 0; b < KT::BYTES; b++) {
                const unsigned src = (unsigned) (i * KT::BYTES + b) + (useMax ? 4u : 0u);
                s |= src << (4 * (i * KT::BYTES + b));
            }
        }
        selw[w] = s;
    }
    __syncthreads();
    const int pagesPerBlock = tokensPerBlock / pageSize;
    const int row = numKvHeads * D;
    const int* table = blockTables + (size_t) seq * maxBlocks;
#pragma unroll 1
    for (int p = blockIdx.y * RKV_LOGIT_THREADS + threadIdx.x; p < pages; p += gridDim.y * RKV_LOGIT_THREADS) {
    const int slot = p * pageSize;
    const size_t pp = (size_t) table[slot / tokensPerBlock] * pagesPerBlock + (slot % tokensPerBlock) / pageSize;
    const uint4* mn = reinterpret_cast<const uint4*>(kt + (pp * 2 + 0) * row + (size_t) g * D);
    const uint4* mx = reinterpret_cast<const uint4*>(kt + (pp * 2 + 1) * row + (size_t) g * D);
    constexpr int CHUNKS = D / (4 * CPW);   // 16-byte chunks of a row
#pragma unroll 1
    for (int h0 = 0; h0 < G; h0 += 4) {
        float y[4] = {0.f, 0.f, 0.f, 0.f};
        uint4 a = mn[0], b = mx[0];
#pragma unroll 1
        for (int c = 0; c < CHUNKS; c++) {
            uint4 na = a, nb = b;
            if (c + 1 < CHUNKS) {   // the next chunk's loads go out before this chunk's arithmetic
                na = mn[c + 1];
                nb = mx[c + 1];
            }
            const uint4 sw = reinterpret_cast<const uint4*>(selw)[c];
            const unsigned aw[4] = {a.x, a.y, a.z, a.w};
            const unsigned bw[4] = {b.x, b.y, b.z, b.w};
            const unsigned ss[4] = {sw.x, sw.y, sw.z, sw.w};
#pragma unroll
            for (int w = 0; w < 4; w++) {
                float f[CPW];
                rkv_bounds4<KT>(__byte_perm(aw[w], bw[w], ss[w]), f);
                const int d = (c * 4 + w) * CPW;
#pragma unroll
                for (int h = 0; h < 4; h++) {
                    const float* qh = qs + (h0 + h) * D + d;
                    float qv[CPW];
                    if (CPW == 4) {
                        const float4 t = *reinterpret_cast<const float4*>(qh);
                        qv[0] = t.x; qv[1] = t.y; qv[CPW > 2 ? 2 : 0] = t.z; qv[CPW > 3 ? 3 : 0] = t.w;
                    } else {
                        const float2 t = *reinterpret_cast<const float2*>(qh);
                        qv[0] = t.x; qv[CPW > 1 ? 1 : 0] = t.y;
                    }
#pragma unroll
                    for (int i = 0; i < CPW; i++) y[h] = __fadd_rn(y[h], __fmul_rn(qv[i], f[i]));
                }
            }
            a = na;
            b = nb;
        }
#pragma unroll
        for (int h = 0; h < 4; h++) {
            if (h0 + h < G) work[(size_t) (h0 + h) * maxPages + p] = __fmul_rn(y[h], scale);
        }
    }
    }
}

// The step's key of one (sequence, KV head) folded into its KT page, as kt_update in rocket_kt.cu
// (a fresh page at its first slot, else Java min / max with the stored bounds). Idempotent, so two
// blocks may both do it.
template <class KT>
__device__ __forceinline__ void kt_fold_token(const float* __restrict__ k, const int* __restrict__ slots,
                                              typename KT::T* kt, int seq, int g, int numKvHeads, int D,
                                              int tokensPerBlock, int pageSize) {
    const int slot = slots[seq];
    if (slot < 0) return;
    const int row = numKvHeads * D;
    const size_t pp = rkv_kt_page_of_slot(slot, tokensPerBlock, pageSize);
    const bool fresh = rkv_kt_fresh(slot, tokensPerBlock, pageSize);
    typename KT::T* mnRow = kt + (pp * 2 + 0) * row + (size_t) g * D;
    typename KT::T* mxRow = kt + (pp * 2 + 1) * row + (size_t) g * D;
    for (int e = threadIdx.x; e < D; e += blockDim.x) {
        rkv_kt_fold<KT>(mnRow + e, mxRow + e, k[(size_t) seq * row + (size_t) g * D + e], fresh);
    }
}

// The selection's tail, run by the last block of a (sequence, KV head) to finish its logits: per head
// softmax over the pages (exact fp32 max; (float) exp((double) (x - max)); fp64 sum; fp32 e * (float)
// (1/sum) added over the heads in order), the mean over the group (/ (float) G), then the block top-k
// (rocket_common.cuh). Those are the CPU's operations in the CPU's order (the fp64 sum is exact enough
// that its order does not matter after rounding 1/sum to fp32), so the scores are bit-identical to
// PageScores' except where 1/sum sits on an fp32 rounding boundary, and the selection (ties: lower page)
// is the CPU's. The logits [G][maxPages] were written by other blocks: read through L2 (__ldcg), into
// dynamic shared memory when (G + 1) * pages floats fit in smemPages pages, else worked on in place.
// Loops stay rolled (runtime G, warps split over heads and pages): this code runs once per (sequence, KV
// head) on a cold instruction cache, so its size, not its instruction count, sets its time.
static __device__ __forceinline__ float rkv_tail_ld(const float* p, bool inSmem) {
    return inSmem ? *p : __ldcg(p);
}

__device__ __forceinline__ void select_tail(float* work, int maxPages, float* dyn, int smemPages, int G, int pages,
                                            int topk, int* sel) {
    __shared__ RkvBlockShared sh;
    __shared__ float partMax[32];
    __shared__ double partSum[32];
    __shared__ float headMax[16];
    __shared__ float headInv[16];
    const int tid = threadIdx.x;
    const int bd = blockDim.x;
    const int lane = tid & 31, warp = tid >> 5, nw = bd >> 5;
    const bool inSmem = pages <= smemPages;
    float* lg = inSmem ? dyn : work;
    const int stride = inSmem ? pages : maxPages;
    float* score = lg + (size_t) G * stride;
    if (inSmem) {
        // per head, 4 loads per thread in flight before their stores (one L2 round trip per 4 * bd pages,
        // not one per bd)
#pragma unroll 1
        for (int h = 0; h < G; h++) {
            const float* src = work + (size_t) h * maxPages;
            float* dst = dyn + (size_t) h * pages;
#pragma unroll 1
            for (int p0 = tid; p0 < pages; p0 += 4 * bd) {
                float v[4];
#pragma unroll
                for (int u = 0; u < 4; u++) v[u] = p0 + u * bd < pages ? __ldcg(src + p0 + u * bd) : 0.f;
#pragma unroll
                for (int u = 0; u < 4; u++) {
                    if (p0 + u * bd < pages) dst[p0 + u * bd] = v[u];
                }
            }
        }
        __syncthreads();
    }
    // warp w takes head (w % G), page part (w / G) of `parts` (with more heads than warps: heads w, w + nw, ...)
    const int parts = max(1, nw / G);
#pragma unroll 1
    for (int hw = warp; hw < G * parts; hw += nw) {
        const int h = hw % G;
        const float* x = lg + (size_t) h * stride;
        float m = -INFINITY;
#pragma unroll 4
        for (int p = (hw / G) * 32 + lane; p < pages; p += parts * 32) m = fmaxf(m, rkv_tail_ld(x + p, inSmem));
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
        if (lane == 0) partMax[hw] = m;
    }
    __syncthreads();
    if (tid < G) {
        float m = -INFINITY;
        for (int q = 0; q < parts; q++) m = fmaxf(m, partMax[q * G + tid]);
        headMax[tid] = m;
    }
    __syncthreads();
#pragma unroll 1
    for (int hw = warp; hw < G * parts; hw += nw) {
        const int h = hw % G;
        float* x = lg + (size_t) h * stride;
        const float m = headMax[h];
        double sum = 0.0;
        // rolled: the fp64 exp is long, and this code runs once per (sequence, KV head) on a cold
        // instruction cache, so four inlined copies cost more in fetches than the loop saves
#pragma unroll 1
        for (int p = (hw / G) * 32 + lane; p < pages; p += parts * 32) {
            const float e = (float) exp((double) __fsub_rn(rkv_tail_ld(x + p, inSmem), m));
            x[p] = e;
            sum += e;
        }
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
        if (lane == 0) partSum[hw] = sum;
    }
    __syncthreads();
    if (tid < G) {
        double t = 0.0;
        for (int q = 0; q < parts; q++) t += partSum[q * G + tid];
        headInv[tid] = (float) (1.0 / t);
    }
    __syncthreads();
#pragma unroll 1
    for (int p = tid; p < pages; p += bd) {
        float sc = 0.f;
#pragma unroll 1
        for (int h = 0; h < G; h++) sc = __fadd_rn(sc, __fmul_rn(rkv_tail_ld(lg + (size_t) h * stride + p, inSmem), headInv[h]));
        score[p] = __fdiv_rn(sc, (float) G);
    }
    __syncthreads();
    rkv_block_topk_ascending(score, pages, topk, sel, sh);
}

// The whole selection of a decode step in one launch: grid (numSeqs * numKvHeads, logit blocks), block
// RKV_LOGIT_THREADS, dynamic smem (G + 1) * smemPages floats.
//   1. k != null: the block(s) whose logit items include the last page fold the step's key into it
//      (kt_fold_token), before any thread reads that page.
//   2. logits of the block's pages (per head for D <= 128, per page for D = 256) into pageWork.
//   3. the last block of the (sequence, KV head) to finish (a counter per pair, reset by that block, so
//      replays start from zero) runs select_tail, or selects every page when topk >= pages, or nothing
//      for a padding sequence (kvLen 0).
template <class KT, int D, bool PER_HEAD>
__device__ __forceinline__ void select_fused(
        const float* __restrict__ q, const float* __restrict__ k, const int* __restrict__ slots, typename KT::T* kt,
        const int* __restrict__ kvLens, const int* __restrict__ blockTables, float* __restrict__ pageWork,
        int* __restrict__ selPages, int* __restrict__ selPhys, int* __restrict__ selCount, int* __restrict__ counters,
        int numHeads, int numKvHeads, int pageSize, int tokensPerBlock, int maxBlocks, int topk, int topr,
        float scale, int smemPages) {
    extern __shared__ __align__(16) float rkvDyn[];
    __shared__ int isLast;
    const int pair = blockIdx.x;
    const int seq = pair / numKvHeads;
    const int g = pair - seq * numKvHeads;
    const int G = numHeads / numKvHeads;
    const int len = kvLens[seq];
    const int pages = len > 0 ? (len + pageSize - 1) / pageSize : 0;
    const bool perHead = PER_HEAD && G < 4;   // else one item per page (all heads); CudaRocketKv mirrors this
    const int perPage = perHead ? G : 1;   // logit items per page
    const int lo = blockIdx.y * RKV_LOGIT_THREADS;
    const int maxPages = maxBlocks * (tokensPerBlock / pageSize);
    float* work = pageWork + (size_t) pair * (G + 1) * maxPages;   // [G + 1][maxPages]
    if (k != nullptr && pages > 0) {
        const int first = (pages - 1) * perPage;   // the last page's items: at most two chunks of the grid stride
        const int y0 = (first / RKV_LOGIT_THREADS) % gridDim.y;
        const int y1 = ((first + perPage - 1) / RKV_LOGIT_THREADS) % gridDim.y;
        if (blockIdx.y == y0 || blockIdx.y == y1) {   // block-uniform
            kt_fold_token<KT>(k, slots, kt, seq, g, numKvHeads, D, tokensPerBlock, pageSize);
            __syncthreads();
        }
    }
    if (pages > topk && lo < pages * perPage) {   // block-uniform
        if (PER_HEAD) {
            __shared__ __align__(16) float qs[16 * (PER_HEAD ? D : 4)];
            __shared__ float chan[PER_HEAD ? D : 4];
            if (perHead) {
                page_logits_per_head<KT, D>(q, kt, blockTables, work, seq, g, pages, numHeads, numKvHeads, pageSize,
                                            tokensPerBlock, maxBlocks, topr, scale, maxPages, qs, chan);
            } else {
                page_logits_per_page4<KT, D>(q, kt, blockTables, work, seq, g, pages, numHeads, numKvHeads, pageSize,
                                             tokensPerBlock, maxBlocks, topr, scale, maxPages, qs, chan);
            }
        } else {
            page_logits_per_page<KT, 16>(q, kt, blockTables, work, seq, g, pages, numHeads, numKvHeads, D, pageSize,
                                         tokensPerBlock, maxBlocks, topr, scale, maxPages);
        }
    }
    __threadfence();
    __syncthreads();
    if (threadIdx.x == 0) isLast = atomicAdd(counters + pair, 1) == (int) gridDim.y - 1;
    __syncthreads();
    if (!isLast) return;
    if (threadIdx.x == 0) counters[pair] = 0;
    __threadfence();
    int* sel = selPages + (size_t) pair * topk;
    int* phys = selPhys + (size_t) pair * topk;
    const int* table = blockTables + (size_t) seq * maxBlocks;
    const int pagesPerBlock = tokensPerBlock / pageSize;
    if (pages <= topk) {
        for (int p = threadIdx.x; p < pages; p += blockDim.x) {
            sel[p] = p;
            phys[p] = table[(p * pageSize) / tokensPerBlock] * pagesPerBlock + ((p * pageSize) % tokensPerBlock) / pageSize;
        }
        if (threadIdx.x == 0) selCount[pair] = pages;
        return;
    }
    select_tail(work, maxPages, rkvDyn, smemPages, G, pages, topk, sel);
    __syncthreads();
    // the physical KT page of each selected page, so the attention reads K/V without the block table
    for (int e = threadIdx.x; e < topk; e += blockDim.x) {
        const int slot = sel[e] * pageSize;
        phys[e] = table[slot / tokensPerBlock] * pagesPerBlock + (slot % tokensPerBlock) / pageSize;
    }
    if (threadIdx.x == 0) selCount[pair] = topk;
}

#define RKV_SELECT_FUSED(NAME, KT, D, PER_HEAD)                                                                \
    extern "C" __global__ void __launch_bounds__(RKV_LOGIT_THREADS) rocket_select_##NAME##_d##D(                \
            const float* __restrict__ q, const float* __restrict__ k, const int* __restrict__ slots, KT::T* kt,  \
            const int* __restrict__ kvLens, const int* __restrict__ blockTables, float* __restrict__ pageWork,   \
            int* __restrict__ selPages, int* __restrict__ selPhys, int* __restrict__ selCount,                   \
            int* __restrict__ counters, int numHeads, int numKvHeads, int pageSize, int tokensPerBlock,          \
            int maxBlocks, int topk, int topr, float scale, int smemPages) {                                   \
        select_fused<KT, D, PER_HEAD>(q, k, slots, kt, kvLens, blockTables, pageWork, selPages, selPhys, selCount, \
                                      counters, numHeads, numKvHeads, pageSize, tokensPerBlock, maxBlocks, topk, \
                                      topr, scale, smemPages);                                                 \
    }
#define RKV_SELECT_FUSED_ALL(NAME, KT)        \
    RKV_SELECT_FUSED(NAME, KT, 16, true)      \
    RKV_SELECT_FUSED(NAME, KT, 32, true)      \
    RKV_SELECT_FUSED(NAME, KT, 64, true)      \
    RKV_SELECT_FUSED(NAME, KT, 128, true)     \
    RKV_SELECT_FUSED(NAME, KT, 256, false)
RKV_SELECT_FUSED_ALL(fp8, RkvKtFp8)
RKV_SELECT_FUSED_ALL(bf16, RkvKtBf16)
#undef RKV_SELECT_FUSED_ALL
#undef RKV_SELECT_FUSED

// ---------------------------------------------------------------------------------------------
// Sparse attention over the selected pages
// ---------------------------------------------------------------------------------------------
namespace rkv_sparse {

constexpr int NTHREADS = 128;
constexpr int NW = NTHREADS / 32;
constexpr int U = 4;   // tokens per lane group per step
constexpr int SEL_CACHE = 256;   // selected pages of a split kept in shared memory

// Selected keys of one split: index t of the split's gathered list is slot sel[t / P] * P + t % P of
// the sequence (P = pageSize), a key only while that slot is below kvLen (the last page may be
// partial); its K row is found from the physical page phys[t / P], without the block table.
template <int D, class E>
struct SelectedKeys {
    using Elem = E;
    using T = typename E::T;
    static constexpr bool CONTIGUOUS = false;
    int begin, end;                    // [e0 * P, e1 * P): the tokens of the split's entries [e0, e1)
    int e0, len, pageSize, pagesPerBlock;
    bool cached;                       // entries e0 .. e1-1 are in smSel / smPhys
    const int* smSel;                  // [e1 - e0] shared copies of sel / phys
    const int* smPhys;
    const int* sel;                    // [topk] logical pages, ascending
    const int* phys;                   // [topk] their physical KT pages (block * pagesPerBlock + page in block)
    const T* kvCache;                  // [numBlocks][2][numKvHeads][tokensPerBlock][D]
    int kvHead, numKvHeads, tokensPerBlock, lane8;   // lane8: this lane's first channel (tl * 8)
    size_t vDelta;                     // numKvHeads * tokensPerBlock * D: from a K row to its V row

    // Whether index t is a key; if so, k becomes its K row slice (this lane's 8 channels), else k is left as is.
    __device__ __forceinline__ bool key(int t, const T*& k) const {
        if (t >= end) return false;
        const int e = t / pageSize;
        const int j = t - e * pageSize;
        // the physical page, loaded beside the logical one: no block-table lookup on the way to K/V
        const int pp = cached ? smPhys[e - e0] : phys[e];
        const int slot = (cached ? smSel[e - e0] : sel[e]) * pageSize + j;
        if (slot >= len) return false;
        const int blk = pp / pagesPerBlock;
        k = kvCache + rkv_k_offset(blk, kvHead, (pp - blk * pagesPerBlock) * pageSize + j, numKvHeads,
                                   tokensPerBlock, D) + lane8;
        return true;
    }
    template <int U, class F>
    __device__ __forceinline__ void rows(int t0, F&& f) const {
#pragma unroll
        for (int u = 0; u < U; u++) {
            const T* k = kvCache;
            const bool ok = key(t0 + u, k);
            f(u, k, ok ? k + vDelta : k, ok);
        }
    }
    __device__ __forceinline__ bool valid(int t) const {
        const T* k;
        return key(t, k);
    }
};

// E: the cache's element type (kv_elements.cuh); kScale / vScale: an e4m3 cache's scales (1 for bf16).
template <int D, int GT, class E>
__device__ __forceinline__ void sparse_attn(
        const float* __restrict__ q, const typename E::T* __restrict__ kvCache, const int* __restrict__ kvLens,
        const int* __restrict__ blockTables, const int* __restrict__ selPages, const int* __restrict__ selPhys,
        const int* __restrict__ selCount, float* __restrict__ out, float* __restrict__ workspace,
        int* __restrict__ counters, int numHeads,
        int numKvHeads, int tokensPerBlock, int maxBlocks, int pageSize, int topk, int pagesPerSplit, float scale,
        float kScale, float vScale) {
    const RkvSplitBlock<GT> at = rkv_split_block<GT>(numHeads, numKvHeads);
    const int len = kvLens[at.seq];
    const int count = len > 0 ? selCount[(size_t) at.seq * numKvHeads + at.kvHead] : 0;
    const int e0 = at.split * pagesPerSplit;
    const int e1 = min(count, e0 + pagesPerSplit);
    const int* sel = selPages + ((size_t) at.seq * numKvHeads + at.kvHead) * topk;
    const int* phys = selPhys + ((size_t) at.seq * numKvHeads + at.kvHead) * topk;
    // the split's selected pages in shared memory (when they fit): the token loop then waits on one
    // memory round trip per step (K/V), not two (page list, then K/V)
    __shared__ int smSel[SEL_CACHE];
    __shared__ int smPhys[SEL_CACHE];
    const bool cached = e1 - e0 <= SEL_CACHE;
    if (cached) {
        for (int i = threadIdx.x; i < e1 - e0; i += NTHREADS) {
            smSel[i] = sel[e0 + i];
            smPhys[i] = phys[e0 + i];
        }
    }
    __syncthreads();   // smSel / smPhys

    SelectedKeys<D, E> keys;
    keys.begin = e0 * pageSize;
    keys.end = e1 > e0 ? e1 * pageSize : keys.begin;   // an empty split (fewer pages, or padding): no index
    keys.e0 = e0;
    keys.len = len;
    keys.pageSize = pageSize;
    keys.pagesPerBlock = tokensPerBlock / pageSize;
    keys.cached = cached;
    keys.smSel = smSel;
    keys.smPhys = smPhys;
    keys.sel = sel;
    keys.phys = phys;
    keys.kvCache = kvCache;
    keys.kvHead = at.kvHead;
    keys.numKvHeads = numKvHeads;
    keys.tokensPerBlock = tokensPerBlock;
    keys.lane8 = (threadIdx.x & (D / 8 - 1)) * 8;
    keys.vDelta = (size_t) numKvHeads * tokensPerBlock * D;
    // direct loads, butterfly reductions (PIPE 0, TR false)
    rkv_split_attention<D, GT, U, NW, 0, false>(q, keys, at, numHeads, scale, out, workspace, kScale, vScale);

    if (at.numSplits == 1) return;
    // the last split to finish (a counter per (sequence, KV head, head chunk), reset by that block so
    // replays start from zero) combines all of them for its heads; a row whose splits are all empty
    // gets zeros
    const int numSplits = at.numSplits;
    const int headBase = at.headBase();
    const int nHeads = at.nHeads();
    __shared__ int isLast;
    __threadfence();
    __syncthreads();
    const int pairIdx = at.seq * gridDim.y + blockIdx.y;
    if (threadIdx.x == 0) isLast = atomicAdd(counters + pairIdx, 1) == numSplits - 1;
    __syncthreads();
    if (!isLast) return;
    if (threadIdx.x == 0) counters[pairIdx] = 0;
    __threadfence();
    const float* ml = workspace + (size_t) gridDim.x * numHeads * numSplits * D;
    for (int i = threadIdx.x; i < nHeads * D; i += NTHREADS) {
        const int g = i / D;
        const int d = i - g * D;
        const size_t base = ((size_t) at.seq * numHeads + headBase + g) * numSplits;
        float M = -INFINITY;
        for (int z = 0; z < numSplits; z++) M = fmaxf(M, __ldcg(ml + 2 * (base + z)));
        float Lsum = 0.f, A = 0.f;
        for (int z = 0; z < numSplits; z++) {
            const float mz = __ldcg(ml + 2 * (base + z));
            if (mz != -INFINITY) {
                const float w = rkv_exp2(mz - M);
                Lsum += __ldcg(ml + 2 * (base + z) + 1) * w;
                A += __ldcg(workspace + (base + z) * D + d) * w;
            }
        }
        out[((size_t) at.seq * numHeads + headBase + g) * D + d] = Lsum > 0.f ? A / Lsum : 0.f;
    }
}

}  // namespace rkv_sparse

#define RKV_SPARSE_KERNEL(D, GT, MINB)                                                                       \
    extern "C" __global__ void __launch_bounds__(rkv_sparse::NTHREADS, MINB) rocket_sparse_attn_d##D##_g##GT( \
            const float* __restrict__ q, const unsigned short* __restrict__ kvCache,                          \
            const int* __restrict__ kvLens, const int* __restrict__ blockTables,                              \
            const int* __restrict__ selPages, const int* __restrict__ selPhys,                                \
            const int* __restrict__ selCount, float* __restrict__ out, float* __restrict__ workspace,         \
            int* __restrict__ counters, int numHeads, int numKvHeads, int tokensPerBlock, int maxBlocks,      \
            int pageSize, int topk, int pagesPerSplit, float scale) {                                         \
        rkv_sparse::sparse_attn<D, GT, RkvBf16Kv>(q, kvCache, kvLens, blockTables, selPages, selPhys, selCount, \
                                       out, workspace, counters, numHeads, numKvHeads, tokensPerBlock, maxBlocks, \
                                       pageSize, topk, pagesPerSplit, scale, 1.f, 1.f);                       \
    }                                                                                                         \
    extern "C" __global__ void __launch_bounds__(rkv_sparse::NTHREADS, MINB) rocket_sparse_attn_e4m3_d##D##_g##GT( \
            const float* __restrict__ q, const unsigned char* __restrict__ kvCache,                           \
            const int* __restrict__ kvLens, const int* __restrict__ blockTables,                              \
            const int* __restrict__ selPages, const int* __restrict__ selPhys,                                \
            const int* __restrict__ selCount, float* __restrict__ out, float* __restrict__ workspace,         \
            int* __restrict__ counters, int numHeads, int numKvHeads, int tokensPerBlock, int maxBlocks,      \
            int pageSize, int topk, int pagesPerSplit, float scale, float kScale, float vScale) {            \
        rkv_sparse::sparse_attn<D, GT, RkvE4m3Kv>(q, kvCache, kvLens, blockTables, selPages, selPhys, selCount, \
                                       out, workspace, counters, numHeads, numKvHeads, tokensPerBlock, maxBlocks, \
                                       pageSize, topk, pagesPerSplit, scale, kScale, vScale);                 \
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
