package io.rocketkv.core.weights;

import io.rocketkv.core.numeric.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.InputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SafeTensorsRoundTripTest {

    @TempDir
    Path dir;

    @ParameterizedTest
    @EnumSource(DType.class)
    void rawBytesRoundTripForEveryDtype(DType dtype) throws Exception {
        long[] shape = {3, 5};
        byte[] bytes = new byte[15 * dtype.byteSize()];
        new Random(dtype.ordinal()).nextBytes(bytes);
        if (dtype == DType.BOOL) {
            for (int i = 0; i < bytes.length; i++) {
                bytes[i] = (byte) (bytes[i] & 1);
            }
        }
        Path file = dir.resolve("t.safetensors");
        new SafeTensorsWriter().add("x", dtype, shape, bytes).add("y", DType.U8, new long[] {1}, new byte[] {7})
                .metadata("format", "pt").write(file);
        try (SafeTensors st = SafeTensors.open(file)) {
            TensorInfo info = st.require("x");
            assertEquals(dtype, info.dtype());
            assertArrayEquals(shape, info.shape());
            assertEquals(15, info.elementCount());
            assertEquals(bytes.length, info.byteSize());
            assertEquals(file.toAbsolutePath(), info.file());
            assertArrayEquals(bytes, st.data("x").toArray(ValueLayout.JAVA_BYTE));
            assertEquals(Map.of("format", "pt"), st.metadata());
            assertEquals(List.of("x", "y"), List.copyOf(st.names()));
        }
    }

    @Test
    void floatsRoundTripThroughF32F64F16() throws Exception {
        float[] values = {0f, -0f, 1f, -2.5f, 0.125f, 65504f, Float.POSITIVE_INFINITY, 3.0517578e-5f};
        Path file = dir.resolve("f.safetensors");
        new SafeTensorsWriter()
                .add("f32", DType.F32, new long[] {8}, values)
                .add("f64", DType.F64, new long[] {2, 4}, values)
                .add("f16", DType.F16, new long[] {4, 2}, values)
                .add("bf16", DType.BF16, new long[] {8}, new float[] {0f, 1f, -2.5f, 0.125f, 3.140625f, 1e30f,
                        Float.NEGATIVE_INFINITY, -0f})
                .write(file);
        try (SafeTensors st = SafeTensors.open(file)) {
            assertArrayEquals(values, st.readFloats("f32"));
            assertArrayEquals(values, st.readFloats("f64"));
            assertArrayEquals(values, st.readFloats("f16"));
            float bf1e30 = Float.intBitsToFloat(SafeTensorsWriter.toBf16Bits(1e30f) << 16);
            assertArrayEquals(new float[] {0f, 1f, -2.5f, 0.125f, 3.140625f, bf1e30, Float.NEGATIVE_INFINITY, -0f},
                    st.readFloats("bf16"));
            assertEquals(1e30f, bf1e30, 1e30f * 0x1p-8);
        }
    }

    @Test
    void bf16RoundsToNearestEven() {
        assertEquals(0x3F80, SafeTensorsWriter.toBf16Bits(1.00390625f));       // 1 + 2^-8: tie, down to even 1.0
        assertEquals(0x3F82, SafeTensorsWriter.toBf16Bits(1.01171875f));       // 1 + 3·2^-8: tie, up to even
        assertEquals(0x3F81, SafeTensorsWriter.toBf16Bits(1.0078125f + 1e-6f)); // just above 1 + 2^-7
        assertEquals(0x3F81, SafeTensorsWriter.toBf16Bits(Math.nextUp(1.00390625f))); // past the tie: up
        assertEquals(0x7F80, SafeTensorsWriter.toBf16Bits(Float.MAX_VALUE));   // rounds to +inf
        short nan = SafeTensorsWriter.toBf16Bits(Float.intBitsToFloat(0x7F800001)); // signalling NaN, low bits
        assertTrue(Float.isNaN(Float.intBitsToFloat(nan << 16)));
    }

    @Test
    void fp8TablesFollowTheSpec() throws Exception {
        byte[] e4m3 = bytes(0x00, 0x01, 0x08, 0x38, 0x7E, 0x7F, 0xFE, 0xB8, 0x80);
        byte[] e5m2 = bytes(0x3C, 0x7B, 0x7C, 0xFC, 0x7D, 0x01, 0x04, 0xBC);
        Path file = dir.resolve("fp8.safetensors");
        new SafeTensorsWriter().add("a", DType.F8_E4M3, new long[] {e4m3.length}, e4m3)
                .add("b", DType.F8_E5M2, new long[] {e5m2.length}, e5m2).write(file);
        try (SafeTensors st = SafeTensors.open(file)) {
            assertArrayEquals(new float[] {0f, 0x1p-9f, 0x1p-6f, 1f, 448f, Float.NaN, -448f, -1f, -0f},
                    st.readFloats("a"));
            assertArrayEquals(new float[] {1f, 57344f, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN,
                    0x1p-16f, 0x1p-14f, -1f}, st.readFloats("b"));
        }
    }

    @Test
    void integerTensorsAreNotReadAsFloats() throws Exception {
        Path file = dir.resolve("i.safetensors");
        new SafeTensorsWriter().add("ids", DType.I32, new long[] {2}, new byte[8]).write(file);
        try (SafeTensors st = SafeTensors.open(file)) {
            CheckpointFormatException e = assertThrows(CheckpointFormatException.class, () -> st.readFloats("ids"));
            assertTrue(e.getMessage().contains("'ids'") && e.getMessage().contains("I32"), e.getMessage());
            assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
        }
    }

    @Test
    void layoutMatchesThePythonLibrary() throws Exception {
        SafeTensorsWriter w = new SafeTensorsWriter()
                .add("z.u8", DType.U8, new long[] {3}, new byte[] {1, 2, 3})
                .add("a.bf16", DType.BF16, new long[] {3}, new float[] {1, 2, 3})
                .add("m.f32", DType.F32, new long[] {1, 3}, new float[] {1, 2, 3})
                .metadata("format", "pt");
        byte[] file = w.toBytes();
        assertArrayEquals(file, w.toBytes(), "deterministic");
        long n = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        assertEquals(0, (8 + n) % 8, "data area starts 8-aligned");
        String header = new String(file, 8, (int) n, StandardCharsets.UTF_8);
        assertTrue(header.startsWith("{\"__metadata__\":{\"format\":\"pt\"},\"a.bf16\":{\"dtype\":\"BF16\",\"shape\""
                + ":[3],\"data_offsets\":[12,18]},\"m.f32\":{\"dtype\":\"F32\",\"shape\":[1,3],\"data_offsets\":[0,12]},"
                + "\"z.u8\":"), header);
        String json = header.stripTrailing();
        assertTrue(json.endsWith("}"), header);
        assertEquals(" ".repeat(header.length() - json.length()), header.substring(json.length()), "space padding");
        assertTrue(header.length() - json.length() < 8, "minimal padding");

        Path path = dir.resolve("l.safetensors");
        Files.write(path, file);
        try (SafeTensors st = SafeTensors.open(path)) {
            for (String name : st.names()) {
                TensorInfo t = st.info(name);
                assertEquals(0, t.fileOffset() % t.dtype().byteSize(), name + " aligned to its element size");
            }
        }
    }

    @Test
    void readsAFileWrittenByThePythonLibrary() throws Exception {
        Path file = dir.resolve("python_written.safetensors");
        try (InputStream in = getClass().getResourceAsStream("python_written.safetensors")) {
            Files.write(file, in.readAllBytes());
        }
        try (SafeTensors st = SafeTensors.open(file)) {
            assertEquals(List.of("a.f32", "b.int64", "c.f16", "d.u8", "e.f64", "f.scalar", "g.bool"),
                    List.copyOf(st.names()));
            assertEquals(Map.of("format", "np", "source", "safetensors 0.8.0"), st.metadata());
            assertArrayEquals(new float[] {0, 0.25f, 0.5f, 0.75f, 1, 1.25f}, st.readFloats("a.f32"));
            assertArrayEquals(new long[] {2, 3}, st.info("a.f32").shape());
            assertArrayEquals(new long[] {1, -2, 3}, st.data("b.int64")
                    .toArray(ValueLayout.JAVA_LONG.withOrder(ByteOrder.LITTLE_ENDIAN)));
            assertArrayEquals(new float[] {0.5f, -1.25f, 65504f, Float.float16ToFloat(Float.floatToFloat16(1e-4f))},
                    st.readFloats("c.f16"));
            assertArrayEquals(bytes(1, 2, 3, 255), st.data("d.u8").toArray(ValueLayout.JAVA_BYTE));
            assertArrayEquals(new float[] {(float) Math.PI}, st.readFloats("e.f64"));
            assertEquals(0, st.info("f.scalar").rank());
            assertArrayEquals(new float[] {7.5f}, st.readFloats("f.scalar"));
            assertArrayEquals(bytes(1, 0, 1), st.data("g.bool").toArray(ValueLayout.JAVA_BYTE));
        }
    }

    @Test
    void scalarAndEmptyTensors() throws Exception {
        Path file = dir.resolve("s.safetensors");
        new SafeTensorsWriter().add("scalar", DType.F32, new long[0], new float[] {4f})
                .add("empty", DType.F16, new long[] {0, 7}, new float[0])
                .add("empty2", DType.F32, new long[] {3, 0}, new float[0]).write(file);
        try (SafeTensors st = SafeTensors.open(file)) {
            assertArrayEquals(new float[] {4f}, st.readFloats("scalar"));
            assertEquals(1, st.info("scalar").elementCount());
            assertEquals(0, st.readFloats("empty").length);
            assertEquals(0, st.data("empty2").byteSize());
        }
    }

    @Test
    void opensAModelFolderAndMapsWithoutCopying() throws Exception {
        new SafeTensorsWriter().add("w", DType.F32, new long[] {2}, new float[] {1, 2})
                .write(dir.resolve(SafeTensors.SINGLE_FILE_NAME));
        MemorySegment data;
        try (SafeTensors st = SafeTensors.open(dir)) {
            assertEquals(List.of(dir.resolve(SafeTensors.SINGLE_FILE_NAME).toAbsolutePath()), st.files());
            data = st.data("w");
            assertTrue(data.isMapped() && data.isReadOnly() && data.isNative());
            assertEquals(1f, data.get(TensorReader.F32_LE, 0));
            assertTrue(st.find("nope").isEmpty());
            assertTrue(st.contains("w") && !st.contains("nope"));
        }
        assertThrows(IllegalStateException.class, () -> data.get(ValueLayout.JAVA_BYTE, 0));
    }

    @Test
    void closedCheckpointRefusesReads() throws Exception {
        Path file = dir.resolve("c.safetensors");
        new SafeTensorsWriter().add("w", DType.F32, new long[] {1}, new float[] {1}).write(file);
        SafeTensors st = SafeTensors.open(file);
        st.close();
        st.close();
        assertThrows(IllegalStateException.class, () -> st.readFloats("w"));
    }

    @Test
    void missingTensorNamesCheckpointAndTensor() throws Exception {
        Path file = dir.resolve("m.safetensors");
        new SafeTensorsWriter().add("transformer.layers.0.q_proj.weight", DType.F32, new long[] {1}, new float[1])
                .write(file);
        try (SafeTensors st = SafeTensors.open(file)) {
            CheckpointFormatException e = assertThrows(CheckpointFormatException.class,
                    () -> st.require("model.layers.0.q_proj.weight"));
            assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
            assertTrue(e.getMessage().contains("'model.layers.0.q_proj.weight'"), e.getMessage());
            assertTrue(e.getMessage().contains("transformer.layers.0.q_proj.weight"), "suggests a similar name");
            assertThrows(CheckpointFormatException.class, () -> st.data("nope"));
        }
    }

    @Test
    void missingPathsAreCheckpointErrors() {
        CheckpointFormatException e = assertThrows(CheckpointFormatException.class,
                () -> SafeTensors.open(dir.resolve("absent.safetensors")));
        assertTrue(e.getMessage().contains("absent.safetensors"), e.getMessage());
        e = assertThrows(CheckpointFormatException.class, () -> SafeTensors.open(dir));
        assertTrue(e.getMessage().contains(dir.toString()) && e.getMessage().contains("model.safetensors"));
    }

    @Test
    void writerRejectsInconsistentInput() {
        SafeTensorsWriter w = new SafeTensorsWriter().add("a", DType.F32, new long[] {2}, new float[2]);
        assertThrows(IllegalArgumentException.class, () -> w.add("a", DType.F32, new long[] {2}, new float[2]));
        assertThrows(IllegalArgumentException.class, () -> w.add("b", DType.F32, new long[] {3}, new float[2]));
        assertThrows(IllegalArgumentException.class, () -> w.add("c", DType.F16, new long[] {2}, new byte[3]));
        assertThrows(IllegalArgumentException.class, () -> w.add("d", DType.F32, new long[] {-1}, new float[0]));
        assertThrows(IllegalArgumentException.class, () -> w.add("e", DType.I8, new long[] {1}, new float[1]));
        assertThrows(IllegalArgumentException.class, () -> w.add("__metadata__", DType.U8, new long[0], new byte[1]));
        assertFalse(new String(w.toBytes(), StandardCharsets.UTF_8).contains("\"b\""));
    }

    static byte[] bytes(int... values) {
        byte[] b = new byte[values.length];
        for (int i = 0; i < values.length; i++) {
            b[i] = (byte) values[i];
        }
        return b;
    }
}
