// kv_cache.cu: write the K and V rows of a step's new tokens into one layer's paged KV cache (bf16, or fp8
// e4m3 with the layer's scales), and widen an e4m3 cache's blocks to bf16 for the prefill kernels.
// CPU twin: CpuKernels.writeKv (kOffset / vOffset give the layout; CpuKvCache stores F8_E4M3 the same way).
//
//   k, v        f32  [numTokens][numKvHeads * headDim]   this step's keys and values (after RoPE)
//   slotMapping i32  [numTokens]   cache slot of each token, block * tokensPerBlock + offset;
//                                  -1 (any negative) skips the token
//   kvCache     bf16 [numBlocks][2 (K|V)][numKvHeads][tokensPerBlock][headDim]   (one layer)
//
// Each element is rounded to bf16 exactly as Bf16.encode does it (nearest, ties to even, finite
// overflow saturates to +-max, NaN -> 0x7FC0), so the GPU cache holds the very bits the CPU
// backend's bf16 cache would.
//
// Versions:
//   v1 scalar     one thread per element (any headDim);
//   v2 float4     (used when headDim % 4 == 0, i.e. every real model): a thread reads 4 floats of
//                 K and 4 of V with 16-byte loads and writes 4 bf16 (8 bytes) to each of K and V.
//   Both live in the one kernel below; the branch is uniform over the launch.
//
// Launch: grid (numTokens), block 128 threads, no shared memory, no workspace.
// Slots at or past numBlocks * tokensPerBlock are skipped as well (the Java caller should reject
// them before launching, as CpuKernels.writeKv does: the kernel only refuses to write out of bounds).
//
// Memory traffic: reads 8 * numTokens * Hkv * D bytes, writes 4 * numTokens * Hkv * D bytes.
#include "attention_common.cuh"
#include "kv_elements.cuh"

#define RKV_NO_SLOT ((size_t) -1)

// The element offset of token t's K row (KV head 0) in the cache, or RKV_NO_SLOT when t is past numTokens or its
// slot is negative (a padding token) or past the cache: what both cache writes skip.
static __device__ __forceinline__ size_t rkv_kv_write_base(int t, const int* __restrict__ slotMapping, int numTokens,
                                                           int numKvHeads, int headDim, int tokensPerBlock,
                                                           int numBlocks) {
    if (t >= numTokens) return RKV_NO_SLOT;
    const int slot = slotMapping[t];
    if (slot < 0 || (long long) slot >= (long long) numBlocks * tokensPerBlock) return RKV_NO_SLOT;
    const int block = slot / tokensPerBlock;
    return rkv_k_offset(block, 0, slot - block * tokensPerBlock, numKvHeads, tokensPerBlock, headDim);
}

extern "C" __global__ void __launch_bounds__(128) kv_cache_write_bf16(
        const float* __restrict__ k,             // [numTokens][numKvHeads * headDim]
        const float* __restrict__ v,             // [numTokens][numKvHeads * headDim]
        const int* __restrict__ slotMapping,     // [numTokens]
        unsigned short* __restrict__ kvCache,    // [numBlocks][2][numKvHeads][tokensPerBlock][headDim] bf16
        int numTokens, int numKvHeads, int headDim, int tokensPerBlock, int numBlocks) {
    const int t = blockIdx.x;
    const size_t base = rkv_kv_write_base(t, slotMapping, numTokens, numKvHeads, headDim, tokensPerBlock, numBlocks);
    if (base == RKV_NO_SLOT) return;
    const int row = numKvHeads * headDim;
    const float* kr = k + (size_t) t * row;
    const float* vr = v + (size_t) t * row;
    const size_t headStride = (size_t) tokensPerBlock * headDim;
    unsigned short* kb = kvCache + base;
    unsigned short* vb = kb + (size_t) numKvHeads * headStride;

    if ((headDim & 3) == 0) {
        // v2: 4 consecutive channels of one head per thread (a head's row never straddles).
        const int n4 = row >> 2;
        for (int i = threadIdx.x; i < n4; i += blockDim.x) {
            const int e = i << 2;
            const int h = e / headDim;
            const int d = e - h * headDim;
            const float4 a = reinterpret_cast<const float4*>(kr)[i];
            const float4 b = reinterpret_cast<const float4*>(vr)[i];
            uint2 ka, vb2;
            ka.x = (unsigned) rkv_f32_to_bf16(a.x) | ((unsigned) rkv_f32_to_bf16(a.y) << 16);
            ka.y = (unsigned) rkv_f32_to_bf16(a.z) | ((unsigned) rkv_f32_to_bf16(a.w) << 16);
            vb2.x = (unsigned) rkv_f32_to_bf16(b.x) | ((unsigned) rkv_f32_to_bf16(b.y) << 16);
            vb2.y = (unsigned) rkv_f32_to_bf16(b.z) | ((unsigned) rkv_f32_to_bf16(b.w) << 16);
            *reinterpret_cast<uint2*>(kb + h * headStride + d) = ka;
            *reinterpret_cast<uint2*>(vb + h * headStride + d) = vb2;
        }
    } else {
        // v1: one element per thread.
        for (int e = threadIdx.x; e < row; e += blockDim.x) {
            const int h = e / headDim;
            const int d = e - h * headDim;
            kb[h * headStride + d] = rkv_f32_to_bf16(kr[e]);
            vb[h * headStride + d] = rkv_f32_to_bf16(vr[e]);
        }
    }
}

