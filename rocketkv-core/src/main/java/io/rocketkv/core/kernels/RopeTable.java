package io.rocketkv.core.kernels;

/**
 * Rotary position embedding in the Hugging Face Llama layout ("rotate half"): channel i is paired with
 * channel i + D/2, and both rotate by the angle {@code position * invFreq[i]}.
 *
 * @param invFreq [D/2] inverse frequencies, already scaled (e.g. llama3 rope scaling) — see
 *                {@code ModelConfig.ropeInvFreq()}
 */
public record RopeTable(float[] invFreq) {

    public RopeTable {
        if (invFreq.length < 1) {
            throw new IllegalArgumentException("invFreq must not be empty");
        }
        invFreq = invFreq.clone();
    }

    public int headDim() {
        return invFreq.length * 2;
    }

    @Override
    public float[] invFreq() {
        return invFreq.clone();
    }

    float freq(int i) {
        return invFreq[i];
    }
}
