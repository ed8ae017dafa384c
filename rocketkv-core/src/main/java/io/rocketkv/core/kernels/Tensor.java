package io.rocketkv.core.kernels;

import io.rocketkv.core.numeric.DType;
import java.util.Arrays;

/**
 * A dtype, a shape and backend memory. No views, no broadcasting, no autograd: the model code only
 * hands tensors to {@link Kernels} ops, which know the memory of their own backend.
 */
public interface Tensor extends AutoCloseable {

    DType dtype();

    /** The shape, outermost dimension first (a copy). */
    int[] shape();

    default int dim(int i) {
        return shape()[i];
    }

    default long numel() {
        long n = 1;
        for (int d : shape()) {
            n *= d;
        }
        return n;
    }

    default long byteSize() {
        return numel() * dtype().byteSize();
    }

    /** Releases backend memory (a no-op for heap and memory-mapped CPU tensors). */
    @Override
    default void close() {
    }

    static String describe(Tensor t) {
        return t.dtype() + Arrays.toString(t.shape());
    }
}
