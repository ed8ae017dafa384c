package io.rocketkv.examples;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
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

/**
 * Reads {@code --input_file}: UTF-8 text, one prompt per non-blank line, or TensorRT-LLM's JSONL (one JSON object a
 * line with {@code input_context}, {@code input_query} and {@code outputs}, as {@code llm_sparse_attention.py} reads
 * it: the prompt is context plus query, {@code outputs} the reference answer). A file whose first non-blank line is
 * a JSON object is read as JSONL.
 */
final class PromptFile {

    /**
     * One prompt and, from JSONL, its reference answer.
     *
     * @param prompt    the prompt text
     * @param reference the {@code outputs} of a JSONL line (a list is joined with " | "), or null
     */
    record Sample(String prompt, String reference) {
    }

    private static final ObjectMapper JSON = new ObjectMapper();

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
        return readSamples(flag, file).stream().map(Sample::prompt).toList();
    }

    /** As {@link #read}, with each JSONL line's reference answer. */
    static List<Sample> readSamples(String flag, Path file) throws IOException {
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
        List<Sample> prompts = new ArrayList<>();
        String[] lines = text.split("\r?\n", -1);
        boolean jsonl = false;
        for (String line : lines) {
            if (!line.isBlank()) {
                jsonl = line.strip().startsWith("{");
                break;
            }
        }
        for (int i = 0; i < lines.length; i++) {
            if (!lines[i].isBlank()) {
                prompts.add(jsonl ? jsonSample(where, i + 1, lines[i]) : new Sample(lines[i], null));
            }
        }
        if (prompts.isEmpty()) {
            throw new IllegalArgumentException(where + " has no prompts (" + (bytes.length == 0 ? "it is empty"
                    : "every line is blank") + "); put one prompt per line");
        }
        return prompts;
    }

    /** One JSONL line: {@code input_context + input_query}, {@code outputs} as the reference. */
    private static Sample jsonSample(String where, int lineNo, String line) {
        JsonNode n;
        try {
            n = JSON.readTree(line);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(where + " line " + lineNo + " is not a JSON object (the file is read"
                    + " as JSONL because its first line is one): " + e.getOriginalMessage());
        }
        JsonNode context = n.get("input_context");
        JsonNode query = n.get("input_query");
        if (!n.isObject() || (context == null && query == null)) {
            throw new IllegalArgumentException(where + " line " + lineNo + " has neither input_context nor"
                    + " input_query (TensorRT-LLM's JSONL: {\"input_context\": ..., \"input_query\": ...,"
                    + " \"outputs\": [...]})");
        }
        String prompt = (context == null ? "" : context.asText()) + (query == null ? "" : query.asText());
        JsonNode outputs = n.get("outputs");
        String reference = null;
        if (outputs != null && outputs.isArray()) {
            List<String> refs = new ArrayList<>();
            outputs.forEach(o -> refs.add(o.asText()));
            reference = String.join(" | ", refs);
        } else if (outputs != null && !outputs.isNull()) {
            reference = outputs.asText();
        }
        return new Sample(prompt, reference);
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
