package io.rocketkv.benchmarks.gguf;

/**
 * Reorders the rows of a q or k projection from Hugging Face's rotary layout to llama.cpp's.
 *
 * <p>RoPE rotates pairs of a head's channels. Hugging Face Llama checkpoints pair channel {@code i} with channel
 * {@code i + headDim/2} (the "rotate half" form); llama.cpp's llama architecture rotates adjacent channels
 * {@code (2i, 2i + 1)} (its normal RoPE mode). Both rotate pair {@code i} by the same angle
 * {@code pos · theta^(-2i/headDim)}, so moving output row {@code h·headDim + i} to {@code h·headDim + 2i} and row
 * {@code h·headDim + headDim/2 + i} to {@code h·headDim + 2i + 1}, in every head, gives the same rotated q and k
 * channels, only in another order within the head; q·k, hence attention, is unchanged.
 */
final class RotaryRowOrder {

    private RotaryRowOrder() {
    }

    /**
     * {@code w} ({@code [heads·headDim, cols]}, row-major, Hugging Face order) in llama.cpp's order.
     *
     * @throws IllegalArgumentException when the sizes do not describe {@code w}
     */
    static float[] toInterleaved(float[] w, int heads, int headDim, int cols) {
        if (heads < 1 || headDim < 2 || headDim % 2 != 0 || cols < 1 || (long) heads * headDim * cols != w.length) {
            throw new IllegalArgumentException("a [" + heads + " heads × " + headDim + ", " + cols
                    + "] projection (head_dim even) does not match " + w.length + " weights");
        }
        float[] out = new float[w.length];
        int half = headDim / 2;
        for (int h = 0; h < heads; h++) {
            int base = h * headDim;
            for (int i = 0; i < half; i++) {
                System.arraycopy(w, (base + i) * cols, out, (base + 2 * i) * cols, cols);
                System.arraycopy(w, (base + half + i) * cols, out, (base + 2 * i + 1) * cols, cols);
            }
        }
        return out;
    }
}
