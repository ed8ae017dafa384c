package io.rocketkv.core.weights;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rocketkv.core.numeric.DType;
import io.rocketkv.core.testing.OcpE4m3;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link Fp8Weights#read} on hand-written tensors: the scale layouts ModelOpt and compressed-tensors write
 * (per tensor {@code []} / {@code [1]}, per channel {@code [out]} / {@code [out, 1]}, F32 or BF16), the optional input
 * scale, dequantization ({@code e4m3 · scale} in fp32, rounded once) against the OCP formula, row slices, and every
 * refusal naming its tensor.
 */
class Fp8WeightsTest {

    private static final String W = "model.layers.0.mlp.up_proj.weight";
    private static final int ROWS = 6;
    private static final int COLS = 10;
    private static final ValueLayout.OfShort LE_SHORT =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @TempDir
    Path dir;

    private final byte[] codes = randomCodes();

    private static byte[] randomCodes() {
        byte[] b = new byte[ROWS * COLS];
        SplittableRandom r = new SplittableRandom(1);
        for (int i = 0; i < b.length; i++) {
            int c;
            do {
                c = r.nextInt(256);
            } while ((c & 0x7F) == 0x7F); // no NaN codes
            b[i] = (byte) c;
        }
        return b;
    }

    private SafeTensors open(Consumer<SafeTensorsWriter> extra) throws IOException {
        SafeTensorsWriter w = new SafeTensorsWriter().add(W, DType.F8_E4M3, new long[] {ROWS, COLS}, codes);
        extra.accept(w);
        Path file = dir.resolve("w" + System.nanoTime() + ".safetensors");
        w.write(file);
        return SafeTensors.open(file);
    }

    @Test
    void perTensorScalarAndOneElementScales() throws IOException {
        for (long[] shape : new long[][] {{}, {1}, {1, 1}}) {
            try (SafeTensors st = open(w -> w.add(W + "_scale", DType.F32, shape, new float[] {0.125f}))) {
                Fp8Weight f = Fp8Weights.read(st, W);
                assertFalse(f.perChannel());
                assertEquals(0.125f, f.scale(ROWS - 1));
                assertFalse(f.hasInputScale());
                assertDequantizes(f, i -> 0.125f);
            }
        }
    }

    @Test
    void perChannelScalesInF32AndBf16WithAnInputScale() throws IOException {
        float[] s = {0.5f, 0.25f, 2f, 0.0078125f, 1f, 3f}; // exact in bf16
        for (long[] shape : new long[][] {{ROWS}, {ROWS, 1}}) {
            for (DType dt : new DType[] {DType.F32, DType.BF16}) {
                try (SafeTensors st = open(w -> w.add(W + "_scale", dt, shape, s)
                        .add("model.layers.0.mlp.up_proj.input_scale", DType.F32, new long[0], new float[] {0.75f}))) {
                    Fp8Weight f = Fp8Weights.read(st, W);
                    assertTrue(f.perChannel());
                    assertArrayEquals(s, f.scales());
                    assertEquals(0.75f, f.inputScale());
                    assertDequantizes(f, i -> s[i]);
                    Fp8Weight slice = f.rows(2, 3);
                    assertArrayEquals(new float[] {2f, 0.0078125f, 1f}, slice.scales(), "a row slice keeps its scales");
                    assertEquals(codes[2 * COLS], slice.data().get(ValueLayout.JAVA_BYTE, 0));
                }
            }
        }
    }

