package io.rocketkv.examples.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Chat templates rendered by Jinjava as Python's jinja2 renders them under Hugging Face's settings. */
class ChatTemplateTest {

    static final String CHATML = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
            + "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
            + "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    static final String LLAMA3 = "{{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + "
            + "message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}{% endfor %}"
            + "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";

    static final List<CompletionRequest.Message> MESSAGES = List.of(
            new CompletionRequest.Message("system", "Be brief."), new CompletionRequest.Message("user", " Hi there "));

    @Test
    void chatMlTemplate() {
        var t = new ChatTemplate(CHATML, "<s>", "</s>");
        assertEquals("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n Hi there <|im_end|>\n"
                + "<|im_start|>assistant\n", t.render(MESSAGES));
        assertTrue(t.hasTemplate());
    }

    @Test
    void llama3TemplateWithBosTokenAndTrimFilter() {
        var t = new ChatTemplate(LLAMA3, "<|begin_of_text|>", "<|end_of_text|>");
        assertEquals("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\n", t.render(MESSAGES));
    }

    @Test
    void trimBlocksAndLstripBlocksAsHuggingFaceSetsThem() {
        // jinja2 with trim_blocks drops the newline after a block tag; lstrip_blocks the indent before one
        var t = new ChatTemplate("{% for m in messages %}\n  {% if m.role == 'user' %}\n{{ m.role }}: {{ m.content }}\n"
                + "  {% endif %}\n{% endfor %}\n", null, null);
        assertEquals("user:  Hi there \n", t.render(MESSAGES));
    }

    @Test
    void raiseExceptionBecomesABadRequestNamingMessages() {
        var t = new ChatTemplate("{% if messages[0]['role'] != 'user' %}{{ raise_exception('Conversations must start"
                + " with a user message') }}{% endif %}ok", null, null);
        ApiError e = assertThrows(ApiError.class, () -> t.render(MESSAGES));
        assertEquals(400, e.status());
        assertEquals("messages", e.param());
        assertTrue(e.getMessage().contains("Conversations must start with a user message"), e.getMessage());
        assertEquals("ok", t.render(List.of(new CompletionRequest.Message("user", "x"))));
    }

    @Test
    void fallbackFormatWithoutATemplate() {
        var t = new ChatTemplate(null, null, null);
        assertFalse(t.hasTemplate());
        assertEquals("system: Be brief.\nuser:  Hi there \nassistant:", t.render(MESSAGES));
    }
}
