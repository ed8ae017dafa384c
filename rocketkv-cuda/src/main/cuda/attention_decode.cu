// attention_decode.cu: paged decode attention, one new query token per sequence, batched, GQA-aware,
// split-KV (flash-decoding). CPU twin: CpuKernels.decodeAttention.
//
//   q           f32  [numSeqs][numHeads * headDim]   the step's query rows (row s = sequence s)
//   kvCache     bf16 [numBlocks][2 (K|V)][numKvHeads][tokensPerBlock][headDim]   (one layer); for the
//               attention_decode_e4m3_* kernels fp8 e4m3 in the same layout, each value e4m3 * kScale (K) or
//               e4m3 * vScale (V) (kv_cache_config.dtype fp8; CPU twin: CpuKernels.decodeAttention over an
//               F8_E4M3 CpuKvCache); those kernels take kScale and vScale after window
//   kvLens      i32  [numSeqs]        keys in the cache for each sequence (this step's included); 0 marks a
//                                     padding sequence, whose output rows are zeros
//   window      i32                   the layer's sliding window W, or 0: the query (at position kvLen - 1) attends
//                                     keys [max(0, kvLen - W), kvLen) only; the blocks before them may be freed (-1
//                                     in the table) and are never read. Every kernel of this file takes it last.
//   blockTables i32  [numSeqs][maxBlocks] (flat, row stride maxBlocks) block ids, -1 padded
//   out         f32  [numSeqs][numHeads * headDim]
//   workspace   f32  numSeqs * numHeads * numSplits * (headDim + 2) floats (only when numSplits > 1):
//                    acc [numSeqs][numHeads][numSplits][headDim]   then
//                    ml  [numSeqs][numHeads][numSplits][2]         (running max in log2 units, sum)
//
// out[s][h] = sum_{lo <= j < kvLen} softmax_j(scale * q[s][h] . k_j) v_j, k_j/v_j of KV head h / G, lo = the window's
// first key (0 without one),
// G = numHeads / numKvHeads.
//
// Versions (timings: H200, Llama-3.1-8B layer Hq 32 / Hkv 8 / D 128, batch 8 x 32768 keys, 1.07 GB
// of bf16 K/V, random block placement; ceiling = cudaMemcpy D2D 4264 GB/s read + written, and a
// plain read kernel reaches the same 4269 GB/s):
//   v1 attention_decode_naive    one warp per (sequence, query head), keys one by one, online
//                                softmax (any headDim <= 256, any G); reads each K/V element G
//                                times: 22 ms, 48 GB/s.
//   v2 (commit a7eabc4; PIPE = 0, TR = false) direct 16-byte loads into registers
//                                (K and V of 4 keys per lane issued before use) and full butterfly
//                                reductions: 332 us, 3231 GB/s, 75.7% of copy bandwidth.
//   fp8: attention_decode_e4m3_d{D}_g{GT} is v3 reading an e4m3 cache (8-byte chunks per lane, half the
//        bytes; the same launch, plus the kScale and vScale arguments); not yet timed on a GPU.
//   v3 attention_decode_d{D}_g{GT} + attention_decode_merge  (the exported kernels; D in 16, 32,
//                                64, 128, 256; GT in 1, 2, 4, 8): v2 plus a 2-stage cp.async
//                                (LDGSTS) ring per lane in shared memory, so the next step's K/V
//                                are in flight while this step computes without costing registers,
//                                and a transpose-reduce of the scores (N/2 + N/4 + ... shuffles
//                                instead of N log2(D/8)): 280 us, 3836 GB/s, 90% of copy bandwidth.
//
//   Structure of v2/v3: a thread block owns one (sequence, KV head, chunk of GT query heads of the
//   group, split of kvPerSplit keys). Its body is rkv_split_attention (split_attention.cuh, shared
//   with RocketKV's sparse attention, which describes the lane layout, the online softmax, PIPE and
//   TR); this file gives it DenseKeys: index t of a split is key t of the sequence, through the
//   block table. A split writes its unnormalised (acc, m, l) to the workspace and
//   attention_decode_merge combines the splits of each (sequence, head); with numSplits == 1 the
//   split kernel writes `out` itself and no merge is launched.
//   Precision: everything in fp32 on the bf16 cache values; error vs an fp64 reference < 4e-6.
//
// Launch v3:
//   GT = G <= 8 ? (smallest of 1, 2, 4, 8 >= G) : 8;   headChunks = ceil(G / GT)
//   numSplits from the host (about two waves of resident blocks, at most ceil(kvBound / 256)); the
//   argument kvPerSplit is the minimum keys per split (256) and each sequence's own split length is
//   rkv_split_len(kvLen, numSplits, kvPerSplit), computed on the device, so the launch does not depend
//   on the step's lengths (CUDA graphs replay it for any lengths up to kvBound)
//   split kernel: grid (numSeqs, numKvHeads * headChunks, numSplits), block 128 threads, static
//                 shared memory only (33-41 KB), 128 registers (GT <= 4; 4 blocks per SM) or 255
//                 (GT = 8); workspace as above (any pointer when numSplits == 1)
//   merge kernel (only when numSplits > 1): grid (numSeqs, numHeads), block 128, no smem
//   Blocks whose split starts at or past their sequence's kvLen exit at once, so one launch serves
//   a batch of mixed lengths; the merge reads only the ceil(kvLen / kvPerSplit) splits that exist.
// Launch v1: grid (numSeqs, numHeads), block 32, no smem, no workspace.
#include "split_attention.cuh"

