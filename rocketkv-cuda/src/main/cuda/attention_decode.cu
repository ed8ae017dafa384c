// attention_decode.cu: paged decode attention, one new query token per sequence, batched, GQA-aware,
// split-KV (flash-decoding). CPU twin: CpuKernels.decodeAttention.
//
//   q           f32  [numSeqs][numHeads * headDim]   the step's query rows (row s = sequence s)
//   kvCache     bf16 [numBlocks][2 (K|V)][numKvHeads][tokensPerBlock][headDim]   (one layer)
//   kvLens      i32  [numSeqs]        keys in the cache for each sequence (this step's included), >= 1
//   blockTables i32  [numSeqs][maxBlocks] (flat, row stride maxBlocks) block ids, -1 padded
//   out         f32  [numSeqs][numHeads * headDim]
//   workspace   f32  numSeqs * numHeads * numSplits * (headDim + 2) floats (only when numSplits > 1):
//                    acc [numSeqs][numHeads][numSplits][headDim]   then
//                    ml  [numSeqs][numHeads][numSplits][2]         (running max in log2 units, sum)
//
// out[s][h] = sum_{j < kvLen} softmax_j(scale * q[s][h] . k_j) v_j, k_j/v_j of KV head h / G,
// G = numHeads / numKvHeads.
//
// Versions:
//   v1 attention_decode_naive    one warp per (sequence, query head), keys one by one (any
//                                headDim <= 256, any G). Reads each K/V element G times.
//   v2 attention_decode_d{D}_g{GT} + attention_decode_merge   (D in 16, 32, 64, 128, 256;
//                                GT in 1, 2, 4, 8). A thread block owns one (sequence, KV head,
//                                chunk of GT query heads of its group, split of kvPerSplit keys) and
//                                holds all GT queries in registers, so each K/V element is read once
//                                per group. A key row (D bf16) is read by D/8 lanes with one 16-byte
//                                load each (a page's rows for one KV head are contiguous, so a warp
//                                reads 512 contiguous bytes per instruction for D = 128); every
//                                lane issues the K and V loads of 4 keys before using any.
//                                Scores are reduced across the D/8 lanes by butterfly shuffles,
//                                softmax is online per lane group (running max m, sum l, acc in
//                                fp32, exp2 of log2e-scaled scores), then groups and warps merge
//                                in registers/shared memory. A split writes its unnormalised
//                                (acc, m, l) to the workspace and attention_decode_merge combines
//                                the splits of each (sequence, head); with numSplits == 1 the split
//                                kernel writes out directly and no merge is launched.
//
// Launch v2:
//   GT = G <= 8 ? (smallest of 1, 2, 4, 8 >= G) : 8;   headChunks = ceil(G / GT)
//   numSplits = ceil(maxKvLen / kvPerSplit)       (kvPerSplit >= 1; see README for the choice)
//   split kernel: grid (numSeqs, numKvHeads * headChunks, numSplits), block 128, static smem only
//                 (<= 33 KB), workspace as above (pass any pointer when numSplits == 1)
//   merge kernel (only when numSplits > 1): grid (numSeqs, numHeads), block 128, no smem
//   Blocks whose split starts at or past their sequence's kvLen exit at once, so one launch serves
//   a batch of mixed lengths; the merge reads only the ceil(kvLen / kvPerSplit) splits that exist.
// Launch v1: grid (numSeqs, numHeads), block 32, no smem, no workspace.
#include "attention_common.cuh"

// ---------------------------------------------------------------------------------------------
// v1: naive
// ---------------------------------------------------------------------------------------------
extern "C" __global__ void __launch_bounds__(32) attention_decode_naive(
        const float* __restrict__ q,                 // [numSeqs][numHeads * headDim]
        const unsigned short* __restrict__ kvCache,  // [numBlocks][2][numKvHeads][tokensPerBlock][headDim]
        const int* __restrict__ kvLens,              // [numSeqs]
        const int* __restrict__ blockTables,         // [numSeqs][maxBlocks]
        float* __restrict__ out,                     // [numSeqs][numHeads * headDim]
        int numHeads, int numKvHeads, int headDim, int tokensPerBlock, int maxBlocks, float scale) {
    const int seq = blockIdx.x;
    const int head = blockIdx.y;
    const int kvHead = head / (numHeads / numKvHeads);
    const size_t o = ((size_t) seq * numHeads + head) * headDim;
    rkv_naive_attention_row(q + o, kvCache, blockTables + (size_t) seq * maxBlocks, kvLens[seq] - 1,
                            kvHead, numKvHeads, headDim, tokensPerBlock, scale, out + o);
}

