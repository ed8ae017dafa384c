package io.rocketkv.benchmarks.gguf;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads a GGUF v3 file back for tests, written from the specification apart from {@link GgufWriter}: the metadata
 * (scalars as Long / Float / Boolean / String, arrays as lists), the tensor infos and each tensor's bytes.
 */
record GgufReader(int version, Map<String, Object> metadata, Map<String, Info> tensors, ByteBuffer file, long dataStart) {

    record Info(String name, long[] ne, int type, long offset) {
    }

    static GgufReader read(Path path) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(path)).order(ByteOrder.LITTLE_ENDIAN);
        byte[] magic = new byte[4];
        b.get(magic);
        if (!"GGUF".equals(new String(magic, StandardCharsets.US_ASCII))) {
            throw new IOException("not a GGUF file: magic " + new String(magic, StandardCharsets.ISO_8859_1));
        }
        int version = b.getInt();
        long tensorCount = b.getLong();
        long kvCount = b.getLong();
        Map<String, Object> metadata = new LinkedHashMap<>();
        for (long i = 0; i < kvCount; i++) {
            String key = string(b);
            metadata.put(key, value(b, b.getInt()));
        }
        Map<String, Info> tensors = new LinkedHashMap<>();
        for (long i = 0; i < tensorCount; i++) {
            String name = string(b);
            long[] ne = new long[b.getInt()];
            for (int d = 0; d < ne.length; d++) {
                ne[d] = b.getLong();
            }
            tensors.put(name, new Info(name, ne, b.getInt(), b.getLong()));
        }
        long alignment = (Long) metadata.getOrDefault("general.alignment", 32L);
        long dataStart = (b.position() + alignment - 1) / alignment * alignment;
        return new GgufReader(version, metadata, tensors, b, dataStart);
    }

    /** The bytes of tensor {@code name}, {@code bytes} long, little-endian. */
    ByteBuffer data(String name, long bytes) {
        Info t = tensors.get(name);
        return file.duplicate().position((int) (dataStart + t.offset())).limit((int) (dataStart + t.offset() + bytes))
                .slice().order(ByteOrder.LITTLE_ENDIAN);
    }

    private static Object value(ByteBuffer b, int type) {
        return switch (type) {
            case 0, 1 -> (long) b.get();
            case 2, 3 -> (long) b.getShort();
            case 4 -> Integer.toUnsignedLong(b.getInt());
            case 5 -> (long) b.getInt();
            case 6 -> b.getFloat();
            case 7 -> b.get() != 0;
            case 8 -> string(b);
            case 9 -> {
                int elementType = b.getInt();
                long n = b.getLong();
                List<Object> list = new ArrayList<>();
                for (long i = 0; i < n; i++) {
                    list.add(value(b, elementType));
                }
                yield list;
            }
            case 10, 11 -> b.getLong();
            case 12 -> b.getDouble();
            default -> throw new IllegalArgumentException("unknown GGUF value type " + type);
        };
    }

    private static String string(ByteBuffer b) {
        byte[] s = new byte[Math.toIntExact(b.getLong())];
        b.get(s);
        return new String(s, StandardCharsets.UTF_8);
    }
}
