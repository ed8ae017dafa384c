package io.rocketkv.examples.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rocketkv.api.chat.ChatTemplate;
import io.rocketkv.api.chat.Message;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The server's side of chat templates: the library's {@link ChatTemplate} renders (its tests, ChatTemplateTest and
 * ChatTemplateInjectionTest in rocketkv-api, cover the rendering and the sandbox), and the server answers its
 * errors with a 400 on {@code messages}.
 */
class ChatTemplateTest {

    /** Llama 3's format, the template the server tests put into the tiny checkpoint. */
    static final String LLAMA3 = "{{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + "
            + "message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}{% endfor %}"
            + "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";

    static final List<Message> MESSAGES = List.of(Message.system("Be brief."), Message.user(" Hi there "));

    @Test
    void aTemplateErrorIsABadRequestOnMessages() {
        ChatTemplate t = ChatTemplate.of("{% if messages[0]['role'] != 'user' %}{{ raise_exception('Conversations"
                + " must start with a user message') }}{% endif %}ok", null, null);
        ApiError e = assertThrows(ApiError.class, () -> ChatMessages.render(t, MESSAGES, true));
        assertEquals(400, e.status());
        assertEquals("messages", e.param());
        assertEquals("chat_template_error", e.code());
        assertTrue(e.getMessage().contains("Conversations must start with a user message"), e.getMessage());
        assertEquals("ok", ChatMessages.render(t, List.of(Message.user("x")), true));
    }

    @Test
    void aRenderStoppedByALimitIsABadRequestOnMessages() {
        ChatTemplate t = ChatTemplate.of("{% for m in messages %}{{ m.content }}{% endfor %}", null, null)
                .withLimits(new ChatTemplate.Limits(5, 1000, Duration.ofMinutes(1)));
        ApiError e = assertThrows(ApiError.class, () -> ChatMessages.render(t, MESSAGES, true));
        assertEquals(400, e.status());
        assertEquals("messages", e.param());
        assertEquals("chat_template_limit", e.code());
        assertTrue(e.getMessage().contains("longer than 5 characters"), e.getMessage());
    }

    @Test
    void messageContentStaysData() {
        ChatTemplate t = ChatTemplate.of(LLAMA3, "<B>", "<E>");
        assertEquals("<B><|start_header_id|>user<|end_header_id|>\n\n{{ 7*7 }}<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\n",
                ChatMessages.render(t, List.of(Message.user("{{ 7*7 }}")), true));
    }
}
