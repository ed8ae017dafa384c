package io.rocketkv.core.weights;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.rocketkv.core.numeric.DType;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Parses and validates the header of one safetensors file that is already mapped into memory.
 *
 * <p>The format, from the safetensors README (huggingface/safetensors):
 * <pre>
 * - 8 bytes: N, an unsigned little-endian 64-bit integer, containing the size of the header
 * - N bytes: a JSON UTF-8 string representing the header.
 *   - The header data MUST begin with a { character (0x7B).
 *   - The header data MAY be trailing padded with whitespace (0x20).
 *   - The header is a dict like {"TENSOR_NAME": {"dtype": "F16", "shape": [1, 16, 256],
 *     "data_offsets": [BEGIN, END]}, "NEXT_TENSOR_NAME": {...}, ...},
 *     - data_offsets point to the tensor data relative to the beginning of the byte buffer (i.e. not an
 *       absolute position in the file), with BEGIN as the starting offset and END as the one-past offset
 *       (so total tensor byte size = END - BEGIN).
 *   - A special key __metadata__ is allowed to contain free form string-to-string map. Arbitrary JSON is
 *     not allowed, all values must be strings.
 * - Rest of the file: byte-buffer.
 * </pre>
 * and its notes: "Empty tensors (tensors with 1 dimension being 0) are allowed", "0-rank Tensors (tensors
 * with shape []) are allowed, they are merely a scalar", "The byte buffer needs to be entirely indexed, and
 * cannot contain holes", "Endianness: Little-endian", "Order: 'C' or row-major". Like the reference
 * implementation, headers over 100 MB are refused.
 */
final class SafeTensorsHeader {

    /** The reference implementation's {@code MAX_HEADER_SIZE}. */
    static final long MAX_HEADER_BYTES = 100_000_000L;
    static final String METADATA_KEY = "__metadata__";

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String CORRUPT_HINT =
            " The file is corrupt, truncated or not a safetensors file: download or export it again.";

    /** The validated content of a header; {@code tensors} in header order. */
    record Parsed(List<TensorInfo> tensors, Map<String, String> metadata) {}

    private final Path file;

    private SafeTensorsHeader(Path file) {
        this.file = file;
    }

    /** Parses and validates the header of {@code file}, whose whole content is {@code mapping}. */
    static Parsed parse(Path file, MemorySegment mapping) {
        return new SafeTensorsHeader(file).parse(mapping);
    }

    private Parsed parse(MemorySegment mapping) {
        long fileSize = mapping.byteSize();
        if (fileSize < 8) {
            throw fail("is " + fileSize + " bytes long, shorter than the 8-byte header length of a safetensors file.");
        }
        // 8 bytes: N, an unsigned little-endian 64-bit integer. A negative long is > 2^63: surely too large.
        long n = mapping.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
        if (n < 0 || n > MAX_HEADER_BYTES) {
            throw fail("declares a header of " + Long.toUnsignedString(n) + " bytes, over the " + MAX_HEADER_BYTES
                    + "-byte limit.");
        }
        if (n > fileSize - 8) {
            throw fail("declares a header of " + n + " bytes but only " + (fileSize - 8)
                    + " bytes follow the header length.");
        }
        byte[] headerBytes = mapping.asSlice(8, n).toArray(ValueLayout.JAVA_BYTE);
        // "The header data MUST begin with a { character (0x7B)."
        if (n == 0 || headerBytes[0] != '{') {
            throw fail("has a header that does not start with '{' (a JSON object).");
        }
        long dataStart = 8 + n;
        Parsed parsed = parseJson(decodeUtf8(headerBytes), dataStart, fileSize - dataStart);
        checkLayout(parsed.tensors(), dataStart, fileSize - dataStart);
        return parsed;
    }

