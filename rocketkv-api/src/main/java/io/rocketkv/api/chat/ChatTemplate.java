package io.rocketkv.api.chat;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.el.JinjavaInterpreterResolver;
import com.hubspot.jinjava.el.JinjavaProcessors;
import com.hubspot.jinjava.interpret.Context;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import io.rocketkv.core.tokenizer.TokenizerConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import jinjava.javax.el.CompositeELResolver;
import jinjava.javax.el.ELResolver;

/**
 * Renders chat messages into a prompt with a checkpoint's {@code chat_template} (the Jinja template in
 * {@code tokenizer_config.json}), as Hugging Face's {@code apply_chat_template(messages, tokenize=False,
 * add_generation_prompt=...)} renders it: through Jinjava configured as transformers configures jinja2
 * ({@code trim_blocks}, {@code lstrip_blocks}, a {@code raise_exception} function), with the variables
 * {@code messages} (each with {@code role} and {@code content}), {@code bos_token}, {@code eos_token} and
 * {@code add_generation_prompt}.
 *
 * <p>Message values are data, never template source: Jinjava's nested interpretation (rendering a value again when
 * it contains {@code {{}) is off, so {@code {{ 7*7 }}} in a message comes out as those characters, as in jinja2. The
 * template is sandboxed too: it cannot load other files ({@code include}, {@code import}, {@code from},
 * {@code extends} and the {@code render} filter are disabled, the resource loader refuses every name), and one render
 * is capped by {@link Limits}. A template error or a cap reached is a {@link ChatTemplateException}.
 *
 * <p>A checkpoint without a chat template gets the fallback format: each message as {@code "<role>: <content>\n"},
 * then {@code "assistant:"} when a generation prompt is asked for; {@link #hasTemplate()} tells the two apart (a
 * rendered template writes its own BOS, so it is tokenized without special tokens; the fallback with them).
 */
public final class ChatTemplate {

    /**
     * Caps on one render.
     *
     * @param maxOutputChars    the longest prompt text the template may produce
     * @param maxLoopIterations the most {@code for}-loop iterations in one render (summed over all loops, nested ones
     *                          included; a loop is charged its full length when it starts)
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

        /** Limits for messages of up to {@code maxInputBytes} in all (e.g. a server's request body cap). */
        public static Limits forInputBytes(long maxInputBytes) {
            // every character of the messages may come out, plus the template's own text around each message
            long out = Math.min(Integer.MAX_VALUE - 8, 4 * maxInputBytes + (1 << 20));
            return new Limits(out, 1_000_000, Duration.ofSeconds(5));
        }

        /** The default: messages of up to 1 MiB. */
        public static Limits defaults() {
            return forInputBytes(1 << 20);
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

    private final String source; // the template as given (template() returns it)

    private ChatTemplate(String template, String bosToken, String eosToken, Limits limits) {
        this.source = template;
        template = JinjaDialect.rewrite(template);
        this.template = template;
        this.bosToken = bosToken == null ? "" : bosToken;
        this.eosToken = eosToken == null ? "" : eosToken;
        this.limits = limits;
        JinjavaConfig config = JinjavaConfig.newBuilder()
                .withTrimBlocks(true)
                .withLstripBlocks(true)
                .withNestedInterpretationEnabled(false) // values are data: never rendered again as template text
                .withElResolver(resolver())
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

    /**
     * A template given as text (e.g. a chat template override) with its special tokens; a null template is the
     * fallback format. Rendered with {@link Limits#defaults()}.
     */
    public static ChatTemplate of(String template, String bosToken, String eosToken) {
        return new ChatTemplate(template, bosToken, eosToken, Limits.defaults());
    }

    /**
     * Reads {@code chat_template}, {@code bos_token} and {@code eos_token} from a {@code tokenizer_config.json}
     * ({@code file} itself, or the one in {@code file} when it is a checkpoint directory), as the tokenizer reads
     * them ({@code TokenizerConfig}). A missing file, or one without {@code chat_template}, gives the fallback
     * format; a list of named templates gives the one named {@code default}.
     *
     * @throws io.rocketkv.core.tokenizer.TokenizerFormatException when the file is malformed or not a regular file
     */
    public static ChatTemplate fromTokenizerConfig(Path file) {
        Path dir = Files.isDirectory(file) ? file : file.toAbsolutePath().getParent();
        TokenizerConfig c = TokenizerConfig.read(dir);
        return new ChatTemplate(c.chatTemplate(), c.bosToken(), c.eosToken(), Limits.defaults());
    }

    /** This template with other caps on each render. */
    public ChatTemplate withLimits(Limits newLimits) {
        return new ChatTemplate(source, bosToken, eosToken, newLimits);
    }

    /** This template's special tokens with another template text (null: the fallback format). */
    public ChatTemplate withTemplate(String newTemplate) {
        return new ChatTemplate(newTemplate, bosToken, eosToken, limits);
    }

    /** True when there is a chat template (the rendered text carries its own special tokens). */
    public boolean hasTemplate() {
        return template != null;
    }

    /** The template text as given, or null for the fallback format. */
    public String template() {
        return source;
    }

    public String bosToken() {
        return bosToken;
    }

    public String eosToken() {
        return eosToken;
    }

    public Limits limits() {
        return limits;
    }

    /**
     * The prompt text for {@code messages}, ending with the assistant's header when {@code addGenerationPrompt}.
     *
     * @throws ChatTemplateException when the template rejects the messages or a render reaches one of the
     *                               {@link Limits}
     */
    public String render(List<Message> messages, boolean addGenerationPrompt) {
        if (template == null) {
            StringBuilder sb = new StringBuilder();
            for (Message m : messages) {
                sb.append(m.role()).append(": ").append(m.content()).append('\n');
            }
            return addGenerationPrompt ? sb.append("assistant:").toString() : sb.toString();
        }
        List<Map<String, Object>> msgs = new ArrayList<>();
        for (Message m : messages) {
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
                    why += " (chat templates may not load other files or render text as templates)";
                }
                for (Throwable c = e.getException(); c != null; c = c.getCause()) {
                    if (c instanceof TemplateRaised raised) {
                        why = raised.getMessage(); // the template's own raise_exception message
                    }
                }
                throw new ChatTemplateException(ChatTemplateException.Reason.TEMPLATE_ERROR,
                        "the chat template rejected the messages: " + why);
            }
        }
        return r.getOutput();
    }

    /** Python's string methods first, then Jinjava's own resolution (read-only: templates cannot set fields). */
    private static ELResolver resolver() {
        CompositeELResolver r = new CompositeELResolver();
        r.add(new PythonStrings());
        r.add(JinjavaInterpreterResolver.DEFAULT_RESOLVER_READ_ONLY);
        return r;
    }

    private static ChatTemplateException limitReached(String what) {
        return new ChatTemplateException(ChatTemplateException.Reason.LIMIT, "the chat template was stopped: "
                + what + "; send fewer or shorter messages, or fix the checkpoint's chat_template"
                + " (tokenizer_config.json)");
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
