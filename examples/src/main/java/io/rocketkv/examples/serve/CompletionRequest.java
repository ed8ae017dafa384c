package io.rocketkv.examples.serve;

import com.fasterxml.jackson.databind.JsonNode;
import io.rocketkv.api.ConfigException;
import io.rocketkv.api.SamplingParams;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One parsed {@code /v1/completions} or {@code /v1/chat/completions} body. Every field is checked for its
 * type and range here; a fault becomes a 400 {@link ApiError} naming the field.
 *
 * @param chat        true for chat completions
 * @param prompt      the prompt (completions), else null
 * @param messages    the messages (chat), else null
 * @param maxTokens   {@code max_tokens}, null when absent
 * @param stream      {@code stream}
 * @param logprobs    completions: {@code logprobs} (top alternatives per token); chat: {@code top_logprobs}
 *                    when {@code logprobs} is true; null when not asked for
 * @param sampling    sampling fields other than {@code max_tokens} (set once the prompt length is known)
 */
public record CompletionRequest(boolean chat, String prompt, List<Message> messages, Integer maxTokens,
                                boolean stream, Integer logprobs, SamplingParams.Builder sampling) {

    /** One chat message. */
    public record Message(String role, String content) {
    }

    private static final Set<String> COMMON = Set.of("model", "max_tokens", "temperature", "top_p", "top_k", "seed",
            "stop", "logprobs", "n", "ignore_eos", "stream");
    private static final Set<String> COMPLETION_ONLY = Set.of("prompt");
    private static final Set<String> CHAT_ONLY = Set.of("messages", "top_logprobs");
    /** The chat roles chat templates know; anything else would reach the template as text of unknown meaning. */
    static final List<String> ROLES = List.of("system", "user", "assistant", "tool");

    /** Parses and checks a body; {@code servedModel} is the only accepted {@code model}. */
    public static CompletionRequest parse(JsonNode body, boolean chat, String servedModel) {
        if (body == null || !body.isObject()) {
            throw ApiError.badRequest(null, "invalid_type", "the request body must be a JSON object");
        }
        for (Iterator<String> it = body.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!COMMON.contains(f) && !(chat ? CHAT_ONLY : COMPLETION_ONLY).contains(f)) {
                throw ApiError.badRequest(f, "unknown_field", "unknown field '" + f + "'; accepted fields: "
                        + String.join(", ", sorted(chat)));
            }
        }
        if (body.has("model") && !body.get("model").isNull()) {
            String model = text(body, "model");
            if (!model.equals(servedModel)) {
                throw new ApiError(404, "invalid_request_error", "model", "model_not_found", "the model '" + model
                        + "' is not served here; use '" + servedModel + "' (see GET /v1/models) or leave 'model' out");
            }
        }
        Integer n = integer(body, "n");
        if (n != null && n != 1) {
            throw ApiError.badRequest("n", "invalid_value", "'n' must be 1 (one completion per request); got " + n);
        }
        String prompt = null;
        List<Message> messages = null;
        if (chat) {
            messages = messages(body);
        } else {
            prompt = prompt(body);
        }
        Integer maxTokens = integer(body, "max_tokens");
        if (maxTokens != null && maxTokens < 1) {
            throw ApiError.badRequest("max_tokens", "invalid_value", "'max_tokens' must be >= 1; got " + maxTokens);
        }
        SamplingParams.Builder b = SamplingParams.builder();
        Double temperature = number(body, "temperature");
        b.temperature(temperature == null ? 1.0 : temperature);
        Double topP = number(body, "top_p");
        if (topP != null) {
            b.topP(topP);
        }
        Integer topK = integer(body, "top_k");
        if (topK != null) {
            b.topK(topK == -1 ? 0 : topK); // vLLM's -1 disables top-k: the api's (and the engine's) 0
        }
        if (body.has("seed") && !body.get("seed").isNull()) {
            JsonNode s = body.get("seed");
            if (!s.isIntegralNumber() || !s.canConvertToLong()) {
                throw wrongType("seed", "an integer", s);
            }
            b.seed(s.asLong());
        }
        b.stop(stop(body));
        Boolean ignoreEos = bool(body, "ignore_eos");
        b.ignoreEos(ignoreEos != null && ignoreEos);
        Integer logprobs;
        if (chat) {
            Boolean want = bool(body, "logprobs");
            Integer top = integer(body, "top_logprobs");
            if (top != null && (want == null || !want)) {
                throw ApiError.badRequest("top_logprobs", "invalid_value", "'top_logprobs' needs 'logprobs': true");
            }
            logprobs = want != null && want ? (top == null ? 0 : top) : null;
        } else {
            logprobs = integer(body, "logprobs");
        }
        if (logprobs != null) {
            b.logprobs(logprobs);
        }
        Boolean stream = bool(body, "stream");
        CompletionRequest r = new CompletionRequest(chat, prompt, messages, maxTokens, stream != null && stream,
                logprobs, b);
        r.samplingParams(1); // checks every range now, before the prompt is tokenized
        return r;
    }

    /** The sampling params with {@code max_tokens} fixed; range faults become 400s naming the field. */
    public SamplingParams samplingParams(int resolvedMaxTokens) {
        try {
            return sampling.maxTokens(resolvedMaxTokens).build();
        } catch (ConfigException e) {
            String key = e.key().replace("sampling_params.", "");
            if (chat && key.equals("logprobs")) {
                key = "top_logprobs";
            }
            if (key.startsWith("stop[")) {
                key = "stop";
            }
            throw ApiError.badRequest(key, "invalid_value", e.getMessage());
        }
    }

    private static List<String> sorted(boolean chat) {
        List<String> all = new ArrayList<>(COMMON);
        all.addAll(chat ? CHAT_ONLY : COMPLETION_ONLY);
        all.sort(null);
        return all;
    }

    private static String prompt(JsonNode body) {
        JsonNode p = body.get("prompt");
        if (p == null || p.isNull()) {
            throw ApiError.badRequest("prompt", "missing_field", "'prompt' is required (a string)");
        }
        if (p.isArray() && p.size() == 1 && p.get(0).isTextual()) {
            p = p.get(0);
        }
        if (!p.isTextual()) {
            throw wrongType("prompt", "a string (or a list of one string)", p);
        }
        if (p.asText().isEmpty()) {
            throw ApiError.badRequest("prompt", "invalid_value", "'prompt' must not be empty");
        }
        return p.asText();
    }

    private static List<Message> messages(JsonNode body) {
        JsonNode m = body.get("messages");
        if (m == null || m.isNull()) {
            throw ApiError.badRequest("messages", "missing_field", "'messages' is required (a list of {role, content})");
        }
        if (!m.isArray() || m.isEmpty()) {
            throw wrongType("messages", "a non-empty list of {role, content} objects", m);
        }
        List<Message> out = new ArrayList<>();
        for (int i = 0; i < m.size(); i++) {
            JsonNode e = m.get(i);
            String at = "messages[" + i + "]";
            if (!e.isObject()) {
                throw wrongType(at, "an object {role, content}", e);
            }
            for (Iterator<Map.Entry<String, JsonNode>> it = e.fields(); it.hasNext(); ) {
                String f = it.next().getKey();
                if (!f.equals("role") && !f.equals("content") && !f.equals("name")) {
                    throw ApiError.badRequest(at + "." + f, "unknown_field", "unknown field '" + f + "' in " + at
                            + "; accepted: role, content, name");
                }
            }
            JsonNode role = e.get("role");
            JsonNode content = e.get("content");
            if (role == null || !role.isTextual()) {
                throw wrongType(at + ".role", "a string (" + String.join(", ", ROLES) + ")", role);
            }
            if (!ROLES.contains(role.asText())) {
                String shown = role.asText().length() > 40 ? role.asText().substring(0, 40) + "…" : role.asText();
                throw ApiError.badRequest(at + ".role", "invalid_value", "'" + at + ".role' must be one of "
                        + String.join(", ", ROLES) + "; got '" + shown + "'");
            }
            if (content == null || !content.isTextual()) {
                throw wrongType(at + ".content", "a string", content);
            }
            out.add(new Message(role.asText(), content.asText()));
        }
        return List.copyOf(out);
    }

    private static List<String> stop(JsonNode body) {
        JsonNode s = body.get("stop");
        if (s == null || s.isNull()) {
            return List.of();
        }
        if (s.isTextual()) {
            return List.of(s.asText());
        }
        if (!s.isArray()) {
            throw wrongType("stop", "a string or a list of strings", s);
        }
        List<String> out = new ArrayList<>();
        for (JsonNode e : s) {
            if (!e.isTextual()) {
                throw wrongType("stop", "a string or a list of strings", s);
            }
            out.add(e.asText());
        }
        return out;
    }

    private static String text(JsonNode body, String field) {
        JsonNode v = body.get(field);
        if (!v.isTextual()) {
            throw wrongType(field, "a string", v);
        }
        return v.asText();
    }

    private static Integer integer(JsonNode body, String field) {
        JsonNode v = body.get(field);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isIntegralNumber() || !v.canConvertToInt()) {
            throw wrongType(field, "an integer", v);
        }
        return v.asInt();
    }

    private static Double number(JsonNode body, String field) {
        JsonNode v = body.get(field);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isNumber()) {
            throw wrongType(field, "a number", v);
        }
        return v.asDouble();
    }

    private static Boolean bool(JsonNode body, String field) {
        JsonNode v = body.get(field);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isBoolean()) {
            throw wrongType(field, "a boolean", v);
        }
        return v.asBoolean();
    }

    private static ApiError wrongType(String field, String expected, JsonNode got) {
        String kind = got == null ? "nothing" : got.getNodeType().name().toLowerCase() + " " + got;
        if (kind.length() > 80) {
            kind = kind.substring(0, 80) + "…";
        }
        return ApiError.badRequest(field, "invalid_type", "'" + field + "' must be " + expected + "; got " + kind);
    }
}
