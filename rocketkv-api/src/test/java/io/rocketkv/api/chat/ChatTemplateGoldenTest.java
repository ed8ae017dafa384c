package io.rocketkv.api.chat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Llama 3, Llama 3.1, Qwen 2.5 and Qwen3 chat templates render exactly as transformers'
 * {@code apply_chat_template(messages, tokenize=False, add_generation_prompt=...)} renders them, on every conversation
 * of {@code chat/conversations.json}. The goldens come from {@code tools/chat_template_goldens/make_goldens.py}; the
 * Llama 3.1 and Qwen 2.5 templates are the files under {@code chat/templates}, given the special tokens of the
 * tokenizer fixture each golden names.
 */
class ChatTemplateGoldenTest {

    @TempDir
    Path dir;

    @Test
    void rendersAsTransformers() throws IOException {
        InputStream golden = ChatTemplateGoldenTest.class.getResourceAsStream("/chat/chat_template_goldens.json");
        assertNotNull(golden, "chat/chat_template_goldens.json is absent: run "
                + "python3 tools/chat_template_goldens/make_goldens.py where transformers is installed");
        ObjectMapper json = new ObjectMapper();
        JsonNode goldens = json.readTree(golden).get("goldens");
        JsonNode conversations = json.readTree(
                ChatTemplateGoldenTest.class.getResourceAsStream("/chat/conversations.json"));
        List<List<Message>> convs = ChatTemplateTest.conversations(conversations);
        int checked = 0;
        Set<String> templates = new TreeSet<>();
        for (JsonNode g : goldens) {
            ChatTemplate t = ChatTemplate.fromTokenizerConfig(
                    ChatTemplateTest.tokenizerConfig(dir.resolve(String.valueOf(checked)), g.get("tokenizer").asText()));
            JsonNode file = g.get("template_file");
            if (file != null && !file.isNull()) {
                t = t.withTemplate(resource("/chat/templates/" + file.asText()));
            }
            int index = indexOf(conversations, g.get("conversation").asText());
            boolean add = g.get("add_generation_prompt").asBoolean();
            String name = g.get("template").asText();
            assertEquals(g.get("text").asText(), t.render(convs.get(index), add),
                    name + ", " + g.get("conversation").asText() + ", add_generation_prompt " + add);
            templates.add(name);
            checked++;
        }
        assertEquals(Set.of("llama3", "llama3_1", "qwen2_5", "qwen3"), templates);
        assertEquals(templates.size() * conversations.size() * 2, checked,
                "every template, every conversation, both settings");
    }

    private static String resource(String name) throws IOException {
        try (InputStream in = ChatTemplateGoldenTest.class.getResourceAsStream(name)) {
            assertNotNull(in, name);
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private static int indexOf(JsonNode conversations, String name) {
        for (int i = 0; i < conversations.size(); i++) {
            if (conversations.get(i).get("name").asText().equals(name)) {
                return i;
            }
        }
        throw new AssertionError("the goldens name a conversation not in conversations.json: " + name);
    }
}