// ---------------------------------------------------------------------------------------------
// v2: split-KV, GQA-grouped, 16-byte loads
// ---------------------------------------------------------------------------------------------
namespace rkv_decode {

constexpr int NTHREADS = 128;

// D: head dim; GT: query heads per block; U: keys per lane group per iteration; NW: warps.
template <int D, int GT, int U, int NW>
__device__ __forceinline__ void decode_split(
        const float* __restrict__ q, const unsigned short* __restrict__ kvCache,
        const int* __restrict__ kvLens, const int* __restrict__ blockTables,
        float* __restrict__ out, float* __restrict__ workspace,
        int numHeads, int numKvHeads, int tokensPerBlock, int maxBlocks, int kvPerSplit, float scale) {
    constexpr int TG = D / 8;            // lanes per key row, 8 channels (16 bytes) each
    constexpr int GPW = 32 / TG;         // key rows (lane groups) per warp
    constexpr int NGRP = NW * GPW;       // lane groups per block
    static_assert(D % 8 == 0 && TG >= 1 && TG <= 32 && (TG & (TG - 1)) == 0, "D/8 must be a power of two <= 32");

    __shared__ float smM[NW][GT];
    __shared__ float smL[NW][GT];
    __shared__ __align__(16) float smAcc[NW][GT][D];

    const int seq = blockIdx.x;
    const int G = numHeads / numKvHeads;
    const int chunks = (G + GT - 1) / GT;
    const int kvHead = blockIdx.y / chunks;
    const int chunk = blockIdx.y - kvHead * chunks;
    const int split = blockIdx.z;
    const int numSplits = gridDim.z;
    const int kvLen = kvLens[seq];
    const int start = split * kvPerSplit;
    if (start >= kvLen) return;
    const int end = min(kvLen, start + kvPerSplit);

    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int tl = lane & (TG - 1);            // lane within its group: channels tl*8 .. tl*8+7
    const int headBase = kvHead * G + chunk * GT;
    const int nHeads = min(GT, G - chunk * GT);

    // Queries, pre-multiplied by scale * log2(e) so that softmax uses exp2.
    const float sl2 = scale * RKV_LOG2E;
    float qr[GT][8];
#pragma unroll
    for (int g = 0; g < GT; g++) {
        float4 a = make_float4(0.f, 0.f, 0.f, 0.f), b = a;
        if (g < nHeads) {
            const float4* qp = reinterpret_cast<const float4*>(
                    q + ((size_t) seq * numHeads + headBase + g) * D + tl * 8);
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
    const size_t headStride = (size_t) tokensPerBlock * D;
    const size_t blockStride = 2 * (size_t) numKvHeads * headStride;
    const size_t vDelta = (size_t) numKvHeads * headStride;
    const unsigned short* kBase = kvCache + (size_t) kvHead * headStride + tl * 8;

    // The loop runs while the WARP has keys left (shuffles need all 32 lanes); a lane group whose
    // U keys all lie past `end` loads nothing and skips the softmax update.
    for (int tw = start + warp * GPW * U; tw < end; tw += NGRP * U) {
        const int t0 = tw + (lane / TG) * U;
        // Issue all 2U loads first.
        uint4 kx[U], vx[U];
        int pg = t0 / tokensPerBlock;
        int off = t0 - pg * tokensPerBlock;
#pragma unroll
        for (int u = 0; u < U; u++) {
            if (t0 + u < end) {
                const unsigned short* p = kBase + (size_t) table[pg] * blockStride + (size_t) off * D;
                kx[u] = rkv_ld_stream16(p);
                vx[u] = rkv_ld_stream16(p + vDelta);
            } else {
                kx[u] = make_uint4(0u, 0u, 0u, 0u);
                vx[u] = kx[u];
            }
            if (++off == tokensPerBlock) {
                off = 0;
                pg++;
            }
        }
        // Partial dot products over this lane's 8 channels, then butterfly over the TG lanes.
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
        if (t0 >= end) continue;   // no shuffles below this point in the loop
        // Online softmax update (key t0 is valid, so the new max is finite).
        float p[U][GT];
#pragma unroll
        for (int g = 0; g < GT; g++) {
            float mx = s[0][g];
#pragma unroll
            for (int u = 1; u < U; u++) {
                if (t0 + u < end) mx = fmaxf(mx, s[u][g]);
            }
            const float mNew = fmaxf(m[g], mx);
            const float alpha = rkv_exp2(m[g] - mNew);   // 0 on the first update (m = -inf)
            float ps = 0.f;
#pragma unroll
            for (int u = 0; u < U; u++) {
                p[u][g] = (t0 + u < end) ? rkv_exp2(s[u][g] - mNew) : 0.f;
                ps += p[u][g];
            }
            l[g] = l[g] * alpha + ps;
            m[g] = mNew;
#pragma unroll
            for (int e = 0; e < 8; e++) acc[g][e] *= alpha;
        }
#pragma unroll
        for (int u = 0; u < U; u++) {
            float vf[8];
            rkv_unpack8(vx[u], vf);
#pragma unroll
            for (int g = 0; g < GT; g++) {
#pragma unroll
                for (int e = 0; e < 8; e++) acc[g][e] = fmaf(p[u][g], vf[e], acc[g][e]);
            }
        }
    }

    // Merge the lane groups of a warp (a group that saw no key has m = -inf, l = 0, acc = 0).
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
            *reinterpret_cast<float4*>(&smAcc[warp][g][tl * 8]) = make_float4(acc[g][0], acc[g][1], acc[g][2], acc[g][3]);
            *reinterpret_cast<float4*>(&smAcc[warp][g][tl * 8 + 4]) = make_float4(acc[g][4], acc[g][5], acc[g][6], acc[g][7]);
        }
    }
    __syncthreads();

    // Merge the warps; write the split's result.
    for (int i = threadIdx.x; i < GT * D; i += NW * 32) {
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
            A += smAcc[w][g][d] * wt;
        }
        const size_t row = (size_t) seq * numHeads + headBase + g;
        if (numSplits == 1) {
            out[row * D + d] = A / Lsum;
        } else {
            const size_t idx = row * numSplits + split;
            workspace[idx * D + d] = A;
            if (d == 0) {
                float* ml = workspace + (size_t) gridDim.x * numHeads * numSplits * D;
                ml[2 * idx] = M;
                ml[2 * idx + 1] = Lsum;
            }
        }
    }
}

}  // namespace rkv_decode

