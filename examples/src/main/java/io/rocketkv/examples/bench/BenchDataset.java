package io.rocketkv.examples.bench;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A benchmark dataset in trtllm-bench's prepared-dataset shape (what TensorRT-LLM's {@code prepare_dataset.py}
 * writes): one JSON object a line, {@code {"task_id": 0, "prompt": "...", "output_tokens": 128}} or
 * {@code {"task_id": 0, "input_ids": [...], "output_tokens": 128}} ({@code logits} is the older name of
 * {@code input_ids}, which win over {@code prompt} when both are there). Blank lines are skipped; other keys
 * ({@code lora_request}, {@code category}, …) are ignored.
 */
public final class BenchDataset {

    /**
     * One request of the dataset.
     *
     * @param taskId       {@code task_id}
     * @param prompt       {@code prompt}, or null when the entry gives token ids
     * @param inputIds     {@code input_ids}, or null when the entry gives text
     * @param outputTokens {@code output_tokens}: tokens to generate
     */
    public record Entry(long taskId, String prompt, int[] inputIds, int outputTokens) {
        public Entry {
            inputIds = inputIds == null ? null : inputIds.clone();
        }

        @Override
        public int[] inputIds() {
            return inputIds == null ? null : inputIds.clone();
        }
    }

    private BenchDataset() {
    }

    /** The entries of {@code file}; a malformed line is an error naming the file, the line and the key. */
    public static List<Entry> read(Path file) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the dataset " + file + ": " + e.getMessage(), e);
        }
        ObjectMapper json = new ObjectMapper();
        List<Entry> out = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).isBlank()) {
                continue;
            }
            String at = file + " line " + (i + 1);
            JsonNode o;
            try {
                o = json.readTree(lines.get(i));
            } catch (JsonProcessingException e) {
                throw new IllegalArgumentException(at + " is not JSON: " + e.getOriginalMessage());
            }
            out.add(entry(o, at));
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException("the dataset " + file + " has no entries");
        }
        return List.copyOf(out);
    }

    private static Entry entry(JsonNode o, String at) {
        if (o == null || !o.isObject()) {
            throw new IllegalArgumentException(at + " must be a JSON object {task_id, prompt or input_ids,"
                    + " output_tokens}");
        }
        JsonNode task = o.get("task_id");
        if (task == null || !task.isIntegralNumber()) {
            throw new IllegalArgumentException(at + ": 'task_id' must be an integer; got " + task);
        }
        JsonNode out = o.get("output_tokens");
        if (out == null || !out.isIntegralNumber() || !out.canConvertToInt() || out.asInt() < 1) {
            throw new IllegalArgumentException(at + ": 'output_tokens' must be an integer >= 1; got " + out);
        }
        JsonNode ids = o.has("input_ids") ? o.get("input_ids") : o.get("logits");
        if (ids != null && !ids.isNull()) {
            String key = o.has("input_ids") ? "input_ids" : "logits";
            if (!ids.isArray() || ids.isEmpty()) {
                throw new IllegalArgumentException(at + ": '" + key + "' must be a non-empty list of token ids");
            }
            int[] a = new int[ids.size()];
            for (int j = 0; j < a.length; j++) {
                JsonNode e = ids.get(j);
                if (!e.isIntegralNumber() || !e.canConvertToInt() || e.asInt() < 0) {
                    throw new IllegalArgumentException(at + ": '" + key + "[" + j + "]' must be a token id >= 0;"
                            + " got " + e);
                }
                a[j] = e.asInt();
            }
            return new Entry(task.asLong(), null, a, out.asInt());
        }
        JsonNode prompt = o.get("prompt");
        if (prompt == null || !prompt.isTextual() || prompt.asText().isEmpty()) {
            throw new IllegalArgumentException(at + ": needs 'prompt' (a non-empty string) or 'input_ids' (token"
                    + " ids); got " + (prompt == null ? "neither" : "prompt " + prompt));
        }
        return new Entry(task.asLong(), prompt.asText(), null, out.asInt());
    }
}
