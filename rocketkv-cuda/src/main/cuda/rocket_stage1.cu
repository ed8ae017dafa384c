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
//   logits f32 [Hkv][R][numTiles * 128] (optional: 4 * Hkv * R * n bytes, 134 MB at n = 32k, Hkv 8,
//          R 128; it grows with n, so CudaRocketStage1 passes it only up to a cap, else a null pointer)
//
// Pipeline (8 launches, all on one stream; the host reads nothing back):
//   1. rocket_stage1_pass (pass 0)  the scaled logits (into `logits` when given); tile maxima, per row
//   2. rocket_stage1_reduce (0)     rowMax = max over tiles
//   3. rocket_stage1_pass (pass 1)  tile sums of e = (float) exp((double) (s - rowMax)), in fp64
//   4. rocket_stage1_reduce (1)     rowInv = (float) (1 / sum over tiles)
//   5. rocket_stage1_pass (pass 2)  score[j] = sum over rows, in row order, of e * rowInv (fp32)
//      (passes 1 and 2 read the stored logits when `logits` is given, else compute them again)
//   6. rocket_stage1_pool           pooled = max-pool of width 2*radius+1 (-inf padding)
//   7. rocket_stage1_select         kept = top-(B - W) of pooled (ties: lower index), ascending, + window
//   8. rocket_stage1_gather / rocket_stage1_scatter: kept K/V rows -> kvTmp -> slots 0 .. B-1.
//      Gathering everything first makes the in-place move safe although blocks run concurrently.
//
// Numerics mirror the CPU twin operation for operation: each logit is one sequential fp32 dot product
// over the channels without fused multiply-adds (__fmul_rn / __fadd_rn, channel order), then times
// scale (the CPU's (float) (1 / sqrt(D)), passed in); the row max is exact; each exponential is fp64 exp of the fp32 difference rounded to
// fp32 (Java: (float) Math.exp); the row sum is fp64 (in a different order than the CPU's, so
// 1/sum can differ from the CPU's in the last fp32 bit only when it sits on a rounding boundary);
// probabilities are added in fp32 in the CPU's row order. Logits, exponentials and scores are thus
// bit-identical to the CPU's except in astronomically rare cases, and the selection is identical.
//
// Versions:
//   v1  one thread per key (128 per block) computed each logit, keys of a 128-key tile transposed in
//       shared memory, queries in chunks of 16 rows (broadcast reads); the three passes recomputed q.k
//       (3 * H * W * n * D multiply-adds per layer) so that nothing of size R x n was stored. ~1 fp32
//       operation per shared-memory load: 4.46 ms per layer at a 32k prompt (Hq 32, Hkv 8, D 128, W 32) on
//       an H200.
//   v2  (this file) every output bit equal to v1's (rocketkv-cuda/src/test/cuda/rocket_stage1_test.cu checks
//       it against a copy of v1, rocket_stage1_v1.cuh):
//       - the logits are a register-blocked GEMM: 256 threads per block (128 keys x BM rows per chunk), each
//         thread holds TM x TN = 8 x 8 accumulators (BM 128; 8 x 4 for BM 64, 4 x 4 for BM 32), channels
//         staged 16 at a time, transposed, into double-buffered shared memory by 4-byte cp.async (zero-
//         filled outside), read back as float4: per channel 4 LDS.128 feed 64 FMUL + 64 FADD, so the fp32
//         pipes run near their issue rate. Each accumulator is still one sequential __fadd_rn chain over
//         d = 0 .. D-1, as v1's (zero channels past D add +0: exact).
//       - the chunk's logits go to a shared tile; the epilogues run on it with v1's reduction trees (the xor
//         butterfly of v1's warps evaluated by one thread, s1_butterfly), so tileMax / tileSum are v1's bits.
//       - pass 0 stores the logits (when `logits` is given) and passes 1 and 2 read them: one GEMM instead
//         of three. At 32k: 4.3 G multiply-adds = 8.6 G fp32 instructions (~0.29 ms at an H100's ~30 T/s)
//         plus 134 MB written once and read twice (~0.13 ms at ~3 TB/s), against v1's 3 x 8.6 G at low
//         efficiency.
//       - rocket_stage1_select copies a head's pooled scores to shared memory when the launch gives it
//         n * 4 bytes (CudaRocketStage1: up to 192 KiB), so its five passes over them skip L2.
//
// Launches (block sizes fixed here; the Java wrapper CudaRocketStage1 uses these):
//   rocket_stage1_pass      (R > 64: 128 rows per chunk)  grid (numTiles, Hkv), block 256, dynamic smem
//   rocket_stage1_pass_r64  (32 < R <= 64: 64 rows)         S1_SMEM_COMPUTE(BM) = 4 * (BM*129 + 32*(BM+4) + 32*132)
//   rocket_stage1_pass_r32  (R <= 32: 32 rows)              B when the pass computes (pass 0; every pass without
//                                                           `logits`), S1_SMEM_TILE(BM) = 4 * BM*129 B when it
//                                                           reads stored logits (passes 1, 2). BM = 128: 99840 /
//                                                           66048 B (2 blocks per SM).
//   rocket_stage1_reduce  grid (ceil(Hkv*R / 128)), block 128
//   rocket_stage1_pool    grid (ceil(n / 256), Hkv), block 256
//   rocket_stage1_select  grid (Hkv), block 1024, dynamic smem n * 4 B (when that fits; else 0)
//   rocket_stage1_gather / _scatter  grid (B, Hkv), block 64
#include "rocket_common.cuh"

