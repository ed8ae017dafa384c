// split_attention.cuh: ONE split of split-KV (flash-decoding) attention for one query token per
// sequence, the body shared by attention_decode.cu (dense: every key of the sequence below kvLen,
// through its block table) and rocket_decode.cu (sparse: the existing slots of the pages RocketKV
// selected). The kernels differ only in how a split's keys are enumerated, which a Keys type says
// (below); query loading, online softmax, score reductions and the merges of lane groups and warps
// are written here once. CPU twins: CpuKernels.decodeAttention (dense), the attention part of
// CpuRocketKv.sparseDecode (sparse).
//
// What one thread block computes, for its query heads h = headBase + g (g < nHeads, all of KV head
// kvHead) over the keys t of its split, with s_t = scale * log2(e) * (q[seq][h] . k_t):
//   M = max_t s_t,   L = sum_t 2^(s_t - M),   A[d] = sum_t 2^(s_t - M) * v_t[d]
//   numSplits == 1: out[seq][h][d] = A[d] / L   (0 for a split without keys, when Keys may have none)
//   numSplits > 1:  acc[seq][h][split][d] = A[d];  ml[seq][h][split] = (M, L)   (M = -inf, L = 0: none)
//
//   q          f32  [numSeqs][numHeads * D]   the step's query rows (row s = sequence s)
//   kvCache    Keys::Elem (bf16 or fp8 e4m3, kv_elements.cuh) [numBlocks][2 (K|V)][numKvHeads][tokensPerBlock][D],
//              read through Keys only; an e4m3 cache's values are e4m3 * kScale (K) and e4m3 * vScale (V):
//              kScale is folded into the prescaled query, vScale into A (both 1 for bf16, which leaves
//              every result bit as it was)
//   out        f32  [numSeqs][numHeads * D]   written only when numSplits == 1
//   workspace  f32  acc [numSeqs][numHeads][numSplits][D], then ml [numSeqs][numHeads][numSplits][2]
//                   (max in log2 units, sum); used only when numSplits > 1
//
// Launch (by the including kernel): grid (numSeqs, numKvHeads * headChunks, numSplits) with
// headChunks = ceil(G / GT), G = numHeads / numKvHeads; block NW * 32 threads; static shared memory
// only. Every thread of the block makes the call (it has barriers).
//
// Structure: a block keeps its GT queries in registers, so each K/V element is read from memory once
// per block. A key row is read by TG = D/8 lanes, 8 channels each (16 bytes of bf16, 8 of e4m3; a page's rows of
// one KV head are contiguous: for D = 128 bf16 a warp reads 512 contiguous bytes per instruction); each lane
// group takes U consecutive indices per step. Softmax is online per lane group (running max m, sum l,
// acc in fp32; exp2 of log2(e)-prescaled scores); groups, then warps, merge at the end.
//   PIPE: 0 = each step loads its K/V straight into registers; S >= 2 = an S-stage cp.async (LDGSTS)
//         ring per lane in shared memory (S - 1 steps in flight ahead of the one computed; every
//         lane reads back only the chunks it copied itself, so no barrier is needed).
//   TR:   reduce scores by transpose-reduce + a shared-memory exchange (N/2 + N/4 + ... shuffles)
//         instead of full butterflies (N log2(TG)); the two orders round differently.
//
// Keys: how a split's keys are enumerated. Index t runs over [keys.begin, keys.end); a lane group
// asks for U consecutive indices at once, and may ask past end (the warp steps as a whole).
//   using Elem                         the cache's element type (RkvBf16Kv or RkvE4m3Kv)
//   static constexpr bool CONTIGUOUS   true: every index in [begin, end) is a key and begin < end
//                                      (a group's keys are then a prefix of its U indices)
//   int begin, end                     the split's index range
//   template <int U, class F> void rows(int t0, F&& f) const
//                                      calls f(u, k, v, ok) for u = 0 .. U-1 in order: k and v are the
//                                      K and V row slices (this lane's 8 channels, const Elem::T*) of index t0 + u, ok
//                                      whether it is a key; for a non-key, k and v are a readable
//                                      address that is not read
//   bool valid(int t) const            ok of index t alone (what rows says; the cp.async ring asks
//                                      again when the step computes)
#pragma once

#include "attention_common.cuh"
#include "kv_elements.cuh"

// The (sequence, KV head, chunk of GT query heads, split) a thread block of the split grid owns.
template <int GT>
struct RkvSplitBlock {
    int seq;         // blockIdx.x
    int kvHead;
    int chunk;       // of the G query heads of kvHead, this block has GT from chunk * GT on
    int G;           // query heads per KV head
    int split;       // blockIdx.z
    int numSplits;   // gridDim.z

