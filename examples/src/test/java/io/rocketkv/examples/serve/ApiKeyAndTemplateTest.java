package io.rocketkv.examples.serve;

import io.rocketkv.api.chat.Message;
import io.rocketkv.api.chat.ChatTemplate;
import static io.rocketkv.examples.serve.ServerFixture.JSON;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.errors.UnauthorizedException;
import com.openai.models.completions.CompletionCreateParams;
import io.rocketkv.api.Backend;
import io.rocketkv.api.LLM;
import io.rocketkv.core.testing.RandomCheckpoint;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --api-key}: /v1 requests without the bearer token get an OpenAI-shaped 401, the other endpoints stay open
 * (as in vLLM). A chat template override (LLM.Builder.chatTemplate, what {@code --chat-template} sets) renders
 * instead of the checkpoint's.
 */
class ApiKeyAndTemplateTest {

    static final String KEY = "sk-test-123";
    /** A template unlike the checkpoint's (which has none): each message as [role] content. */
    static final String OVERRIDE = "{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}"
            + "{% if add_generation_prompt %}[assistant]{% endif %}";

    @TempDir
    static Path dir;
    static ServerFixture f;

    @BeforeAll
    static void start() throws Exception {
        RandomCheckpoint.tiny().write(dir);
        LLM llm = LLM.builder().model(dir).backend(Backend.CPU).maxSeqLen(256).chatTemplate(OVERRIDE).build();
        f = new ServerFixture(llm, OpenAiServer.start(llm, new OpenAiServer.Options("127.0.0.1", 0,
                ServerFixture.NAME, 1 << 20, 1024).withApiKey(KEY)));
    }

    @AfterAll
    static void stop() {
        f.close();
    }

    private HttpResponse<String> post(String path, String auth) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(f.uri(path)).timeout(Duration.ofSeconds(30))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"prompt\": \"the cat\", \"max_tokens\": 2}"));
        if (auth != null) {
            b.header("Authorization", auth);
        }
        return f.http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void v1NeedsTheBearerToken() throws Exception {
        for (String auth : new String[] {null, "Bearer wrong", "Bearer " + KEY + "x", KEY, "bearer " + KEY}) {
            HttpResponse<String> r = post("/v1/completions", auth);
            assertEquals(401, r.statusCode(), String.valueOf(auth));
            JsonNode e = JSON.readTree(r.body()).get("error");
            assertEquals("invalid_api_key", e.get("code").asText());
            assertEquals("invalid_request_error", e.get("type").asText());
            assertTrue(e.get("param").isNull());
            assertEquals("Bearer", r.headers().firstValue("WWW-Authenticate").orElse(""));
        }
        assertEquals(200, post("/v1/completions", "Bearer " + KEY).statusCode());
        assertEquals(401, f.get("/v1/models").statusCode());
    }

    @Test
    void theOtherEndpointsAreOpenAsInVllm() throws Exception {
        assertEquals(200, f.get("/health").statusCode());
        assertEquals(200, f.get("/metrics").statusCode());
        assertEquals(200, f.get("/version").statusCode());
        assertEquals(200, f.post("/tokenize", "{\"prompt\": \"x\"}").statusCode());
        assertTrue(f.get("/metrics").body().contains("rocketkv_requests_total{endpoint=\"/v1/completions\",status=\"401\"}"));
    }

    @Test
    void theOpenAiClientSendsTheKey() {
        String base = "http://127.0.0.1:" + f.server.port() + "/v1";
        OpenAIClient good = OpenAIOkHttpClient.builder().baseUrl(base).apiKey(KEY).maxRetries(0).build();
        OpenAIClient bad = OpenAIOkHttpClient.builder().baseUrl(base).apiKey("nope").maxRetries(0).build();
        try {
            CompletionCreateParams p = CompletionCreateParams.builder().model("tiny").prompt("the cat").maxTokens(2)
                    .build();
            assertEquals(1, good.completions().create(p).choices().size());
            assertThrows(UnauthorizedException.class, () -> bad.completions().create(p));
        } finally {
            good.close();
            bad.close();
        }
    }

    @Test
    void theOverridingTemplateRenders() throws Exception {
        var messages = List.of(Message.system("Be brief."), Message.user("the cat"));
        String rendered = "[system] Be brief.\n[user] the cat\n[assistant]";
        HttpResponse<String> r = f.http.send(HttpRequest.newBuilder(f.uri("/tokenize"))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"messages\": [{\"role\": \"system\", \"content\":"
                        + " \"Be brief.\"}, {\"role\": \"user\", \"content\": \"the cat\"}],"
                        + " \"add_special_tokens\": false}")).build(), HttpResponse.BodyHandlers.ofString());
        JsonNode t = JSON.readTree(r.body());
        int[] expected = f.llm.tokenizer().encode(rendered, false);
        assertEquals(expected.length, t.get("count").asInt(), r.body());
        assertEquals(rendered, ChatTemplate.fromTokenizerConfig(dir).withTemplate(OVERRIDE).render(messages, true));
    }
}
