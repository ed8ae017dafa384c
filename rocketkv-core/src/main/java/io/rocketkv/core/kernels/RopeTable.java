package io.rocketkv.core.kernels;

import java.util.Objects;

/**
 * Rotary position embedding in the Hugging Face Llama layout ("rotate half") over the first {@link #rotaryDim()}
 * channels R of each head (R = D but for a {@code partial_rotary_factor}; the channels from R on pass unrotated, as
 * transformers' {@code apply_rotary_pos_emb} leaves them): channel i &lt; R/2 is paired with channel i + R/2, and
 * both rotate by the angle {@code position * invFreq[i]}; cos and sin are multiplied by the
 * {@link #attentionFactor()} (transformers' {@code attention_scaling}: 1 but for yarn and longrope) before they
 * rotate.
 *
 * <p>The inverse frequencies may depend on the length of the sequence being run ({@code dynamic} NTK scaling,
 * longrope's switch to its long factors): a sequence of at most {@link #lengthIndependentUpTo()} tokens uses
 * {@link #invFreq()}, a longer one {@link #invFreq(int) invFreq(seqLen)}, where seqLen is
 * {@link StepBatch#ropeLength}. Keys already in the cache keep the rotation they were written with, as in
 * transformers. Built by {@code ModelConfig.ropeTable()}.
 */
public final class RopeTable {

    /** The inverse frequencies of a sequence of {@code seqLen} tokens, for lengths the base table does not cover. */
    @FunctionalInterface
    public interface LongerSequences {
        float[] invFreq(int seqLen);
    }

    private final String ropeType;          // the config's rope_type, for messages
    private final float[] invFreq;          // [R/2] of every sequence of at most upTo tokens
    private final float attentionFactor;    // multiplies cos and sin
    private final int upTo;                 // Integer.MAX_VALUE when the frequencies never change
    private final LongerSequences longer;   // null when the frequencies never change

    private RopeTable(String ropeType, float[] invFreq, float attentionFactor, int upTo, LongerSequences longer) {
        this.ropeType = Objects.requireNonNull(ropeType, "ropeType");
        if (invFreq.length < 1) {
            throw new IllegalArgumentException("invFreq must not be empty");
        }
        if (!(attentionFactor > 0) || Float.isInfinite(attentionFactor)) {
            throw new IllegalArgumentException("attention factor " + attentionFactor + " must be finite and > 0");
        }
        if (upTo < 1) {
            throw new IllegalArgumentException("lengthIndependentUpTo = " + upTo + " must be > 0");
        }
        this.invFreq = invFreq.clone();
        this.attentionFactor = attentionFactor;
        this.upTo = upTo;
        this.longer = longer;
    }

    /** Plain RoPE at these inverse frequencies ({@code rope_type} default, attention factor 1). */
    public RopeTable(float[] invFreq) {
        this("default", invFreq, 1.0f, Integer.MAX_VALUE, null);
    }

    /** Frequencies that never change with the sequence's length (default, linear, yarn, llama3). */
    public static RopeTable fixed(String ropeType, float[] invFreq, float attentionFactor) {
        return new RopeTable(ropeType, invFreq, attentionFactor, Integer.MAX_VALUE, null);
    }

    /**
     * Frequencies {@code invFreq} for sequences of at most {@code upTo} tokens and {@code longer} beyond
     * (dynamic, longrope).
     */
    public static RopeTable lengthDependent(String ropeType, float[] invFreq, float attentionFactor, int upTo,
                                            LongerSequences longer) {
        return new RopeTable(ropeType, invFreq, attentionFactor, upTo, Objects.requireNonNull(longer, "longer"));
    }

    /** The channels of each head that rotate, the first ones: twice the number of frequencies. */
    public int rotaryDim() {
        return invFreq.length * 2;
    }

    /**
     * Refuses heads of {@code headDim} channels that this table cannot rotate (fewer channels than it rotates).
     *
     * @throws IllegalArgumentException naming both widths
     */
    public void checkHeadDim(int headDim) {
        if (rotaryDim() > headDim) {
            throw new IllegalArgumentException("rope table rotating " + rotaryDim() + " channels, attention head dim "
                    + headDim);
        }
    }

    /** The config's {@code rope_type} ({@code default} when unscaled). */
    public String ropeType() {
        return ropeType;
    }

    /** [R/2] the inverse frequencies of a sequence of at most {@link #lengthIndependentUpTo()} tokens. */
    public float[] invFreq() {
        return invFreq.clone();
    }

    /** [R/2] the inverse frequencies of a sequence of {@code seqLen} tokens. */
    public float[] invFreq(int seqLen) {
        return freqs(seqLen).clone();
    }

    /** The multiplier of cos and sin (transformers' {@code attention_scaling}). */
    public float attentionFactor() {
        return attentionFactor;
    }

    /** Whether some sequence lengths rotate with other frequencies than {@link #invFreq()}. */
    public boolean dependsOnLength() {
        return longer != null;
    }

    /** The longest sequence that {@link #invFreq()} holds for ({@link Integer#MAX_VALUE}: every one). */
    public int lengthIndependentUpTo() {
        return upTo;
    }

    /** The table for {@code seqLen} tokens, not copied: the caller must not write it. */
    float[] freqs(int seqLen) {
        if (seqLen < 1) {
            throw new IllegalArgumentException("sequence length " + seqLen + " must be > 0");
        }
        if (seqLen <= upTo) {
            return invFreq;
        }
        float[] f = longer.invFreq(seqLen);
        if (f.length != invFreq.length) {
            throw new IllegalStateException("the " + ropeType + " table for " + seqLen + " tokens has " + f.length
                    + " frequencies, not " + invFreq.length);
        }
        return f;
    }
}
