package io.rocketkv.examples.serve;

import static io.rocketkv.examples.serve.ServerFixture.JSON;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.rocketkv.api.RequestOutput;
import io.rocketkv.api.SamplingParams;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** /v1/completions (whole and streamed), /v1/models, /health and /metrics against the real server. */
class CompletionsEndpointTest {

    @TempDir
    static Path dir;
    static ServerFixture f;

    @BeforeAll
    static void start() throws Exception {
        f = ServerFixture.start(dir);
    }

    @AfterAll
    static void stop() {
        f.close();
    }

    @Test
    void greedyCompletionEqualsTheLlmApi() throws Exception {
        String prompt = "the cat and the hat";
        JsonNode r = f.postOk("/v1/completions", """
                {"model": "tiny", "prompt": "the cat and the hat", "max_tokens": 12, "temperature": 0, "ignore_eos": true}""");
        RequestOutput direct = f.llm.generate(prompt, SamplingParams.builder().maxTokens(12).temperature(0.0)
                .ignoreEos(true).build());
        assertEquals("text_completion", r.get("object").asText());
        assertEquals("tiny", r.get("model").asText());
        JsonNode choice = r.get("choices").get(0);
        assertEquals(direct.output().text(), choice.get("text").asText());
        assertEquals("length", choice.get("finish_reason").asText());
        assertEquals(12, r.get("usage").get("completion_tokens").asInt());
        assertEquals(direct.promptTokenIds().length, r.get("usage").get("prompt_tokens").asInt());
        assertEquals(r.get("usage").get("prompt_tokens").asInt() + 12, r.get("usage").get("total_tokens").asInt());
        assertTrue(choice.get("logprobs").isNull());
        f.awaitIdle();
    }

    @Test
    void logprobsAndStopStrings() throws Exception {
        JsonNode r = f.postOk("/v1/completions", """
                {"prompt": ["the house of"], "max_tokens": 5, "temperature": 0, "logprobs": 2, "ignore_eos": true}""");
        JsonNode lp = r.get("choices").get(0).get("logprobs");
        assertEquals(5, lp.get("tokens").size());
        assertEquals(5, lp.get("token_logprobs").size());
        assertEquals(2, lp.get("top_logprobs").get(0).size());
        assertTrue(lp.get("token_logprobs").get(0).asDouble() <= 0);
        // a stop string taken from the greedy output ends it there
        String full = f.postOk("/v1/completions", """
                {"prompt": "the house of", "max_tokens": 20, "temperature": 0, "ignore_eos": true}""")
                .get("choices").get(0).get("text").asText();
        String stop = full.substring(full.length() / 2, full.length() / 2 + 1);
        int at = full.indexOf(stop);
        JsonNode s = f.postOk("/v1/completions", "{\"prompt\": \"the house of\", \"max_tokens\": 20, \"temperature\": 0,"
                + " \"ignore_eos\": true, \"stop\": " + JSON.writeValueAsString(List.of(stop)) + "}");
        assertEquals(full.substring(0, at), s.get("choices").get(0).get("text").asText());
        assertEquals("stop", s.get("choices").get(0).get("finish_reason").asText());
    }

