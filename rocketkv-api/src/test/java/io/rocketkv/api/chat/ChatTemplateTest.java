package io.rocketkv.api.chat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The library's chat templates: the checkpoints' own (Llama 3 and Qwen3 tokenizer_config.json from the tokenizer
 * tests) rendered as Meta and Qwen document their prompt formats, and the sandbox rules. Exact agreement with
 * transformers' {@code apply_chat_template} is {@link ChatTemplateGoldenTest}'s.
 */
public class ChatTemplateTest {

    @TempDir
    Path dir;

    static final List<Message> SYSTEM_AND_USER = List.of(Message.system("Be brief."), Message.user(" Hi there "));

    /** ChatML (Qwen's format), written as the checkpoints write it. */
    public static final String CHATML = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
            + "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
            + "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    /** Llama 3's format, content through the trim filter. */
    static final String LLAMA3 = "{{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + "
            + "message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}{% endfor %}"
            + "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";

    /** A committed tokenizer_config.json of the tokenizer tests, copied out of the class path. */
    static Path tokenizerConfig(Path dir, String name) throws IOException {
        Path out = Files.createDirectories(dir.resolve(name)).resolve("tokenizer_config.json");
        try (InputStream in = ChatTemplateTest.class.getResourceAsStream("/tokenizers/" + name
                + "/tokenizer_config.json")) {
            Files.copy(in, out);
        }
        return out;
    }

    @Test
    void llama3RendersMetasPromptFormat() throws IOException {
        // this (original Llama 3) template writes the assistant header whatever add_generation_prompt says
        ChatTemplate t = ChatTemplate.fromTokenizerConfig(tokenizerConfig(dir, "llama3"));
        assertTrue(t.hasTemplate());
        assertEquals("<|begin_of_text|>", t.bosToken());
        String header = "<|start_header_id|>assistant<|end_header_id|>\n\n";
        String body = "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>";
        assertEquals(body + header, t.render(SYSTEM_AND_USER, true));
        assertEquals(body + header, t.render(SYSTEM_AND_USER, false));
    }

    @Test
    void qwen3RendersChatMl() throws IOException {
        ChatTemplate t = ChatTemplate.fromTokenizerConfig(tokenizerConfig(dir, "qwen3").getParent()); // the directory
        String out = t.render(SYSTEM_AND_USER, true);
        assertTrue(out.startsWith("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n Hi there <|im_end|>\n"),
                out);
        assertTrue(out.endsWith("<|im_start|>assistant\n"), out);
        String multi = t.render(List.of(Message.user("2+2?"), Message.assistant("4"), Message.user("times 3?")), false);
        assertTrue(multi.contains("<|im_start|>assistant\n4<|im_end|>\n"), multi);
        assertFalse(multi.endsWith("<|im_start|>assistant\n"), multi);
    }

    @Test
    void chatMlTemplateText() {
        ChatTemplate t = ChatTemplate.of(CHATML, "<s>", "</s>");
        assertEquals("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n Hi there <|im_end|>\n"
                + "<|im_start|>assistant\n", t.render(SYSTEM_AND_USER, true));
        assertTrue(t.hasTemplate());
    }

    @Test
    void llama3TemplateTextWithBosTokenAndTrimFilter() {
        ChatTemplate t = ChatTemplate.of(LLAMA3, "<|begin_of_text|>", "<|end_of_text|>");
        assertEquals("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\n", t.render(SYSTEM_AND_USER, true));
    }

    @Test
    void trimBlocksAndLstripBlocksAsHuggingFaceSetsThem() {
        // jinja2 with trim_blocks drops the newline after a block tag; lstrip_blocks the indent before one
        ChatTemplate t = ChatTemplate.of("{% for m in messages %}\n  {% if m.role == 'user' %}\n{{ m.role }}:"
                + " {{ m.content }}\n  {% endif %}\n{% endfor %}\n", null, null);
        assertEquals("user:  Hi there \n", t.render(SYSTEM_AND_USER, true));
    }

    @Test
    void commentsAndTheirWhitespaceAsJinja2() {
        // each expected string is what jinja2 3.1.6 renders with trim_blocks and lstrip_blocks (Hugging Face's setup)
        String[][] cases = {
            {"A\n\n{#- a comment #}\n{%- if true %}B{% endif %}", "AB"},
            {"B  {# k #}  C", "B    C"},
            {"x\n   {# k #}\ny", "x\ny"},
            {"x\n   {# k #}  \ny", "x\n  \ny"},
            {"x {#- k #}\n y", "x y"},
            {"{{ \"{#\" }}a#}", "{#a#}"},
            {"a\n\t{# k -#}  \n b", "a\nb"},
            {"{% raw %}{# k #}{% endraw %}", "{# k #}"},
        };
        for (String[] c : cases) {
            assertEquals(c[1], ChatTemplate.of(c[0], null, null).render(SYSTEM_AND_USER, true), c[0]);
        }
    }