    // first query head; how many the block has (< GT in a group's last chunk when GT does not divide G)
    __device__ __forceinline__ int headBase() const { return kvHead * G + chunk * GT; }
    __device__ __forceinline__ int nHeads() const { return min(GT, G - chunk * GT); }
};

template <int GT>
static __device__ __forceinline__ RkvSplitBlock<GT> rkv_split_block(int numHeads, int numKvHeads) {
    RkvSplitBlock<GT> b;
    b.G = numHeads / numKvHeads;
    const int chunks = (b.G + GT - 1) / GT;
    b.seq = blockIdx.x;
    b.kvHead = blockIdx.y / chunks;
    b.chunk = blockIdx.y - b.kvHead * chunks;
    b.split = blockIdx.z;
    b.numSplits = gridDim.z;
    return b;
}

// Transpose-reduce of N partial sums over the TG lanes of a lane group (TG, N powers of two):
// each step sends half of the values still held to the partner lane and keeps the other half, so
// it costs N/2 + N/4 + ... shuffles instead of N * log2(TG). Afterwards lane tl holds the complete
// sums of the flattened indices (tl * N) / TG + i, i < max(1, N / TG) (lanes share them when N < TG).
template <int O, int N, int NN>
__device__ __forceinline__ void rkv_transpose_reduce(float (&v)[NN], int tl) {
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
            rkv_transpose_reduce<O / 2, H, NN>(v, tl);
        } else {
            v[0] += __shfl_xor_sync(0xffffffffu, v[0], O);
            rkv_transpose_reduce<O / 2, 1, NN>(v, tl);
        }
    }
}

// Commit / wait of the cp.async groups the Elem::copy_async calls (kv_elements.cuh) issue.
static __device__ __forceinline__ void rkv_cp_async_commit() {
    asm volatile("cp.async.commit_group;");
}
template <int N>
static __device__ __forceinline__ void rkv_cp_async_wait() {
    asm volatile("cp.async.wait_group %0;" ::"n"(N));
}

