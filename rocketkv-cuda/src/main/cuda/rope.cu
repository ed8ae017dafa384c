// Rotary position embedding, Hugging Face "rotate half" layout, in place on q and k. Launched by
// io.rocketkv.cuda.CudaKernels.rope; the CPU twin is CpuKernels.rope.
//
// rope_f32   q (tokens, numHeads*headDim), k (tokens, numKvHeads*headDim) fp32, in place;
//            positions (tokens) int32; invFreq (rotaryDim/2) fp32; attentionFactor multiplies cos and sin
//            (transformers' attention_scaling: 1, but for yarn and longrope).
//            Only the first rotaryDim channels of each head rotate (rotaryDim = headDim but for a
//            partial_rotary_factor, even, <= headDim); the channels from rotaryDim on are not touched.
//            Channel i < rotaryDim/2 pairs with i + rotaryDim/2; both rotate by angle = (float) position * invFreq[i],
//            an fp32 product exactly as CpuKernels (and transformers) computes it, then precise
//            sincosf (no fast math), so cos/sin match the CPU's Math.cos/Math.sin of the same float to ~1 ulp;
//            cos *= attentionFactor, sin *= attentionFactor (fp32 products, exact for 1).
//            x1' = x1*cos - x2*sin, x2' = x2*cos + x1*sin.
//            One table for every token: RoPE kinds whose frequencies depend on the sequence's length (dynamic,
//            longrope) are refused by CudaKernels.
//            version 2 (rotaryDim; version 1 rotated whole heads): one block per token (grid (tokens)); the
//            threads stride over (numHeads + numKvHeads) * rotaryDim/2 pairs. blockDim.x any (128).

extern "C" __global__ void rope_f32(float* __restrict__ q,               // (tokens, numHeads*headDim) in/out
                                    float* __restrict__ k,               // (tokens, numKvHeads*headDim) in/out
                                    const int* __restrict__ positions,   // (tokens)
                                    const float* __restrict__ invFreq,   // (rotaryDim/2)
                                    float attentionFactor,
                                    int numHeads, int numKvHeads, int headDim, int rotaryDim) {
    const int t = blockIdx.x;
    const int half = rotaryDim / 2;
    const float pos = static_cast<float>(positions[t]);
    const int pairs = (numHeads + numKvHeads) * half;
    for (int p = threadIdx.x; p < pairs; p += blockDim.x) {
        const int head = p / half;
        const int i = p - head * half;
        float* row;
        if (head < numHeads) {
            row = q + (static_cast<long long>(t) * numHeads + head) * headDim;
        } else {
            row = k + (static_cast<long long>(t) * numKvHeads + (head - numHeads)) * headDim;
        }
        const float angle = __fmul_rn(pos, invFreq[i]);  // fp32 product, never fused
        float s, c;
        sincosf(angle, &s, &c);
        c = __fmul_rn(c, attentionFactor);
        s = __fmul_rn(s, attentionFactor);
        const float x1 = row[i];
        const float x2 = row[i + half];
        row[i] = __fsub_rn(__fmul_rn(x1, c), __fmul_rn(x2, s));
        row[i + half] = __fadd_rn(__fmul_rn(x2, c), __fmul_rn(x1, s));
    }
}
