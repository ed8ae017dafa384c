package io.rocketkv.core.weights;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import io.rocketkv.core.numeric.DType;

import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * Writes one safetensors file the way the Python library does: the header lists {@code __metadata__} first,
 * then the tensors sorted by name, in compact JSON padded with spaces so that the data area starts at a
 * multiple of 8 bytes. The data area holds the tensors ordered by descending element size, then name (as the
 * reference implementation orders by dtype), so every tensor is aligned to its element size. The same input
 * always gives the same bytes.
 *
 * <pre>{@code
 * new SafeTensorsWriter()
 *     .add("model.norm.weight", DType.BF16, new long[] {64}, weights)   // float[] converted to bf16
 *     .metadata("format", "pt")
 *     .write(dir.resolve("model.safetensors"));
 * }</pre>
 */
public final class SafeTensorsWriter {

    private static final JsonFactory JSON = new JsonFactory();

    private record Pending(String name, DType dtype, long[] shape, long byteSize, byte[] bytes, float[] floats) {}

    private final Map<String, Pending> tensors = new TreeMap<>();
    private final Map<String, String> metadata = new TreeMap<>();

    /**
     * Adds a tensor from its raw little-endian, row-major bytes.
     *
     * @throws IllegalArgumentException for a duplicate or reserved name, a negative dimension, or a byte count
     *                                  that does not match {@code shape} and {@code dtype}
     */
    public SafeTensorsWriter add(String name, DType dtype, long[] shape, byte[] littleEndianBytes) {
        long size = checkNew(name, dtype, shape);
        if (littleEndianBytes.length != size) {
            throw new IllegalArgumentException("tensor '" + name + "': " + littleEndianBytes.length
                    + " bytes given, shape " + Arrays.toString(shape) + " of " + dtype + " needs " + size);
        }
        tensors.put(name, new Pending(name, dtype, shape.clone(), size, littleEndianBytes.clone(), null));
        return this;
    }

    /**
     * Adds a tensor from {@code float} values, converted on write to {@code dtype}: F32, F64, F16
     * ({@link Float#floatToFloat16}, round to nearest even) or BF16 (round to nearest even, NaN kept quiet).
     *
     * @throws IllegalArgumentException as {@link #add(String, DType, long[], byte[])}, or for another dtype
     */
    public SafeTensorsWriter add(String name, DType dtype, long[] shape, float[] values) {
        if (dtype != DType.F32 && dtype != DType.F64 && dtype != DType.F16 && dtype != DType.BF16) {
            throw new IllegalArgumentException("tensor '" + name + "': cannot convert floats to " + dtype
                    + "; supported: F32, F64, F16, BF16 (pass raw bytes for other dtypes)");
        }
        long size = checkNew(name, dtype, shape);
        if ((long) values.length * dtype.byteSize() != size) {
            throw new IllegalArgumentException("tensor '" + name + "': " + values.length + " values given, shape "
                    + Arrays.toString(shape) + " has " + size / dtype.byteSize());
        }
        tensors.put(name, new Pending(name, dtype, shape.clone(), size, null, values.clone()));
        return this;
    }

    /** Adds a {@code __metadata__} entry (the Python library writes {@code "format": "pt"}). */
    public SafeTensorsWriter metadata(String key, String value) {
        metadata.put(Objects.requireNonNull(key, "key"), Objects.requireNonNull(value, "value"));
        return this;
    }

    private long checkNew(String name, DType dtype, long[] shape) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(dtype, "dtype");
        if (name.equals(SafeTensorsHeader.METADATA_KEY)) {
            throw new IllegalArgumentException("'" + name + "' is reserved for metadata");
        }
        if (tensors.containsKey(name)) {
            throw new IllegalArgumentException("tensor '" + name + "' was already added");
        }
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("tensor '" + name + "': negative dimension in shape "
                        + Arrays.toString(shape));
            }
        }
        return Math.multiplyExact(TensorInfo.elementCount(shape), (long) dtype.byteSize());
    }

    /** Writes the file, replacing {@code file} if it exists. */
    public void write(Path file) throws IOException {
        try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(file), 1 << 16)) {
            writeTo(out);
        }
    }

    /** The whole file as bytes (for files under 2 GB; tests use it to corrupt files by hand). */
    public byte[] toBytes() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            writeTo(out);
        } catch (IOException e) {
            throw new UncheckedIOException(e); // a ByteArrayOutputStream does not throw
        }
        return out.toByteArray();
    }

    /** Writes the file to {@code out}, which stays open. */
    public void writeTo(OutputStream out) throws IOException {
        List<Pending> dataOrder = new ArrayList<>(tensors.values());
        dataOrder.sort(Comparator.comparingInt((Pending p) -> -p.dtype().byteSize()).thenComparing(Pending::name));
        Map<String, long[]> offsets = new TreeMap<>();
        long offset = 0;
        for (Pending p : dataOrder) {
            offsets.put(p.name(), new long[] {offset, offset + p.byteSize()});
            offset += p.byteSize();
        }
        byte[] header = header(offsets);
        ByteBuffer length = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length);
        out.write(length.array());
        out.write(header);
        for (Pending p : dataOrder) {
            if (p.bytes() != null) {
                out.write(p.bytes());
            } else {
                writeFloats(out, p.floats(), p.dtype());
            }
        }
    }

    private byte[] header(Map<String, long[]> offsets) throws IOException {
        ByteArrayOutputStream json = new ByteArrayOutputStream();
        try (JsonGenerator g = JSON.createGenerator(json)) {
            g.writeStartObject();
            if (!metadata.isEmpty()) {
                g.writeObjectFieldStart(SafeTensorsHeader.METADATA_KEY);
                for (Map.Entry<String, String> e : metadata.entrySet()) {
                    g.writeStringField(e.getKey(), e.getValue());
                }
                g.writeEndObject();
            }
            for (Pending p : tensors.values()) {
                g.writeObjectFieldStart(p.name());
                g.writeStringField("dtype", p.dtype().safetensorsName());
                g.writeFieldName("shape");
                g.writeArray(p.shape(), 0, p.shape().length);
                g.writeFieldName("data_offsets");
                g.writeArray(offsets.get(p.name()), 0, 2);
                g.writeEndObject();
            }
            g.writeEndObject();
        }
        int pad = (8 - json.size() % 8) % 8; // 8 + header length is a multiple of 8
        for (int i = 0; i < pad; i++) {
            json.write(' ');
        }
        return json.toByteArray();
    }

    private static void writeFloats(OutputStream out, float[] values, DType dtype) throws IOException {
        ByteBuffer chunk = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            if (chunk.remaining() < 8) {
                out.write(chunk.array(), 0, chunk.position());
                chunk.clear();
            }
            switch (dtype) {
                case F32 -> chunk.putFloat(v);
                case F64 -> chunk.putDouble(v);
                case F16 -> chunk.putShort(Float.floatToFloat16(v));
                case BF16 -> chunk.putShort(toBf16Bits(v));
                default -> throw new IllegalStateException(dtype.toString());
            }
        }
        out.write(chunk.array(), 0, chunk.position());
    }

    /** {@code f} rounded to bfloat16 (round to nearest, ties to even; NaN stays NaN, made quiet). */
    static short toBf16Bits(float f) {
        int bits = Float.floatToRawIntBits(f);
        if (Float.isNaN(f)) {
            return (short) ((bits >>> 16) | 0x0040);
        }
        int roundingBias = 0x7FFF + ((bits >>> 16) & 1);
        return (short) ((bits + roundingBias) >>> 16);
    }
}