#define S1_TK 128        // keys per tile: the unit of the tile maxima / sums (fixed: it shapes their reduction trees)
#define S1_THREADS 256   // threads per block of rocket_stage1_pass*
#define S1_BK 16         // channels per shared-memory stage of the logit GEMM
#define S1_TS (S1_TK + 1)  // row stride (floats) of the logit tile in shared memory (conflict-free columns)
#define S1_BS (S1_TK + 4)  // channel stride of the staged keys (16-byte rows, 2-way store conflicts)

// Dynamic shared memory (bytes) of rocket_stage1_pass* with BM rows per chunk: the logit tile
// [BM][S1_TS], then (when it computes) the double-buffered staged queries [2][S1_BK][BM + 4] and keys
// [2][S1_BK][S1_BS]. A pass that only loads stored logits needs the tile alone.
#define S1_SMEM_TILE(BM) ((BM) * S1_TS * 4)
#define S1_SMEM_COMPUTE(BM) (S1_SMEM_TILE(BM) + 2 * S1_BK * ((BM) + 4) * 4 + 2 * S1_BK * S1_BS * 4)

// Lane 0's value after the xor butterfly `for (o = 16; o; o >>= 1) v = op(v, shfl_xor(v, o))` over
// x[0 .. 31] (lane l holding x[l] = ld(l)): at each level lane l < o combines its own value (first operand)
// with lane l + o's, so lane l's value after level o is F(l, o) = op(F(l, 2o), F(l + o, 2o)), with
// F(l, 16) = op(x[l], x[l + 16]); lane 0 ends with F(0, 1). One thread evaluates that very tree (v1's
// warps reduced with it), straight from shared memory, no array.
template <int L, int O, class Ld, class Op>
static __device__ __forceinline__ auto s1_butterfly(const Ld& ld, const Op& op) {
    if constexpr (O == 16) {
        return op(ld(L), ld(L + 16));
    } else {
        return op(s1_butterfly<L, 2 * O>(ld, op), s1_butterfly<L + O, 2 * O>(ld, op));
    }
}

