package io.rocketkv.examples.serve;

import static io.rocketkv.examples.serve.ServerFixture.JSON;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Every refused request gets its status and an OpenAI-style error body naming the field. */
class ErrorResponsesTest {

    @TempDir
    static Path dir;
    @TempDir
    static Path busyDir;
    @TempDir
    static Path smallPoolDir;
    static ServerFixture f;
    static ServerFixture noQueue;
    static ServerFixture smallPool;

    @BeforeAll
    static void start() throws Exception {
        f = ServerFixture.start(dir, null, 4096, 1024);
        noQueue = ServerFixture.start(busyDir, null, 1 << 20, 0); // every request finds the queue full
        smallPool = ServerFixture.start(smallPoolDir, null, 1 << 20, 1024, 256, 64); // 64 KV slots
    }

    @AfterAll
    static void stop() {
        f.close();
        noQueue.close();
        smallPool.close();
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            prompt wrong type      | {"prompt": 5}                                     | prompt      | invalid_type
            max_tokens wrong type  | {"prompt": "x", "max_tokens": "3"}                | max_tokens  | invalid_type
            max_tokens zero        | {"prompt": "x", "max_tokens": 0}                  | max_tokens  | invalid_value
            max_tokens negative    | {"prompt": "x", "max_tokens": -2}                 | max_tokens  | invalid_value
            temperature negative   | {"prompt": "x", "temperature": -1}                | temperature | invalid_value
            top_p above one        | {"prompt": "x", "top_p": 1.5}                     | top_p       | invalid_value
            stop wrong type        | {"prompt": "x", "stop": 3}                        | stop        | invalid_type
            stop empty string      | {"prompt": "x", "stop": [""]}                     | stop        | invalid_value
            n zero                 | {"prompt": "x", "n": 0}                           | n           | invalid_value
            stream wrong type      | {"prompt": "x", "stream": "yes"}                  | stream      | invalid_type
            logprobs too many      | {"prompt": "x", "logprobs": 50}                   | logprobs    | invalid_value
            prompt missing         | {"max_tokens": 3}                                 | prompt      | missing_field
            messages on completions| {"prompt": "x", "messages": []}                   | messages    | unknown_field
            """)
    void completionsBadRequests(String name, String body, String param, String code) throws Exception {
        assertError(f.post("/v1/completions", body), 400, param, code);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            messages wrong type | {"messages": "hi"}                                            | messages            | invalid_type
            message no content  | {"messages": [{"role": "user"}]}                              | messages[0].content | invalid_type
            message tool calls  | {"messages": [{"role": "assistant", "content": "x", "tool_calls": [{"id": "a"}]}]} | messages[0].tool_calls | not_supported
            prompt on chat      | {"prompt": "x", "messages": [{"role": "user", "content": "x"}]} | prompt            | unknown_field
            top_logprobs alone  | {"messages": [{"role": "user", "content": "x"}], "top_logprobs": 2} | top_logprobs  | invalid_value
            unknown role        | {"messages": [{"role": "user", "content": "x"}, {"role": "{{ 7*7 }}", "content": "x"}]} | messages[1].role | invalid_value
            role wrong case     | {"messages": [{"role": "User", "content": "x"}]}              | messages[0].role    | invalid_value
            role wrong type     | {"messages": [{"role": 1, "content": "x"}]}                   | messages[0].role    | invalid_type
            """)
    void chatBadRequests(String name, String body, String param, String code) throws Exception {
        assertError(f.post("/v1/chat/completions", body), 400, param, code);
    }

    @Test
    void malformedJson() throws Exception {
        JsonNode e = assertError(f.post("/v1/completions", "{\"prompt\": \"x\","), 400, null, "invalid_json");
        assertTrue(e.get("message").asText().contains("not valid JSON"));
        assertError(f.post("/v1/completions", "[1, 2]"), 400, null, "invalid_type");
        assertError(f.post("/v1/completions", ""), 400, null, "invalid_json");
    }

    @Test
    void promptLongerThanMaxSeqLen() throws Exception {
        String prompt = "a ".repeat(300); // 300+ tokens; max_seq_len is 256
        JsonNode e = assertError(f.post("/v1/completions", "{\"prompt\": \"" + prompt + "\"}"), 400, "prompt",
                "context_length_exceeded");
        assertTrue(e.get("message").asText().contains("max_seq_len of 256"), e.toString());
    }