// Merge of the splits: out[s][h] = sum_i acc_i 2^(m_i - M) / sum_i l_i 2^(m_i - M).
extern "C" __global__ void __launch_bounds__(128) attention_decode_merge(
        const float* __restrict__ workspace,   // acc [numSeqs][numHeads][numSplits][headDim], then ml [..][2]
        const int* __restrict__ kvLens,        // [numSeqs]
        float* __restrict__ out,               // [numSeqs][numHeads * headDim]
        int numHeads, int headDim, int kvPerSplit, int numSplits) {
    const int seq = blockIdx.x;
    const int head = blockIdx.y;
    const int numSeqs = gridDim.x;
    const int n = min(numSplits, (kvLens[seq] + kvPerSplit - 1) / kvPerSplit);
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

#define RKV_DECODE_KERNEL(D, GT)                                                                        \
    extern "C" __global__ void __launch_bounds__(rkv_decode::NTHREADS) attention_decode_d##D##_g##GT(  \
            const float* __restrict__ q, const unsigned short* __restrict__ kvCache,                    \
            const int* __restrict__ kvLens, const int* __restrict__ blockTables,                        \
            float* __restrict__ out, float* __restrict__ workspace,                                     \
            int numHeads, int numKvHeads, int headDim, int tokensPerBlock, int maxBlocks,               \
            int kvPerSplit, float scale) {                                                              \
        (void) headDim; /* must equal D */                                                             \
        rkv_decode::decode_split<D, GT, 4, rkv_decode::NTHREADS / 32>(                                  \
                q, kvCache, kvLens, blockTables, out, workspace, numHeads, numKvHeads, tokensPerBlock,  \
                maxBlocks, kvPerSplit, scale);                                                          \
    }

#define RKV_DECODE_KERNELS_FOR_D(D) \
    RKV_DECODE_KERNEL(D, 1)         \
    RKV_DECODE_KERNEL(D, 2)         \
    RKV_DECODE_KERNEL(D, 4)         \
    RKV_DECODE_KERNEL(D, 8)

RKV_DECODE_KERNELS_FOR_D(16)
RKV_DECODE_KERNELS_FOR_D(32)
RKV_DECODE_KERNELS_FOR_D(64)
RKV_DECODE_KERNELS_FOR_D(128)
RKV_DECODE_KERNELS_FOR_D(256)

#undef RKV_DECODE_KERNELS_FOR_D
#undef RKV_DECODE_KERNEL
