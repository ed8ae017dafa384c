// rocket_stage1_v1.cuh: TEST-ONLY reference, a copy of rocket_stage1.cu v1 (branch point d97eb05) with its
// kernels renamed v1_rocket_stage1_* and its macros V1S1_*, so that rocket_stage1_test.cu links old and new in one
// binary and compares them bit for bit. Do not edit (it is the baseline).
#pragma once
#include "../../main/cuda/rocket_common.cuh"
// rocket_stage1.cu: RocketKV stage 1 (prefill eviction) of ONE sequence of a prefill step, one layer.
// CPU twin: CpuRocketKv.stage1 -> RocketKv.selectPromptTokens (WindowScores, TopK) + compaction.
//
//   q        f32  [T][numHeads * headDim]     the prefill step's queries (after RoPE)
//   k        f32  [T][numKvHeads * headDim]   its keys (after RoPE)
//   start    the sequence's first token row in q / k; L = its prompt length (> promptBudget),
//            W = windowSize, n = L - W prefix keys, G = numHeads / numKvHeads, R = G * W rows per
//            KV head: row r is query head g*G + r / W at window position r % W (the CPU's order)
//   kvCache  bf16 [numBlocks][2 (K|V)][numKvHeads][tokensPerBlock][headDim]
//   table    i32  [maxBlocks] the sequence's block-table row
//
// Scratch (the caller's, reused sequence after sequence):
//   rowMax f32 [Hkv][R], rowInv f32 [Hkv][R], tileMax f32 [Hkv][R][numTiles],
//   tileSum f64 [Hkv][R][numTiles], score f32 [Hkv][n], pooled f32 [Hkv][n], kept i32 [Hkv][B],
//   kvTmp bf16 [Hkv][B][2][headDim]                       (numTiles = ceil(n / 128), B = promptBudget)
//
// Pipeline (7 launches, all on one stream; the host reads nothing back):
//   1. v1_rocket_stage1_pass (pass 0)  tile maxima of the scaled logits, per row
//   2. v1_rocket_stage1_reduce (0)     rowMax = max over tiles
//   3. v1_rocket_stage1_pass (pass 1)  tile sums of e = (float) exp((double) (s - rowMax)), in fp64
//   4. v1_rocket_stage1_reduce (1)     rowInv = (float) (1 / sum over tiles)
//   5. v1_rocket_stage1_pass (pass 2)  score[j] = sum over rows, in row order, of e * rowInv (fp32)
//   6. v1_rocket_stage1_pool           pooled = max-pool of width 2*radius+1 (-inf padding)
//   7. v1_rocket_stage1_select         kept = top-(B - W) of pooled (ties: lower index), ascending, + window
//   8. v1_rocket_stage1_gather / v1_rocket_stage1_scatter: kept K/V rows -> kvTmp -> slots 0 .. B-1.
//      Gathering everything first makes the in-place move safe although blocks run concurrently.
//
// Numerics mirror the CPU twin operation for operation: each logit is one thread's sequential
// fp32 dot product over the channels without fused multiply-adds (__fmul_rn / __fadd_rn), then
// times scale (the CPU's (float) (1 / sqrt(D)), passed in); the row max is exact; each exponential is fp64 exp of the fp32 difference rounded to
// fp32 (Java: (float) Math.exp); the row sum is fp64 (in a different order than the CPU's, so
// 1/sum can differ from the CPU's in the last fp32 bit only when it sits on a rounding boundary);
// probabilities are added in fp32 in the CPU's row order. Logits, exponentials and scores are thus
// bit-identical to the CPU's except in astronomically rare cases, and the selection is identical.
//
// Versions: v1 (this file). The logit passes recompute q.k three times (max, sum, accumulate) so
// that nothing of size R x n is stored: 3 * H * W * n * D multiply-adds per layer, fp32 CUDA cores,
// keys of a 128-key tile transposed in shared memory ([D][129], conflict-free), queries in chunks of
// 16 rows (broadcast reads). Cost is small next to the dense prefill attention it follows.
//
// Launches (block sizes fixed here; the Java wrapper CudaRocketKv uses these):
//   v1_rocket_stage1_pass    grid (numTiles, Hkv), block 128, dynamic smem ((D*129 + 16*D + 1) & ~1)*4 + 16*4*8 B
//   v1_rocket_stage1_reduce  grid (ceil(Hkv*R / 128)), block 128
//   v1_rocket_stage1_pool    grid (ceil(n / 256), Hkv), block 256
//   v1_rocket_stage1_select  grid (Hkv), block 1024
//   v1_rocket_stage1_gather / _scatter  grid (B, Hkv), block 64