    @Test
    void aRequestThatCanNeverFitThePoolIsRefusedUpFront() throws Exception {
        int prompt = smallPool.llm.tokenizer().encode("the cat", true).length;
        int most = 64 - prompt + 1; // slots: the prompt, then one per output but the last
        for (String stream : new String[] {"false", "true"}) {
            JsonNode e = assertError(smallPool.post("/v1/completions", "{\"prompt\": \"the cat\", \"max_tokens\": "
                    + (most + 1) + ", \"stream\": " + stream + "}"), 400, "prompt", "invalid_value");
            String m = e.get("message").asText();
            assertTrue(m.contains("needs " + 65 + " KV-cache slots") && m.contains("the whole pool holds (64 tokens")
                    && m.contains("lower max_tokens to at most " + most), m);
        }
        JsonNode ok = smallPool.postOk("/v1/completions", "{\"prompt\": \"the cat\", \"max_tokens\": " + most
                + ", \"temperature\": 0, \"ignore_eos\": true}");
        assertEquals(most, ok.get("usage").get("completion_tokens").asInt(), "the largest request that fits runs");
        // chat's default max_tokens is what the pool leaves, not what max_seq_len leaves
        JsonNode chat = smallPool.postOk("/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\":"
                + " \"hi\"}], \"temperature\": 0, \"ignore_eos\": true}");
        int chatPrompt = chat.get("usage").get("prompt_tokens").asInt();
        assertEquals(64 - chatPrompt, chat.get("usage").get("completion_tokens").asInt());
        smallPool.awaitIdle();
    }

    @Test
    void wrongModelIs404() throws Exception {
        assertError(f.post("/v1/completions", "{\"prompt\": \"x\", \"model\": \"gpt-4\"}"), 404, "model",
                "model_not_found");
    }

    @Test
    void bodyOverTheLimitIs413() throws Exception {
        String body = "{\"prompt\": \"" + "x".repeat(5000) + "\"}";
        assertError(f.post("/v1/completions", body), 413, null, "request_too_large");
        // a chunked body (no Content-Length) is cut off at the limit as well
        HttpResponse<String> r = f.http.send(HttpRequest.newBuilder(f.uri("/v1/completions"))
                .timeout(Duration.ofSeconds(30)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new java.io.ByteArrayInputStream(body.getBytes())))
                .build(), HttpResponse.BodyHandlers.ofString());
        assertError(r, 413, null, "request_too_large");
    }

    @Test
    void unknownPathIs404AndWrongMethodIs405() throws Exception {
        assertError(f.get("/v1/nothing"), 404, null, "not_found");
        HttpResponse<String> r = f.get("/v1/completions");
        assertError(r, 405, null, "method_not_allowed");
        assertEquals("POST", r.headers().firstValue("Allow").orElse(""));
        HttpResponse<String> m = f.post("/v1/models", "{}");
        assertError(m, 405, null, "method_not_allowed");
        assertEquals("GET", m.headers().firstValue("Allow").orElse(""));
    }

    @Test
    void fullQueueIs503WithRetryAfter() throws Exception {
        HttpResponse<String> r = noQueue.post("/v1/completions", "{\"prompt\": \"x\"}");
        assertError(r, 503, null, "overloaded");
        assertEquals("1", r.headers().firstValue("Retry-After").orElse(""));
    }

    @Test
    void errorsAreCountedInMetrics() throws Exception {
        f.post("/v1/completions", "{\"prompt\": 5}");
        String text = f.get("/metrics").body();
        assertTrue(text.contains("rocketkv_requests_total{endpoint=\"/v1/completions\",status=\"400\"} "), text);
    }

    private static JsonNode assertError(HttpResponse<String> r, int status, String param, String code) throws Exception {
        assertEquals(status, r.statusCode(), r.body());
        assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("application/json"));
        JsonNode e = JSON.readTree(r.body()).get("error");
        assertEquals(param, e.get("param").isNull() ? null : e.get("param").asText(), r.body());
        assertEquals(code, e.get("code").asText(), r.body());
        assertEquals(status == 503 ? "server_error" : status == 404 && param == null ? "not_found_error"
                : "invalid_request_error", e.get("type").asText());
        assertTrue(e.get("message").asText().length() > 10, r.body());
        return e;
    }
}
