// rocket_kt.cu: RocketKV's KT cache (per KT page and KV head, the element-wise min and max of the
// keys, stored in the KT dtype). CPU twins: CpuRocketKv.ktBuild / CpuRocketKv.ktUpdate.
//
//   ktCache  KT  [numKtPages][2 (min|max)][numKvHeads][headDim]   (one layer; KT = e5m2 byte or bf16 bits)
//            pool page of a sequence's logical page p (slots p*P .. p*P+P-1):
//            table[p*P / tokensPerBlock] * (tokensPerBlock / P) + (p*P % tokensPerBlock) / P
//   kvCache  bf16 [numBlocks][2 (K|V)][numKvHeads][tokensPerBlock][headDim]; kt_build_*_e4m3: fp8 e4m3, each key
//            e4m3 * kScale (as the CPU twin reads an F8_E4M3 cache)
//   k        f32 [numTokens][numKvHeads * headDim]   the decode step's keys (after RoPE)
//
// Values are rounded to the KT dtype first (fp8: Fp8E5M2.encode; bf16: Bf16.encode), then min/max
// with Java's rules, so the pages hold the CPU twin's bits exactly (rounding is monotonic: min of
// rounded = rounded min).
//
// Kernels (one version each; both are memory-trivial next to attention):
//   kt_build_{fp8,bf16}   grid (maxPages, numSeqs), block 128: block (p, s) folds the kept slots
//                         [p*P, min((p+1)*P, min(kvLens[s], promptBudget))) of sequence s, every
//                         KV head and channel (thread = channel, coalesced bf16 reads); pages past
//                         the kept length exit at once.
//   kt_update_{fp8,bf16}  grid (numTokens, ceil(numKvHeads * headDim / 128)), block 128: token t (slot slots[t] >= 0, else skipped)
//                         starts its page fresh when slot % P == 0, else folds into it. Tokens of one
//                         launch must lie in distinct pages (a decode step: one token per sequence).
//                         Grid and arguments depend only on numTokens and the shapes (capturable).
#include "rocket_common.cuh"
#include "kv_elements.cuh"

template <class KT, class E>
__device__ __forceinline__ void kt_build(
        const typename E::T* __restrict__ kvCache, const int* __restrict__ kvLens,
        const int* __restrict__ blockTables, typename KT::T* __restrict__ kt,
        int numKvHeads, int headDim, int tokensPerBlock, int maxBlocks, int pageSize, int promptBudget, float kScale) {
    const int page = blockIdx.x;
    const int seq = blockIdx.y;
    const int len = min(kvLens[seq], promptBudget);
    const int first = page * pageSize;
    if (first >= len) return;
    const int last = min(len, first + pageSize);
    const int* table = blockTables + (size_t) seq * maxBlocks;
    const int pagesPerBlock = tokensPerBlock / pageSize;
    const size_t pp = (size_t) table[first / tokensPerBlock] * pagesPerBlock + (first % tokensPerBlock) / pageSize;
    const int row = numKvHeads * headDim;
    for (int e = threadIdx.x; e < row; e += blockDim.x) {
        const int g = e / headDim;
        const int c = e - g * headDim;
        float mn = 0.f, mx = 0.f;
        for (int slot = first; slot < last; slot++) {
            const int blk = table[slot / tokensPerBlock];
            const float key = E::scalar(
                    kvCache[rkv_k_offset(blk, g, slot % tokensPerBlock, numKvHeads, tokensPerBlock, headDim) + c])
                    * kScale;
            const float v = KT::decode(KT::encode(key));
            mn = slot == first ? v : rkv_jmin(mn, v);
            mx = slot == first ? v : rkv_jmax(mx, v);
        }
        kt[(pp * 2 + 0) * row + e] = KT::encode(mn);
        kt[(pp * 2 + 1) * row + e] = KT::encode(mx);
    }
}

template <class KT>
__device__ __forceinline__ void kt_update(
        const float* __restrict__ k, const int* __restrict__ slots, typename KT::T* __restrict__ kt,
        int numKvHeads, int headDim, int tokensPerBlock, int pageSize) {
    const int t = blockIdx.x;
    const int slot = slots[t];
    if (slot < 0) return;
    const size_t pp = rkv_kt_page_of_slot(slot, tokensPerBlock, pageSize);
    const bool fresh = rkv_kt_fresh(slot, tokensPerBlock, pageSize);
    const int row = numKvHeads * headDim;
    typename KT::T* mnRow = kt + (pp * 2 + 0) * row;
    typename KT::T* mxRow = kt + (pp * 2 + 1) * row;
    for (int e = blockIdx.y * blockDim.x + threadIdx.x; e < row; e += blockDim.x * gridDim.y) {
        rkv_kt_fold<KT>(mnRow + e, mxRow + e, k[(size_t) t * row + e], fresh);
    }
}

#define RKV_KT_KERNELS(NAME, KT)                                                                          \
    extern "C" __global__ void __launch_bounds__(128) kt_build_##NAME(                                    \
            const unsigned short* __restrict__ kvCache, const int* __restrict__ kvLens,                   \
            const int* __restrict__ blockTables, KT::T* __restrict__ kt, int numKvHeads, int headDim,     \
            int tokensPerBlock, int maxBlocks, int pageSize, int promptBudget) {                          \
        kt_build<KT, RkvBf16Kv>(kvCache, kvLens, blockTables, kt, numKvHeads, headDim, tokensPerBlock,    \
                     maxBlocks, pageSize, promptBudget, 1.f);                                             \
    }                                                                                                     \
    extern "C" __global__ void __launch_bounds__(128) kt_build_##NAME##_e4m3(                             \
            const unsigned char* __restrict__ kvCache, const int* __restrict__ kvLens,                    \
            const int* __restrict__ blockTables, KT::T* __restrict__ kt, int numKvHeads, int headDim,     \
            int tokensPerBlock, int maxBlocks, int pageSize, int promptBudget, float kScale) {            \
        kt_build<KT, RkvE4m3Kv>(kvCache, kvLens, blockTables, kt, numKvHeads, headDim, tokensPerBlock,    \
                     maxBlocks, pageSize, promptBudget, kScale);                                          \
    }                                                                                                     \
    extern "C" __global__ void __launch_bounds__(128) kt_update_##NAME(                                   \
            const float* __restrict__ k, const int* __restrict__ slots, KT::T* __restrict__ kt,           \
            int numKvHeads, int headDim, int tokensPerBlock, int pageSize) {                              \
        kt_update<KT>(k, slots, kt, numKvHeads, headDim, tokensPerBlock, pageSize);                      \
    }

RKV_KT_KERNELS(fp8, RkvKtFp8)
RKV_KT_KERNELS(bf16, RkvKtBf16)

#undef RKV_KT_KERNELS
