package io.rocketkv.api.chat;

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

    private static String chatMl(List<Message> messages) {
        StringBuilder sb = new StringBuilder();
        for (Message m : messages) {
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
        var t = ChatTemplate.of(ChatTemplateTest.CHATML, "<s>", "</s>");
        var messages = List.of(new Message("system", "sys " + payload), new Message("user", payload));
        assertEquals(chatMl(messages), t.render(messages, true));
    }

    @Test
    void contentIsLiteralWhereTheTemplateFiltersIt() {
        // the Llama 3 template pipes content through |trim; the value is trimmed, not interpreted
        var t = ChatTemplate.of(ChatTemplateTest.LLAMA3, "<B>", "<E>");
        String out = t.render(List.of(new Message("user", "  {{ 7*7 }} {% if x %}y{% endif %} ")), true);
        assertEquals("<B><|start_header_id|>user<|end_header_id|>\n\n{{ 7*7 }} {% if x %}y{% endif %}<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\n", out);
    }

    @Test
    void raiseExceptionWithClientTextEchoesItLiterally() {
        var t = ChatTemplate.of("{{ raise_exception('bad message: ' + messages[0].content) }}", null, null);
        ChatTemplateException e = assertThrows(ChatTemplateException.class, () -> t.render(List.of(
                new Message("user", "{% include \"META-INF/MANIFEST.MF\" %}")), true));
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
        var t = ChatTemplate.of(template, null, null);
        ChatTemplateException e = assertThrows(ChatTemplateException.class,
                () -> t.render(ChatTemplateTest.SYSTEM_AND_USER, true));
        assertEquals(ChatTemplateException.Reason.TEMPLATE_ERROR, e.reason());
        assertTrue(e.getMessage().contains("is disabled"), e.getMessage());
        assertFalse(e.getMessage().contains("Manifest-Version"), e.getMessage());
    }

    @Test
    void nestedLoopsStopAtTheIterationCap() {
        var t = ChatTemplate.of("{% for a in range(1000) %}{% for b in range(1000) %}{% for c in range(1000) %}"
                + "{{ a }}{% endfor %}{% endfor %}{% endfor %}", null, null);
        ChatTemplateException e = assertThrows(ChatTemplateException.class,
                () -> t.render(ChatTemplateTest.SYSTEM_AND_USER, true));
        assertEquals(ChatTemplateException.Reason.LIMIT, e.reason());
        assertTrue(e.getMessage().contains("more than 1000000 iterations"), e.getMessage());
    }

    @Test
    void theIterationCapCountsLoopIterations() {
        // a loop over 10 messages plus one over 3 items: 13 iterations
        String template = "{% for m in messages %}{{ m.content }}{% endfor %}{% for i in range(3) %}{{ i }}{% endfor %}";
        List<Message> ten = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            ten.add(new Message("user", "m" + i));
        }
        var atCap = ChatTemplate.of(template, null, null).withLimits(new ChatTemplate.Limits(1000, 13,
                Duration.ofMinutes(1)));
        assertEquals("m0m1m2m3m4m5m6m7m8m9012", atCap.render(ten, true));
        var belowCap = ChatTemplate.of(template, null, null).withLimits(new ChatTemplate.Limits(1000, 12,
                Duration.ofMinutes(1)));
        ChatTemplateException e = assertThrows(ChatTemplateException.class, () -> belowCap.render(ten, true));
        assertTrue(e.getMessage().contains("more than 12 iterations"), e.getMessage());
    }

    @Test
    void outputStopsAtTheLengthCap() {
        var limits = new ChatTemplate.Limits(100, 1000, Duration.ofMinutes(1));
        var t = ChatTemplate.of("{% for m in messages %}{{ m.content }}{% endfor %}", null, null).withLimits(limits);
        assertEquals("x".repeat(100), t.render(List.of(new Message("user", "x".repeat(100))), true));
        ChatTemplateException e = assertThrows(ChatTemplateException.class,
                () -> t.render(List.of(new Message("user", "x".repeat(101))), true));
        assertEquals(ChatTemplateException.Reason.LIMIT, e.reason());
        assertTrue(e.getMessage().contains("longer than 100 characters"), e.getMessage());
    }

    @Test
    void aStringThatDoublesStopsAtTheLengthCap() {
        var t = ChatTemplate.of("{% set s = 'xx' %}{% for i in range(64) %}{% set s = s + s %}{% endfor %}{{ s }}",
                null, null).withLimits(new ChatTemplate.Limits(1 << 16, 1000, Duration.ofMinutes(1)));
        assertThrows(ChatTemplateException.class, () -> t.render(ChatTemplateTest.SYSTEM_AND_USER, true));
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void aRenderStopsAtTheTimeCap() {
        // 10^9 iterations with no iteration cap: only the (1 ms) time cap can stop it
        var t = ChatTemplate.of("{% for a in range(1000) %}{% for b in range(1000) %}{% for c in range(1000) %}"
                + "{% endfor %}{% endfor %}{% endfor %}", null, null)
                .withLimits(new ChatTemplate.Limits(1000, Long.MAX_VALUE, Duration.ofMillis(1)));
        ChatTemplateException e = assertThrows(ChatTemplateException.class,
                () -> t.render(ChatTemplateTest.SYSTEM_AND_USER, true));
        assertEquals(ChatTemplateException.Reason.LIMIT, e.reason());
        assertTrue(e.getMessage().contains("ran longer than 1 ms"), e.getMessage());
    }

    @Test
    void limitsMustBePositive() {
        assertThrows(IllegalArgumentException.class, () -> new ChatTemplate.Limits(0, 1, Duration.ofSeconds(1)));
        assertThrows(IllegalArgumentException.class, () -> new ChatTemplate.Limits(1, 0, Duration.ofSeconds(1)));
        assertThrows(IllegalArgumentException.class, () -> new ChatTemplate.Limits(1, 1, Duration.ZERO));
    }
}