    /** F32 is e4m3 · scale exactly as fp32 multiplies; BF16 and F16 that product rounded once. */
    private void assertDequantizes(Fp8Weight f, java.util.function.IntToDoubleFunction scaleOfRow) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment f32 = f.dequantize(DType.F32, arena);
            MemorySegment bf16 = f.dequantize(DType.BF16, arena);
            MemorySegment f16 = f.dequantize(DType.F16, arena);
            for (int i = 0; i < ROWS * COLS; i++) {
                float expected = (float) OcpE4m3.value(codes[i]) * (float) scaleOfRow.applyAsDouble(i / COLS);
                assertEquals(expected, f32.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), i));
                assertEquals(SafeTensorsWriter.toBf16Bits(expected), bf16.getAtIndex(LE_SHORT, i), "bf16 element " + i);
                assertEquals(Float.floatToFloat16(expected), f16.getAtIndex(LE_SHORT, i), "f16 element " + i);
            }
        }
    }

    @Test
    void blockWiseScalesAreRefusedNamingTheTensor() throws IOException {
        try (SafeTensors st = open(w -> w.add(W + "_scale", DType.F32, new long[] {2, 2}, new float[4]))) {
            CheckpointFormatException e = assertThrows(CheckpointFormatException.class, () -> Fp8Weights.read(st, W));
            assertTrue(e.getMessage().contains(W + "_scale") && e.getMessage().contains("block-wise")
                    && e.getMessage().contains("[2, 2]"), e.getMessage());
        }
        try (SafeTensors st = open(w -> w.add(W + "_scale_inv", DType.F32, new long[] {1, 1}, new float[1]))) {
            CheckpointFormatException e = assertThrows(CheckpointFormatException.class, () -> Fp8Weights.read(st, W));
            assertTrue(e.getMessage().contains(W + "_scale_inv") && e.getMessage().contains("block-wise"),
                    e.getMessage());
        }
    }

    @Test
    void otherBadLayoutsAreRefusedNamingTheTensor() throws IOException {
        refused(w -> { }, W + "_scale"); // no scale at all
        refused(w -> w.add(W + "_scale", DType.F32, new long[] {ROWS + 1}, new float[ROWS + 1]), "[7]");
        refused(w -> w.add(W + "_scale", DType.F32, new long[0], new float[] {-1f}), "finite and >= 0");
        refused(w -> w.add(W + "_scale", DType.F32, new long[0], new float[] {Float.NaN}), "finite and >= 0");
        refused(w -> w.add(W + "_scale", DType.I32, new long[0], new byte[4]), "F32, BF16 or F16");
        refused(w -> w.add(W + "_scale", DType.F32, new long[0], new float[] {1f})
                .add("model.layers.0.mlp.up_proj.input_scale", DType.F32, new long[] {2}, new float[2]),
                "model.layers.0.mlp.up_proj.input_scale");
        String e5m2 = "model.layers.0.mlp.down_proj.weight";
        try (SafeTensors st = open(w -> w.add(e5m2, DType.F8_E5M2, new long[] {2, 2}, new byte[4]))) {
            CheckpointFormatException e = assertThrows(CheckpointFormatException.class, () -> Fp8Weights.read(st, e5m2));
            assertTrue(e.getMessage().contains(e5m2) && e.getMessage().contains("F8_E5M2"), e.getMessage());
        }
    }

    private void refused(Consumer<SafeTensorsWriter> extra, String inMessage) throws IOException {
        try (SafeTensors st = open(extra)) {
            CheckpointFormatException e = assertThrows(CheckpointFormatException.class, () -> Fp8Weights.read(st, W));
            assertTrue(e.getMessage().contains(inMessage), e.getMessage());
        }
    }

    @Test
    void summaryCountsFp8WeightsByLayout() throws IOException {
        String other = "model.layers.1.mlp.up_proj.weight";
        try (SafeTensors st = open(w -> w.add(W + "_scale", DType.F32, new long[] {ROWS}, new float[ROWS])
                .add(other, DType.F8_E4M3, new long[] {2, 3}, new byte[6])
                .add(other + "_scale", DType.F32, new long[0], new float[] {1f})
                .add("model.layers.1.mlp.up_proj.input_scale", DType.F32, new long[] {1}, new float[] {1f})
                .add("model.norm.weight", DType.F32, new long[] {3}, new float[3]))) {
            Fp8Weights.Summary s = Fp8Weights.summarize(st);
            assertEquals(new Fp8Weights.Summary(2, 1, 1), s);
            assertEquals(1, s.perTensor());
        }
    }
}