// Default v3 tuning (see the header); the test harness benchmarks the other combinations.
#ifndef RKV_DECODE_PIPE
#define RKV_DECODE_PIPE 2
#endif
#ifndef RKV_DECODE_TR
#define RKV_DECODE_TR true
#endif
#ifndef RKV_DECODE_MINB
#define RKV_DECODE_MINB 4   // __launch_bounds__ min blocks per SM for GT <= 4 (GT = 8 asks for 1)
#endif

// ---------------------------------------------------------------------------------------------
// v1: naive
// ---------------------------------------------------------------------------------------------
extern "C" __global__ void __launch_bounds__(32) attention_decode_naive(
        const float* __restrict__ q,                 // [numSeqs][numHeads * headDim]
        const unsigned short* __restrict__ kvCache,  // [numBlocks][2][numKvHeads][tokensPerBlock][headDim]
        const int* __restrict__ kvLens,              // [numSeqs]
        const int* __restrict__ blockTables,         // [numSeqs][maxBlocks]
        float* __restrict__ out,                     // [numSeqs][numHeads * headDim]
        int numHeads, int numKvHeads, int headDim, int tokensPerBlock, int maxBlocks, float scale, int window) {
    const int seq = blockIdx.x;
    const int head = blockIdx.y;
    const int kvHead = head / (numHeads / numKvHeads);
    const size_t o = ((size_t) seq * numHeads + head) * headDim;
    if (kvLens[seq] <= 0) {   // a padding sequence
        for (int d = threadIdx.x; d < headDim; d += blockDim.x) out[o + d] = 0.f;
        return;
    }
    rkv_naive_attention_row(q + o, kvCache, blockTables + (size_t) seq * maxBlocks,
                            rkv_first_key(kvLens[seq] - 1, window), kvLens[seq] - 1,
                            kvHead, numKvHeads, headDim, tokensPerBlock, scale, out + o);
}

// ---------------------------------------------------------------------------------------------
// v2/v3: split-KV, GQA-grouped, 16-byte loads (the split body: split_attention.cuh)
// ---------------------------------------------------------------------------------------------
namespace rkv_decode {

constexpr int NTHREADS = 128;

}  // namespace rkv_decode

// Keys per split of one sequence: its kvLen keys (those of its window) spread over the launch's numSplits, in multiples of 64 keys,
// at least minPerSplit. Computed on the device from kvLen so that one launch (one recorded graph)
// serves every mix of lengths; the split kernel and the merge use the same rule.
static __device__ __forceinline__ int rkv_split_len(int kvLen, int numSplits, int minPerSplit) {
    int per = (kvLen + numSplits - 1) / numSplits;
    per = (per + 63) & ~63;
    return max(per, minPerSplit);
}

namespace rkv_decode {

// Dense keys of one split: index t is key t of the sequence, in block table[t / tokensPerBlock], slot
// t % tokensPerBlock; every index in [begin, end) is a key. E: the cache's element type (kv_elements.cuh).
template <int D, class E>
struct DenseKeys {
    using Elem = E;
    using T = typename E::T;
    static constexpr bool CONTIGUOUS = true;
    int begin, end;                    // keys [begin, end) of the sequence, begin < end
    const T* kBase;                    // K[block 0][kvHead][slot 0][tl * 8]: this lane's slice of the KV head
    const T* kvCache;                  // the address handed out for indices past end (not read)
    const int* table;                  // the sequence's block table
    size_t blockStride;                // 2 * numKvHeads * tokensPerBlock * D
    size_t vDelta;                     // numKvHeads * tokensPerBlock * D: from a K row to its V row
    int tokensPerBlock;