// kv_cache_write_e4m3: kv_cache_write_bf16 for an fp8 e4m3 cache: K element x is stored as e4m3(x / kScale),
// V as e4m3(x / vScale) (an IEEE division, then Fp8E4M3.encode's rounding: the bits CpuKvCache stores).
//   kvCache  e4m3 [numBlocks][2 (K|V)][numKvHeads][tokensPerBlock][headDim]   (one layer)
// Launch: grid (numTokens), block 128 threads, no shared memory. Reads 8 and writes 2 bytes per element pair.
extern "C" __global__ void __launch_bounds__(128) kv_cache_write_e4m3(
        const float* __restrict__ k,             // [numTokens][numKvHeads * headDim]
        const float* __restrict__ v,             // [numTokens][numKvHeads * headDim]
        const int* __restrict__ slotMapping,     // [numTokens]
        unsigned char* __restrict__ kvCache,     // [numBlocks][2][numKvHeads][tokensPerBlock][headDim] e4m3
        int numTokens, int numKvHeads, int headDim, int tokensPerBlock, int numBlocks, float kScale, float vScale) {
    const int t = blockIdx.x;
    const size_t base = rkv_kv_write_base(t, slotMapping, numTokens, numKvHeads, headDim, tokensPerBlock, numBlocks);
    if (base == RKV_NO_SLOT) return;
    const int row = numKvHeads * headDim;
    const float* kr = k + (size_t) t * row;
    const float* vr = v + (size_t) t * row;
    const size_t headStride = (size_t) tokensPerBlock * headDim;
    unsigned char* kb = kvCache + base;
    unsigned char* vb = kb + (size_t) numKvHeads * headStride;
    for (int e = threadIdx.x; e < row; e += blockDim.x) {
        const int h = e / headDim;
        const int d = e - h * headDim;
        kb[h * headStride + d] = rkv_f32_to_e4m3(__fdiv_rn(kr[e], kScale));
        vb[h * headStride + d] = rkv_f32_to_e4m3(__fdiv_rn(vr[e], vScale));
    }
}

// kv_cache_e4m3_to_bf16: block srcBlocks[i] of an e4m3 cache, widened, becomes block i of a bf16 cache of the
// same layout: K elements bf16(e4m3 * kScale), V elements bf16(e4m3 * vScale) (the float product rounded once,
// as Bf16.encode; exact when the scale is 1, since every e4m3 value is a bf16 value). The prefill kernels then
// read the copy through a block table numbering the copies 0, 1, ... (CudaAttention builds both tables).
//   src  e4m3 [numSrcBlocks][2][numKvHeads][tokensPerBlock][headDim]
//   dst  bf16 [numBlocks][2][numKvHeads][tokensPerBlock][headDim]
// Launch: grid (numBlocks), block 256 threads, no shared memory; headDim * numKvHeads * tokensPerBlock must be a
// multiple of 8 (the caller checks): each thread widens 8 elements (8 bytes read, 16 written) at a time.
extern "C" __global__ void __launch_bounds__(256) kv_cache_e4m3_to_bf16(
        const unsigned char* __restrict__ src, const int* __restrict__ srcBlocks,
        unsigned short* __restrict__ dst, int numBlocks, int numKvHeads, int headDim, int tokensPerBlock,
        float kScale, float vScale) {
    const int b = blockIdx.x;
    if (b >= numBlocks) return;
    const size_t half = (size_t) numKvHeads * tokensPerBlock * headDim;   // K (then V) elements of a block
    const uint2* in = reinterpret_cast<const uint2*>(src + (size_t) srcBlocks[b] * 2 * half);
    uint4* outp = reinterpret_cast<uint4*>(dst + (size_t) b * 2 * half);
    const size_t chunks = 2 * half / 8;
    for (size_t i = threadIdx.x; i < chunks; i += blockDim.x) {
        const float scale = i < half / 8 ? kScale : vScale;
        float f[8];
        rkv_unpack8_e4m3(in[i], f);
        uint4 o;
        o.x = (unsigned) rkv_f32_to_bf16(f[0] * scale) | ((unsigned) rkv_f32_to_bf16(f[1] * scale) << 16);
        o.y = (unsigned) rkv_f32_to_bf16(f[2] * scale) | ((unsigned) rkv_f32_to_bf16(f[3] * scale) << 16);
        o.z = (unsigned) rkv_f32_to_bf16(f[4] * scale) | ((unsigned) rkv_f32_to_bf16(f[5] * scale) << 16);
        o.w = (unsigned) rkv_f32_to_bf16(f[6] * scale) | ((unsigned) rkv_f32_to_bf16(f[7] * scale) << 16);
        outp[i] = o;
    }
}
