package io.rocketkv.benchmarks.gguf;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Writes a GGUF version 3 file, the format llama.cpp loads. Layout, all little-endian (GGUF specification):
 * <pre>
 * magic "GGUF" | u32 version = 3 | u64 tensor_count | u64 metadata_kv_count
 * metadata_kv_count × (string key | u32 value_type | value)      string = u64 length + UTF-8 bytes
 * tensor_count × (string name | u32 n_dims | u64 ne[n_dims] | u32 ggml_type | u64 offset)
 * padding to ALIGNMENT | tensor data, each tensor at data start + its offset (a multiple of ALIGNMENT)
 * </pre>
 * {@code ne[0]} is the fastest-varying dimension: a row-major {@code [rows, cols]} matrix is {@code ne = [cols, rows]}.
 * An array value is {@code u32 element_type | u64 count | elements}. The tensor data are written straight into a
 * mapping of the output file, one tensor at a time, by each tensor's {@link TensorData}, so a tensor is in memory
 * only while it is written.
 */
final class GgufWriter {

    static final int VERSION = 3;
    /** The specification's default alignment (no {@code general.alignment} key needed). */
    static final int ALIGNMENT = 32;

    /** Metadata value types ({@code gguf_type}). */
    static final int UINT32 = 4;
    static final int INT32 = 5;
    static final int FLOAT32 = 6;
    static final int BOOL = 7;
    static final int STRING = 8;
    static final int ARRAY = 9;

    /** The ggml tensor types this writer emits, with their ids in ggml's {@code ggml_type}. */
    enum TensorType {
        F32(0, 4), F16(1, 2), BF16(30, 2);

        final int id;
        final int elementBytes;

        TensorType(int id, int elementBytes) {
            this.id = id;
            this.elementBytes = elementBytes;
        }
    }

    /** Fills {@code dst}, exactly the tensor's bytes in the file, with its little-endian elements. */
    @FunctionalInterface
    interface TensorData {
        void write(MemorySegment dst) throws IOException;
    }

    private record Tensor(String name, long[] ne, TensorType type, TensorData data, long offset) {
        long byteSize() {
            return Arrays.stream(ne).reduce(1, Math::multiplyExact) * type.elementBytes;
        }
    }

    private final LittleEndianBytes metadata = new LittleEndianBytes();
    private final Set<String> keys = new HashSet<>();
    private final List<Tensor> tensors = new ArrayList<>();
    private long dataBytes;

    GgufWriter putString(String key, String value) {
        key(key, STRING).string(value);
        return this;
    }

    GgufWriter putUInt32(String key, long value) {
        if (value < 0 || value > 0xFFFF_FFFFL) {
            throw new IllegalArgumentException(key + " = " + value + " does not fit a uint32");
        }
        key(key, UINT32).u32((int) value);
        return this;
    }

    GgufWriter putFloat32(String key, double value) {
        key(key, FLOAT32).u32(Float.floatToRawIntBits((float) value));
        return this;
    }

    GgufWriter putBool(String key, boolean value) {
        key(key, BOOL).u8(value ? 1 : 0);
        return this;
    }

    GgufWriter putStringArray(String key, List<String> values) {
        LittleEndianBytes b = key(key, ARRAY).u32(STRING).u64(values.size());
        values.forEach(b::string);
        return this;
    }

    GgufWriter putInt32Array(String key, int[] values) {
        LittleEndianBytes b = key(key, ARRAY).u32(INT32).u64(values.length);
        for (int v : values) {
            b.u32(v);
        }
        return this;
    }

    /** Adds a tensor of shape {@code ne} (fastest-varying dimension first), written later by {@code data}. */
    GgufWriter addTensor(String name, long[] ne, TensorType type, TensorData data) {
        if (tensors.stream().anyMatch(t -> t.name().equals(name))) {
            throw new IllegalArgumentException("tensor " + name + " is added twice");
        }
        if (ne.length < 1 || ne.length > 4 || Arrays.stream(ne).anyMatch(d -> d < 1)) {
            throw new IllegalArgumentException("tensor " + name + ": ne = " + Arrays.toString(ne)
                    + " must have 1 to 4 dimensions, each >= 1");
        }
        Tensor t = new Tensor(name, ne.clone(), type, data, dataBytes);
        tensors.add(t);
        dataBytes = align(dataBytes + t.byteSize());
        return this;
    }

    /** Writes the file (replacing any file there) and returns its size in bytes. */
    long write(Path file) throws IOException {
        LittleEndianBytes head = new LittleEndianBytes();
        head.u8('G').u8('G').u8('U').u8('F').u32(VERSION).u64(tensors.size()).u64(keys.size());
        head.bytes(metadata.toByteArray());
        for (Tensor t : tensors) {
            head.string(t.name()).u32(t.ne().length);
            for (long d : t.ne()) {
                head.u64(d);
            }
            head.u32(t.type().id).u64(t.offset());
        }
        byte[] header = head.toByteArray();
        long dataStart = align(header.length);
        long size = dataStart + dataBytes;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.READ, StandardOpenOption.WRITE);
             Arena arena = Arena.ofConfined()) {
            MemorySegment map = ch.map(FileChannel.MapMode.READ_WRITE, 0, size, arena); // zero-filled: padding is 0
            MemorySegment.copy(MemorySegment.ofArray(header), 0, map, 0, header.length);
            for (Tensor t : tensors) {
                t.data().write(map.asSlice(dataStart + t.offset(), t.byteSize()));
            }
            map.force();
        }
        return size;
    }

    private LittleEndianBytes key(String key, int type) {
        if (!keys.add(key)) {
            throw new IllegalArgumentException("metadata key " + key + " is set twice");
        }
        return metadata.string(key).u32(type);
    }

    private static long align(long n) {
        return (n + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
    }

    /** A growing little-endian byte buffer with GGUF's scalar and string encodings. */
    private static final class LittleEndianBytes {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        LittleEndianBytes u8(int v) {
            out.write(v);
            return this;
        }

        LittleEndianBytes u32(int v) {
            for (int i = 0; i < 4; i++) {
                out.write(v >>> (8 * i));
            }
            return this;
        }

        LittleEndianBytes u64(long v) {
            for (int i = 0; i < 8; i++) {
                out.write((int) (v >>> (8 * i)));
            }
            return this;
        }

        LittleEndianBytes string(String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            return u64(b.length).bytes(b);
        }

        LittleEndianBytes bytes(byte[] b) {
            out.writeBytes(b);
            return this;
        }

        byte[] toByteArray() {
            return out.toByteArray();
        }
    }
}