    template <int U, class F>
    __device__ __forceinline__ void rows(int t0, F&& f) const {
        int pg = t0 / tokensPerBlock;
        int off = t0 - pg * tokensPerBlock;
#pragma unroll
        for (int u = 0; u < U; u++) {
            const bool ok = t0 + u < end;
            const T* k = ok ? kBase + (size_t) table[pg] * blockStride + (size_t) off * D : kvCache;
            f(u, k, ok ? k + vDelta : kvCache, ok);
            if (++off == tokensPerBlock) {
                off = 0;
                pg++;
            }
        }
    }
    __device__ __forceinline__ bool valid(int t) const { return t < end; }
};

// One split of a sequence's keys; see split_attention.cuh for PIPE and TR. Blocks of padding sequences
// (kvLen 0) write zeros when numSplits == 1; blocks whose split starts at or past kvLen exit at once.
// E: the cache's element type; kScale / vScale: an e4m3 cache's scales (1 for bf16).
template <int D, int GT, int U, int NW, int PIPE, bool TR, class E>
__device__ __forceinline__ void decode_split(
        const float* __restrict__ q, const typename E::T* __restrict__ kvCache,
        const int* __restrict__ kvLens, const int* __restrict__ blockTables,
        float* __restrict__ out, float* __restrict__ workspace,
        int numHeads, int numKvHeads, int tokensPerBlock, int maxBlocks, int kvPerSplit, float scale,
        float kScale, float vScale, int window) {
    const RkvSplitBlock<GT> at = rkv_split_block<GT>(numHeads, numKvHeads);
    const int kvLen = kvLens[at.seq];
    const int headBase = at.headBase();
    const int nHeads = at.nHeads();
    if (kvLen <= 0) {   // a padding sequence: zeros (the merge writes them when numSplits > 1)
        if (at.numSplits == 1) {
            for (int i = threadIdx.x; i < nHeads * D; i += blockDim.x) {
                out[((size_t) at.seq * numHeads + headBase) * D + i] = 0.f;
            }
        }
        return;
    }
    const int lo = rkv_first_key(kvLen - 1, window);   // the window's first key (0 without one)
    kvPerSplit = rkv_split_len(kvLen - lo, at.numSplits, kvPerSplit);
    const int start = lo + at.split * kvPerSplit;
    if (start >= kvLen) return;
    const int end = min(kvLen, start + kvPerSplit);

    const size_t headStride = (size_t) tokensPerBlock * D;
    DenseKeys<D, E> keys;
    keys.begin = start;
    keys.end = end;
    keys.kBase = kvCache + (size_t) at.kvHead * headStride + (threadIdx.x & (D / 8 - 1)) * 8;
    keys.kvCache = kvCache;
    keys.table = blockTables + (size_t) at.seq * maxBlocks;
    keys.blockStride = 2 * (size_t) numKvHeads * headStride;
    keys.vDelta = (size_t) numKvHeads * headStride;
    keys.tokensPerBlock = tokensPerBlock;
    rkv_split_attention<D, GT, U, NW, PIPE, TR>(q, keys, at, numHeads, scale, out, workspace, kScale, vScale);
}

}  // namespace rkv_decode

