// rocket_stage1_inputs.cu: the prompt keys RocketKV stage 1 (rocket_stage1.cu) scores, gathered for ONE
// sequence from one layer's paged bf16 cache into the f32 rows rocket_stage1_pass reads.
// CPU twin: the key gather of CpuRocketKv.rocketSelection (from the CPU's fp32 cache).
//
//   kvCache  bf16 [numBlocks][2 (K|V)][numKvHeads][tokensPerBlock][headDim]   (one layer)
//   table    i32  [maxBlocks]   the sequence's block-table row; key j is in block table[j / tokensPerBlock],
//                               slot j % tokensPerBlock
//   keys     f32  [n][numKvHeads][headDim]   out: keys[j][g][:] = K[j] of KV head g, exactly (a bf16 value
//                               widened to f32), j in [0, n); n = L - W, the prefix stage 1 scores
//
// Why from the cache: stage 1 runs once a sequence's whole prompt is in the cache, which under chunked
// prefill is the only place the earlier chunks' keys still are. Reading the cache for every prefill (whole
// or chunked) gives both the same selection, and scores the bf16-rounded keys that attention itself reads
// (as TensorRT-LLM's stage 1 does, from its bf16 cache) instead of the f32 keys before the cache write.
//
// The window queries need no kernel: a chunk's window rows are copied (cuMemcpyDtoDAsync, rows contiguous)
// into the caller's per-layer stash [W][numHeads * headDim] f32 as the chunks go by.
//
// Versions: v1 (this file), one block per (key, KV head), threads over the channels. Traffic: reads
// 2 * n * Hkv * D bytes, writes 4 * n * Hkv * D bytes, once per layer per sequence (small beside the
// prefill attention and the 3 * H * W * n * D multiply-adds of stage 1).
//
// Launch: grid (n, numKvHeads), block 64 threads, no shared memory. n < 2^31, numKvHeads <= 65535.
// rocket_prompt_keys_gather_e4m3: the same from an fp8 e4m3 cache, keys[j][g][:] = e4m3 * kScale (the values the
// CPU twin reads from its F8_E4M3 cache), one more argument, kScale.
#include "attention_common.cuh"
#include "kv_elements.cuh"

template <class E>
__device__ __forceinline__ void prompt_keys_gather(const typename E::T* __restrict__ kvCache,
        const int* __restrict__ table, float* __restrict__ keys, int n, int numKvHeads, int headDim,
        int tokensPerBlock, float kScale) {
    const int j = blockIdx.x;
    const int g = blockIdx.y;
    if (j >= n) return;
    const typename E::T* kp = kvCache + rkv_k_offset(table[j / tokensPerBlock], g, j % tokensPerBlock,
                                                     numKvHeads, tokensPerBlock, headDim);
    float* out = keys + ((size_t) j * numKvHeads + g) * headDim;
    for (int d = threadIdx.x; d < headDim; d += blockDim.x) out[d] = E::scalar(kp[d]) * kScale;
}

extern "C" __global__ void __launch_bounds__(64) rocket_prompt_keys_gather(
        const unsigned short* __restrict__ kvCache,   // [numBlocks][2][numKvHeads][tokensPerBlock][headDim]
        const int* __restrict__ table,                // [maxBlocks]
        float* __restrict__ keys,                     // [n][numKvHeads][headDim]
        int n, int numKvHeads, int headDim, int tokensPerBlock) {
    prompt_keys_gather<RkvBf16Kv>(kvCache, table, keys, n, numKvHeads, headDim, tokensPerBlock, 1.f);
}

extern "C" __global__ void __launch_bounds__(64) rocket_prompt_keys_gather_e4m3(
        const unsigned char* __restrict__ kvCache, const int* __restrict__ table, float* __restrict__ keys,
        int n, int numKvHeads, int headDim, int tokensPerBlock, float kScale) {
    prompt_keys_gather<RkvE4m3Kv>(kvCache, table, keys, n, numKvHeads, headDim, tokensPerBlock, kScale);
}
