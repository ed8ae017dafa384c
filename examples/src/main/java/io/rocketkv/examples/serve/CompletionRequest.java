package io.rocketkv.examples.serve;

import com.fasterxml.jackson.databind.JsonNode;
import io.rocketkv.api.SamplingParams;
import io.rocketkv.api.chat.Message;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Predicate;

/**
 * One parsed {@code /v1/completions} or {@code /v1/chat/completions} body. Every field is checked for its type and
 * range here; a fault becomes a 400 {@link ApiError} naming the field. Fields nobody defines are ignored with one
 * WARN line per request (as vLLM does); fields OpenAI or vLLM define that this server cannot honour are accepted at
 * their no-op value and otherwise refused with a 400 naming them (docs/server.md has the table).
 *
 * @param chat                 true for chat completions
 * @param prompts              the prompts (completions: one per batch element), else null
 * @param messages             the messages (chat), else null
 * @param maxTokens            {@code max_tokens} or {@code max_completion_tokens}, null when absent
 * @param stream               {@code stream}
 * @param includeUsage         {@code stream_options.include_usage}: a last chunk carries the usage
 * @param addSpecialTokens     {@code add_special_tokens} (vLLM's): whether the tokenizer adds BOS to a text prompt
 *                             or rendered chat; null: the endpoint's default
 * @param addGenerationPrompt  chat's {@code add_generation_prompt} (vLLM's; default true)
 * @param truncatePromptTokens {@code truncate_prompt_tokens} (vLLM's): keep only the prompt's last k tokens; null
 *                             keeps all
 * @param sampling             the sampling fields
 */