// Merge of the splits: out[s][h] = sum_i acc_i 2^(m_i - M) / sum_i l_i 2^(m_i - M).
extern "C" __global__ void __launch_bounds__(128) attention_decode_merge(
        const float* __restrict__ workspace,   // acc [numSeqs][numHeads][numSplits][headDim], then ml [..][2]
        const int* __restrict__ kvLens,        // [numSeqs]
        float* __restrict__ out,               // [numSeqs][numHeads * headDim]
        int numHeads, int headDim, int kvPerSplit, int numSplits,   // kvPerSplit: the minimum, as in the split kernel
        int window) {
    const int seq = blockIdx.x;
    const int head = blockIdx.y;
    const int numSeqs = gridDim.x;
    const int kvLen = kvLens[seq];
    if (kvLen <= 0) {   // a padding sequence
        for (int d = threadIdx.x; d < headDim; d += blockDim.x) out[((size_t) seq * numHeads + head) * headDim + d] = 0.f;
        return;
    }
    const int keys = kvLen - rkv_first_key(kvLen - 1, window);
    kvPerSplit = rkv_split_len(keys, numSplits, kvPerSplit);
    const int n = min(numSplits, (keys + kvPerSplit - 1) / kvPerSplit);
    const size_t base = ((size_t) seq * numHeads + head) * numSplits;
    const float* ml = workspace + (size_t) numSeqs * numHeads * numSplits * headDim + 2 * base;
    float M = -INFINITY;
    for (int i = 0; i < n; i++) M = fmaxf(M, ml[2 * i]);
    float Lsum = 0.f;
    for (int i = 0; i < n; i++) Lsum += ml[2 * i + 1] * exp2f(ml[2 * i] - M);
    const float inv = 1.f / Lsum;
    const float* acc = workspace + base * headDim;
    for (int d = threadIdx.x; d < headDim; d += blockDim.x) {
        float A = 0.f;
        for (int i = 0; i < n; i++) A += acc[(size_t) i * headDim + d] * exp2f(ml[2 * i] - M);
        out[((size_t) seq * numHeads + head) * headDim + d] = A * inv;
    }
}

#define RKV_DECODE_KERNEL(D, GT, MINB)                                                                      \
    extern "C" __global__ void __launch_bounds__(rkv_decode::NTHREADS, MINB) attention_decode_d##D##_g##GT(    \
            const float* __restrict__ q, const unsigned short* __restrict__ kvCache,                    \
            const int* __restrict__ kvLens, const int* __restrict__ blockTables,                        \
            float* __restrict__ out, float* __restrict__ workspace,                                     \
            int numHeads, int numKvHeads, int headDim, int tokensPerBlock, int maxBlocks,               \
            int kvPerSplit, float scale, int window) {                                                  \
        (void) headDim; /* must equal D */                                                             \
        rkv_decode::decode_split<D, GT, 4, rkv_decode::NTHREADS / 32, RKV_DECODE_PIPE, RKV_DECODE_TR, RkvBf16Kv>(   \
                q, kvCache, kvLens, blockTables, out, workspace, numHeads, numKvHeads, tokensPerBlock,  \
                maxBlocks, kvPerSplit, scale, 1.f, 1.f, window);                                        \
    }                                                                                                   \
    extern "C" __global__ void __launch_bounds__(rkv_decode::NTHREADS, MINB) attention_decode_e4m3_d##D##_g##GT( \
            const float* __restrict__ q, const unsigned char* __restrict__ kvCache,                     \
            const int* __restrict__ kvLens, const int* __restrict__ blockTables,                        \
            float* __restrict__ out, float* __restrict__ workspace,                                     \
            int numHeads, int numKvHeads, int headDim, int tokensPerBlock, int maxBlocks,               \
            int kvPerSplit, float scale, int window, float kScale, float vScale) {                      \
        (void) headDim; /* must equal D */                                                             \
        rkv_decode::decode_split<D, GT, 4, rkv_decode::NTHREADS / 32, RKV_DECODE_PIPE, RKV_DECODE_TR, RkvE4m3Kv>(   \
                q, kvCache, kvLens, blockTables, out, workspace, numHeads, numKvHeads, tokensPerBlock,  \
                maxBlocks, kvPerSplit, scale, kScale, vScale, window);                                  \
    }

#define RKV_DECODE_KERNELS_FOR_D(D) \
    RKV_DECODE_KERNEL(D, 1, RKV_DECODE_MINB) \
    RKV_DECODE_KERNEL(D, 2, RKV_DECODE_MINB) \
    RKV_DECODE_KERNEL(D, 4, RKV_DECODE_MINB) \
    RKV_DECODE_KERNEL(D, 8, 1)

RKV_DECODE_KERNELS_FOR_D(16)
RKV_DECODE_KERNELS_FOR_D(32)
RKV_DECODE_KERNELS_FOR_D(64)
RKV_DECODE_KERNELS_FOR_D(128)
RKV_DECODE_KERNELS_FOR_D(256)

#undef RKV_DECODE_KERNELS_FOR_D
#undef RKV_DECODE_KERNEL
