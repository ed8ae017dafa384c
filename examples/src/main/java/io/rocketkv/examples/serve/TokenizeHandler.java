package io.rocketkv.examples.serve;

import static io.rocketkv.examples.serve.OpenAiServer.JSON;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rocketkv.api.LLM;
import io.rocketkv.api.chat.ChatTemplate;
import java.util.Iterator;
import java.util.Set;
import java.util.TreeSet;

/**
 * vLLM's {@code POST /tokenize} and {@code POST /detokenize}: a prompt (or chat messages, rendered with the chat
 * template) to its token ids as a completion request would see them, and token ids back to text.
 */
final class TokenizeHandler {

    private static final Set<String> TOKENIZE_FIELDS = Set.of("model", "prompt", "messages", "add_special_tokens",
            "add_generation_prompt", "return_token_strs");
    private static final Set<String> DETOKENIZE_FIELDS = Set.of("model", "tokens");

    private final LLM llm;
    private final ChatTemplate template;
    private final String servedModel;

    TokenizeHandler(LLM llm, ChatTemplate template, String servedModel) {
        this.llm = llm;
        this.template = template;
        this.servedModel = servedModel;
    }

    /**
     * {@code {"prompt": TEXT, "add_special_tokens": true}} or {@code {"messages": [...], "add_generation_prompt":
     * true, "add_special_tokens": false}} → {@code {"count", "max_model_len", "tokens", "token_strs"}}.
     */
    ObjectNode tokenize(JsonNode body) {
        check(body, TOKENIZE_FIELDS, "/tokenize");
        boolean chat = JsonFields.present(body, "messages");
        if (chat == JsonFields.present(body, "prompt")) {
            throw ApiError.badRequest("prompt", chat ? "invalid_value" : "missing_field",
                    "send either 'prompt' (a string) or 'messages' (a list of {role, content}), not "
                            + (chat ? "both" : "neither"));
        }
        int[] ids;
        if (chat) {
            String text = ChatMessages.render(template, ChatMessages.parse(body, new TreeSet<>()),
                    JsonFields.bool(body, "add_generation_prompt", true));
            ids = llm.tokenizer().encode(text, JsonFields.bool(body, "add_special_tokens", !template.hasTemplate()));
        } else {
            String prompt = JsonFields.text(body, "prompt");
            ids = llm.tokenizer().encode(prompt, JsonFields.bool(body, "add_special_tokens", true));
        }
        boolean strs = JsonFields.bool(body, "return_token_strs", false);
        ObjectNode o = JSON.createObjectNode();
        o.put("count", ids.length);
        o.put("max_model_len", llm.maxSeqLen());
        ArrayNode tokens = o.putArray("tokens");
        for (int id : ids) {
            tokens.add(id);
        }
        if (strs) {
            ArrayNode s = o.putArray("token_strs");
            for (int id : ids) {
                s.add(llm.tokenizer().idToToken(id));
            }
        } else {
            o.putNull("token_strs");
        }
        return o;
    }

    /** {@code {"tokens": [ids]}} → {@code {"prompt": TEXT}} (special tokens kept, as vLLM decodes). */
    ObjectNode detokenize(JsonNode body) {
        check(body, DETOKENIZE_FIELDS, "/detokenize");
        JsonNode t = body.get("tokens");
        if (t == null || t.isNull()) {
            throw ApiError.badRequest("tokens", "missing_field", "'tokens' is required (a list of token ids)");
        }
        if (!t.isArray()) {
            throw JsonFields.wrongType("tokens", "a list of token ids", t);
        }
        int[] ids = JsonFields.tokenIds(t, "tokens", CompletionHandler.vocab(llm));
        return JSON.createObjectNode().put("prompt", llm.tokenizer().decode(ids, false));
    }

    private void check(JsonNode body, Set<String> known, String endpoint) {
        if (body == null || !body.isObject()) {
            throw ApiError.badRequest(null, "invalid_type", "the request body must be a JSON object");
        }
        CompletionRequest.checkModel(body, servedModel);
        Set<String> ignored = new TreeSet<>();
        for (Iterator<String> it = body.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!known.contains(f)) {
                ignored.add(f);
            }
        }
        JsonFields.logIgnored(endpoint, ignored);
    }
}