// 4-byte cp.async global -> shared (dst a shared-space address), zero-filled when !ok (src then still valid).
static __device__ __forceinline__ void s1_cp_async4(unsigned dst, const float* src, bool ok) {
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(dst), "l"(src), "r"(ok ? 4 : 0) : "memory");
}
// Four consecutive floats src[0 .. 3] -> dst + c * STRIDE bytes (a transposed store), zeros when !ok; one base
// register each side, the offsets immediate.
template <int STRIDE>
static __device__ __forceinline__ void s1_cp_async4x(unsigned dst, const float* src, bool ok) {
    const int size = ok ? 4 : 0;
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n"
                 "cp.async.ca.shared.global [%0+%3], [%1+4], 4, %2;\n"
                 "cp.async.ca.shared.global [%0+%4], [%1+8], 4, %2;\n"
                 "cp.async.ca.shared.global [%0+%5], [%1+12], 4, %2;\n"
                 ::"r"(dst), "l"(src), "r"(size), "n"(STRIDE), "n"(2 * STRIDE), "n"(3 * STRIDE) : "memory");
}
static __device__ __forceinline__ void s1_cp_async_commit() {
    asm volatile("cp.async.commit_group;\n" ::: "memory");
}
template <int N>
static __device__ __forceinline__ void s1_cp_async_wait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

