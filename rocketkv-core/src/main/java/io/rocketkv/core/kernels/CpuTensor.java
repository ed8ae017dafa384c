package io.rocketkv.core.kernels;

import io.rocketkv.core.kernels.dense.WeightFormat;
import io.rocketkv.core.kernels.dense.WeightMatrix;
import io.rocketkv.core.kernels.dense.WeightRows;
import io.rocketkv.core.numeric.DType;
import io.rocketkv.core.numeric.NumericFormats;
import java.lang.foreign.MemorySegment;

/**
 * A CPU tensor: F32 activations live in a heap {@code float[]}; weights stay in the (memory-mapped)
 * segment they were read from, in their checkpoint dtype. A {@link #growable} tensor (the KV and KT caches) holds
 * its first dimension's rows only up to the highest row an op asked for ({@link #ensureRows}); the rows beyond read
 * as zeros, as in a tensor allocated whole, so a large cache pool costs memory only for the blocks in use.
 */
public final class CpuTensor implements Tensor {

    private final DType dtype;
    private final int[] shape;
    private float[] array;              // F32 heap tensors; null for segment-backed weights
    private final boolean growable;     // the array holds rows of dim 0 only up to ensureRows' highest
    private final MemorySegment segment; // segment-backed weights; null for heap tensors
    private final WeightMatrix matrix;   // how the dense ops read a segment-backed weight, as [dim 0, rest]
    private volatile float[] decoded;    // a segment-backed weight decoded once (norm weights, biases)

    private CpuTensor(DType dtype, int[] shape, float[] array, MemorySegment segment, boolean growable,
                      WeightMatrix matrix) {
        this.dtype = dtype;
        this.shape = shape.clone();
        this.array = array;
        this.segment = segment;
        this.growable = growable;
        this.matrix = matrix;
    }

    private CpuTensor(DType dtype, int[] shape, float[] array, MemorySegment segment, boolean growable) {
        this(dtype, shape, array, segment, growable, segment == null ? null : matrixOf(dtype, shape, segment));
    }

    private CpuTensor(DType dtype, int[] shape, float[] array, MemorySegment segment) {
        this(dtype, shape, array, segment, false);
    }

    private static WeightMatrix matrixOf(DType dtype, int[] shape, MemorySegment segment) {
        WeightFormat f = switch (dtype) {
            case F32 -> WeightFormat.F32;
            case F16 -> WeightFormat.F16;
            case BF16 -> WeightFormat.BF16;
            default -> throw new IllegalArgumentException("CPU weights must be F32, F16 or BF16, got " + dtype);
        };
        int rows = shape.length == 0 ? 1 : shape[0];
        int cols = rows == 0 ? 0 : (int) (segment.byteSize() / dtype.byteSize() / rows);
        return new WeightMatrix(f, rows, cols, segment, null);
    }

    /**
     * A weight held in another {@link WeightFormat} (a quantized copy of a checkpoint matrix): {@code dtype} is the
     * checkpoint's, what {@link #dtype()} reports; the dense ops and {@link #readRow} read {@code matrix}.
     */
    static CpuTensor quantized(DType dtype, int[] shape, WeightMatrix matrix) {
        return new CpuTensor(dtype, shape, null, matrix.data(), false, matrix);
    }

    static CpuTensor heap(int... shape) {
        return new CpuTensor(DType.F32, shape, new float[checkedNumel(shape)], null);
    }

    /** An F32 heap tensor whose rows along dimension 0 are allocated as ops reach them ({@link #ensureRows}). */
    static CpuTensor growable(int... shape) {
        checkedNumel(shape);
        return new CpuTensor(DType.F32, shape, new float[0], null, true);
    }

    /**
     * Makes rows {@code [0, rows)} of dimension 0 addressable in {@link #floats()} (zeros until written), growing the
     * array to at least twice {@code rows} (and twice what it held) and keeping what it holds; nothing for a tensor
     * that is not {@link #growable}.
     *
     * @throws IllegalArgumentException when {@code rows} exceeds dimension 0
     */
    void ensureRows(int rows) {
        if (!growable) {
            return;
        }
        if (rows > shape[0]) {
            throw new IllegalArgumentException("row " + (rows - 1) + " is past the " + shape[0] + " rows of "
                    + Tensor.describe(this));
        }
        int rowElems = shape[0] == 0 ? 0 : checkedNumel(shape) / shape[0];
        if ((long) rows * rowElems <= array.length) {
            return;
        }
        // twice what is asked for: the block pool hands out blocks in FIFO order, so the next ones a sequence takes
        // are the next ids; growing in doublings ahead of need keeps copies rare and out of the first decode steps
        int held = rowElems == 0 ? 0 : array.length / rowElems;
        int grown = (int) Math.min(shape[0], Math.max(2L * rows, 2L * held));
        array = java.util.Arrays.copyOf(array, grown * rowElems);
    }

