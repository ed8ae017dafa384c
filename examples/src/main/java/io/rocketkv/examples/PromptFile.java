package io.rocketkv.examples;

import io.rocketkv.core.weights.CheckpointFiles;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Reads {@code --input_file}: UTF-8 text, one prompt per non-blank line. */
final class PromptFile {

    private PromptFile() {
    }

    /**
     * The prompts of {@code file}, in order.
     *
     * @throws IllegalArgumentException naming the file when it is missing, not a regular file (a directory, a
     *                                  FIFO, a device), not valid UTF-8 (with the byte offset and line), or has
     *                                  no non-blank line
     */
    static List<String> read(String flag, Path file) throws IOException {
        String where = flag + " " + file;
        String kind = CheckpointFiles.nonRegularKind(file);
        if (kind != null) {
            throw new IllegalArgumentException(where + " is " + kind + ", not a regular file; give a text file"
                    + " with one prompt per line");
        }
        if (!Files.exists(file)) {
            throw new IllegalArgumentException(where + " does not exist");
        }
        byte[] bytes = Files.readAllBytes(file);
        String text = decodeUtf8(bytes, where);
        List<String> prompts = new ArrayList<>();
        for (String line : text.split("\r?\n", -1)) {
            if (!line.isBlank()) {
                prompts.add(line);
            }
        }
        if (prompts.isEmpty()) {
            throw new IllegalArgumentException(where + " has no prompts (" + (bytes.length == 0 ? "it is empty"
                    : "every line is blank") + "); put one prompt per line");
        }
        return prompts;
    }

    /** Strict UTF-8: malformed input is an error naming the byte offset and line, not a replacement character. */
    private static String decodeUtf8(byte[] bytes, String where) {
        CharsetDecoder d = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(bytes);
        CharBuffer out = CharBuffer.allocate(bytes.length);
        var result = d.decode(in, out, true);
        if (result.isError()) {
            int offset = in.position();
            int line = 1;
            for (int i = 0; i < offset; i++) {
                if (bytes[i] == '\n') {
                    line++;
                }
            }
            throw new IllegalArgumentException(where + " is not valid UTF-8: byte " + offset + " (line " + line
                    + ") is 0x" + String.format("%02x", bytes[offset] & 0xFF) + "; save the file as UTF-8");
        }
        d.flush(out);
        return out.flip().toString();
    }
}
