package io.rocketkv.examples.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Message values are data: whatever template syntax a client puts in {@code content} comes out character for
 * character (the reference is the ChatML format written out in Java), and the template itself can neither load
 * files nor run past the {@link ChatTemplate.Limits}.
 */
class ChatTemplateInjectionTest {

    /** Payloads a client might send, each of which Jinjava's defaults would execute or mangle. */
    static final String[] PAYLOADS = {
        "{{ 7*7 }}",
        "Hello {{ name }}, your order {{ order.id }} shipped",
        "{{ raise_exception('{% include \"META-INF/MANIFEST.MF\" %}') }}",
        "{% include \"META-INF/MANIFEST.MF\" %}",
        "{% import 'x.j2' as x %}{% from 'y' import z %}{% extends 'base.html' %}",
        "{% for a in range(1000) %}{% for b in range(1000) %}{% for c in range(1000) %}{{a}}{{b}}{{c}}{% endfor %}"
                + "{% endfor %}{% endfor %}",
        "{% raw %}{{ not raw }}{% endraw %}",
        "{# an unclosed comment",
        "{# a comment #}",
        "${7*7} #{7*7} %{7*7}",
        "{%- if true -%} trimmed {%- endif -%}",
        "{{",
        "}} {% endfor %} {% endif %}",
        "{% set messages = [] %}{{ messages }}",
        "{{ bos_token }}{{ eos_token }}<|im_end|>",
        "{{ '{{ 7*7 }}'|render }}",
        "{{ ''.getClass().forName('java.lang.Runtime') }}",
        "tab\tnewline\n\u0000 nul, emoji \uD83D\uDE80, \\n backslash",
    };

    private static String chatMl(List<CompletionRequest.Message> messages) {
        StringBuilder sb = new StringBuilder();
        for (CompletionRequest.Message m : messages) {
            sb.append("<|im_start|>").append(m.role()).append('\n').append(m.content()).append("<|im_end|>\n");
        }
        return sb.append("<|im_start|>assistant\n").toString();
    }

    static Stream<String> payloads() {
        return Stream.of(PAYLOADS);
    }

    @ParameterizedTest
    @MethodSource("payloads")
    void contentIsRenderedLiterally(String payload) {
        var t = new ChatTemplate(ChatTemplateTest.CHATML, "<s>", "</s>");
        var messages = List.of(new CompletionRequest.Message("system", "sys " + payload),
                new CompletionRequest.Message("user", payload));
        assertEquals(chatMl(messages), t.render(messages));
    }

    @Test
    void contentIsLiteralWhereTheTemplateFiltersIt() {
        // the Llama 3 template pipes content through |trim; the value is trimmed, not interpreted
        var t = new ChatTemplate(ChatTemplateTest.LLAMA3, "<B>", "<E>");
        String out = t.render(List.of(new CompletionRequest.Message("user", "  {{ 7*7 }} {% if x %}y{% endif %} ")));
        assertEquals("<B><|start_header_id|>user<|end_header_id|>\n\n{{ 7*7 }} {% if x %}y{% endif %}<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\n", out);
    }

    @Test
    void raiseExceptionWithClientTextEchoesItLiterally() {
        var t = new ChatTemplate("{{ raise_exception('bad message: ' + messages[0].content) }}", null, null);
        ApiError e = assertThrows(ApiError.class, () -> t.render(List.of(
                new CompletionRequest.Message("user", "{% include \"META-INF/MANIFEST.MF\" %}"))));
        assertTrue(e.getMessage().contains("bad message: {% include \"META-INF/MANIFEST.MF\" %}"), e.getMessage());
        assertFalse(e.getMessage().contains("Manifest-Version"), e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "{% include 'META-INF/MANIFEST.MF' %}",
        "{% import 'META-INF/MANIFEST.MF' as m %}{{ m }}",
        "{% from 'META-INF/MANIFEST.MF' import x %}{{ x() }}",
        "{% extends 'META-INF/MANIFEST.MF' %}",
        "{{ '{% include \"META-INF/MANIFEST.MF\" %}'|render }}",
    })
    void theTemplateCannotLoadFiles(String template) {
        var t = new ChatTemplate(template, null, null);
        ApiError e = assertThrows(ApiError.class, () -> t.render(ChatTemplateTest.MESSAGES));
        assertEquals(400, e.status());
        assertEquals("chat_template_error", e.code());
        assertTrue(e.getMessage().contains("is disabled"), e.getMessage());
        assertFalse(e.getMessage().contains("Manifest-Version"), e.getMessage());
    }

