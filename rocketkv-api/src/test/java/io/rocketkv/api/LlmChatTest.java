package io.rocketkv.api;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.rocketkv.api.chat.ChatTemplate;
import io.rocketkv.api.chat.ChatTemplateException;
import io.rocketkv.api.chat.ChatTemplateTest;
import io.rocketkv.api.chat.Message;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code LLM.chat}: the conversation rendered by the chat template, then generated from as that prompt's tokens. */
class LlmChatTest {

    static final String CHATML = ChatTemplateTest.CHATML;

    static final List<Message> CONVERSATION = List.of(Message.system("the cat"), Message.user("in the house"));

    @TempDir
    Path dir;

    @Test
    void chatIsGenerateOnTheRenderedPromptsTokens() throws Exception {
        Path model = TinyLlm.write(dir);
        try (LLM llm = LLM.builder().model(model).backend(Backend.CPU).chatTemplate(CHATML)
                .kvCacheConfig(KvCacheConfig.builder().maxTokens(4096).build()).maxBatchSize(4).build()) {
            String rendered = ChatTemplate.of(CHATML, null, null).render(CONVERSATION, true);
            assertEquals(CHATML, llm.chatTemplate().template());
            SamplingParams p = TinyLlm.greedy(6).build();
            RequestOutput chat = llm.chat(CONVERSATION, p);
            int[] ids = llm.tokenizer().encode(rendered, false); // the template's text, no BOS added
            RequestOutput direct = llm.generateStream(ids, p, null).get();
            assertEquals(rendered, chat.prompt());
            assertArrayEquals(ids, chat.promptTokenIds());
            assertArrayEquals(direct.output().tokenIds(), chat.output().tokenIds());
            List<String> deltas = new ArrayList<>();
            RequestOutput streamed = llm.chatStream(CONVERSATION, p, c -> deltas.add(c.textDelta())).get();
            assertArrayEquals(chat.output().tokenIds(), streamed.output().tokenIds());
            assertEquals(chat.output().text(), String.join("", deltas));
        }
    }

    @Test
    void withoutATemplateTheFallbackFormatGetsSpecialTokens() throws Exception {
        Path model = TinyLlm.write(dir);
        try (LLM llm = TinyLlm.open(model)) {
            assertFalse(llm.chatTemplate().hasTemplate());
            RequestOutput chat = llm.chat(CONVERSATION, TinyLlm.greedy(2).build());
            assertEquals("system: the cat\nuser: in the house\nassistant:", chat.prompt());
            assertArrayEquals(llm.tokenizer().encode(chat.prompt(), true), chat.promptTokenIds());
        }
    }

    @Test
    void aTemplateErrorIsAChatTemplateException() throws Exception {
        Path model = TinyLlm.write(dir);
        try (LLM llm = LLM.builder().model(model).backend(Backend.CPU).maxBatchSize(4)
                .kvCacheConfig(KvCacheConfig.builder().maxTokens(1024).build())
                .chatTemplate("{{ raise_exception('no system prompts here') }}").build()) {
            assertThrows(ChatTemplateException.class, () -> llm.chat(CONVERSATION, TinyLlm.greedy(2).build()));
        }
    }
}
