package io.rocketkv.api.chat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Llama 3 and Qwen3 chat templates render exactly as transformers' {@code apply_chat_template(messages,
 * tokenize=False, add_generation_prompt=...)} renders them, on every conversation of {@code chat/conversations.json}.
 * The goldens come from {@code tools/chat_template_goldens/make_goldens.py} (it needs transformers); without the
 * golden file this test is skipped.
 */
class ChatTemplateGoldenTest {

    @TempDir
    Path dir;

    @Test
    void rendersAsTransformers() throws IOException {
        InputStream golden = ChatTemplateGoldenTest.class.getResourceAsStream("/chat/chat_template_goldens.json");
        Assumptions.assumeTrue(golden != null, "chat/chat_template_goldens.json is absent: run "
                + "python3 tools/chat_template_goldens/make_goldens.py where transformers is installed");
        ObjectMapper json = new ObjectMapper();
        JsonNode goldens = json.readTree(golden).get("goldens");
        JsonNode conversations = json.readTree(
                ChatTemplateGoldenTest.class.getResourceAsStream("/chat/conversations.json"));
        List<List<Message>> convs = ChatTemplateTest.conversations(conversations);
        int checked = 0;
        for (JsonNode g : goldens) {
            ChatTemplate t = ChatTemplate.fromTokenizerConfig(
                    ChatTemplateTest.tokenizerConfig(dir.resolve(String.valueOf(checked)), g.get("tokenizer").asText()));
            int index = indexOf(conversations, g.get("conversation").asText());
            boolean add = g.get("add_generation_prompt").asBoolean();
            assertEquals(g.get("text").asText(), t.render(convs.get(index), add),
                    g.get("tokenizer").asText() + ", " + g.get("conversation").asText() + ", add_generation_prompt "
                            + add);
            checked++;
        }
        assertTrue(checked >= 20, "goldens for both tokenizers, every conversation, both settings: " + checked);
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
