// attention_decode.cu: paged decode attention, one new query token per sequence, batched, GQA-aware,
// split-KV (flash-decoding). CPU twin: CpuKernels.decodeAttention.
//
//   q           f32  [numSeqs][numHeads * headDim]   the step's query rows (row s = sequence s)
//   kvCache     bf16 [numBlocks][2 (K|V)][numKvHeads][tokensPerBlock][headDim]   (one layer)
//   kvLens      i32  [numSeqs]        keys in the cache for each sequence (this step's included); 0 marks a
//                                     padding sequence, whose output rows are zeros
//   blockTables i32  [numSeqs][maxBlocks] (flat, row stride maxBlocks) block ids, -1 padded
//   out         f32  [numSeqs][numHeads * headDim]
//   workspace   f32  numSeqs * numHeads * numSplits * (headDim + 2) floats (only when numSplits > 1):
//                    acc [numSeqs][numHeads][numSplits][headDim]   then
//                    ml  [numSeqs][numHeads][numSplits][2]         (running max in log2 units, sum)
//
// out[s][h] = sum_{j < kvLen} softmax_j(scale * q[s][h] . k_j) v_j, k_j/v_j of KV head h / G,
// G = numHeads / numKvHeads.
//
// Versions (timings: H200, Llama-3.1-8B layer Hq 32 / Hkv 8 / D 128, batch 8 x 32768 keys, 1.07 GB
// of bf16 K/V, random block placement; ceiling = cudaMemcpy D2D 4264 GB/s read + written, and a
// plain read kernel reaches the same 4269 GB/s):
//   v1 attention_decode_naive    one warp per (sequence, query head), keys one by one, online
//                                softmax (any headDim <= 256, any G); reads each K/V element G
//                                times: 22 ms, 48 GB/s.
//   v2 (commit a7eabc4; PIPE = 0, TR = false below) direct 16-byte loads into registers
//                                (K and V of 4 keys per lane issued before use) and full butterfly
//                                reductions: 332 us, 3231 GB/s, 75.7% of copy bandwidth.
//   v3 attention_decode_d{D}_g{GT} + attention_decode_merge  (the exported kernels; D in 16, 32,
//                                64, 128, 256; GT in 1, 2, 4, 8): v2 plus a 2-stage cp.async
//                                (LDGSTS) ring per lane in shared memory, so the next step's K/V
//                                are in flight while this step computes without costing registers,
//                                and a transpose-reduce of the scores (N/2 + N/4 + ... shuffles
//                                instead of N log2(D/8)): 280 us, 3836 GB/s, 90% of copy bandwidth.
//
//   Structure of v2/v3: a thread block owns one (sequence, KV head, chunk of GT query heads of the
//   group, split of kvPerSplit keys) and keeps its GT queries in registers, so each K/V element is
//   read from memory once per group. A key row (D bf16) is read by D/8 lanes, 16 bytes each (a
//   page's rows of one KV head are contiguous: for D = 128 a warp reads 512 contiguous bytes per
//   instruction); each lane group takes 4 consecutive keys per step. Softmax is online per lane
//   group (running max m, sum l, acc in fp32; exp2 of log2(e)-prescaled scores); groups, then
//   warps, merge at the end. A split writes its unnormalised (acc, m, l) to the workspace and
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
#include "attention_common.cuh"

// Default v2 tuning (see the header); the test harness benchmarks the other combinations.
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
        int numHeads, int numKvHeads, int headDim, int tokensPerBlock, int maxBlocks, float scale) {
    const int seq = blockIdx.x;
    const int head = blockIdx.y;
    const int kvHead = head / (numHeads / numKvHeads);
    const size_t o = ((size_t) seq * numHeads + head) * headDim;
    if (kvLens[seq] <= 0) {   // a padding sequence
        for (int d = threadIdx.x; d < headDim; d += blockDim.x) out[o + d] = 0.f;
        return;
    }
    rkv_naive_attention_row(q + o, kvCache, blockTables + (size_t) seq * maxBlocks, kvLens[seq] - 1,
                            kvHead, numKvHeads, headDim, tokensPerBlock, scale, out + o);
}

