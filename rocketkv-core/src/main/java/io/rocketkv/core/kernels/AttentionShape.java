package io.rocketkv.core.kernels;

/**
 * Head layout of one attention layer and the paged cache it reads.
 *
 * @param numHeads       query heads H
 * @param numKvHeads     KV heads Hkv (H is a multiple of Hkv; G = H / Hkv query heads share a KV head)
 * @param headDim        D
 * @param tokensPerBlock slots per KV-cache block
 * @param scale          softmax scale, normally 1 / sqrt(D)
 * @param slidingWindow  the layer's attention window W, or 0 for full (causal) attention: a query at position p
 *                       sees the keys at positions {@code p − W < j <= p} (W keys, its own included), as
 *                       transformers' {@code sliding_window_overlay} ({@code kv_idx > q_idx - sliding_window})
 */
public record AttentionShape(int numHeads, int numKvHeads, int headDim, int tokensPerBlock, float scale,
                             int slidingWindow) {

    public AttentionShape {
        if (numHeads < 1 || numKvHeads < 1 || numHeads % numKvHeads != 0) {
            throw new IllegalArgumentException("numHeads (" + numHeads + ") must be a positive multiple of numKvHeads ("
                    + numKvHeads + ")");
        }
        if (headDim < 1 || tokensPerBlock < 1) {
            throw new IllegalArgumentException("headDim (" + headDim + ") and tokensPerBlock (" + tokensPerBlock
                    + ") must be >= 1");
        }
        if (slidingWindow < 0) {
            throw new IllegalArgumentException("slidingWindow (" + slidingWindow + ") must be >= 0 (0: full attention)");
        }
    }

    /** Full (causal) attention. */
    public AttentionShape(int numHeads, int numKvHeads, int headDim, int tokensPerBlock, float scale) {
        this(numHeads, numKvHeads, headDim, tokensPerBlock, scale, 0);
    }

    public static AttentionShape of(int numHeads, int numKvHeads, int headDim, int tokensPerBlock) {
        return new AttentionShape(numHeads, numKvHeads, headDim, tokensPerBlock, (float) (1.0 / Math.sqrt(headDim)));
    }

    /** This shape with attention window {@code window} (0: full attention). */
    public AttentionShape withSlidingWindow(int window) {
        return new AttentionShape(numHeads, numKvHeads, headDim, tokensPerBlock, scale, window);
    }

    /**
     * The first key position a query at {@code position} attends: {@code max(0, position − W + 1)} with a window,
     * 0 without. Keys before it are never read (their blocks may have gone back to the pool).
     */
    public int firstKey(int position) {
        return slidingWindow == 0 ? 0 : Math.max(0, position - slidingWindow + 1);
    }

    public int groupSize() {
        return numHeads / numKvHeads;
    }

    /** Floats of one KV-cache block: {@code [K|V][kv_head][slot][head_dim]}. */
    public int blockElements() {
        return 2 * numKvHeads * tokensPerBlock * headDim;
    }
}
