package io.rocketkv.cuda;

import io.rocketkv.core.kernels.Tensor;
import io.rocketkv.core.numeric.DType;
import java.util.Arrays;
import java.util.function.Consumer;

/**
 * A tensor of {@link CudaKernels}: a dtype, a shape and the {@link DeviceBuffer} holding it (row-major,
 * densely packed). Closing frees the buffer; {@link CudaKernels#close()} frees every tensor still open.
 */
public final class CudaTensor implements Tensor {

    private final DType dtype;
    private final int[] shape;
    private final DeviceBuffer buffer;
    private final Consumer<CudaTensor> onClose;
    private boolean closed;

    CudaTensor(DType dtype, int[] shape, DeviceBuffer buffer, Consumer<CudaTensor> onClose) {
        this.dtype = dtype;
        this.shape = shape.clone();
        this.buffer = buffer;
        this.onClose = onClose;
    }

    static long numel(int[] shape) {
        long n = 1;
        for (int d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
            }
            n *= d;
        }
        return n;
    }

    @Override
    public DType dtype() {
        return dtype;
    }

    @Override
    public int[] shape() {
        return shape.clone();
    }

    @Override
    public int dim(int i) {
        return shape[i];
    }

    /** The device memory (open while this tensor is). */
    public DeviceBuffer buffer() {
        if (closed) {
            throw new IllegalStateException("tensor " + Tensor.describe(this) + " is closed");
        }
        return buffer;
    }

    public boolean isClosed() {
        return closed;
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            buffer.close();
        } finally {
            onClose.accept(this);
        }
    }

    @Override
    public String toString() {
        return "CudaTensor[" + Tensor.describe(this) + "]";
    }
}