// One block: the S1_TK keys of a tile x all R rows of a KV head, in chunks of BM rows. Per chunk the
// logits S[BM][S1_TK] are computed (or, in passes 1 and 2 with stored logits, loaded) into the shared
// tile, then the pass's epilogue runs on the tile with v1's numerics and reduction trees.
// Compute: a register-blocked GEMM over the channels, 256 threads each holding TM rows x TN keys of
// accumulators; channel stages of S1_BK staged transposed in shared memory (cp.async, one stage
// ahead); every accumulator is one sequential chain s = __fadd_rn(s, __fmul_rn(q[d], k[d]))
// over d = 0, 1, ..., D-1 from s = +0, as v1's, so each logit has v1's bits. Channels past D are staged
// as zeros: s + (+0) = s exactly (s is never -0: it starts at +0 and x + y = -0 in round-to-nearest
// needs x = y = -0).
template <int BM>
static __device__ __forceinline__ void s1_pass(
        const float* __restrict__ q, const float* __restrict__ k, const float* __restrict__ rowMax,
        const float* __restrict__ rowInv, float* __restrict__ tileMax, double* __restrict__ tileSum,
        float* __restrict__ score, float* __restrict__ logits, int start, int promptLen, int windowSize,
        int numHeads, int numKvHeads, int headDim, float scale, int pass) {
    constexpr int TN = BM == 128 ? 8 : 4;            // keys per thread
    constexpr int TX = S1_TK / TN;                   // threads along the keys
    constexpr int TY = S1_THREADS / TX;              // threads along the rows
    constexpr int TM = BM / TY;                      // rows per thread
    static_assert(TM == 4 || TM == 8, "TM");
    static_assert(TN == 4 || TN == 8, "TN");
    constexpr int AS = BM + 4;                       // channel stride of the staged queries
    constexpr int QPR = S1_BK / 4;                   // float4 per row per stage
    constexpr int A_LOADS = (BM * QPR + S1_THREADS - 1) / S1_THREADS;
    constexpr int B_LOADS = S1_TK * QPR / S1_THREADS;

    extern __shared__ __align__(16) float s1smem[];
    float* tileS = s1smem;                           // [BM][S1_TS]
    float* As = tileS + BM * S1_TS;                  // [2][S1_BK][AS]
    float* Bs = As + 2 * S1_BK * AS;                 // [2][S1_BK][S1_BS]

    const int D = headDim;
    const int g = blockIdx.y;
    const int tile = blockIdx.x;
    const int numTiles = gridDim.x;
    const int n = promptLen - windowSize;
    const int G = numHeads / numKvHeads;
    const int R = G * windowSize;
    const int tid = threadIdx.x;
    const int tx = tid % TX;
    const int ty = tid / TX;
    const int j0 = tile * S1_TK;
    const size_t ldl = (size_t) numTiles * S1_TK;   // row stride of the stored logits
    const bool compute = pass == 0 || logits == nullptr;
    const int nK = (D + S1_BK - 1) / S1_BK;

    // this thread's staged key rows (fixed for the block) and channel quad: per stage it copies the
    // channels dq .. dq + 3 of A_LOADS query rows and B_LOADS key rows, zeros outside
    const int dq = (tid % QPR) * 4;   // (tid + p * S1_THREADS) % QPR == tid % QPR

#pragma unroll 1
    for (int r0 = 0; r0 < R; r0 += BM) {
        if (compute) {
            // per staged row: its shared-memory slot for channel dq (buffer 0), its global channel dq
            // (the tensor's start when outside: a valid address, copied as zeros)
            unsigned aDst[A_LOADS], bDst[B_LOADS];
            const float* aSrc[A_LOADS];
            const float* bSrc[B_LOADS];
            // the first window row: a valid address even when q is placed before a chunked prefill's stash
            const float* qSafe = q + (size_t) (start + promptLen - windowSize) * numHeads * D;
            bool aOk[A_LOADS], bOk[B_LOADS];
#pragma unroll
            for (int p = 0; p < A_LOADS; p++) {
                const int f = tid + p * S1_THREADS;
                const int rr = f / QPR;
                const int r = r0 + rr;
                aOk[p] = f < BM * QPR && r < R;
                aDst[p] = (unsigned) __cvta_generic_to_shared(As + dq * AS + rr);
                aSrc[p] = aOk[p] ? q + ((size_t) (start + promptLen - windowSize + r % windowSize) * numHeads
                                        + g * G + r / windowSize) * D + dq
                                 : qSafe;
            }
#pragma unroll
            for (int p = 0; p < B_LOADS; p++) {
                const int jj = (tid + p * S1_THREADS) / QPR;
                bOk[p] = j0 + jj < n;
                bDst[p] = (unsigned) __cvta_generic_to_shared(Bs + dq * S1_BS + jj);
                bSrc[p] = bOk[p] ? k + ((size_t) (start + j0 + jj) * numKvHeads + g) * D + dq : k;
            }
            // stage kt -> buffer buf, transposed ([channel][row]), by 4-byte cp.async
            auto issue = [&](int kt, int buf) {
                const int off = kt * S1_BK;        // channel offset of the stage
                const bool full = off + dq + 3 < D;
#pragma unroll
                for (int p = 0; p < A_LOADS; p++) {
                    if (BM * QPR % S1_THREADS == 0 || tid + p * S1_THREADS < BM * QPR) {
                        const unsigned dst = aDst[p] + buf * (S1_BK * AS * 4);
                        if (full) {
                            s1_cp_async4x<AS * 4>(dst, aOk[p] ? aSrc[p] + off : qSafe, aOk[p]);
                        } else {
#pragma unroll
                            for (int c = 0; c < 4; c++) {
                                const bool ok = aOk[p] && off + dq + c < D;
                                s1_cp_async4(dst + c * AS * 4, ok ? aSrc[p] + off + c : qSafe, ok);
                            }
                        }
                    }
                }
#pragma unroll
                for (int p = 0; p < B_LOADS; p++) {
                    const unsigned dst = bDst[p] + buf * (S1_BK * S1_BS * 4);
                    const float* src = bSrc[p] + off;
                    if (full) {
                        s1_cp_async4x<S1_BS * 4>(dst, bOk[p] ? src : k, bOk[p]);
                    } else {
#pragma unroll
                        for (int c = 0; c < 4; c++) {
                            const bool ok = bOk[p] && off + dq + c < D;
                            s1_cp_async4(dst + c * S1_BS * 4, ok ? src + c : k, ok);
                        }
                    }
                }
                s1_cp_async_commit();
            };
            float acc[TM][TN];
#pragma unroll
            for (int i = 0; i < TM; i++) {
#pragma unroll
                for (int jn = 0; jn < TN; jn++) acc[i][jn] = 0.f;
            }
            issue(0, 0);
#pragma unroll 1
            for (int kt = 0; kt < nK; kt++) {
                if (kt + 1 < nK) {
                    issue(kt + 1, (kt + 1) & 1);   // in flight while this stage computes
                    s1_cp_async_wait<1>();
                } else {
                    s1_cp_async_wait<0>();
                }
                __syncthreads();                   // stage kt landed, every thread's part
                const float* a = As + (kt & 1) * S1_BK * AS + ty * 4;
                const float* b = Bs + (kt & 1) * S1_BK * S1_BS + tx * 4;
#pragma unroll
                for (int d = 0; d < S1_BK; d++) {
                    float av[TM], bv[TN];
#pragma unroll
                    for (int h = 0; h < TM / 4; h++) {
                        const float4 v = *reinterpret_cast<const float4*>(a + d * AS + h * TY * 4);
                        av[4 * h] = v.x; av[4 * h + 1] = v.y; av[4 * h + 2] = v.z; av[4 * h + 3] = v.w;
                    }
#pragma unroll
                    for (int h = 0; h < TN / 4; h++) {
                        const float4 v = *reinterpret_cast<const float4*>(b + d * S1_BS + h * TX * 4);
                        bv[4 * h] = v.x; bv[4 * h + 1] = v.y; bv[4 * h + 2] = v.z; bv[4 * h + 3] = v.w;
                    }
#pragma unroll
                    for (int i = 0; i < TM; i++) {
#pragma unroll
                        for (int jn = 0; jn < TN; jn++) acc[i][jn] = __fadd_rn(acc[i][jn], __fmul_rn(av[i], bv[jn]));
                    }
                }
                __syncthreads();                   // buffer kt & 1 is read: stage kt + 2 may refill it
            }
            // scaled logits -> the tile (rows (i / 4) * TY * 4 + ty * 4 + i % 4, keys likewise)
#pragma unroll
            for (int i = 0; i < TM; i++) {
                const int rr = (i / 4) * TY * 4 + ty * 4 + (i % 4);
#pragma unroll
                for (int jn = 0; jn < TN; jn++) {
                    const int c = (jn / 4) * TX * 4 + tx * 4 + (jn % 4);
                    tileS[rr * S1_TS + c] = __fmul_rn(acc[i][jn], scale);
                }
            }
            __syncthreads();
            if (logits != nullptr) {   // pass 0 stores the chunk's logits for passes 1 and 2
                for (int f = tid; f < BM * (S1_TK / 4); f += S1_THREADS) {
                    const int rr = f / (S1_TK / 4);
                    const int c = (f % (S1_TK / 4)) * 4;
                    if (r0 + rr < R) {
                        const float* t = tileS + rr * S1_TS + c;
                        *reinterpret_cast<float4*>(logits + ((size_t) g * R + r0 + rr) * ldl + j0 + c) =
                                make_float4(t[0], t[1], t[2], t[3]);
                    }
                }
            }
        } else {   // passes 1 and 2 with stored logits: load the chunk
            for (int f = tid; f < BM * (S1_TK / 4); f += S1_THREADS) {
                const int rr = f / (S1_TK / 4);
                const int c = (f % (S1_TK / 4)) * 4;
                if (r0 + rr < R) {
                    const float4 v = __ldg(reinterpret_cast<const float4*>(
                            logits + ((size_t) g * R + r0 + rr) * ldl + j0 + c));
                    float* t = tileS + rr * S1_TS + c;
                    t[0] = v.x; t[1] = v.y; t[2] = v.z; t[3] = v.w;
                }
            }
            __syncthreads();
        }

        if (pass == 0) {
            if (tid < BM && r0 + tid < R) {
                const float* t = tileS + tid * S1_TS;
                float m = 0.f;
#pragma unroll 1
                for (int w = 0; w < S1_TK / 32; w++) {
                    const int base = w * 32;
                    const float v = s1_butterfly<0, 1>(
                            [&](int l) { return j0 + base + l < n ? t[base + l] : -INFINITY; },
                            [](float a, float b) { return fmaxf(a, b); });
                    m = w == 0 ? v : fmaxf(m, v);
                }
                tileMax[((size_t) g * R + r0 + tid) * numTiles + tile] = m;
            }
        } else {
            // e = (float) exp((double) (s - rowMax)) (0 past n), times rowInv in pass 2, elementwise
            for (int e = tid; e < BM * S1_TK; e += S1_THREADS) {
                const int rr = e / S1_TK;
                const int c = e % S1_TK;
                const int r = r0 + rr;
                if (r < R) {
                    float* t = tileS + rr * S1_TS + c;
                    float v = j0 + c < n ? (float) exp((double) __fsub_rn(*t, rowMax[g * R + r])) : 0.f;
                    if (pass == 2) v = __fmul_rn(v, rowInv[g * R + r]);
                    *t = v;
                }
            }
            __syncthreads();
            if (pass == 1) {
                if (tid < BM && r0 + tid < R) {
                    const float* t = tileS + tid * S1_TS;
                    double sum = 0.0;
#pragma unroll 1
                    for (int w = 0; w < S1_TK / 32; w++) {
                        const int base = w * 32;
                        sum += s1_butterfly<0, 1>([&](int l) { return (double) t[base + l]; },
                                                  [](double a, double b) { return a + b; });
                    }
                    tileSum[((size_t) g * R + r0 + tid) * numTiles + tile] = sum;
                }
            } else if (tid < S1_TK && j0 + tid < n) {
                // the score of key j0 + tid over the rows in order; carried from chunk to chunk in score[]
                float* out = score + (size_t) g * n + j0 + tid;
                float acc = r0 == 0 ? 0.f : *out;
                const int rows = min(BM, R - r0);
                const float* t = tileS + tid;
#pragma unroll 4
                for (int rr = 0; rr < rows; rr++) acc = __fadd_rn(acc, t[rr * S1_TS]);
                *out = acc;
            }
        }
        __syncthreads();   // the tile is read; the next chunk may overwrite it
    }
}

