package io.rocketkv.examples.serve;

import static io.rocketkv.examples.serve.ServerFixture.JSON;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.rocketkv.api.SamplingParams;
import io.rocketkv.core.testing.TinyBpeTokenizer;
import java.io.InputStream;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * /v1/chat/completions on a checkpoint whose tokenizer_config.json has a Llama-3-style chat template: the
 * prompt the model sees is the template's rendering (BOS once, from the template), whole and streamed.
 */
class ChatEndpointTest {

    @TempDir
    static Path dir;
    @TempDir
    static Path plainDir;
    static ServerFixture f;
    static ServerFixture plain;

    static final String BODY = """
            {"model": "tiny", "messages": [{"role": "system", "content": "Be brief."},
             {"role": "user", "content": " the cat "}], "max_tokens": 10, "temperature": 0, "ignore_eos": true%s}""";
    static final String RENDERED = TinyBpeTokenizer.BOS + "<|start_header_id|>system<|end_header_id|>\n\nBe brief."
            + "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nthe cat<|eot_id|>"
            + "<|start_header_id|>assistant<|end_header_id|>\n\n";

    @BeforeAll
    static void start() throws Exception {
        f = ServerFixture.start(dir, ChatTemplateTest.LLAMA3, 1 << 20, 1024);
        plain = ServerFixture.start(plainDir);
    }

    @AfterAll
    static void stop() {
        f.close();
        plain.close();
    }

    @Test
    void theModelSeesTheRenderedTemplate() throws Exception {
        JsonNode r = f.postOk("/v1/chat/completions", BODY.formatted(""));
        int[] ids = f.llm.tokenizer().encode(RENDERED, false);
        assertEquals(TinyBpeTokenizer.bosId(), ids[0], "the template's BOS is the special token");
        assertTrue(ids[1] != TinyBpeTokenizer.bosId(), "BOS only once");
        assertEquals(ids.length, r.get("usage").get("prompt_tokens").asInt());
        var direct = f.llm.generateStream(ids, SamplingParams.builder().maxTokens(10).temperature(0.0).ignoreEos(true)
                .build(), null).join();
        assertArrayEquals(ids, direct.promptTokenIds());
        assertEquals("chat.completion", r.get("object").asText());
        JsonNode msg = r.get("choices").get(0).get("message");
        assertEquals("assistant", msg.get("role").asText());
        assertEquals(direct.output().text(), msg.get("content").asText());
        assertEquals(10, r.get("usage").get("completion_tokens").asInt());
    }

    @Test
    void streamedChatDeltasAddUpToTheWholeAnswer() throws Exception {
        String whole = f.postOk("/v1/chat/completions", BODY.formatted("")).get("choices").get(0).get("message")
                .get("content").asText();
        HttpResponse<InputStream> r = f.postStream("/v1/chat/completions", BODY.formatted(", \"stream\": true"));
        assertEquals(200, r.statusCode());
        List<String> events = ServerFixture.sseData(r.body());
        assertEquals("[DONE]", events.getLast());
        JsonNode first = JSON.readTree(events.getFirst());
        assertEquals("chat.completion.chunk", first.get("object").asText());
        assertEquals("assistant", first.get("choices").get(0).get("delta").get("role").asText());
        StringBuilder text = new StringBuilder();
        String finish = null;
        for (String e : events.subList(1, events.size() - 1)) {
            JsonNode choice = JSON.readTree(e).get("choices").get(0);
            text.append(choice.get("delta").path("content").asText(""));
            if (!choice.get("finish_reason").isNull()) {
                finish = choice.get("finish_reason").asText();
            }
        }
        assertEquals(whole, text.toString());
        assertEquals("length", finish);
        f.awaitIdle();
    }

    @Test
    void chatLogprobs() throws Exception {
        JsonNode r = f.postOk("/v1/chat/completions", BODY.formatted(", \"logprobs\": true, \"top_logprobs\": 3"));
        JsonNode content = r.get("choices").get(0).get("logprobs").get("content");
        assertEquals(10, content.size());
        assertEquals(3, content.get(0).get("top_logprobs").size());
        assertTrue(content.get(0).get("logprob").asDouble() <= 0);
    }

    @Test
    void streamedChatLogprobsCarryTheSameAlternativesAsTheWholeAnswer() throws Exception {
        String extra = ", \"logprobs\": true, \"top_logprobs\": 3";
        JsonNode whole = f.postOk("/v1/chat/completions", BODY.formatted(extra)).get("choices").get(0)
                .get("logprobs").get("content");
        assertEquals(10, whole.size());
        HttpResponse<InputStream> r = f.postStream("/v1/chat/completions",
                BODY.formatted(extra + ", \"stream\": true"));
        assertEquals(200, r.statusCode());
        List<String> events = ServerFixture.sseData(r.body());
        assertEquals("[DONE]", events.getLast());
        assertTrue(JSON.readTree(events.getFirst()).get("choices").get(0).get("logprobs").isNull(),
                "the role chunk carries no token");
        List<String> tokens = events.subList(1, events.size() - 1);
        assertEquals(10, tokens.size(), "one event per token");
        for (int i = 0; i < tokens.size(); i++) {
            JsonNode content = JSON.readTree(tokens.get(i)).get("choices").get(0).get("logprobs").get("content");
            String at = "token " + i + ": " + content;
            assertEquals(1, content.size(), at);
            JsonNode e = content.get(0);
            assertEquals(3, e.get("top_logprobs").size(), at);
            assertEquals(whole.get(i), e, at); // token, logprob and the alternatives in order
            assertEquals(e.get("logprob"), e.get("top_logprobs").get(0).get("logprob"), at + ": greedy picks the top");
        }
        f.awaitIdle();
    }

    @Test
    void withoutATemplateTheFallbackFormatIsUsed() throws Exception {
        JsonNode r = plain.postOk("/v1/chat/completions", BODY.formatted(""));
        int[] ids = plain.llm.tokenizer().encode("system: Be brief.\nuser:  the cat \nassistant:", true);
        assertEquals(ids.length, r.get("usage").get("prompt_tokens").asInt());
        var direct = plain.llm.generateStream(ids, SamplingParams.builder().maxTokens(10).temperature(0.0)
                .ignoreEos(true).build(), null).join();
        assertEquals(direct.output().text(), r.get("choices").get(0).get("message").get("content").asText());
    }

    @Test
    void templateSyntaxInAMessageReachesTheModelLiterally() throws Exception {
        String content = "{{ 7*7 }} {{ name }} {% include \"META-INF/MANIFEST.MF\" %} {% for a in range(1000) %}"
                + "{% for b in range(1000) %}{% for c in range(1000) %}x{% endfor %}{% endfor %}{% endfor %}";
        var body = JSON.createObjectNode().put("model", "tiny").put("max_tokens", 4).put("temperature", 0)
                .put("ignore_eos", true);
        body.putArray("messages").addObject().put("role", "user").put("content", content);
        JsonNode r = f.postOk("/v1/chat/completions", body.toString());
        String literal = TinyBpeTokenizer.BOS + "<|start_header_id|>user<|end_header_id|>\n\n" + content
                + "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n";
        int[] ids = f.llm.tokenizer().encode(literal, false);
        assertEquals(ids.length, r.get("usage").get("prompt_tokens").asInt());
        var direct = f.llm.generateStream(ids, SamplingParams.builder().maxTokens(4).temperature(0.0).ignoreEos(true)
                .build(), null).join();
        assertEquals(direct.output().text(), r.get("choices").get(0).get("message").get("content").asText());
        f.awaitIdle();
    }
}
