package io.rocketkv.examples.serve;

import com.fasterxml.jackson.databind.JsonNode;
import io.rocketkv.api.chat.ChatTemplate;
import io.rocketkv.api.chat.ChatTemplateException;
import io.rocketkv.api.chat.Message;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;

/**
 * Reads a chat request's {@code messages}: each a {@code {role, content}} object whose content is a string or
 * OpenAI's list of content parts. Text parts are joined with newlines (as vLLM joins them); image, audio and file
 * parts are refused, the model reads text only. {@code developer} (OpenAI's newer name for the system role) is
 * read as {@code system}, the role chat templates know. {@link #render} renders them with the library's chat template.
 */
final class ChatMessages {

    private ChatMessages() {
    }

    /** The chat roles chat templates know; anything else would reach the template as text of unknown meaning. */
    static final List<String> ROLES = List.of("system", "user", "assistant", "tool");
    /** Message fields read or knowingly ignored ({@code name}, {@code tool_call_id}, {@code refusal}). */
    private static final Set<String> FIELDS = Set.of("role", "content", "name", "tool_call_id", "tool_calls",
            "refusal");

    /** The messages of {@code body}; message fields nobody defines are added to {@code ignored}. */
    static List<Message> parse(JsonNode body, Set<String> ignored) {
        JsonNode m = body.get("messages");
        if (m == null || m.isNull()) {
            throw ApiError.badRequest("messages", "missing_field", "'messages' is required (a list of {role, content})");
        }
        if (!m.isArray() || m.isEmpty()) {
            throw JsonFields.wrongType("messages", "a non-empty list of {role, content} objects", m);
        }
        List<Message> out = new ArrayList<>();
        for (int i = 0; i < m.size(); i++) {
            out.add(message(m.get(i), "messages[" + i + "]", ignored));
        }
        return List.copyOf(out);
    }

    /**
     * The prompt text of {@code messages} by the library's {@code template}; a template that rejects them, or a render
     * stopped by the template's limits, is a 400 on {@code messages} ({@code chat_template_error},
     * {@code chat_template_limit}).
     */
    static String render(ChatTemplate template, List<Message> messages, boolean addGenerationPrompt) {
        try {
            return template.render(messages, addGenerationPrompt);
        } catch (ChatTemplateException e) {
            throw ApiError.badRequest("messages", e.reason() == ChatTemplateException.Reason.LIMIT
                    ? "chat_template_limit" : "chat_template_error", e.getMessage());
        }
    }

    private static Message message(JsonNode e, String at, Set<String> ignored) {
        if (!e.isObject()) {
            throw JsonFields.wrongType(at, "an object {role, content}", e);
        }
        for (Iterator<String> it = e.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!FIELDS.contains(f)) {
                ignored.add(at + "." + f);
            }
        }
        JsonNode role = e.get("role");
        if (role == null || !role.isTextual()) {
            throw JsonFields.wrongType(at + ".role", "a string (" + String.join(", ", ROLES) + ")", role);
        }
        String r = role.asText().equals("developer") ? "system" : role.asText();
        if (!ROLES.contains(r)) {
            String shown = r.length() > 40 ? r.substring(0, 40) + "…" : r;
            throw ApiError.badRequest(at + ".role", "invalid_value", "'" + at + ".role' must be one of "
                    + String.join(", ", ROLES) + " (or developer); got '" + shown + "'");
        }
        JsonNode calls = e.get("tool_calls");
        if (calls != null && !calls.isNull() && !(calls.isArray() && calls.isEmpty())) {
            throw JsonFields.notSupported(at + ".tool_calls", "is not supported: this server has no tool calling");
        }
        JsonNode content = e.get("content");
        if ((content == null || content.isNull()) && r.equals("assistant")) {
            return new Message(r, ""); // an assistant turn may come without content
        }
        return new Message(r, content(content, at + ".content"));
    }

    private static String content(JsonNode content, String at) {
        if (content != null && content.isTextual()) {
            return content.asText();
        }
        if (content == null || !content.isArray()) {
            throw JsonFields.wrongType(at, "a string or a list of content parts", content);
        }
        List<String> texts = new ArrayList<>();
        for (int j = 0; j < content.size(); j++) {
            JsonNode part = content.get(j);
            String pat = at + "[" + j + "]";
            if (!part.isObject()) {
                throw JsonFields.wrongType(pat, "a content part {type, text}", part);
            }
            String type = JsonFields.text(part, "type");
            if (type == null) {
                throw JsonFields.wrongType(pat + ".type", "a string (text)", part.get("type"));
            }
            if (!type.equals("text")) {
                throw Set.of("image_url", "input_audio", "file", "refusal").contains(type)
                        ? JsonFields.notSupported(pat + ".type", "'" + type + "' is not supported: the model reads"
                                + " text only (send {\"type\": \"text\", \"text\": ...} parts)")
                        : ApiError.badRequest(pat + ".type", "invalid_value", "'" + pat + ".type' must be text;"
                                + " got '" + type + "'");
            }
            JsonNode text = part.get("text");
            if (text == null || !text.isTextual()) {
                throw JsonFields.wrongType(pat + ".text", "a string", text);
            }
            texts.add(text.asText());
        }
        return String.join("\n", texts);
    }
}