#define V1S1_TK 128   // keys per tile = threads per block of v1_rocket_stage1_pass
#define V1S1_RB 16    // query rows per shared-memory chunk
#define V1S1_NW (V1S1_TK / 32)

extern "C" __global__ void __launch_bounds__(V1S1_TK) v1_rocket_stage1_pass(
        const float* __restrict__ q, const float* __restrict__ k,
        const float* __restrict__ rowMax,     // [Hkv][R] (read in passes 1, 2)
        const float* __restrict__ rowInv,     // [Hkv][R] (read in pass 2)
        float* __restrict__ tileMax,          // [Hkv][R][numTiles] (written in pass 0)
        double* __restrict__ tileSum,         // [Hkv][R][numTiles] (written in pass 1)
        float* __restrict__ score,            // [Hkv][n] (written in pass 2)
        int start, int promptLen, int windowSize, int numHeads, int numKvHeads, int headDim, float scale,
        int pass) {
    extern __shared__ __align__(16) float v1s1smem[];
    const int D = headDim;
    const int g = blockIdx.y;
    const int tile = blockIdx.x;
    const int numTiles = gridDim.x;
    const int n = promptLen - windowSize;
    const int G = numHeads / numKvHeads;
    const int R = G * windowSize;
    const int tid = threadIdx.x;
    const int lane = tid & 31;
    const int warp = tid >> 5;
    float* ks = v1s1smem;                                              // [D][TK + 1]
    float* qs = ks + D * (V1S1_TK + 1);                                // [RB][D]
    double* red = reinterpret_cast<double*>(v1s1smem + ((D * (V1S1_TK + 1) + V1S1_RB * D + 1) & ~1));   // [RB][NW], 8-byte aligned

    const int j0 = tile * V1S1_TK;
    const int j = j0 + tid;
    const bool valid = j < n;
    for (int e = tid; e < V1S1_TK * D; e += V1S1_TK) {
        const int jj = e / D;
        const int d = e - jj * D;
        const int jg = j0 + jj;
        ks[d * (V1S1_TK + 1) + jj] = jg < n ? k[((size_t) (start + jg) * numKvHeads + g) * D + d] : 0.f;
    }
    float acc = 0.f;
    for (int r0 = 0; r0 < R; r0 += V1S1_RB) {
        const int rows = min(V1S1_RB, R - r0);
        __syncthreads();   // keys stored; the previous chunk's qs / red reads are done
        for (int e = tid; e < rows * D; e += V1S1_TK) {
            const int rr = e / D;
            const int d = e - rr * D;
            const int r = r0 + rr;
            const int h = g * G + r / windowSize;
            const int i = r % windowSize;
            qs[rr * D + d] = q[((size_t) (start + promptLen - windowSize + i) * numHeads + h) * D + d];
        }
        __syncthreads();
        for (int rr = 0; rr < rows; rr++) {
            const int r = r0 + rr;
            const float* qr = qs + rr * D;
            float s = 0.f;
            for (int d = 0; d < D; d++) s = __fadd_rn(s, __fmul_rn(qr[d], ks[d * (V1S1_TK + 1) + tid]));
            s = __fmul_rn(s, scale);
            if (pass == 0) {
                float v = valid ? s : -INFINITY;
#pragma unroll
                for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
                if (lane == 0) red[rr * V1S1_NW + warp] = v;
            } else {
                const float e = valid ? (float) exp((double) __fsub_rn(s, rowMax[g * R + r])) : 0.f;
                if (pass == 1) {
                    double x = e;
#pragma unroll
                    for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
                    if (lane == 0) red[rr * V1S1_NW + warp] = x;
                } else if (valid) {
                    acc = __fadd_rn(acc, __fmul_rn(e, rowInv[g * R + r]));
                }
            }
        }
        if (pass < 2) {
            __syncthreads();
            if (tid < rows) {
                const size_t o = ((size_t) g * R + r0 + tid) * numTiles + tile;
                if (pass == 0) {
                    float m = (float) red[tid * V1S1_NW];
                    for (int w = 1; w < V1S1_NW; w++) m = fmaxf(m, (float) red[tid * V1S1_NW + w]);
                    tileMax[o] = m;
                } else {
                    double sum = 0.0;
                    for (int w = 0; w < V1S1_NW; w++) sum += red[tid * V1S1_NW + w];
                    tileSum[o] = sum;
                }
            }
        }
    }
    if (pass == 2 && valid) score[(size_t) g * n + j] = acc;
}

