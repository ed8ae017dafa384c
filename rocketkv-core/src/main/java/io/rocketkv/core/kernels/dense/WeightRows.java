package io.rocketkv.core.kernels.dense;

import io.rocketkv.core.numeric.DType;
import io.rocketkv.core.numeric.NumericFormats;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/** Decodes rows of a {@link WeightMatrix} to floats, one element at a time: the reference for every format. */
public final class WeightRows {

    private static final ValueLayout.OfFloat LE_FLOAT =
            ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private WeightRows() {
    }

    /** The checkpoint dtype of a float format. */
    public static DType dtype(WeightFormat f) {
        return switch (f) {
            case F32 -> DType.F32;
            case F16 -> DType.F16;
            case BF16 -> DType.BF16;
            case Q8_0, Q4_0 -> throw new IllegalArgumentException(f + " is not a float format");
        };
    }

    /** Elements {@code [col, col + count)} of row {@code row} into {@code dst[dstOff …]}; col a block start if quantized. */
    public static void decode(WeightMatrix w, int row, int col, float[] dst, int dstOff, int count) {
        WeightFormat f = w.format();
        if (!f.quantized()) {
            NumericFormats.decode(dtype(f), w.data(), w.offset(row, col), dst, dstOff, count);
            return;
        }
        int blocksPerRow = w.k() / WeightFormat.BLOCK;
        for (int i = 0; i < count; i++) {
            int c = col + i;
            int block = c / WeightFormat.BLOCK;
            int e = c % WeightFormat.BLOCK;
            float scale = w.scales().getAtIndex(LE_FLOAT, (long) row * blocksPerRow + block);
            long blockByte = w.offset(row, block * WeightFormat.BLOCK);
            int q;
            if (f == WeightFormat.Q8_0) {
                q = w.data().get(ValueLayout.JAVA_BYTE, blockByte + e);
            } else {
                int b = w.data().get(ValueLayout.JAVA_BYTE, blockByte + e % 16) & 0xFF;
                q = (e < 16 ? b & 0xF : b >>> 4) - 8;
            }
            dst[dstOff + i] = scale * q;
        }
    }
}
