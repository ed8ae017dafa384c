package io.rocketkv.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** LlmServe's {@code --chat-template}: a file, or the template text itself, as vLLM reads the option. */
class LlmServeTest {

    static final String TEMPLATE = "{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}";

    @TempDir
    Path dir;

    @Test
    void aTemplateOptionIsAFileOrTheTemplateText() throws Exception {
        Path file = Files.writeString(dir.resolve("t.jinja"), TEMPLATE);
        assertEquals(TEMPLATE, LlmServe.templateText(file.toString()));
        assertEquals(TEMPLATE, LlmServe.templateText(TEMPLATE));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> LlmServe.templateText(dir.resolve("missing.jinja").toString()));
        assertTrue(e.getMessage().contains("neither a file nor a template"), e.getMessage());
    }
}
