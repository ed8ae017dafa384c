package io.rocketkv.examples.serve;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;

/**
 * One prompt of a {@code /v1/completions} request: text, or token ids given by the client. OpenAI's
 * {@code prompt} takes four forms, all read here: a string, a list of strings, a list of token ids, a list of
 * lists of token ids; each list element is one prompt of a batch.
 *
 * @param text the prompt text, or null when the client sent token ids
 * @param ids  the token ids the client sent, or null for text
 */
public record PromptInput(String text, int[] ids) {

    public PromptInput {
        if ((text == null) == (ids == null)) {
            throw new IllegalArgumentException("a prompt is text or token ids, exactly one of them");
        }
        ids = ids == null ? null : ids.clone();
    }

    @Override
    public int[] ids() {
        return ids == null ? null : ids.clone();
    }

    /** The largest batch one request may hold: OpenAI's limit for a list of prompts. */
    static final int MAX_BATCH = 2048;

    /** Reads {@code prompt}; token ids must lie in 0..vocab-1. */
    static List<PromptInput> parse(JsonNode body, int vocab) {
        JsonNode p = body.get("prompt");
        String forms = "a string, a list of strings, a list of token ids or a list of lists of token ids";
        if (p == null || p.isNull()) {
            throw ApiError.badRequest("prompt", "missing_field", "'prompt' is required (" + forms + ")");
        }
        if (p.isTextual()) {
            return List.of(text(p.asText(), "prompt"));
        }
        if (!p.isArray() || p.isEmpty()) {
            throw JsonFields.wrongType("prompt", forms, p);
        }
        if (p.size() > MAX_BATCH) {
            throw ApiError.badRequest("prompt", "invalid_value", "'prompt' holds " + p.size()
                    + " prompts; at most " + MAX_BATCH + " per request");
        }
        JsonNode first = p.get(0);
        if (first.isIntegralNumber()) { // one prompt of token ids
            return List.of(new PromptInput(null, JsonFields.tokenIds(p, "prompt", vocab)));
        }
        List<PromptInput> out = new ArrayList<>();
        for (int i = 0; i < p.size(); i++) {
            JsonNode e = p.get(i);
            String at = "prompt[" + i + "]";
            if (e.isTextual()) {
                out.add(text(e.asText(), at));
            } else if (e.isArray() && !e.isEmpty()) {
                out.add(new PromptInput(null, JsonFields.tokenIds(e, at, vocab)));
            } else {
                throw JsonFields.wrongType(at, "a string or a non-empty list of token ids", e);
            }
        }
        return List.copyOf(out);
    }

    private static PromptInput text(String s, String at) {
        if (s.isEmpty()) {
            throw ApiError.badRequest(at, "invalid_value", "'" + at + "' must not be empty");
        }
        return new PromptInput(s, null);
    }
}
