package io.rocketkv.examples.serve;

import com.fasterxml.jackson.databind.JsonNode;
import io.rocketkv.api.ConfigException;
import io.rocketkv.api.SamplingParams;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The sampling fields of a completions or chat request, read and range-checked; {@link #toSamplingParams} is the
 * one place they become the library's {@link SamplingParams}. Every field maps to the library's field of the same
 * meaning.
 *
 * @param temperature            {@code temperature}; OpenAI's default 1.0 when absent
 * @param topP                   {@code top_p}, null when absent
 * @param topK                   {@code top_k} (vLLM's; -1 or 0 disable it), null when absent
 * @param seed                   {@code seed}, null when absent
 * @param stop                   {@code stop}
 * @param stopTokenIds           {@code stop_token_ids} (vLLM's)
 * @param ignoreEos              {@code ignore_eos} (vLLM's)
 * @param logprobs               completions' {@code logprobs}; chat's {@code top_logprobs} when {@code logprobs}
 *                               is true; null when not asked for
 * @param n                      {@code n}: completions per prompt
 * @param bestOf                 {@code best_of}, null when absent
 * @param minTokens              {@code min_tokens} (vLLM's)
 * @param repetitionPenalty      {@code repetition_penalty} (vLLM's), null when absent
 * @param presencePenalty        {@code presence_penalty}
 * @param frequencyPenalty       {@code frequency_penalty}
 * @param minP                   {@code min_p} (vLLM's), null when absent
 * @param logitBias              {@code logit_bias}: token id → bias
 * @param badWords               {@code bad_words} (vLLM's)
 * @param includeStopStrInOutput {@code include_stop_str_in_output} (vLLM's)
 * @param skipSpecialTokens      {@code skip_special_tokens} (vLLM's)
 * @param promptLogprobs         {@code prompt_logprobs} (vLLM's), null when absent
 */
public record SamplingFields(double temperature, Double topP, Integer topK, Long seed, List<String> stop,
                             List<Integer> stopTokenIds, boolean ignoreEos, Integer logprobs, int n, Integer bestOf,
                             int minTokens, Double repetitionPenalty, double presencePenalty, double frequencyPenalty,
                             Double minP, Map<Integer, Float> logitBias, List<String> badWords,
                             boolean includeStopStrInOutput, boolean skipSpecialTokens, Integer promptLogprobs) {

    /** OpenAI's largest {@code n}. */
    static final int MAX_N = 128;

    public SamplingFields {
        stop = List.copyOf(stop);
        stopTokenIds = List.copyOf(stopTokenIds);
        logitBias = Map.copyOf(logitBias);
        badWords = List.copyOf(badWords);
    }

    /** The names of the fields read here. */
    static final List<String> NAMES = List.of("temperature", "top_p", "top_k", "seed", "stop", "stop_token_ids",
            "ignore_eos", "logprobs", "n", "best_of", "min_tokens", "repetition_penalty", "presence_penalty",
            "frequency_penalty", "min_p", "logit_bias", "bad_words", "include_stop_str_in_output",
            "skip_special_tokens", "prompt_logprobs");

    /** Reads and range-checks the sampling fields of {@code body}; token ids must lie in 0..vocab-1. */
    static SamplingFields parse(JsonNode body, boolean chat, int vocab) {
        Double temperature = JsonFields.number(body, "temperature");
        Integer logprobs;
        if (chat) {
            boolean want = JsonFields.bool(body, "logprobs", false);
            Integer top = JsonFields.integer(body, "top_logprobs");
            if (top != null && !want) {
                throw ApiError.badRequest("top_logprobs", "invalid_value", "'top_logprobs' needs 'logprobs': true");
            }
            logprobs = want ? (top == null ? 0 : top) : null;
        } else {
            logprobs = JsonFields.integer(body, "logprobs");
        }
        Integer n = JsonFields.integer(body, "n");
        if (n != null && (n < 1 || n > MAX_N)) {
            throw ApiError.badRequest("n", "invalid_value", "'n' must be in 1.." + MAX_N + "; got " + n);
        }
        int completions = n == null ? 1 : n;
        Integer bestOf = JsonFields.integer(body, "best_of");
        if (bestOf != null && bestOf < completions) {
            throw ApiError.badRequest("best_of", "invalid_value", "'best_of' must be >= n (" + completions
                    + "); got " + bestOf);
        }
        Integer minTokens = JsonFields.integer(body, "min_tokens");
        if (minTokens != null && minTokens < 0) {
            throw ApiError.badRequest("min_tokens", "invalid_value", "'min_tokens' must be >= 0; got " + minTokens);
        }
        Double repetition = JsonFields.number(body, "repetition_penalty");
        if (repetition != null && !(repetition > 0 && Double.isFinite(repetition))) {
            throw ApiError.badRequest("repetition_penalty", "invalid_value", "'repetition_penalty' must be > 0"
                    + " (1 = none); got " + repetition);
        }
        Double minP = JsonFields.number(body, "min_p");
        if (minP != null && !(minP >= 0 && minP <= 1)) {
            throw ApiError.badRequest("min_p", "invalid_value", "'min_p' must be in [0, 1]; got " + minP);
        }
        Integer promptLogprobs = JsonFields.integer(body, "prompt_logprobs");
        if (promptLogprobs != null && (promptLogprobs < 0 || promptLogprobs > SamplingParams.MAX_LOGPROBS)) {
            throw ApiError.badRequest("prompt_logprobs", "invalid_value", "'prompt_logprobs' must be in 0.."
                    + SamplingParams.MAX_LOGPROBS + "; got " + promptLogprobs);
        }
        // absent: OpenAI's default 1.0 (sampling), where the library's own default decodes greedily as TensorRT-LLM
        return new SamplingFields(temperature == null ? 1.0 : temperature, JsonFields.number(body, "top_p"),
                JsonFields.integer(body, "top_k"), JsonFields.longInteger(body, "seed"),
                JsonFields.strings(body, "stop"), JsonFields.tokenIdList(body, "stop_token_ids", vocab),
                JsonFields.bool(body, "ignore_eos", false), logprobs, completions, bestOf,
                minTokens == null ? 0 : minTokens, repetition, penalty(body, "presence_penalty"),
                penalty(body, "frequency_penalty"), minP, logitBias(body, vocab), JsonFields.strings(body, "bad_words"),
                JsonFields.bool(body, "include_stop_str_in_output", false),
                JsonFields.bool(body, "skip_special_tokens", true), promptLogprobs);
    }

    /**
     * The library's sampling params for these fields with {@code max_tokens} fixed, field by field; range faults
     * and combinations the library refuses ({@code n > 1} under greedy decoding, {@code min_tokens} above
     * {@code max_tokens}) become 400s naming the field.
     */
    SamplingParams toSamplingParams(int maxTokens, boolean chat) {
        SamplingParams.Builder b = SamplingParams.builder().maxTokens(maxTokens).temperature(temperature).topP(topP)
                .topK(topK == null || topK == -1 ? null : topK) // vLLM's -1 disables top-k: the library's 0
                .seed(seed).stop(stop).stopTokenIds(stopTokenIds).ignoreEos(ignoreEos).logprobs(logprobs);
        b.n(n).bestOf(bestOf).minTokens(minTokens).repetitionPenalty(repetitionPenalty)
                .presencePenalty(presencePenalty).frequencyPenalty(frequencyPenalty).minP(minP).logitBias(logitBias)
                .bad(badWords).includeStopStrInOutput(includeStopStrInOutput).skipSpecialTokens(skipSpecialTokens)
                .promptLogprobs(promptLogprobs);
        try {
            return b.build();
        } catch (ConfigException e) {
            String key = e.key().replace("sampling_params.", "").replaceFirst("\\[\\d+]$", "");
            throw ApiError.badRequest(chat && key.equals("logprobs") ? "top_logprobs" : key, "invalid_value",
                    e.getMessage());
        }
    }

    /** OpenAI's presence and frequency penalties: numbers in [-2, 2], default 0. */
    private static double penalty(JsonNode body, String field) {
        Double v = JsonFields.number(body, field);
        if (v != null && !(v >= -2 && v <= 2)) {
            throw ApiError.badRequest(field, "invalid_value", "'" + field + "' must be in [-2, 2]; got " + v);
        }
        return v == null ? 0 : v;
    }

    /** OpenAI's {@code logit_bias}: an object from token id (as a string) to a bias in [-100, 100]. */
    private static Map<Integer, Float> logitBias(JsonNode body, int vocab) {
        JsonNode m = body.get("logit_bias");
        if (m == null || m.isNull()) {
            return Map.of();
        }
        if (!m.isObject()) {
            throw JsonFields.wrongType("logit_bias", "an object from token ids to biases", m);
        }
        Map<Integer, Float> out = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = m.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String at = "logit_bias." + e.getKey();
            int id;
            try {
                id = Integer.parseInt(e.getKey());
            } catch (NumberFormatException x) {
                throw ApiError.badRequest("logit_bias", "invalid_value", "'logit_bias' keys must be token ids;"
                        + " got '" + e.getKey() + "'");
            }
            if (id < 0 || id >= vocab) {
                throw ApiError.badRequest("logit_bias", "invalid_value", "'logit_bias' names the token id " + id
                        + "; the vocabulary's ids are 0.." + (vocab - 1));
            }
            JsonNode v = e.getValue();
            if (!v.isNumber()) {
                throw JsonFields.wrongType(at, "a number in [-100, 100]", v);
            }
            if (!(v.asDouble() >= -100 && v.asDouble() <= 100)) {
                throw ApiError.badRequest(at, "invalid_value", "'" + at + "' must be in [-100, 100]; got " + v);
            }
            out.put(id, (float) v.asDouble());
        }
        return out;
    }
}