    @Test
    void streamedDeltasAddUpToTheGreedyText() throws Exception {
        String body = """
                {"prompt": "in the house of Irene", "max_tokens": 24, "temperature": 0, "ignore_eos": true%s}""";
        String whole = f.postOk("/v1/completions", body.formatted("")).get("choices").get(0).get("text").asText();
        HttpResponse<java.io.InputStream> r = f.postStream("/v1/completions", body.formatted(", \"stream\": true"));
        assertEquals(200, r.statusCode());
        assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("text/event-stream"),
                r.headers().toString());
        List<String> events = ServerFixture.sseData(r.body());
        assertEquals("[DONE]", events.getLast());
        StringBuilder text = new StringBuilder();
        String finish = null;
        for (String e : events.subList(0, events.size() - 1)) {
            JsonNode c = JSON.readTree(e);
            assertEquals("text_completion", c.get("object").asText());
            JsonNode choice = c.get("choices").get(0);
            text.append(choice.get("text").asText());
            if (!choice.get("finish_reason").isNull()) {
                finish = choice.get("finish_reason").asText();
            }
        }
        assertEquals(24, events.size() - 1, "one event per token");
        assertEquals(whole, text.toString());
        assertEquals("length", finish);
        f.awaitIdle();
    }

    @Test
    void streamedLogprobsCarryTheSameAlternativesAsTheWholeResponse() throws Exception {
        String body = """
                {"prompt": "the house of", "max_tokens": 8, "temperature": 0, "logprobs": 3, "ignore_eos": true%s}""";
        JsonNode whole = f.postOk("/v1/completions", body.formatted("")).get("choices").get(0).get("logprobs");
        HttpResponse<java.io.InputStream> r = f.postStream("/v1/completions", body.formatted(", \"stream\": true"));
        assertEquals(200, r.statusCode());
        List<String> events = ServerFixture.sseData(r.body());
        assertEquals("[DONE]", events.getLast());
        List<String> chunks = events.subList(0, events.size() - 1);
        assertEquals(8, chunks.size(), "one event per token");
        for (int i = 0; i < chunks.size(); i++) {
            JsonNode lp = JSON.readTree(chunks.get(i)).get("choices").get(0).get("logprobs");
            String at = "token " + i + ": " + lp;
            assertEquals(1, lp.get("tokens").size(), at);
            assertEquals(whole.get("tokens").get(i), lp.get("tokens").get(0), at);
            assertEquals(whole.get("token_logprobs").get(i), lp.get("token_logprobs").get(0), at);
            JsonNode top = lp.get("top_logprobs").get(0);
            JsonNode wholeTop = whole.get("top_logprobs").get(i);
            // token texts that decode alike (such as partial UTF-8 bytes, shown as U+FFFD) share one key
            assertTrue(top.size() >= 1 && top.size() <= 3, at);
            assertEquals(wholeTop, top, at);
            assertEquals(fieldNames(wholeTop), fieldNames(top), at + ": most likely first");
        }
        f.awaitIdle();
    }

    private static List<String> fieldNames(JsonNode o) {
        List<String> names = new java.util.ArrayList<>();
        o.fieldNames().forEachRemaining(names::add);
        return names;
    }

    @Test
    void modelsHealthAndMetrics() throws Exception {
        JsonNode models = JSON.readTree(f.get("/v1/models").body());
        assertEquals("tiny", models.get("data").get(0).get("id").asText());
        assertEquals(256, models.get("data").get(0).get("max_model_len").asInt());
        HttpResponse<String> health = f.get("/health");
        assertEquals(200, health.statusCode());
        f.postOk("/v1/completions", "{\"prompt\": \"the\", \"max_tokens\": 3, \"ignore_eos\": true}");
        // a prompt sent twice: the second is served from the prefix cache (block reuse is on by default)
        String longPrompt = "{\"prompt\": \"" + "the cat and the hat in the house of Irene ".repeat(4)
                + "\", \"max_tokens\": 2, \"ignore_eos\": true}";
        f.postOk("/v1/completions", longPrompt);
        JsonNode again = f.postOk("/v1/completions", longPrompt);
        int cachedTokens = again.get("usage").get("prompt_tokens_details").get("cached_tokens").asInt();
        assertTrue(cachedTokens > 0 && cachedTokens < again.get("usage").get("prompt_tokens").asInt(),
                again.toString());
        HttpResponse<String> m = f.get("/metrics");
        assertEquals(200, m.statusCode());
        assertTrue(m.headers().firstValue("Content-Type").orElse("").startsWith("text/plain"));
        String text = m.body();
        assertTrue(text.contains("rocketkv_requests_total{endpoint=\"/v1/completions\",status=\"200\"} "), text);
        assertTrue(text.contains("rocketkv_requests_total{endpoint=\"/health\",status=\"200\"} 1"), text);
        assertTrue(metric(text, "rocketkv_generation_tokens_total") >= 3, text);
        assertTrue(metric(text, "rocketkv_prompt_tokens_total") >= 2, text);
        assertEquals(f.llm.kvBlocksTotal(), metric(text, "rocketkv_kv_cache_blocks_total"));
        assertFalse(text.contains("rocketkv_kv_cache_blocks_in_use -"));
        assertTrue(text.contains("# TYPE rocketkv_requests_waiting gauge"));
        assertTrue(text.contains("# TYPE rocketkv_requests_running gauge"));
        assertTrue(metric(text, "rocketkv_prefix_cache_hits_total") >= cachedTokens, text);
        assertTrue(metric(text, "rocketkv_prefix_cache_queries_total") > metric(text, "rocketkv_prefix_cache_hits_total"));
        assertTrue(metric(text, "rocketkv_kv_cache_blocks_cached") > 0, text);
        assertTrue(text.contains("# TYPE rocketkv_prefix_cache_hit_rate gauge\nrocketkv_prefix_cache_hit_rate 0."), text);
    }

    static long metric(String text, String name) {
        for (String line : text.split("\n")) {
            if (line.startsWith(name + " ")) {
                return (long) Double.parseDouble(line.substring(name.length() + 1).trim()); // Prometheus writes 5.0
            }
        }
        throw new AssertionError("no metric " + name + " in\n" + text);
    }
}