// ---------------------------------------------------------------------------------------------
// v2: split-KV, GQA-grouped, 16-byte loads
// ---------------------------------------------------------------------------------------------
namespace rkv_decode {

constexpr int NTHREADS = 128;

}  // namespace rkv_decode

// Keys per split of one sequence: its kvLen spread over the launch's numSplits, in multiples of 64 keys,
// at least minPerSplit. Computed on the device from kvLen so that one launch (one recorded graph)
// serves every mix of lengths; the split kernel and the merge use the same rule.
static __device__ __forceinline__ int rkv_split_len(int kvLen, int numSplits, int minPerSplit) {
    int per = (kvLen + numSplits - 1) / numSplits;
    per = (per + 63) & ~63;
    return max(per, minPerSplit);
}

namespace rkv_decode {

// Transpose-reduce of N partial sums over the TG lanes of a lane group (TG, N powers of two):
// each step sends half of the values still held to the partner lane and keeps the other half, so
// it costs N/2 + N/4 + ... shuffles instead of N * log2(TG). Afterwards lane tl holds the complete
// sums of the flattened indices (tl * N) / TG + i, i < max(1, N / TG) (lanes share them when N < TG).
template <int O, int N, int NN>
__device__ __forceinline__ void transpose_reduce(float (&v)[NN], int tl) {
    if constexpr (O >= 1) {
        if constexpr (N > 1) {
            constexpr int H = N / 2;
            const bool upper = (tl & O) != 0;
#pragma unroll
            for (int i = 0; i < H; i++) {
                const float send = upper ? v[i] : v[i + H];
                const float keep = upper ? v[i + H] : v[i];
                v[i] = keep + __shfl_xor_sync(0xffffffffu, send, O);
            }
            transpose_reduce<O / 2, H, NN>(v, tl);
        } else {
            v[0] += __shfl_xor_sync(0xffffffffu, v[0], O);
            transpose_reduce<O / 2, 1, NN>(v, tl);
        }
    }
}

// 16-byte asynchronous global -> shared copy (LDGSTS, L1 bypassed); src_size 0 writes zeros and
// reads nothing.
static __device__ __forceinline__ void rkv_cp_async16(void* smem, const void* gmem, bool valid) {
    const unsigned s = (unsigned) __cvta_generic_to_shared(smem);
    asm volatile("cp.async.cg.shared.global.L2::256B [%0], [%1], 16, %2;" ::"r"(s), "l"(gmem), "r"(valid ? 16 : 0));
}
static __device__ __forceinline__ void rkv_cp_async_commit() {
    asm volatile("cp.async.commit_group;");
}
template <int N>
static __device__ __forceinline__ void rkv_cp_async_wait() {
    asm volatile("cp.async.wait_group %0;" ::"n"(N));
}

// D: head dim; GT: query heads per block; U: keys per lane group per step; NW: warps;
// PIPE: 0 = each step loads its K/V straight into registers; S >= 2 = an S-stage cp.async
//       pipeline per lane in shared memory (S - 1 steps in flight ahead of the one computed; every
//       lane reads back only the 16-byte chunks it copied itself, so no barrier is needed);
// TR: reduce scores by transpose-reduce + a shared-memory exchange instead of full butterflies.
template <int D, int GT, int U, int NW, int PIPE, bool TR>
__device__ __forceinline__ void decode_split(
        const float* __restrict__ q, const unsigned short* __restrict__ kvCache,
        const int* __restrict__ kvLens, const int* __restrict__ blockTables,
        float* __restrict__ out, float* __restrict__ workspace,
        int numHeads, int numKvHeads, int tokensPerBlock, int maxBlocks, int kvPerSplit, float scale) {
    constexpr int TG = D / 8;            // lanes per key row, 8 channels (16 bytes) each
    constexpr int GPW = 32 / TG;         // key rows (lane groups) per warp
    constexpr int NGRP = NW * GPW;       // lane groups per block
    constexpr int N = U * GT;            // scores per lane group per step
    constexpr int STRIDE = NGRP * U;     // keys per block per step
    static_assert(D % 8 == 0 && TG >= 2 && TG <= 32 && (TG & (TG - 1)) == 0, "D/8 must be a power of two in 2..32");
    static_assert(N % 4 == 0 && (N & (N - 1)) == 0, "U * GT must be a power of two >= 4");

    // Per warp, one slice serves the cp.async ring during the loop and the warp's partial acc after.
    constexpr int PIPE_BYTES = PIPE * 2 * U * 32 * 16;      // [stage][K|V][u][lane] uint4
    constexpr int ACC_BYTES = GT * D * 4;                   // [g][d] float
    constexpr int SLICE = PIPE_BYTES > ACC_BYTES ? PIPE_BYTES : ACC_BYTES;
    __shared__ float smM[NW][GT];
    __shared__ float smL[NW][GT];
    __shared__ __align__(16) unsigned char smSlice[NW][SLICE];
    __shared__ __align__(16) float smS[TR ? NW * GPW : 1][TR ? N : 4];

    const int seq = blockIdx.x;
    const int G = numHeads / numKvHeads;
    const int chunks = (G + GT - 1) / GT;
    const int kvHead = blockIdx.y / chunks;
    const int chunk = blockIdx.y - kvHead * chunks;
    const int split = blockIdx.z;
    const int numSplits = gridDim.z;
    const int kvLen = kvLens[seq];
    const int headBase = kvHead * G + chunk * GT;
    const int nHeads = min(GT, G - chunk * GT);
    if (kvLen <= 0) {   // a padding sequence: zeros (the merge writes them when numSplits > 1)
        if (numSplits == 1) {
            for (int i = threadIdx.x; i < nHeads * D; i += blockDim.x) {
                out[((size_t) seq * numHeads + headBase) * D + i] = 0.f;
            }
        }
        return;
    }
    kvPerSplit = rkv_split_len(kvLen, numSplits, kvPerSplit);
    const int start = split * kvPerSplit;
    if (start >= kvLen) return;
    const int end = min(kvLen, start + kvPerSplit);

    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int tl = lane & (TG - 1);            // lane within its group: channels tl*8 .. tl*8+7
    const int gw = lane / TG;                  // group within the warp

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

    // Steps: warp w covers keys tw .. tw + GPW*U - 1 with tw = start + w*GPW*U + k*STRIDE, its lane
    // group gw the U keys from t0 = tw + gw*U. Steps run while the WARP has keys (shuffles and
    // __syncwarp need all 32 lanes); a group whose keys all lie past `end` loads nothing and skips
    // the softmax update.
    auto load = [&](int tw, uint4 (&kx)[U], uint4 (&vx)[U]) {
        const int t0 = tw + gw * U;
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
    };

    auto step = [&](int tw, const uint4 (&kx)[U], const uint4 (&vx)[U]) {
        const int t0 = tw + gw * U;
        // Partial dot products over this lane's 8 channels.
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
        // Sum over the TG lanes of the group; afterwards every lane holds all N scores.
        if constexpr (TR) {
            float v[N];
#pragma unroll
            for (int u = 0; u < U; u++) {
#pragma unroll
                for (int g = 0; g < GT; g++) v[u * GT + g] = s[u][g];
            }
            transpose_reduce<TG / 2, N, N>(v, tl);
            constexpr int NF = N >= TG ? N / TG : 1;
            float* sc = &smS[warp * GPW + gw][0];
            if (N >= TG || (tl % (N >= TG ? 1 : TG / N)) == 0) {
#pragma unroll
                for (int i = 0; i < NF; i++) sc[(tl * N) / TG + i] = v[i];
            }
            __syncwarp();
#pragma unroll
            for (int i = 0; i < N / 4; i++) {
                const float4 x = *reinterpret_cast<const float4*>(sc + 4 * i);
                const float xs[4] = {x.x, x.y, x.z, x.w};
#pragma unroll
                for (int j = 0; j < 4; j++) s[(4 * i + j) / GT][(4 * i + j) % GT] = xs[j];
            }
            __syncwarp();   // all reads done before the next step's writes
        } else {
#pragma unroll
            for (int o = TG / 2; o >= 1; o >>= 1) {
#pragma unroll
                for (int u = 0; u < U; u++) {
#pragma unroll
                    for (int g = 0; g < GT; g++) s[u][g] += __shfl_xor_sync(0xffffffffu, s[u][g], o);
                }
            }
        }
        if (t0 >= end) return;   // no shuffles or barriers below this point
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
    };

    int tw = start + warp * GPW * U;
    if constexpr (PIPE >= 2) {
        uint4* ring = reinterpret_cast<uint4*>(&smSlice[warp][0]);   // [PIPE][2][U][32]
        auto issue = [&](int twi, int stage) {
            const int t0 = twi + gw * U;
            int pg = t0 / tokensPerBlock;
            int off = t0 - pg * tokensPerBlock;
#pragma unroll
            for (int u = 0; u < U; u++) {
                const bool valid = t0 + u < end;
                const unsigned short* p = valid ? kBase + (size_t) table[pg] * blockStride + (size_t) off * D : kvCache;
                rkv_cp_async16(ring + ((stage * 2 + 0) * U + u) * 32 + lane, p, valid);
                rkv_cp_async16(ring + ((stage * 2 + 1) * U + u) * 32 + lane, valid ? p + vDelta : kvCache, valid);
                if (++off == tokensPerBlock) {
                    off = 0;
                    pg++;
                }
            }
            rkv_cp_async_commit();
        };
#pragma unroll
        for (int i = 0; i < PIPE - 1; i++) issue(tw + i * STRIDE, i);
        int stage = 0;
        for (; tw < end; tw += STRIDE) {
            issue(tw + (PIPE - 1) * STRIDE, stage == 0 ? PIPE - 1 : stage - 1);
            rkv_cp_async_wait<PIPE - 1>();
            uint4 kx[U], vx[U];
#pragma unroll
            for (int u = 0; u < U; u++) {
                kx[u] = ring[((stage * 2 + 0) * U + u) * 32 + lane];
                vx[u] = ring[((stage * 2 + 1) * U + u) * 32 + lane];
            }
            step(tw, kx, vx);
            stage = stage == PIPE - 1 ? 0 : stage + 1;
        }
        rkv_cp_async_wait<0>();   // the slice becomes this warp's acc below
    } else {
        for (; tw < end; tw += STRIDE) {
            uint4 kx[U], vx[U];
            load(tw, kx, vx);
            step(tw, kx, vx);
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
            float* sa = reinterpret_cast<float*>(&smSlice[warp][0]) + g * D + tl * 8;
            *reinterpret_cast<float4*>(sa) = make_float4(acc[g][0], acc[g][1], acc[g][2], acc[g][3]);
            *reinterpret_cast<float4*>(sa + 4) = make_float4(acc[g][4], acc[g][5], acc[g][6], acc[g][7]);
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
            A += reinterpret_cast<const float*>(&smSlice[w][0])[g * D + d] * wt;
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
        int numHeads, int headDim, int kvPerSplit, int numSplits) {   // kvPerSplit: the minimum, as in the split kernel
    const int seq = blockIdx.x;
    const int head = blockIdx.y;
    const int numSeqs = gridDim.x;
    const int kvLen = kvLens[seq];
    if (kvLen <= 0) {   // a padding sequence
        for (int d = threadIdx.x; d < headDim; d += blockDim.x) out[((size_t) seq * numHeads + head) * headDim + d] = 0.f;
        return;
    }
    kvPerSplit = rkv_split_len(kvLen, numSplits, kvPerSplit);
    const int n = min(numSplits, (kvLen + kvPerSplit - 1) / kvPerSplit);
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
            int kvPerSplit, float scale) {                                                              \
        (void) headDim; /* must equal D */                                                             \
        rkv_decode::decode_split<D, GT, 4, rkv_decode::NTHREADS / 32, RKV_DECODE_PIPE, RKV_DECODE_TR>(                                  \
                q, kvCache, kvLens, blockTables, out, workspace, numHeads, numKvHeads, tokensPerBlock,  \
                maxBlocks, kvPerSplit, scale);                                                          \
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