    private String decodeUtf8(byte[] bytes) {
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes))
                    .toString();
        } catch (CharacterCodingException e) {
            throw fail("has a header that is not valid UTF-8.");
        }
    }

    private Parsed parseJson(String header, long dataStart, long dataSize) {
        List<TensorInfo> tensors = new ArrayList<>();
        Map<String, String> metadata = Map.of();
        Set<String> seen = new HashSet<>();
        String current = null;
        try (JsonParser p = JSON.createParser(header)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw fail("has a header that is not a JSON object.");
            }
            JsonToken token;
            while ((token = p.nextToken()) == JsonToken.FIELD_NAME) {
                current = p.currentName();
                p.nextToken();
                JsonNode value = p.readValueAsTree();
                if (!seen.add(current)) {
                    throw fail(current, "appears twice in the header; names must be unique.");
                }
                if (current.equals(METADATA_KEY)) {
                    metadata = parseMetadata(value);
                } else {
                    tensors.add(parseTensor(current, value, dataStart, dataSize));
                }
                current = null;
            }
            if (token != JsonToken.END_OBJECT || p.nextToken() != null) {
                throw fail("has a header with content after the JSON object (only space padding is allowed).");
            }
        } catch (IOException e) { // JsonProcessingException: malformed JSON, limits exceeded, ...
            String where = current == null ? "" : " (in the entry of tensor '" + current + "')";
            throw new CheckpointFormatException(file + ": malformed JSON header" + where + ": "
                    + (e instanceof JsonProcessingException j ? j.getOriginalMessage() : e.getMessage()) + "."
                    + CORRUPT_HINT, e);
        }
        return new Parsed(List.copyOf(tensors), metadata);
    }

    private Map<String, String> parseMetadata(JsonNode value) {
        if (value.isNull()) {
            return Map.of();
        }
        if (!value.isObject()) {
            throw fail("has a '" + METADATA_KEY + "' entry that is not a JSON object of strings.");
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : value.properties()) {
            if (!e.getValue().isTextual()) {
                throw fail("has a '" + METADATA_KEY + "' value for key '" + e.getKey() + "' that is "
                        + e.getValue().getNodeType() + ", not a string; metadata values must be strings.");
            }
            metadata.put(e.getKey(), e.getValue().textValue());
        }
        return Collections.unmodifiableMap(metadata);
    }

    private TensorInfo parseTensor(String name, JsonNode entry, long dataStart, long dataSize) {
        if (!entry.isObject()) {
            throw fail(name, "has a header entry that is " + entry.getNodeType()
                    + ", not an object {\"dtype\", \"shape\", \"data_offsets\"}.");
        }
        JsonNode dtypeNode = entry.get("dtype");
        if (dtypeNode == null || !dtypeNode.isTextual()) {
            throw fail(name, "has no string \"dtype\" field.");
        }
        DType dtype = DType.fromSafetensorsName(dtypeNode.textValue()).orElseThrow(() -> fail(name,
                "has unsupported dtype \"" + dtypeNode.textValue() + "\"; supported: " + supportedDTypes() + "."));
        long[] shape = longArray(name, entry, "shape", -1);
        for (long d : shape) {
            if (d < 0) {
                throw fail(name, "has a negative dimension in shape " + Arrays.toString(shape) + ".");
            }
        }
        long[] offsets = longArray(name, entry, "data_offsets", 2);
        long begin = offsets[0];
        long end = offsets[1];
        if (begin < 0 || end < 0 || begin > end) {
            throw fail(name, "has data_offsets [" + begin + ", " + end + "]; need 0 <= begin <= end.");
        }
        long byteSize;
        try {
            byteSize = Math.multiplyExact(TensorInfo.elementCount(shape), (long) dtype.byteSize());
        } catch (ArithmeticException e) {
            throw fail(name, "has shape " + Arrays.toString(shape) + " whose byte size overflows 64 bits.");
        }
        if (end - begin != byteSize) {
            throw fail(name, "has shape " + Arrays.toString(shape) + " of " + dtype.safetensorsName() + " = "
                    + byteSize + " bytes, but data_offsets [" + begin + ", " + end + "] span " + (end - begin)
                    + " bytes.");
        }
        if (end > dataSize) {
            throw fail(name, "has data_offsets [" + begin + ", " + end + "] past the end of the data area ("
                    + dataSize + " bytes after the header).");
        }
        return new TensorInfo(name, dtype, shape, file, dataStart + begin);
    }

    /** Reads field {@code field} of {@code entry} as an array of 64-bit integers ({@code length} -1: any). */
    private long[] longArray(String name, JsonNode entry, String field, int length) {
        JsonNode node = entry.get(field);
        if (node == null || !node.isArray() || (length >= 0 && node.size() != length)) {
            throw fail(name, "has no \"" + field + "\" array" + (length >= 0 ? " of " + length + " integers" : "")
                    + " (found " + node + ").");
        }
        long[] values = new long[node.size()];
        for (int i = 0; i < values.length; i++) {
            JsonNode v = node.get(i);
            if (!v.isIntegralNumber() || !v.canConvertToLong()) {
                throw fail(name, "has \"" + field + "\" " + node + " with an element that is not a 64-bit integer.");
            }
            values[i] = v.longValue();
        }
        return values;
    }

    /**
     * Checks that the tensors tile the byte buffer exactly: no overlap, no hole ("The byte
     * buffer needs to be entirely indexed, and cannot contain holes").
     */
    private void checkLayout(List<TensorInfo> tensors, long dataStart, long dataSize) {
        List<TensorInfo> byOffset = new ArrayList<>(tensors);
        byOffset.sort(Comparator.comparingLong(TensorInfo::fileOffset).thenComparingLong(TensorInfo::byteSize));
        long expected = 0;
        TensorInfo previous = null;
        for (TensorInfo t : byOffset) {
            long begin = t.fileOffset() - dataStart;
            long end = begin + t.byteSize();
            if (begin < expected) {
                throw fail(t.name(), "has data_offsets [" + begin + ", " + end + "] overlapping tensor '"
                        + previous.name() + "', which ends at " + expected + ".");
            }
            if (begin > expected) {
                throw fail(t.name(), "starts at data offset " + begin + " but the previous tensor"
                        + (previous == null ? "" : " '" + previous.name() + "'") + " ends at " + expected
                        + "; the format forbids holes in the data area.");
            }
            expected = end;
            previous = t;
        }
        if (expected != dataSize) {
            throw fail("has " + (dataSize - expected) + " bytes after the last tensor"
                    + (previous == null ? "" : " '" + previous.name() + "'")
                    + " that no tensor uses; the format forbids holes in the data area.");
        }
    }

    static String supportedDTypes() {
        return Arrays.stream(DType.values()).map(DType::safetensorsName).collect(Collectors.joining(", "));
    }

    private CheckpointFormatException fail(String problem) {
        return new CheckpointFormatException(file + " " + problem + CORRUPT_HINT);
    }

    private CheckpointFormatException fail(String tensor, String problem) {
        return new CheckpointFormatException(file + ": tensor '" + tensor + "' " + problem + CORRUPT_HINT);
    }
}
