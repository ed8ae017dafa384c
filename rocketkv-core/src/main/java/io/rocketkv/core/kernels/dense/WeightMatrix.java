package io.rocketkv.core.kernels.dense;

import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * A weight matrix {@code w[n, k]} as the dense ops read it: row j's elements start at byte
 * {@code j · format.rowBytes(k)} of {@code data} (a memory-mapped checkpoint slice, off-heap memory, or a heap
 * segment over a {@code float[]}). A quantized matrix keeps its per-block scales in {@code scales},
 * fp32 {@code [n, k / 32]}; it is null for the float formats.
 */
public record WeightMatrix(WeightFormat format, int n, int k, MemorySegment data, MemorySegment scales) {

    public WeightMatrix {
        Objects.requireNonNull(format, "format");
        Objects.requireNonNull(data, "data");
        if (n < 0 || k < 0) {
            throw new IllegalArgumentException("weight matrix shape [" + n + ", " + k + "] has a negative dimension");
        }
        if (format.quantized()) {
            if (k % WeightFormat.BLOCK != 0) {
                throw new IllegalArgumentException(format + " weights need k a multiple of " + WeightFormat.BLOCK
                        + ", got k = " + k);
            }
            if (scales == null || scales.byteSize() != (long) n * (k / WeightFormat.BLOCK) * Float.BYTES) {
                throw new IllegalArgumentException(format + " weights [" + n + ", " + k + "] need "
                        + (long) n * (k / WeightFormat.BLOCK) + " fp32 scales");
            }
        } else if (scales != null) {
            throw new IllegalArgumentException(format + " weights have no scales");
        }
        if (data.byteSize() < n * format.rowBytes(k)) {
            throw new IllegalArgumentException(format + " weights [" + n + ", " + k + "] need "
                    + n * format.rowBytes(k) + " bytes, got " + data.byteSize());
        }
    }

    /**
     * Byte offset of element {@code (row, col)} in {@link #data}; for Q4_0, whose bytes pair elements b and b + 16
     * of a block, {@code col} must start a block.
     */
    public long offset(int row, int col) {
        return row * format.rowBytes(k) + (format == WeightFormat.Q4_0 ? col / 2 : (long) col * format.byteSize());
    }
}