extern "C" __global__ void __launch_bounds__(128) v1_rocket_stage1_reduce(
        const float* __restrict__ tileMax, const double* __restrict__ tileSum,
        float* __restrict__ rowMax, float* __restrict__ rowInv, int rows, int numTiles, int pass) {
    const int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= rows) return;
    if (pass == 0) {
        float m = -INFINITY;
        for (int t = 0; t < numTiles; t++) m = fmaxf(m, tileMax[(size_t) r * numTiles + t]);
        rowMax[r] = m;
    } else {
        double s = 0.0;
        for (int t = 0; t < numTiles; t++) s += tileSum[(size_t) r * numTiles + t];
        rowInv[r] = (float) (1.0 / s);
    }
}

extern "C" __global__ void __launch_bounds__(256) v1_rocket_stage1_pool(
        const float* __restrict__ score, float* __restrict__ pooled, int n, int radius) {
    const int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= n) return;
    const float* s = score + (size_t) blockIdx.y * n;
    const int lo = max(0, j - radius);
    const int hi = min(n - 1, j + radius);
    float m = s[lo];
    for (int t = lo + 1; t <= hi; t++) m = fmaxf(m, s[t]);
    pooled[(size_t) blockIdx.y * n + j] = m;
}

extern "C" __global__ void __launch_bounds__(1024) v1_rocket_stage1_select(
        const float* __restrict__ pooled, int* __restrict__ kept, int n, int promptBudget, int windowSize) {
    __shared__ RkvBlockShared sh;
    const int g = blockIdx.x;
    const int k = promptBudget - windowSize;   // < n because L > promptBudget
    int* row = kept + (size_t) g * promptBudget;
    if (k > 0) rkv_block_topk_ascending(pooled + (size_t) g * n, n, k, row, sh);
    for (int t = threadIdx.x; t < windowSize; t += blockDim.x) row[k + t] = n + t;
}

extern "C" __global__ void __launch_bounds__(64) v1_rocket_stage1_gather(
        const unsigned short* __restrict__ kvCache, const int* __restrict__ kept, const int* __restrict__ table,
        unsigned short* __restrict__ kvTmp, int promptBudget, int numKvHeads, int headDim, int tokensPerBlock) {
    const int i = blockIdx.x;
    const int g = blockIdx.y;
    const int src = kept[(size_t) g * promptBudget + i];
    const unsigned short* kp = kvCache + rkv_k_offset(table[src / tokensPerBlock], g, src % tokensPerBlock,
                                                      numKvHeads, tokensPerBlock, headDim);
    const unsigned short* vp = kp + (size_t) numKvHeads * tokensPerBlock * headDim;
    unsigned short* dst = kvTmp + ((size_t) g * promptBudget + i) * 2 * headDim;
    for (int d = threadIdx.x; d < headDim; d += blockDim.x) {
        dst[d] = kp[d];
        dst[headDim + d] = vp[d];
    }
}

extern "C" __global__ void __launch_bounds__(64) v1_rocket_stage1_scatter(
        unsigned short* __restrict__ kvCache, const int* __restrict__ table, const unsigned short* __restrict__ kvTmp,
        int promptBudget, int numKvHeads, int headDim, int tokensPerBlock) {
    const int i = blockIdx.x;
    const int g = blockIdx.y;
    unsigned short* kp = kvCache + rkv_k_offset(table[i / tokensPerBlock], g, i % tokensPerBlock, numKvHeads,
                                                tokensPerBlock, headDim);
    unsigned short* vp = kp + (size_t) numKvHeads * tokensPerBlock * headDim;
    const unsigned short* src = kvTmp + ((size_t) g * promptBudget + i) * 2 * headDim;
    for (int d = threadIdx.x; d < headDim; d += blockDim.x) {
        kp[d] = src[d];
        vp[d] = src[headDim + d];
    }
}
