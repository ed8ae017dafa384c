package io.rocketkv.core.weights;

import io.rocketkv.core.numeric.DType;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Objects;

/**
 * Where one tensor of a safetensors checkpoint lives and what it is.
 *
 * @param name       tensor name, e.g. {@code model.layers.0.self_attn.q_proj.weight}
 * @param dtype      element type
 * @param shape      dimensions, outermost first (row-major); {@code []} is a scalar. Copied in and out.
 * @param file       the safetensors file (shard) holding the data
 * @param fileOffset byte offset of the first element from the start of {@code file}
 */
public record TensorInfo(String name, DType dtype, long[] shape, Path file, long fileOffset) {

    public TensorInfo {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(dtype, "dtype");
        Objects.requireNonNull(file, "file");
        shape = shape.clone();
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("tensor '" + name + "': shape " + Arrays.toString(shape)
                        + " has a negative dimension; dimensions must be >= 0");
            }
        }
        if (fileOffset < 0) {
            throw new IllegalArgumentException("tensor '" + name + "': fileOffset " + fileOffset + " must be >= 0");
        }
        try {
            Math.multiplyExact(elementCount(shape), (long) dtype.byteSize());
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException("tensor '" + name + "': shape " + Arrays.toString(shape)
                    + " overflows a 64-bit byte size", e);
        }
    }

    /** A copy of the dimensions. */
    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** Number of dimensions (0 for a scalar). */
    public int rank() {
        return shape.length;
    }

    /** Dimension {@code i}, outermost first. */
    public long dim(int i) {
        return shape[i];
    }

    /** Product of the dimensions (1 for a scalar, 0 when a dimension is 0). */
    public long elementCount() {
        return elementCount(shape);
    }

    /** {@code elementCount() * dtype().byteSize()}. */
    public long byteSize() {
        return elementCount() * dtype.byteSize();
    }

    /**
     * Product of the dimensions.
     *
     * @throws ArithmeticException when the product overflows a {@code long}
     */
    static long elementCount(long[] shape) {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorInfo t && name.equals(t.name) && dtype == t.dtype
                && Arrays.equals(shape, t.shape) && file.equals(t.file) && fileOffset == t.fileOffset;
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, dtype, Arrays.hashCode(shape), file, fileOffset);
    }

    @Override
    public String toString() {
        return name + " " + dtype.safetensorsName() + Arrays.toString(shape) + " @" + file.getFileName()
                + "+" + fileOffset;
    }
}