// D: head dim; GT: query heads per block; U: indices per lane group per step; NW: warps;
// PIPE, TR and Keys: see the header. kScale, vScale: an e4m3 cache's scales (1 for bf16).
template <int D, int GT, int U, int NW, int PIPE, bool TR, class Keys>
__device__ __forceinline__ void rkv_split_attention(
        const float* __restrict__ q, const Keys& keys, const RkvSplitBlock<GT>& at, int numHeads, float scale,
        float* __restrict__ out, float* __restrict__ workspace, float kScale = 1.f, float vScale = 1.f) {
    using E = typename Keys::Elem;
    using Chunk = typename E::Chunk;
    constexpr int TG = D / 8;            // lanes per key row, 8 channels (16 bytes) each
    constexpr int GPW = 32 / TG;         // key rows (lane groups) per warp
    constexpr int NGRP = NW * GPW;       // lane groups per block
    constexpr int N = U * GT;            // scores per lane group per step
    constexpr int STRIDE = NGRP * U;     // indices per block per step
    static_assert(D % 8 == 0 && TG >= 2 && TG <= 32 && (TG & (TG - 1)) == 0, "D/8 must be a power of two in 2..32");
    static_assert(!TR || (N % 4 == 0 && (N & (N - 1)) == 0), "transpose-reduce needs U * GT a power of two >= 4");

    // Per warp, one slice serves the cp.async ring during the loop and the warp's partial acc after.
    constexpr int PIPE_BYTES = PIPE * 2 * U * 32 * (int) sizeof(Chunk);   // [stage][K|V][u][lane] Chunk
    constexpr int ACC_BYTES = GT * D * 4;                   // [g][d] float
    constexpr int SLICE = PIPE_BYTES > ACC_BYTES ? PIPE_BYTES : ACC_BYTES;
    __shared__ float smM[NW][GT];
    __shared__ float smL[NW][GT];
    __shared__ __align__(16) unsigned char smSlice[NW][SLICE];
    __shared__ __align__(16) float smS[TR ? NW * GPW : 1][TR ? N : 4];

    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int tl = lane & (TG - 1);            // lane within its group: channels tl*8 .. tl*8+7
    const int gw = lane / TG;                  // group within the warp
    const int headBase = at.headBase();
    const int nHeads = at.nHeads();

    // Queries, pre-multiplied by scale * log2(e) (and the K scale) so that softmax uses exp2.
    const float sl2 = scale * RKV_LOG2E * kScale;
    float qr[GT][8];
#pragma unroll
    for (int g = 0; g < GT; g++) {
        float4 a = make_float4(0.f, 0.f, 0.f, 0.f), b = a;
        if (g < nHeads) {
            const float4* qp = reinterpret_cast<const float4*>(
                    q + ((size_t) at.seq * numHeads + headBase + g) * D + tl * 8);
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

    // Steps: warp w covers indices tw .. tw + GPW*U - 1 with tw = begin + w*GPW*U + k*STRIDE, its lane
    // group gw the U indices from t0 = tw + gw*U. Steps run while the WARP has indices (shuffles and
    // __syncwarp need all 32 lanes); a group without a key loads nothing and skips the softmax update.
    // isKey(u): whether index t0 + u is a key, asked only after the score reduction (as few values
    // as possible live across it).
    auto step = [&](const Chunk (&kx)[U], const Chunk (&vx)[U], auto&& isKey) {
        // Partial dot products over this lane's 8 channels.
        float s[U][GT];
#pragma unroll
        for (int u = 0; u < U; u++) {
            float kf[8];
            E::unpack(kx[u], kf);
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
            rkv_transpose_reduce<TG / 2, N, N>(v, tl);
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
        bool any = isKey(0);
        if constexpr (!Keys::CONTIGUOUS) {
#pragma unroll
            for (int u = 1; u < U; u++) any = any || isKey(u);
        }
        if (!any) return;   // no shuffles or barriers below this point
        // Online softmax update (the group has a key, so the new max is finite).
        float p[U][GT];
#pragma unroll
        for (int g = 0; g < GT; g++) {
            float mx = Keys::CONTIGUOUS ? s[0][g] : -INFINITY;   // contiguous: key 0 is there
#pragma unroll
            for (int u = Keys::CONTIGUOUS ? 1 : 0; u < U; u++) {
                if (isKey(u)) mx = fmaxf(mx, s[u][g]);
            }
            const float mNew = fmaxf(m[g], mx);
            const float alpha = rkv_exp2(m[g] - mNew);   // 0 on the first update (m = -inf)
            float ps = 0.f;
#pragma unroll
            for (int u = 0; u < U; u++) {
                p[u][g] = isKey(u) ? rkv_exp2(s[u][g] - mNew) : 0.f;
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
            E::unpack(vx[u], vf);
#pragma unroll
            for (int g = 0; g < GT; g++) {
#pragma unroll
                for (int e = 0; e < 8; e++) acc[g][e] = fmaf(p[u][g], vf[e], acc[g][e]);
            }
        }
    };

    int tw = keys.begin + warp * GPW * U;
    if constexpr (PIPE >= 2) {
        Chunk* ring = reinterpret_cast<Chunk*>(&smSlice[warp][0]);   // [PIPE][2][U][32]
        auto issue = [&](int twi, int stage) {
            keys.template rows<U>(twi + gw * U, [&](int u, const typename E::T* k, const typename E::T* v, bool ok) {
                E::copy_async(ring + ((stage * 2 + 0) * U + u) * 32 + lane, k, ok);
                E::copy_async(ring + ((stage * 2 + 1) * U + u) * 32 + lane, v, ok);
            });
            rkv_cp_async_commit();
        };
#pragma unroll
        for (int i = 0; i < PIPE - 1; i++) issue(tw + i * STRIDE, i);
        int stage = 0;
        for (; tw < keys.end; tw += STRIDE) {
            issue(tw + (PIPE - 1) * STRIDE, stage == 0 ? PIPE - 1 : stage - 1);
            rkv_cp_async_wait<PIPE - 1>();
            Chunk kx[U], vx[U];
#pragma unroll
            for (int u = 0; u < U; u++) {
                kx[u] = ring[((stage * 2 + 0) * U + u) * 32 + lane];
                vx[u] = ring[((stage * 2 + 1) * U + u) * 32 + lane];
            }
            const int t0 = tw + gw * U;
            step(kx, vx, [&](int u) { return keys.valid(t0 + u); });
            stage = stage == PIPE - 1 ? 0 : stage + 1;
        }
        rkv_cp_async_wait<0>();   // the slice becomes this warp's acc below
    } else {
        for (; tw < keys.end; tw += STRIDE) {
            Chunk kx[U], vx[U];
            bool ok[U];
            keys.template rows<U>(tw + gw * U, [&](int u, const typename E::T* k, const typename E::T* v, bool isKey) {
                ok[u] = isKey;
                if (isKey) {
                    kx[u] = E::load(k);
                    vx[u] = E::load(v);
                } else {
                    kx[u] = E::zero();
                    vx[u] = kx[u];
                }
            });
            step(kx, vx, [&](int u) { return ok[u]; });
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
        const size_t row = (size_t) at.seq * numHeads + headBase + g;
        if (at.numSplits == 1) {
            out[row * D + d] = (Keys::CONTIGUOUS ? A / Lsum : (Lsum > 0.f ? A / Lsum : 0.f)) * vScale;
        } else {
            const size_t idx = row * at.numSplits + at.split;
            workspace[idx * D + d] = A * vScale;
            if (d == 0) {
                float* ml = workspace + (size_t) gridDim.x * numHeads * at.numSplits * D;
                ml[2 * idx] = M;
                ml[2 * idx + 1] = Lsum;
            }
        }
    }
}
