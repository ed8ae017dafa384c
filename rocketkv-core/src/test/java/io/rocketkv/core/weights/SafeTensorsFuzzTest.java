package io.rocketkv.core.weights;

import io.rocketkv.core.numeric.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Flips, overwrites and truncates bytes of a valid file 2,000 times (seeded): opening and reading every tensor
 * must either work or throw {@link CheckpointFormatException}, nothing else, and never crash the JVM.
 */
class SafeTensorsFuzzTest {

    private static final byte[] JSON_BYTES = "{}[]\",:0123456789-. e".getBytes(java.nio.charset.StandardCharsets.US_ASCII);

    @TempDir
    Path dir;

    @Test
    void corruptedFilesFailCleanly() throws IOException {
        byte[] valid = new SafeTensorsWriter().metadata("format", "pt")
                .add("embed", DType.BF16, new long[] {4, 3}, new float[12])
                .add("norm", DType.F32, new long[] {3}, new float[] {1, 2, 3})
                .add("ids", DType.I64, new long[] {2}, new byte[16])
                .add("fp8", DType.F8_E4M3, new long[] {5}, new byte[] {1, 2, 3, 4, 5})
                .add("scalar", DType.F16, new long[0], new float[] {1})
                .toBytes();
        int headerEnd = 8 + (int) ByteBuffer.wrap(valid).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        SplittableRandom random = new SplittableRandom(20240611);
        Path file = dir.resolve("fuzz.safetensors");
        int failures = 0;
        int successes = 0;
        for (int round = 0; round < 2000; round++) {
            byte[] bytes = valid.clone();
            String mutation;
            int kind = random.nextInt(10);
            if (kind < 4) { // flip bits in the header (length included)
                int at = random.nextInt(headerEnd);
                bytes[at] ^= (byte) (1 << random.nextInt(8));
                mutation = "flip at " + at;
            } else if (kind < 6) { // put a JSON-significant character somewhere in the header
                int at = 8 + random.nextInt(headerEnd - 8);
                bytes[at] = JSON_BYTES[random.nextInt(JSON_BYTES.length)];
                mutation = "set " + (char) bytes[at] + " at " + at;
            } else if (kind < 8) { // truncate
                int length = random.nextInt(valid.length);
                bytes = Arrays.copyOf(bytes, length);
                mutation = "truncate to " + length;
            } else if (kind < 9) { // random byte anywhere
                int at = random.nextInt(bytes.length);
                bytes[at] = (byte) random.nextInt(256);
                mutation = "random byte at " + at;
            } else { // rewrite the header length
                long length = random.nextBoolean() ? random.nextLong() : random.nextInt(headerEnd + 16);
                ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putLong(0, length);
                mutation = "header length " + length;
            }
            Files.write(file, bytes);
            try (SafeTensors st = SafeTensors.open(file)) {
                for (String name : st.names()) {
                    TensorInfo info = st.info(name);
                    st.data(name);
                    if (info.dtype().isFloatingPoint()) {
                        st.readFloats(name);
                    }
                }
                successes++;
            } catch (CheckpointFormatException e) {
                assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
                failures++;
            } catch (RuntimeException | Error e) {
                fail("round " + round + " (" + mutation + ") threw " + e, e);
            }
        }
        assertTrue(failures > 1000 && successes > 100, failures + " failures, " + successes + " successes");
    }
}