    private static int checkedNumel(int... shape) {
        long n = 1;
        for (int d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in shape " + java.util.Arrays.toString(shape));
            }
            n *= d;
        }
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("CPU tensor of " + n + " elements exceeds one Java array");
        }
        return (int) n;
    }

    /** The first {@code rows} rows of this 2-D heap tensor, over the same array. */
    CpuTensor rows(int rows) {
        if (shape.length != 2 || rows < 0 || rows > shape[0]) {
            throw new IllegalArgumentException("cannot view " + rows + " rows of " + Tensor.describe(this));
        }
        if (array == null) {
            if (matrix.format().quantized()) {
                throw new IllegalArgumentException("cannot view rows of the quantized weight " + Tensor.describe(this));
            }
            return new CpuTensor(dtype, new int[] {rows, shape[1]}, null,
                    segment.asSlice(0, (long) rows * shape[1] * dtype.byteSize()));
        }
        return new CpuTensor(dtype, new int[] {rows, shape[1]}, array, null);
    }

    static CpuTensor mapped(DType dtype, int[] shape, MemorySegment data) {
        long n = 1;
        for (int d : shape) {
            n *= d;
        }
        if (data.byteSize() != n * dtype.byteSize()) {
            throw new IllegalArgumentException("weight " + dtype + java.util.Arrays.toString(shape) + " needs "
                    + n * dtype.byteSize() + " bytes, got " + data.byteSize());
        }
        return new CpuTensor(dtype, shape, null, data);
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

    /**
     * The backing array of an F32 heap tensor. A {@link #rows row-view} shares its base's array, so the
     * array may be longer than {@link #numel()}, and a {@link #growable} tensor's may be shorter (it holds the rows
     * {@link #ensureRows} made addressable): sizes come from the shape, never from the array length.
     */
    float[] floats() {
        if (array == null) {
            throw new IllegalStateException("tensor " + Tensor.describe(this) + " is a mapped weight, not an activation");
        }
        return array;
    }

    boolean isHeap() {
        return array != null;
    }

    /** Decodes {@code count} elements starting at element {@code from} into {@code dst[0..count)}. */
    void readRow(long from, float[] dst, int count) {
        if (array != null) {
            System.arraycopy(array, Math.toIntExact(from), dst, 0, count);
            return;
        }
        if (!matrix.format().quantized()) {
            NumericFormats.decode(dtype, segment, from * dtype.byteSize(), dst, 0, count);
            return;
        }
        int cols = matrix.k();
        int row = Math.toIntExact(from / cols);
        int col = (int) (from % cols);
        for (int done = 0; done < count; row++, col = 0) {
            int run = Math.min(count - done, cols - col);
            WeightRows.decode(matrix, row, col, dst, done, run);
            done += run;
        }
    }

    /**
     * This 2-D tensor as the dense ops read it: a mapped weight's own matrix, or an F32 heap tensor's array as
     * an F32 matrix [dim 0, dim 1].
     */
    WeightMatrix matrix() {
        if (matrix != null) {
            return matrix;
        }
        return new WeightMatrix(WeightFormat.F32, shape[0], shape[1], MemorySegment.ofArray(array), null);
    }

    /**
     * The values of a small weight (a norm weight, a bias) as floats: a heap tensor's array, a mapped weight decoded
     * once and kept. Callers must not write to it.
     */
    float[] weightFloats() {
        if (array != null) {
            return array;
        }
        float[] d = decoded;
        if (d == null) {
            d = toFloats();
            decoded = d;
        }
        return d;
    }

    /**
     * The whole tensor as floats (a copy for weights, the array itself for activations; a row-view's array
     * may be longer than {@link #numel()}).
     */
    float[] toFloats() {
        if (array != null) {
            return array;
        }
        float[] out = new float[Math.toIntExact(numel())];
        readRow(0, out, out.length);
        return out;
    }
}