public record CompletionRequest(boolean chat, List<PromptInput> prompts, List<Message> messages, Integer maxTokens,
                                boolean stream, boolean includeUsage, Boolean addSpecialTokens,
                                boolean addGenerationPrompt, Integer truncatePromptTokens, SamplingFields sampling) {

    /** The chat roles chat templates know. */
    static final List<String> ROLES = ChatMessages.ROLES;

    private static final Set<String> COMMON = Set.of("model", "max_tokens", "max_completion_tokens", "stream",
            "stream_options", "add_special_tokens", "truncate_prompt_tokens");
    private static final Set<String> COMPLETION_ONLY = Set.of("prompt");
    private static final Set<String> CHAT_ONLY = Set.of("messages", "top_logprobs", "add_generation_prompt");
    /** Accepted and without effect: bookkeeping fields of OpenAI's API. */
    private static final Set<String> IGNORED = Set.of("user", "store", "metadata", "service_tier",
            "parallel_tool_calls", "reasoning_effort");
    /** Fields this server knows but cannot honour: the value each accepts (a no-op), and what that is. */
    private static final Map<String, Refusal> REFUSED = Map.ofEntries(
            refusal("echo", v -> v.isBoolean() && !v.asBoolean(), "false"),
            refusal("suffix", v -> v.isTextual() && v.asText().isEmpty(), "an empty string"),
            refusal("response_format", v -> v.isObject() && v.path("type").asText().equals("text") && v.size() == 1,
                    "{\"type\": \"text\"} (structured output, json_object and json_schema, is not supported)"),
            refusal("tools", v -> v.isArray() && v.isEmpty(), "an empty list (there is no tool calling)"),
            refusal("tool_choice", v -> v.isTextual() && (v.asText().equals("none") || v.asText().equals("auto")),
                    "\"none\" or \"auto\" (there is no tool calling)"),
            refusal("functions", v -> v.isArray() && v.isEmpty(), "an empty list (there is no function calling)"),
            refusal("function_call", v -> v.isTextual() && (v.asText().equals("none") || v.asText().equals("auto")),
                    "\"none\" or \"auto\" (there is no function calling)"),
            refusal("modalities", v -> v.isArray() && v.size() == 1 && v.get(0).asText().equals("text"),
                    "[\"text\"] (the model writes text only)"),
            refusal("audio", v -> false, "absent (the model writes text only)"),
            refusal("prediction", v -> false, "absent (predicted outputs are not supported)"),
            refusal("web_search_options", v -> false, "absent (there is no web search)"),
            refusal("chat_template", v -> false, "absent (start the server with --chat-template instead)"),
            refusal("chat_template_kwargs", v -> v.isObject() && v.isEmpty(), "an empty object"),
            refusal("guided_json", v -> false, "absent (guided decoding is not supported)"),
            refusal("guided_regex", v -> false, "absent (guided decoding is not supported)"),
            refusal("guided_choice", v -> false, "absent (guided decoding is not supported)"),
            refusal("guided_grammar", v -> false, "absent (guided decoding is not supported)"));

    private record Refusal(Predicate<JsonNode> accepted, String what) {
    }

    private static Map.Entry<String, Refusal> refusal(String field, Predicate<JsonNode> accepted, String what) {
        return Map.entry(field, new Refusal(accepted, what));
    }

    /**
     * Parses and checks a body; {@code servedModel} is the only accepted {@code model}, token ids (prompts,
     * {@code logit_bias}, {@code stop_token_ids}) must lie in 0..vocab-1.
     */
    public static CompletionRequest parse(JsonNode body, boolean chat, String servedModel, int vocab) {
        if (body == null || !body.isObject()) {
            throw ApiError.badRequest(null, "invalid_type", "the request body must be a JSON object");
        }
        Set<String> ignored = new TreeSet<>();
        checkFields(body, chat, ignored);
        checkModel(body, servedModel);
        List<PromptInput> prompts = chat ? null : PromptInput.parse(body, vocab);
        List<Message> messages = chat ? ChatMessages.parse(body, ignored) : null;
        Integer maxTokens = maxTokens(body);
        boolean stream = JsonFields.bool(body, "stream", false);
        boolean includeUsage = streamOptions(body, stream);
        Integer truncate = JsonFields.integer(body, "truncate_prompt_tokens");
        if (truncate != null && truncate < 1) {
            throw ApiError.badRequest("truncate_prompt_tokens", "invalid_value", "'truncate_prompt_tokens' must be"
                    + " >= 1; got " + truncate);
        }
        SamplingFields sampling = SamplingFields.parse(body, chat, vocab);
        if (stream && sampling.bestOf() != null && sampling.bestOf() > sampling.n()) {
            // as vLLM: the best n of best_of are known only when all have finished, after their tokens were streamed
            throw JsonFields.notSupported("best_of", "(" + sampling.bestOf() + ") above 'n' (" + sampling.n()
                    + ") is not supported with \"stream\": true: every sampled completion is streamed as it is"
                    + " generated, and which n are best is known only at the end; leave 'best_of' out (or equal to"
                    + " 'n'), or leave out \"stream\"");
        }
        if (stream && sampling.promptLogprobs() != null) {
            throw JsonFields.notSupported("prompt_logprobs", "is not available with \"stream\": true (as in vLLM);"
                    + " leave out \"stream\" to get them in the answer");
        }
        CompletionRequest r = new CompletionRequest(chat, prompts, messages, maxTokens, stream, includeUsage,
                JsonFields.bool(body, "add_special_tokens"), JsonFields.bool(body, "add_generation_prompt", true),
                truncate, sampling);
        // checks every range now, before the prompt is tokenized (max_tokens not below min_tokens when absent)
        r.samplingParams(maxTokens != null ? maxTokens : Math.max(1, sampling.minTokens()));
        JsonFields.logIgnored(chat ? "/v1/chat/completions" : "/v1/completions", ignored);
        return r;
    }

    /** A {@code model} other than the served one is a 404 {@code model_not_found}; an absent one is fine. */
    static void checkModel(JsonNode body, String servedModel) {
        String model = JsonFields.text(body, "model");
        if (model != null && !model.equals(servedModel)) {
            throw new ApiError(404, "invalid_request_error", "model", "model_not_found", "the model '" + model
                    + "' is not served here; use '" + servedModel + "' (see GET /v1/models) or leave 'model' out");
        }
    }

    /** The sampling params with {@code max_tokens} fixed; range faults become 400s naming the field. */
    public SamplingParams samplingParams(int resolvedMaxTokens) {
        return sampling.toSamplingParams(resolvedMaxTokens, chat);
    }

    /** The top log-probabilities asked for per token, or null. */
    public Integer logprobs() {
        return sampling.logprobs();
    }

    /** Refuses the other endpoint's input field and unhonourable values; collects the unknown fields. */
    private static void checkFields(JsonNode body, boolean chat, Set<String> ignored) {
        Set<String> read = new HashSet<>(COMMON);
        read.addAll(SamplingFields.NAMES);
        read.addAll(chat ? CHAT_ONLY : COMPLETION_ONLY);
        for (Iterator<Map.Entry<String, JsonNode>> it = body.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String f = e.getKey();
            if (read.contains(f) || IGNORED.contains(f)) {
                continue;
            }
            Refusal refusal = REFUSED.get(f);
            if (refusal != null) {
                if (!e.getValue().isNull() && !refusal.accepted().test(e.getValue())) {
                    throw JsonFields.notSupported(f, "is not supported with this value; accepted: " + refusal.what());
                }
            } else if (f.equals(chat ? "prompt" : "messages")) {
                throw ApiError.badRequest(f, "unknown_field", "'" + f + "' belongs to "
                        + (chat ? "/v1/completions" : "/v1/chat/completions") + "; this endpoint reads '"
                        + (chat ? "messages" : "prompt") + "'");
            } else {
                ignored.add(f);
            }
        }
    }

    /** {@code max_tokens}, or its newer name {@code max_completion_tokens}; both must agree when both are sent. */
    private static Integer maxTokens(JsonNode body) {
        Integer maxTokens = JsonFields.integer(body, "max_tokens");
        Integer maxCompletion = JsonFields.integer(body, "max_completion_tokens");
        if (maxTokens != null && maxCompletion != null && !maxTokens.equals(maxCompletion)) {
            throw ApiError.badRequest("max_completion_tokens", "invalid_value", "'max_completion_tokens' ("
                    + maxCompletion + ") and 'max_tokens' (" + maxTokens + ") disagree; send one of them");
        }
        Integer v = maxTokens != null ? maxTokens : maxCompletion;
        String field = maxTokens != null ? "max_tokens" : "max_completion_tokens";
        if (v != null && v < 1) {
            throw ApiError.badRequest(field, "invalid_value", "'" + field + "' must be >= 1; got " + v);
        }
        return v;
    }

    /** {@code stream_options.include_usage}; the options are only allowed on a stream, as in OpenAI's API. */
    private static boolean streamOptions(JsonNode body, boolean stream) {
        JsonNode o = body.get("stream_options");
        if (o == null || o.isNull()) {
            return false;
        }
        if (!o.isObject()) {
            throw JsonFields.wrongType("stream_options", "an object {include_usage}", o);
        }
        if (!stream) {
            throw ApiError.badRequest("stream_options", "invalid_value", "'stream_options' is only allowed with"
                    + " \"stream\": true");
        }
        JsonNode include = o.get("include_usage");
        if (include != null && !include.isNull() && !include.isBoolean()) {
            throw JsonFields.wrongType("stream_options.include_usage", "a boolean", include);
        }
        return include != null && include.asBoolean();
    }
}
