package io.rocketkv.examples.serve;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.el.JinjavaProcessors;
import com.hubspot.jinjava.interpret.Context;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import io.rocketkv.core.weights.CheckpointFiles;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Renders chat messages into a prompt with the checkpoint's {@code chat_template} (the Jinja template in
 * {@code tokenizer_config.json}), through Jinjava configured as Hugging Face configures Jinja
 * ({@code trim_blocks}, {@code lstrip_blocks}, a {@code raise_exception} function). The variables are
 * {@code messages} (each with {@code role} and {@code content}), {@code bos_token}, {@code eos_token} and
 * {@code add_generation_prompt = true}.
 *
 * <p>Message values are data, never template source. Jinjava by default renders an expression's value again
 * when it contains {@code {{} or {@code {%} ("nested interpretation"), which would run a client's text as
 * template code; that is turned off, so {@code {{ 7*7 }}} in a message comes out as those nine characters, as
 * in Python's jinja2. The template itself (it comes with the checkpoint) is sandboxed too: it cannot load
 * other files ({@code include}, {@code import}, {@code from}, {@code extends} and the {@code render} filter are
 * disabled, and the resource loader refuses every name), and one render is capped by {@link Limits}: output
 * length, loop iterations and time. A render that reaches a cap stops there and is a 400.
 *
 * <p>A checkpoint without a chat template gets the fallback format: each message as
 * {@code "<role>: <content>\n"}, then {@code "assistant:"}; the tokenizer adds its special tokens (BOS)
 * to that text, while a rendered template is tokenized as is (templates write BOS themselves).
 */
public final class ChatTemplate {

    /**
     * Caps on one render of the template.
     *
     * @param maxOutputChars    the longest prompt text the template may produce
     * @param maxLoopIterations the most {@code for}-loop iterations in one render (summed over all loops, nested
     *                          ones included; a loop is charged its full length when it starts)
     * @param maxRenderTime     the longest one render may take
     */
    public record Limits(long maxOutputChars, long maxLoopIterations, Duration maxRenderTime) {
        public Limits {
            if (maxOutputChars < 1 || maxLoopIterations < 1 || maxRenderTime == null || maxRenderTime.isNegative()
                    || maxRenderTime.isZero()) {
                throw new IllegalArgumentException("chat template limits must be positive; got " + maxOutputChars
                        + " chars, " + maxLoopIterations + " loop iterations, " + maxRenderTime);
            }
        }

        /** The server's limits for request bodies of up to {@code maxBodyBytes}. */
        public static Limits forBodyBytes(long maxBodyBytes) {
            // every character of the messages may come out, plus the template's own text around each message
            long out = Math.min(Integer.MAX_VALUE - 8, 4 * maxBodyBytes + (1 << 20));
            return new Limits(out, 1_000_000, Duration.ofSeconds(5));
        }
    }

    /** Tags and filters that would load or run other template text. */
    private static final Set<String> DISABLED_TAGS = Set.of("include", "import", "from", "extends");
    private static final Set<String> DISABLED_FILTERS = Set.of("render");

    private final String template; // null: the fallback format
    private final String bosToken;
    private final String eosToken;
    private final Limits limits;
    private final Jinjava jinjava;

    public ChatTemplate(String template, String bosToken, String eosToken) {
        this(template, bosToken, eosToken, Limits.forBodyBytes(1 << 20));
    }

    public ChatTemplate(String template, String bosToken, String eosToken, Limits limits) {
        this.template = template;
        this.bosToken = bosToken == null ? "" : bosToken;
        this.eosToken = eosToken == null ? "" : eosToken;
        this.limits = limits;
        JinjavaConfig config = JinjavaConfig.newBuilder()
                .withTrimBlocks(true)
                .withLstripBlocks(true)
                .withNestedInterpretationEnabled(false) // values are data: never rendered again as template text
                .withDisabled(Map.of(Context.Library.TAG, DISABLED_TAGS, Context.Library.FILTER, DISABLED_FILTERS))
                .withMaxOutputSize(limits.maxOutputChars())
                .withMaxStringLength(limits.maxOutputChars())
                .withMaxListSize((int) Math.min(Integer.MAX_VALUE, limits.maxLoopIterations()))
                .withMaxMapSize((int) Math.min(Integer.MAX_VALUE, limits.maxLoopIterations()))
                .withProcessors(JinjavaProcessors.newBuilder()
                        .withNodePreProcessor((node, interpreter) -> RenderBudget.current().step())
                        .build())
                .build();
        this.jinjava = new Jinjava(config);
        jinjava.setResourceLocator((name, charset, interpreter) -> {
            throw new IOException("chat templates may not load other files (asked for '" + name + "')");
        });
        jinjava.getGlobalContext().registerTag(new RenderBudget.CountingForTag());
        jinjava.getGlobalContext().registerFunction(new ELFunctionDefinition("", "raise_exception",
                ChatTemplate.class, "raiseException", String.class));
    }

    /** Reads {@code chat_template}, {@code bos_token} and {@code eos_token} from the checkpoint's tokenizer_config.json. */
    public static ChatTemplate load(Path modelDir) {
        return load(modelDir, Limits.forBodyBytes(1 << 20));
    }

    /** As {@link #load(Path)}, with {@code limits} on each render. */
    public static ChatTemplate load(Path modelDir, Limits limits) {
        Path file = modelDir.resolve("tokenizer_config.json");
        CheckpointFiles.requireRegularIfPresent(file, "the tokenizer config");
        if (!Files.isRegularFile(file)) {
            return new ChatTemplate(null, null, null, limits);
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
            return new ChatTemplate(template, special(c.get("bos_token")), special(c.get("eos_token")), limits);
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

    public Limits limits() {
        return limits;
    }

    /**
     * The template text of a {@code --chat-template} value: the contents of the file it names, or the value itself
     * when it is a template (holds {@code {{} or {@code {%}), as vLLM reads its option.
     *
     * @throws IllegalArgumentException when it is neither a readable file nor a template
     */
    public static String templateText(String fileOrTemplate) {
        Path file;
        try {
            file = Path.of(fileOrTemplate);
        } catch (RuntimeException e) {
            file = null; // not a path on this system: maybe a template
        }
        if (file != null && Files.isRegularFile(file)) {
            try {
                return Files.readString(file);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read the chat template " + file + ": " + e.getMessage(), e);
            }
        }
        if (fileOrTemplate.contains("{{") || fileOrTemplate.contains("{%")) {
            return fileOrTemplate;
        }
        throw new IllegalArgumentException("--chat-template '" + fileOrTemplate + "' is neither a file nor a"
                + " template (no {{ or {%); pass a Jinja file or the template text");
    }

    /** This template's special tokens and limits with another template text (a {@code --chat-template} override). */
    public ChatTemplate withTemplate(String otherTemplate) {
        return new ChatTemplate(otherTemplate, bosToken, eosToken, limits);
    }

    /**
     * The prompt text for {@code messages}, ending with the assistant's turn; a template error, or a render that
     * reaches one of the {@link Limits}, is a 400 naming {@code messages}.
     */
    public String render(List<CompletionRequest.Message> messages) {
        return render(messages, true);
    }

    /**
     * The prompt text for {@code messages}; {@code addGenerationPrompt} is the template's
     * {@code add_generation_prompt} (true: the text ends with the start of the assistant's turn).
     */
    public String render(List<CompletionRequest.Message> messages, boolean addGenerationPrompt) {
        if (template == null) {
            StringBuilder sb = new StringBuilder();
            for (CompletionRequest.Message m : messages) {
                sb.append(m.role()).append(": ").append(m.content()).append('\n');
            }
            return addGenerationPrompt ? sb.append("assistant:").toString() : sb.toString();
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
        vars.put("add_generation_prompt", addGenerationPrompt);
        RenderBudget budget = new RenderBudget(limits);
        RenderResult r = budget.run(() -> jinjava.renderForResult(template, vars));
        if (budget.exceeded() != null) {
            throw limitReached(budget.exceeded());
        }
        for (TemplateError e : r.getErrors()) {
            if (e.getReason() == TemplateError.ErrorReason.OUTPUT_TOO_BIG) {
                throw limitReached("the prompt it renders is longer than " + limits.maxOutputChars() + " characters");
            }
        }
        for (TemplateError e : r.getErrors()) {
            if (e.getSeverity() == TemplateError.ErrorType.FATAL) {
                String why = e.getMessage();
                if (e.getReason() == TemplateError.ErrorReason.DISABLED) {
                    why += " (this server does not let chat templates load other files or render text as templates)";
                }
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

    private static ApiError limitReached(String what) {
        return ApiError.badRequest("messages", "chat_template_limit", "the chat template was stopped: " + what
                + "; send fewer or shorter messages, or fix the checkpoint's chat_template (tokenizer_config.json)");
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
