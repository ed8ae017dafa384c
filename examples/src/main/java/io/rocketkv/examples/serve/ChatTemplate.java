package io.rocketkv.examples.serve;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Renders chat messages into a prompt with the checkpoint's {@code chat_template} (the Jinja template in
 * {@code tokenizer_config.json}), through Jinjava configured as Hugging Face configures Jinja
 * ({@code trim_blocks}, {@code lstrip_blocks}, a {@code raise_exception} function). The variables are
 * {@code messages} (each with {@code role} and {@code content}), {@code bos_token}, {@code eos_token} and
 * {@code add_generation_prompt = true}.
 *
 * <p>A checkpoint without a chat template gets the fallback format: each message as
 * {@code "<role>: <content>\n"}, then {@code "assistant:"}; the tokenizer adds its special tokens (BOS)
 * to that text, while a rendered template is tokenized as is (templates write BOS themselves).
 */
public final class ChatTemplate {

    private final String template; // null: the fallback format
    private final String bosToken;
    private final String eosToken;
    private final Jinjava jinjava;

    public ChatTemplate(String template, String bosToken, String eosToken) {
        this.template = template;
        this.bosToken = bosToken == null ? "" : bosToken;
        this.eosToken = eosToken == null ? "" : eosToken;
        this.jinjava = new Jinjava(JinjavaConfig.newBuilder().withTrimBlocks(true).withLstripBlocks(true).build());
        jinjava.getGlobalContext().registerFunction(new ELFunctionDefinition("", "raise_exception",
                ChatTemplate.class, "raiseException", String.class));
    }

    /** Reads {@code chat_template}, {@code bos_token} and {@code eos_token} from the checkpoint's tokenizer_config.json. */
    public static ChatTemplate load(Path modelDir) {
        Path file = modelDir.resolve("tokenizer_config.json");
        if (!Files.isRegularFile(file)) {
            return new ChatTemplate(null, null, null);
        }
        try {
            JsonNode c = new ObjectMapper().readTree(file.toFile());
            JsonNode t = c.get("chat_template");
            String template = t != null && t.isTextual() ? t.asText() : null;
            if (t != null && t.isArray()) { // a list of named templates: take "default"
                for (JsonNode named : t) {
                    if ("default".equals(named.path("name").asText())) {
                        template = named.path("template").asText(null);
                    }
                }
            }
            return new ChatTemplate(template, special(c.get("bos_token")), special(c.get("eos_token")));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    private static String special(JsonNode t) {
        if (t == null || t.isNull()) {
            return null;
        }
        return t.isObject() ? t.path("content").asText(null) : t.asText();
    }

    /** True when the checkpoint has a chat template (the rendered text carries its own special tokens). */
    public boolean hasTemplate() {
        return template != null;
    }

    /** The prompt text for {@code messages}; a template error is a 400 naming {@code messages}. */
    public String render(List<CompletionRequest.Message> messages) {
        if (template == null) {
            StringBuilder sb = new StringBuilder();
            for (CompletionRequest.Message m : messages) {
                sb.append(m.role()).append(": ").append(m.content()).append('\n');
            }
            return sb.append("assistant:").toString();
        }
        List<Map<String, Object>> msgs = new ArrayList<>();
        for (CompletionRequest.Message m : messages) {
            Map<String, Object> e = new LinkedHashMap<>();
            e.put("role", m.role());
            e.put("content", m.content());
            msgs.add(e);
        }
        Map<String, Object> vars = new LinkedHashMap<>();
        vars.put("messages", msgs);
        vars.put("bos_token", bosToken);
        vars.put("eos_token", eosToken);
        vars.put("add_generation_prompt", true);
        RenderResult r = jinjava.renderForResult(template, vars);
        for (TemplateError e : r.getErrors()) {
            if (e.getSeverity() == TemplateError.ErrorType.FATAL) {
                String why = e.getMessage();
                for (Throwable c = e.getException(); c != null; c = c.getCause()) {
                    if (c instanceof TemplateRaised raised) {
                        why = raised.getMessage(); // the template's own raise_exception message
                    }
                }
                throw ApiError.badRequest("messages", "chat_template_error",
                        "the chat template rejected the messages: " + why);
            }
        }
        return r.getOutput();
    }

    /** The template's {@code raise_exception(message)}. */
    public static String raiseException(String message) {
        throw new TemplateRaised(message);
    }

    /** What a template's {@code raise_exception} throws. */
    static final class TemplateRaised extends RuntimeException {
        TemplateRaised(String message) {
            super(message);
        }
    }
}