#define S1_PASS_KERNEL(NAME, BM)                                                                              \
    extern "C" __global__ void __launch_bounds__(S1_THREADS, 2) NAME(                      \
            const float* __restrict__ q, const float* __restrict__ k, const float* __restrict__ rowMax,     \
            const float* __restrict__ rowInv, float* __restrict__ tileMax, double* __restrict__ tileSum,    \
            float* __restrict__ score, float* __restrict__ logits, int start, int promptLen, int windowSize, \
            int numHeads, int numKvHeads, int headDim, float scale, int pass) {                             \
        s1_pass<BM>(q, k, rowMax, rowInv, tileMax, tileSum, score, logits, start, promptLen, windowSize,   \
                    numHeads, numKvHeads, headDim, scale, pass);                                            \
    }
S1_PASS_KERNEL(rocket_stage1_pass, 128)      // R > 64
S1_PASS_KERNEL(rocket_stage1_pass_r64, 64)   // 32 < R <= 64
S1_PASS_KERNEL(rocket_stage1_pass_r32, 32)   // R <= 32

extern "C" __global__ void __launch_bounds__(128) rocket_stage1_reduce(
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

extern "C" __global__ void __launch_bounds__(256) rocket_stage1_pool(
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

// With n * 4 bytes of dynamic shared memory (the launch's choice, read from %dynamic_smem_size) the
// head's pooled scores are first copied there, so the five passes of the top-k read shared memory
// instead of L2; same values, same result.
extern "C" __global__ void __launch_bounds__(1024) rocket_stage1_select(
        const float* __restrict__ pooled, int* __restrict__ kept, int n, int promptBudget, int windowSize) {
    __shared__ RkvBlockShared sh;
    extern __shared__ __align__(16) float s1sel[];
    const int g = blockIdx.x;
    const int k = promptBudget - windowSize;   // < n because L > promptBudget
    int* row = kept + (size_t) g * promptBudget;
    if (k > 0) {
        unsigned dyn;
        asm("mov.u32 %0, %%dynamic_smem_size;" : "=r"(dyn));
        const float* vals = pooled + (size_t) g * n;
        if ((size_t) n * 4 <= dyn) {
            for (int j = threadIdx.x; j < n; j += blockDim.x) s1sel[j] = vals[j];
            __syncthreads();
            vals = s1sel;
        }
        rkv_block_topk_ascending(vals, n, k, row, sh);
    }
    for (int t = threadIdx.x; t < windowSize; t += blockDim.x) row[k + t] = n + t;
}

// The compaction's two moves, generic over the cache element T (unsigned short: bf16; unsigned char: fp8 e4m3,
// the _e4m3 kernels): rows are copied bit for bit, so the kept tokens keep exactly what was cached.
template <class T>
__device__ __forceinline__ void stage1_gather(
        const T* __restrict__ kvCache, const int* __restrict__ kept, const int* __restrict__ table,
        T* __restrict__ kvTmp, int promptBudget, int numKvHeads, int headDim, int tokensPerBlock) {
    const int i = blockIdx.x;
    const int g = blockIdx.y;
    const int src = kept[(size_t) g * promptBudget + i];
    const T* kp = kvCache + rkv_k_offset(table[src / tokensPerBlock], g, src % tokensPerBlock,
                                         numKvHeads, tokensPerBlock, headDim);
    const T* vp = kp + (size_t) numKvHeads * tokensPerBlock * headDim;
    T* dst = kvTmp + ((size_t) g * promptBudget + i) * 2 * headDim;
    for (int d = threadIdx.x; d < headDim; d += blockDim.x) {
        dst[d] = kp[d];
        dst[headDim + d] = vp[d];
    }
}

template <class T>
__device__ __forceinline__ void stage1_scatter(
        T* __restrict__ kvCache, const int* __restrict__ table, const T* __restrict__ kvTmp,
        int promptBudget, int numKvHeads, int headDim, int tokensPerBlock) {
    const int i = blockIdx.x;
    const int g = blockIdx.y;
    T* kp = kvCache + rkv_k_offset(table[i / tokensPerBlock], g, i % tokensPerBlock, numKvHeads,
                                   tokensPerBlock, headDim);
    T* vp = kp + (size_t) numKvHeads * tokensPerBlock * headDim;
    const T* src = kvTmp + ((size_t) g * promptBudget + i) * 2 * headDim;
    for (int d = threadIdx.x; d < headDim; d += blockDim.x) {
        kp[d] = src[d];
        vp[d] = src[headDim + d];
    }
}

extern "C" __global__ void __launch_bounds__(64) rocket_stage1_gather(
        const unsigned short* __restrict__ kvCache, const int* __restrict__ kept, const int* __restrict__ table,
        unsigned short* __restrict__ kvTmp, int promptBudget, int numKvHeads, int headDim, int tokensPerBlock) {
    stage1_gather(kvCache, kept, table, kvTmp, promptBudget, numKvHeads, headDim, tokensPerBlock);
}

extern "C" __global__ void __launch_bounds__(64) rocket_stage1_scatter(
        unsigned short* __restrict__ kvCache, const int* __restrict__ table, const unsigned short* __restrict__ kvTmp,
        int promptBudget, int numKvHeads, int headDim, int tokensPerBlock) {
    stage1_scatter(kvCache, table, kvTmp, promptBudget, numKvHeads, headDim, tokensPerBlock);
}

extern "C" __global__ void __launch_bounds__(64) rocket_stage1_gather_e4m3(
        const unsigned char* __restrict__ kvCache, const int* __restrict__ kept, const int* __restrict__ table,
        unsigned char* __restrict__ kvTmp, int promptBudget, int numKvHeads, int headDim, int tokensPerBlock) {
    stage1_gather(kvCache, kept, table, kvTmp, promptBudget, numKvHeads, headDim, tokensPerBlock);
}

extern "C" __global__ void __launch_bounds__(64) rocket_stage1_scatter_e4m3(
        unsigned char* __restrict__ kvCache, const int* __restrict__ table, const unsigned char* __restrict__ kvTmp,
        int promptBudget, int numKvHeads, int headDim, int tokensPerBlock) {
    stage1_scatter(kvCache, table, kvTmp, promptBudget, numKvHeads, headDim, tokensPerBlock);
}
