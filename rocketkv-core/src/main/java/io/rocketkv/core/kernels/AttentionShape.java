package io.rocketkv.core.kernels;

/**
 * Head layout of one attention layer and the paged cache it reads.
 *
 * @param numHeads       query heads H
 * @param numKvHeads     KV heads Hkv (H is a multiple of Hkv; G = H / Hkv query heads share a KV head)
 * @param headDim        D
 * @param tokensPerBlock slots per KV-cache block
 * @param scale          softmax scale, normally 1 / sqrt(D)
 */
public record AttentionShape(int numHeads, int numKvHeads, int headDim, int tokensPerBlock, float scale) {

    public AttentionShape {
        if (numHeads < 1 || numKvHeads < 1 || numHeads % numKvHeads != 0) {
            throw new IllegalArgumentException("numHeads (" + numHeads + ") must be a positive multiple of numKvHeads ("
                    + numKvHeads + ")");
        }
        if (headDim < 1 || tokensPerBlock < 1) {
            throw new IllegalArgumentException("headDim (" + headDim + ") and tokensPerBlock (" + tokensPerBlock
                    + ") must be >= 1");
        }
    }

    public static AttentionShape of(int numHeads, int numKvHeads, int headDim, int tokensPerBlock) {
        return new AttentionShape(numHeads, numKvHeads, headDim, tokensPerBlock, (float) (1.0 / Math.sqrt(headDim)));
    }

    public int groupSize() {
        return numHeads / numKvHeads;
    }

    /** Floats of one KV-cache block: {@code [K|V][kv_head][slot][head_dim]}. */
    public int blockElements() {
        return 2 * numKvHeads * tokensPerBlock * headDim;
    }
}
