package io.rocketkv.core.weights;

import io.rocketkv.core.numeric.DType;
import io.rocketkv.core.numeric.Fp8E4M3;
import io.rocketkv.core.numeric.NumericFormats;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Objects;

/**
 * One linear layer's fp8 weight as the checkpoint stores it (NVIDIA ModelOpt, compressed-tensors, vLLM's
 * {@code fp8}): e4m3 elements {@code [rows, cols]} row-major, and fp32 scales mapping them back,
 * {@code value(i, j) = e4m3(data[i, j]) · scale(i)}, with one scale for the whole tensor or one per output row.
 * {@link Fp8Weights#read} builds it from the checkpoint's tensors.
 *
 * @param name       the weight tensor ({@code model.layers.0.self_attn.q_proj.weight})
 * @param rows       out_features
 * @param cols       in_features
 * @param data       {@code rows · cols} e4m3 bytes: a slice of the checkpoint mapping, or a gathered copy
 * @param scales     one scale (per tensor) or {@code rows} scales (per output channel), each finite and {@code >= 0}
 * @param inputScale the static activation scale ({@code input_scale}), or NaN when the checkpoint has none. Read
 *                   and kept for an fp8 GEMM; activations stay in bf16/f32, so nothing applies it yet
 */
public record Fp8Weight(String name, int rows, int cols, MemorySegment data, float[] scales, float inputScale) {

    public Fp8Weight {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(data, "data");
        if (rows < 0 || cols < 0) {
            throw new IllegalArgumentException(name + ": fp8 weight shape [" + rows + ", " + cols + "]");
        }
        if (data.byteSize() != (long) rows * cols) {
            throw new IllegalArgumentException(name + ": an fp8 weight [" + rows + ", " + cols + "] needs "
                    + (long) rows * cols + " bytes, got " + data.byteSize());
        }
        scales = scales.clone();
        if (scales.length != 1 && scales.length != rows) {
            throw new IllegalArgumentException(name + ": " + scales.length + " scales for an fp8 weight of " + rows
                    + " rows; expected 1 (per tensor) or " + rows + " (per output channel)");
        }
        for (float s : scales) {
            if (!(s >= 0) || Float.isInfinite(s)) {
                throw new IllegalArgumentException(name + ": scale " + s + " must be finite and >= 0");
            }
        }
    }

    /** Whether there is one scale per output row (else one for the tensor). */
    public boolean perChannel() {
        return scales.length != 1;
    }

    /** Whether the checkpoint gave a static activation scale ({@link #inputScale}). */
    public boolean hasInputScale() {
        return !Float.isNaN(inputScale);
    }

    /** The scale of row {@code row}. */
    public float scale(int row) {
        Objects.checkIndex(row, rows);
        return scales[perChannel() ? row : 0];
    }

    /** The scales: one, or one per row (a copy). */
    @Override
    public float[] scales() {
        return scales.clone();
    }

    /** Bytes the checkpoint holds for it: the elements, one fp32 per scale and the input scale if any. */
    public long byteSize() {
        return data.byteSize() + (long) Float.BYTES * (scales.length + (hasInputScale() ? 1 : 0));
    }

    /** Rows {@code [start, start + count)} (with their scales), sharing the bytes. */
    public Fp8Weight rows(int start, int count) {
        Objects.checkFromIndexSize(start, count, rows);
        float[] s = perChannel() ? Arrays.copyOfRange(scales, start, start + count) : scales;
        return new Fp8Weight(name, count, cols, data.asSlice((long) start * cols, (long) count * cols), s, inputScale);
    }

    /** The same rows and scales over {@code newCols} columns of other bytes (a gathered column slice). */
    public Fp8Weight withColumns(int newCols, MemorySegment newData) {
        return new Fp8Weight(name, rows, newCols, newData, scales, inputScale);
    }

    /**
     * The dequantized matrix, {@code [rows, cols]} little-endian {@code target} elements in a new segment of
     * {@code arena}: each element {@code e4m3(w) · scale} computed in fp32, then rounded once to {@code target}
     * (round to nearest even; F32 keeps the product).
     *
     * @throws IllegalArgumentException when {@code target} is not F32, F16 or BF16
     */
    public MemorySegment dequantize(DType target, Arena arena) {
        if (target != DType.F32 && target != DType.F16 && target != DType.BF16) {
            throw new IllegalArgumentException(name + ": fp8 weights dequantize to F32, F16 or BF16, not " + target);
        }
        MemorySegment out = arena.allocate(Math.max(1L, (long) rows * cols * target.byteSize()), 64)
                .asSlice(0, (long) rows * cols * target.byteSize());
        float[] row = new float[cols];
        for (int i = 0; i < rows; i++) {
            Fp8E4M3.decode(data, (long) i * cols, row, 0, cols);
            float s = scale(i);
            for (int j = 0; j < cols; j++) {
                row[j] *= s;
            }
            NumericFormats.encode(target, row, 0, out, (long) i * cols * target.byteSize(), cols);
        }
        return out;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Fp8Weight w && name.equals(w.name) && rows == w.rows && cols == w.cols
                && data.equals(w.data) && Arrays.equals(scales, w.scales)
                && Float.compare(inputScale, w.inputScale) == 0;
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, rows, cols, data, Arrays.hashCode(scales), inputScale);
    }

    @Override
    public String toString() {
        return "Fp8Weight[" + name + " [" + rows + ", " + cols + "], " + (perChannel() ? rows + " per-channel scales"
                : "per-tensor scale " + scales[0]) + (hasInputScale() ? ", input scale " + inputScale : "") + "]";
    }
}
