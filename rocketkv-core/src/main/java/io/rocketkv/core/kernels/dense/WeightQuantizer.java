package io.rocketkv.core.kernels.dense;

import io.rocketkv.core.numeric.DType;
import io.rocketkv.core.numeric.NumericFormats;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Weight-only quantization at load, llama.cpp's reference rounding, per block of 32 elements of a row:
 *
 * <ul>
 *   <li>{@link WeightFormat#Q8_0}: {@code d = max|x| / 127}, {@code q = round(x / d)} in [−127, 127]; error ≤ d/2.
 *   <li>{@link WeightFormat#Q4_0}: {@code m} = the element of largest magnitude (with its sign), {@code d = m / −8},
 *       {@code q = min(15, trunc(x / d + 8.5))} in [0, 15], value {@code d · (q − 8)}; error ≤ |d|/2 except at the
 *       clamped end.
 * </ul>
 *
 * The quantized copy lives off-heap (an automatic arena: freed with the last tensor that reads it); the
 * checkpoint's mapping is no longer read by the matmul.
 */
public final class WeightQuantizer {

    private static final ValueLayout.OfFloat LE_FLOAT =
            ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private WeightQuantizer() {
    }

    /**
     * {@code data}, a row-major {@code [n, k]} matrix of {@code dtype} elements, quantized to {@code target}.
     *
     * @throws IllegalArgumentException when {@code target} is not a quantized format or k is not a multiple of 32
     */
    public static WeightMatrix quantize(WeightFormat target, DType dtype, MemorySegment data, int n, int k) {
        if (!target.quantized()) {
            throw new IllegalArgumentException(target + " is not a quantized format (Q8_0 or Q4_0)");
        }
        if (k % WeightFormat.BLOCK != 0) {
            throw new IllegalArgumentException(target + " needs rows of a multiple of " + WeightFormat.BLOCK
                    + " elements, got " + k);
        }
        int blocks = k / WeightFormat.BLOCK;
        Arena arena = Arena.ofAuto();
        // 8 bytes past the end: the narrowest byte vector (8 lanes) may read past a row's last 4 elements
        MemorySegment q = arena.allocate(n * target.rowBytes(k) + 8, 64);
        MemorySegment scales = arena.allocate((long) n * blocks * Float.BYTES, 64);
        float[] row = new float[k];
        for (int j = 0; j < n; j++) {
            NumericFormats.decode(dtype, data, (long) j * k * dtype.byteSize(), row, 0, k);
            long rowByte = j * target.rowBytes(k);
            for (int b = 0; b < blocks; b++) {
                int o = b * WeightFormat.BLOCK;
                float d = target == WeightFormat.Q8_0 ? q8Block(row, o, q, rowByte + o)
                        : q4Block(row, o, q, rowByte + (long) b * (WeightFormat.BLOCK / 2));
                scales.setAtIndex(LE_FLOAT, (long) j * blocks + b, d);
            }
        }
        return new WeightMatrix(target, n, k, q, scales);
    }

    private static float q8Block(float[] x, int o, MemorySegment q, long at) {
        float amax = 0f;
        for (int i = 0; i < WeightFormat.BLOCK; i++) {
            amax = Math.max(amax, Math.abs(x[o + i]));
        }
        float d = amax / 127f;
        float id = d == 0f ? 0f : 1f / d;
        for (int i = 0; i < WeightFormat.BLOCK; i++) {
            q.set(ValueLayout.JAVA_BYTE, at + i, (byte) Math.round(x[o + i] * id));
        }
        return d;
    }

    private static float q4Block(float[] x, int o, MemorySegment q, long at) {
        float amax = 0f;
        float max = 0f;
        for (int i = 0; i < WeightFormat.BLOCK; i++) {
            if (Math.abs(x[o + i]) > amax) {
                amax = Math.abs(x[o + i]);
                max = x[o + i];
            }
        }
        float d = max / -8f;
        float id = d == 0f ? 0f : 1f / d;
        int half = WeightFormat.BLOCK / 2;
        for (int i = 0; i < half; i++) {
            int lo = Math.min(15, (int) (x[o + i] * id + 8.5f));
            int hi = Math.min(15, (int) (x[o + half + i] * id + 8.5f));
            q.set(ValueLayout.JAVA_BYTE, at + i, (byte) (lo | hi << 4));
        }
        return d;
    }
}
