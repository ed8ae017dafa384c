// greedy.cu: the greedy token of each logits row, with its log-probability and the row's top-k tokens, computed
// where the logits are (only these few numbers go to the host). CPU twin: Sampler.sample with temperature 0
// (argmax, ties to the lowest id; log-probability = logit - log-sum-exp, the sum in double; top-k by descending
// logit, ties to the lower id, -0 ranked as +0).
//
//   logits       f32 [rows][vocab]
//   ids          i32 [rows]        out: the argmax; -1 when the row holds NaN or +inf, or only -inf (the host
//                                  then reports the row as Sampler does)
//   logprobs     f32 [rows]        out: logits[id] - lse (lse = max + log(sum exp(x - max)), in double)
//   topIds       i32 [rows][topK]  out: the topK best ids, best first (topK may be 0: not written)
//   topLogprobs  f32 [rows][topK]  out: their log-probabilities
//
// Launch: grid (rows), block 1024 threads, no dynamic shared memory. The row is read 2 + topK times (the top-k
// passes each select the best token ranked after the previous pick), so a request for many top log-probabilities
// costs topK more reads of its row; topK <= 20 (SamplingParams' limit).
#include <math.h>

#define RKV_GREEDY_THREADS 1024

// (value, id) ranked as Sampler ranks them: larger value first, then lower id; -0 == +0 under float compare.
static __device__ __forceinline__ bool rkv_better(float v, int i, float bv, int bi) {
    return v > bv || (v == bv && i < bi);
}

// The best (value, id) of the block, over the candidates each thread offered; every thread gets it.
static __device__ __forceinline__ void rkv_block_best(float& v, int& i, float* smV, int* smI) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        const float ov = __shfl_xor_sync(0xffffffffu, v, o);
        const int oi = __shfl_xor_sync(0xffffffffu, i, o);
        if (rkv_better(ov, oi, v, i)) {
            v = ov;
            i = oi;
        }
    }
    const int warp = threadIdx.x >> 5;
    __syncthreads();   // the shared slots of a previous call are read
    if ((threadIdx.x & 31) == 0) {
        smV[warp] = v;
        smI[warp] = i;
    }
    __syncthreads();
    v = smV[0];
    i = smI[0];
    for (int w = 1; w < (int) (blockDim.x >> 5); w++) {
        if (rkv_better(smV[w], smI[w], v, i)) {
            v = smV[w];
            i = smI[w];
        }
    }
}

extern "C" __global__ void __launch_bounds__(RKV_GREEDY_THREADS) greedy_rows_f32(
        const float* __restrict__ logits, int vocab, int topK, int* __restrict__ ids, float* __restrict__ logprobs,
        int* __restrict__ topIds, float* __restrict__ topLogprobs) {
    __shared__ float smV[32];
    __shared__ int smI[32];
    __shared__ double smSum[32];
    __shared__ int smBad;
    const int row = blockIdx.x;
    const float* x = logits + (size_t) row * vocab;
    if (threadIdx.x == 0) smBad = 0;
    float bv = -INFINITY;
    int bi = 0x7fffffff;
    bool bad = false;
    for (int j = threadIdx.x; j < vocab; j += blockDim.x) {
        const float v = x[j];
        bad |= isnan(v) || v == INFINITY;
        if (rkv_better(v, j, bv, bi)) {
            bv = v;
            bi = j;
        }
    }
    __syncthreads();
    if (bad) smBad = 1;
    rkv_block_best(bv, bi, smV, smI);   // its barriers also publish smBad
    if (smBad || bv == -INFINITY) {
        if (threadIdx.x == 0) ids[row] = -1;
        return;
    }
    const float max = bv;
    double sum = 0.0;
    for (int j = threadIdx.x; j < vocab; j += blockDim.x) sum += exp((double) x[j] - max);
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
    if ((threadIdx.x & 31) == 0) smSum[threadIdx.x >> 5] = sum;
    __syncthreads();
    if (threadIdx.x == 0) {
        double s = 0.0;
        for (int w = 0; w < (int) (blockDim.x >> 5); w++) s += smSum[w];
        smSum[0] = max + log(s);
        ids[row] = bi;
    }
    __syncthreads();
    const double lse = smSum[0];
    if (threadIdx.x == 0) logprobs[row] = (float) ((double) x[bi] - lse);
    // top-k: pass p picks the best token ranked strictly after pick p - 1
    float pv = INFINITY;
    int pi = -1;
    for (int p = 0; p < topK; p++) {
        float cv = -INFINITY;
        int ci = 0x7fffffff;
        for (int j = threadIdx.x; j < vocab; j += blockDim.x) {
            const float v = x[j];
            const bool after = p == 0 || rkv_better(pv, pi, v, j);
            if (after && rkv_better(v, j, cv, ci)) {
                cv = v;
                ci = j;
            }
        }
        rkv_block_best(cv, ci, smV, smI);
        if (ci == 0x7fffffff) break;   // fewer tokens than topK (vocab < topK): the caller asks for at most vocab
        if (threadIdx.x == 0) {
            topIds[(size_t) row * topK + p] = ci;
            topLogprobs[(size_t) row * topK + p] = (float) ((double) cv - lse);
        }
        pv = cv;
        pi = ci;
    }
}
