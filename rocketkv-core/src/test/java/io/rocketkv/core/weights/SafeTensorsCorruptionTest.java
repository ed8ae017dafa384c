package io.rocketkv.core.weights;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** One hand-made broken file per validation rule; each must fail with a message naming the file and tensor. */
class SafeTensorsCorruptionTest {

    @TempDir
    Path dir;

    private static final String OK_A = "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}";

    @Test
    void fileShorterThanEightBytes() {
        for (int size : new int[] {0, 1, 7}) {
            CheckpointFormatException e = bad(new byte[size]);
            assertTrue(e.getMessage().contains(size + " bytes long"), e.getMessage());
        }
    }

    @Test
    void headerLengthBeyondTheFile() {
        bad(withLength(1000, "{}", 0), "1000", "only");
        bad(withLength(9, "{" + " ".repeat(7), 0), "9"); // one byte past
    }

    @Test
    void headerLengthOverTheLimit() {
        bad(withLength(100_000_001L, "{}", 0), "100000001", "limit");
        bad(withLength(-1L, "{}", 0), "18446744073709551615"); // 2^64-1 as an unsigned length
    }

    @Test
    void headerNotStartingWithABrace() {
        bad(file("[1,2]", 0), "'{'");
        bad(file(" {}", 0), "'{'");
        bad(withLength(0, "", 0), "'{'");
    }

    @Test
    void malformedJson() {
        CheckpointFormatException e = bad(file("{" + OK_A + ",\"b\":{\"dtype\":\"F32\",\"shape\":[2", 8),
                "malformed JSON", "'b'");
        assertTrue(e.getCause() != null);
        bad(file("{\"a\" 1}", 0), "malformed JSON");
        bad(file("{} x", 0), "malformed JSON");
        bad(file("{}{}", 0), "after the JSON object");
    }

    @Test
    void headerNotUtf8() {
        byte[] header = "{\"a\u00FF\":1}".getBytes(StandardCharsets.ISO_8859_1);
        bad(withLength(header.length, header, 0), "UTF-8");
    }

    @Test
    void tensorEntryNotAnObject() {
        bad(file("{\"a\":[0,8]}", 8), "'a'", "not an object");
    }

    @Test
    void wrongFieldTypes() {
        bad(file("{\"a\":{\"dtype\":32,\"shape\":[2],\"data_offsets\":[0,8]}}", 8), "'a'", "dtype");
        bad(file("{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8), "'a'", "dtype");
        bad(file("{\"a\":{\"dtype\":\"F32\",\"shape\":\"2\",\"data_offsets\":[0,8]}}", 8), "'a'", "shape");
        bad(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", 8), "'a'", "shape");
        bad(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8), "'a'", "data_offsets");
        bad(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,8]}}", 8), "'a'", "data_offsets");
        bad(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[\"0\",\"8\"]}}", 8), "'a'", "data_offsets");
        bad(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999],\"data_offsets\":[0,8]}}", 8),
                "'a'", "64-bit");
    }

    @Test
    void metadataMustBeStrings() {
        bad(file("{\"__metadata__\":{\"format\":1}," + OK_A + "}", 8), "__metadata__", "format");
        bad(file("{\"__metadata__\":[\"pt\"]," + OK_A + "}", 8), "__metadata__");
    }

    @Test
    void unknownDtypeListsTheSupportedOnes() {
        CheckpointFormatException e = bad(
                file("{\"a\":{\"dtype\":\"F4\",\"shape\":[2],\"data_offsets\":[0,1]}}", 1), "'a'", "\"F4\"");
        assertTrue(e.getMessage().contains("BF16") && e.getMessage().contains("F8_E4M3"), e.getMessage());
    }

    @Test
    void negativeDimension() {
        bad(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8), "'a'", "negative");
    }

    @Test
    void shapeDoesNotMatchOffsets() {
        bad(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8), "'a'", "12 bytes", "8 bytes");
        bad(file("{\"a\":{\"dtype\":\"BF16\",\"shape\":[2,2],\"data_offsets\":[0,4]}}", 4), "'a'", "8 bytes");
    }

    @Test
    void shapeWhoseByteSizeOverflows() {
        bad(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,8]}}", 8),
                "'a'", "overflow");
        bad(file("{\"a\":{\"dtype\":\"F64\",\"shape\":[1152921504606846976],\"data_offsets\":[0,0]}}", 0),
                "'a'", "overflow");
    }

    @Test
    void offsetsOutsideTheDataArea() {
        bad(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 8), "'a'", "past the end");
        bad(file("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[9223372036854775806,"
                + "9223372036854775807]}}", 8), "'a'", "past the end");
        bad(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,4]}}", 8), "'a'", "begin <= end");
        bad(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[-4,-4]}}", 8), "'a'");
    }

    @Test
    void overlappingTensors() {
        CheckpointFormatException e = bad(file("{" + OK_A
                + ",\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12), "overlapping");
        assertTrue(e.getMessage().contains("'a'") && e.getMessage().contains("'b'"), e.getMessage());
    }

    @Test
    void holesInTheDataArea() {
        bad(file("{" + OK_A + ",\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,16]}}", 16), "'b'", "hole");
        bad(file("{" + OK_A + "}", 12), "'a'", "4 bytes after the last tensor");
    }

    @Test
    void duplicateNames() {
        bad(file("{" + OK_A + "," + OK_A.replace("[0,8]", "[8,16]") + "}", 16), "'a'", "twice");
    }

    @Test
    void paddedHeaderIsAccepted() {
        Path f = write(file("{" + OK_A + "}" + " ".repeat(13), 8));
        assertDoesNotThrow(() -> {
            try (SafeTensors st = SafeTensors.open(f)) {
                assertEquals(2, st.readFloats("a").length);
            }
        });
    }

    // ---- helpers ----

    /** Length-prefixed header followed by {@code dataBytes} zero bytes. */
    private static byte[] file(String header, int dataBytes) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        return withLength(h.length, h, dataBytes);
    }

    private static byte[] withLength(long declared, String header, int dataBytes) {
        return withLength(declared, header.getBytes(StandardCharsets.UTF_8), dataBytes);
    }

    private static byte[] withLength(long declared, byte[] header, int dataBytes) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(declared).array());
        out.writeBytes(header);
        out.writeBytes(new byte[dataBytes]);
        return out.toByteArray();
    }

    private Path write(byte[] content) {
        Path f = dir.resolve("broken.safetensors");
        try {
            Files.write(f, content);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return f;
    }

    /** Asserts that opening {@code content} fails, naming the file and every {@code expected} fragment. */
    private CheckpointFormatException bad(byte[] content, String... expected) {
        Path f = write(content);
        CheckpointFormatException e = assertThrows(CheckpointFormatException.class, () -> SafeTensors.open(f).close());
        assertTrue(e.getMessage().contains(f.toAbsolutePath().toString()), "names the file: " + e.getMessage());
        for (String s : expected) {
            assertTrue(e.getMessage().contains(s), "message should contain <" + s + ">: " + e.getMessage());
        }
        return e;
    }
}
