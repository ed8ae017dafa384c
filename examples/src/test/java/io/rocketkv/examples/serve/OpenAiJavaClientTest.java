package io.rocketkv.examples.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.JsonValue;
import com.openai.core.http.StreamResponse;
import com.openai.errors.BadRequestException;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.completions.Completion;
import com.openai.models.completions.CompletionCreateParams;
import io.rocketkv.api.SamplingParams;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The official OpenAI Java client talks to the server: completions, chat, streamed chat, an error. */
class OpenAiJavaClientTest {

    @TempDir
    static Path dir;
    static ServerFixture f;
    static OpenAIClient client;

    @BeforeAll
    static void start() throws Exception {
        f = ServerFixture.start(dir, ChatTemplateTest.LLAMA3, 1 << 20, 1024);
        client = OpenAIOkHttpClient.builder().baseUrl("http://127.0.0.1:" + f.server.port() + "/v1")
                .apiKey("unused").maxRetries(0).build();
    }

    @AfterAll
    static void stop() {
        client.close();
        f.close();
    }

    @Test
    void completion() {
        Completion c = client.completions().create(CompletionCreateParams.builder().model("tiny")
                .prompt("the cat and the hat").maxTokens(9).temperature(0.0)
                .putAdditionalBodyProperty("ignore_eos", JsonValue.from(true)).build());
        String direct = f.llm.generate("the cat and the hat", SamplingParams.builder().maxTokens(9).temperature(0.0)
                .ignoreEos(true).build()).output().text();
        assertEquals(direct, c.choices().getFirst().text());
        assertEquals(9, c.usage().orElseThrow().completionTokens());
    }

    @Test
    void chatWholeAndStreamed() {
        ChatCompletionCreateParams params = ChatCompletionCreateParams.builder().model("tiny")
                .addUserMessage("the cat").maxTokens(7).temperature(0.0)
                .putAdditionalBodyProperty("ignore_eos", JsonValue.from(true)).build();
        ChatCompletion whole = client.chat().completions().create(params);
        String text = whole.choices().getFirst().message().content().orElseThrow();
        StringBuilder streamed = new StringBuilder();
        try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(params)) {
            s.stream().forEach(chunk -> chunk.choices().forEach(ch -> ch.delta().content().ifPresent(streamed::append)));
        }
        assertEquals(text, streamed.toString());
        assertEquals(7, whole.usage().orElseThrow().completionTokens());
    }

    @Test
    void badRequestSurfacesAsTheClientsException() {
        BadRequestException e = assertThrows(BadRequestException.class, () -> client.completions().create(
                CompletionCreateParams.builder().model("tiny").prompt("x").maxTokens(0).build()));
        assertEquals(400, e.statusCode());
        assertTrue(e.getMessage().contains("max_tokens"), e.getMessage());
    }
}