    @Test
    void nestedLoopsStopAtTheIterationCap() {
        var t = new ChatTemplate("{% for a in range(1000) %}{% for b in range(1000) %}{% for c in range(1000) %}"
                + "{{ a }}{% endfor %}{% endfor %}{% endfor %}", null, null);
        ApiError e = assertThrows(ApiError.class, () -> t.render(ChatTemplateTest.MESSAGES));
        assertEquals(400, e.status());
        assertEquals("messages", e.param());
        assertEquals("chat_template_limit", e.code());
        assertTrue(e.getMessage().contains("more than 1000000 iterations"), e.getMessage());
    }

    @Test
    void theIterationCapCountsLoopIterations() {
        // a loop over 10 messages plus one over 3 items: 13 iterations
        String template = "{% for m in messages %}{{ m.content }}{% endfor %}{% for i in range(3) %}{{ i }}{% endfor %}";
        List<CompletionRequest.Message> ten = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            ten.add(new CompletionRequest.Message("user", "m" + i));
        }
        var atCap = new ChatTemplate(template, null, null, new ChatTemplate.Limits(1000, 13, Duration.ofMinutes(1)));
        assertEquals("m0m1m2m3m4m5m6m7m8m9012", atCap.render(ten));
        var belowCap = new ChatTemplate(template, null, null, new ChatTemplate.Limits(1000, 12, Duration.ofMinutes(1)));
        ApiError e = assertThrows(ApiError.class, () -> belowCap.render(ten));
        assertTrue(e.getMessage().contains("more than 12 iterations"), e.getMessage());
    }

    @Test
    void outputStopsAtTheLengthCap() {
        var limits = new ChatTemplate.Limits(100, 1000, Duration.ofMinutes(1));
        var t = new ChatTemplate("{% for m in messages %}{{ m.content }}{% endfor %}", null, null, limits);
        assertEquals("x".repeat(100), t.render(List.of(new CompletionRequest.Message("user", "x".repeat(100)))));
        ApiError e = assertThrows(ApiError.class,
                () -> t.render(List.of(new CompletionRequest.Message("user", "x".repeat(101)))));
        assertEquals("chat_template_limit", e.code());
        assertTrue(e.getMessage().contains("longer than 100 characters"), e.getMessage());
    }

    @Test
    void aStringThatDoublesStopsAtTheLengthCap() {
        var t = new ChatTemplate("{% set s = 'xx' %}{% for i in range(64) %}{% set s = s + s %}{% endfor %}{{ s }}",
                null, null, new ChatTemplate.Limits(1 << 16, 1000, Duration.ofMinutes(1)));
        ApiError e = assertThrows(ApiError.class, () -> t.render(ChatTemplateTest.MESSAGES));
        assertEquals(400, e.status());
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void aRenderStopsAtTheTimeCap() {
        // 10^9 iterations with no iteration cap: only the (1 ms) time cap can stop it
        var t = new ChatTemplate("{% for a in range(1000) %}{% for b in range(1000) %}{% for c in range(1000) %}"
                + "{% endfor %}{% endfor %}{% endfor %}", null, null,
                new ChatTemplate.Limits(1000, Long.MAX_VALUE, Duration.ofMillis(1)));
        ApiError e = assertThrows(ApiError.class, () -> t.render(ChatTemplateTest.MESSAGES));
        assertEquals("chat_template_limit", e.code());
        assertTrue(e.getMessage().contains("ran longer than 1 ms"), e.getMessage());
    }

    @Test
    void limitsMustBePositive() {
        assertThrows(IllegalArgumentException.class, () -> new ChatTemplate.Limits(0, 1, Duration.ofSeconds(1)));
        assertThrows(IllegalArgumentException.class, () -> new ChatTemplate.Limits(1, 0, Duration.ofSeconds(1)));
        assertThrows(IllegalArgumentException.class, () -> new ChatTemplate.Limits(1, 1, Duration.ZERO));
    }
}
