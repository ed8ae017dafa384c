package io.rocketkv.core.kernels.dense;

/**
 * How a {@link WeightMatrix} stores its elements: little-endian floats of the checkpoint's type, or blocks of 32
 * quantized integers with one fp32 scale each.
 */
public enum WeightFormat {
    F32(4),
    F16(2),
    BF16(2),
    /** 32 signed bytes per block, value = scale · q (llama.cpp's Q8_0, with the scales kept apart). */
    Q8_0(1),
    /**
     * 32 unsigned 4-bit values per block in 16 bytes, value = scale · (q − 8); byte b of a block holds element b in
     * its low nibble and element b + 16 in its high nibble (llama.cpp's Q4_0 order, scales kept apart).
     */
    Q4_0(0);

    /** Elements per quantization block (one scale each). */
    public static final int BLOCK = 32;

    private final int byteSize;

    WeightFormat(int byteSize) {
        this.byteSize = byteSize;
    }

    /** Bytes per element of the float formats and Q8_0; 0 for Q4_0, whose elements are half a byte. */
    public int byteSize() {
        return byteSize;
    }

    public boolean quantized() {
        return this == Q8_0 || this == Q4_0;
    }

    /** Bytes of one row of {@code k} elements in the element segment ({@code k} a multiple of {@link #BLOCK}). */
    public long rowBytes(int k) {
        return this == Q4_0 ? k / 2L : (long) k * byteSize;
    }
}