    @Test
    void messageTextIsDataNeverTemplate() {
        ChatTemplate t = ChatTemplate.of("{% for m in messages %}[{{ m.content }}]{% endfor %}", null, null);
        assertEquals("[{{ 7*7 }} {% if x %}]", t.render(List.of(Message.user("{{ 7*7 }} {% if x %}")), true));
    }

    @Test
    void raiseExceptionAndLimitsAreChatTemplateExceptions() {
        ChatTemplate t = ChatTemplate.of("{% if messages[0].role != 'user' %}{{ raise_exception('must start with a"
                + " user message') }}{% endif %}ok", null, null);
        ChatTemplateException e = assertThrows(ChatTemplateException.class, () -> t.render(SYSTEM_AND_USER, true));
        assertEquals(ChatTemplateException.Reason.TEMPLATE_ERROR, e.reason());
        assertTrue(e.getMessage().contains("must start with a user message"), e.getMessage());
        ChatTemplate loops = ChatTemplate.of("{% for a in range(1000) %}{% for b in range(1000) %}x{% endfor %}"
                + "{% endfor %}", null, null).withLimits(new ChatTemplate.Limits(1 << 20, 10_000, Duration.ofSeconds(5)));
        assertEquals(ChatTemplateException.Reason.LIMIT,
                assertThrows(ChatTemplateException.class, () -> loops.render(SYSTEM_AND_USER, true)).reason());
        ChatTemplate include = ChatTemplate.of("{% include 'x.j2' %}", null, null);
        assertThrows(ChatTemplateException.class, () -> include.render(SYSTEM_AND_USER, true));
    }

    @Test
    void noTemplateGivesTheFallbackFormat() throws IOException {
        ChatTemplate none = ChatTemplate.fromTokenizerConfig(dir.resolve("absent"));
        assertFalse(none.hasTemplate());
        assertEquals("system: Be brief.\nuser:  Hi there \nassistant:", none.render(SYSTEM_AND_USER, true));
        assertEquals("system: Be brief.\nuser:  Hi there \n", none.render(SYSTEM_AND_USER, false));
        Path named = Files.writeString(dir.resolve("tokenizer_config.json"), "{\"chat_template\": [{\"name\":"
                + " \"tool_use\", \"template\": \"T\"}, {\"name\": \"default\", \"template\": \"D\"}]}");
        assertEquals("D", ChatTemplate.fromTokenizerConfig(named).render(SYSTEM_AND_USER, true));
    }

    @Test
    void pythonStringMethodsAndReversedSlicesWorkAsInJinja2() {
        ChatTemplate t = ChatTemplate.of("{% for m in messages[::-1] %}{{ m.content.split('b')[-1].lstrip('x') }}|"
                + "{{ m.content.startswith('a') }}|{{ m.content.endswith('c') }}|{{ ' y '.strip() }}|"
                + "{{ 'a,,b'.split(',') | length }};{% endfor %}", null, null);
        // messages reversed: "abxxc" then "abc"; jinja2 would print the booleans as True, Jinjava prints true
        assertEquals("c|true|true|y|3;c|true|true|y|3;",
                t.render(List.of(Message.user("abc"), Message.user("abxxc")), true));
    }

    @Test
    void messagesNeedARoleAndContent() {
        assertThrows(IllegalArgumentException.class, () -> new Message("", "x"));
        assertThrows(IllegalArgumentException.class, () -> new Message("user", null));
    }

    /** The conversations of the golden script, as messages. */
    static List<List<Message>> conversations(JsonNode all) {
        List<List<Message>> out = new ArrayList<>();
        for (JsonNode c : all) {
            List<Message> m = new ArrayList<>();
            for (JsonNode msg : c.get("messages")) {
                m.add(new Message(msg.get("role").asText(), msg.get("content").asText()));
            }
            out.add(m);
        }
        return out;
    }

    @Test
    void everyGoldenConversationRendersWithBothTemplates() throws IOException {
        JsonNode all = new ObjectMapper().readTree(ChatTemplateTest.class.getResourceAsStream("/chat/conversations.json"));
        for (String name : List.of("llama3", "qwen3")) {
            ChatTemplate t = ChatTemplate.fromTokenizerConfig(tokenizerConfig(dir, name));
            for (List<Message> conv : conversations(all)) {
                String with = t.render(conv, true);
                String without = t.render(conv, false);
                assertTrue(with.startsWith(without), name + ": " + with);
                for (Message m : conv) {
                    assertTrue(with.contains(m.content().strip()), name + " keeps " + m.content());
                }
            }
        }
    }
}
