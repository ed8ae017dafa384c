package io.rocketkv.examples.serve;

import static io.rocketkv.examples.serve.ServerFixture.JSON;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.openai.client.OpenAIClient;
import com.openai.core.JsonValue;
import com.openai.core.http.StreamResponse;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import com.openai.models.completions.Completion;
import com.openai.models.completions.CompletionCreateParams;
import io.rocketkv.api.Backend;
import io.rocketkv.api.KvCacheConfig;
import io.rocketkv.api.LLM;
import io.rocketkv.api.PromptLogprob;
import io.rocketkv.api.RequestOutput;
import io.rocketkv.api.SamplingParams;
import io.rocketkv.api.chat.Message;
import io.rocketkv.core.testing.RandomCheckpoint;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Streams with {@code n} = 2 through the official OpenAI Java client (completions and chat): the two choices' chunks
 * interleave, each names its {@code index} and ends with its own {@code finish_reason} chunk, each choice's text is the
 * library's completion of the same seeded request, and the usage chunk sums both. A server whose LLM has
 * {@code stream_interval} 3 sends chunks of 3 tokens (the rest in the last) whose logprobs add up to the whole answer's.
 * {@code prompt_logprobs} comes back in vLLM's shape (per completions choice, once per chat answer), equal to the
 * library's {@code RequestOutput.promptLogprobs()}.
 */
class StreamedChoicesTest {

    private static final int INTERVAL = 3;

    @TempDir
    static Path dir;
    static ServerFixture f;
    static ServerFixture every3;
    static OpenAIClient client;

    @BeforeAll
    static void start() throws Exception {
        f = ServerFixture.start(dir.resolve("plain"), ChatTemplateTest.LLAMA3, 1 << 20, 1024);
        Path model = dir.resolve("interval");
        RandomCheckpoint.builder().maxPositions(256).build().write(model);
        LLM llm = LLM.builder().model(model).backend(Backend.CPU).maxSeqLen(256).maxBatchSize(16)
                .kvCacheConfig(KvCacheConfig.builder().maxTokens(4096).build()).streamInterval(INTERVAL).build();
        every3 = ServerFixture.serve(llm, model, new OpenAiServer.Options("127.0.0.1", 0, ServerFixture.NAME,
                1 << 20, 1024));
        client = f.openAiClient();
    }

    @AfterAll
    static void stop() {
        every3.close();
        client.close();
        f.close();
    }

    private static SamplingParams seeded(int maxTokens) {
        return SamplingParams.builder().maxTokens(maxTokens).temperature(1.0).seed(11L).n(2).ignoreEos(true).build();
    }

    @Test
    void completionsStreamTwoInterleavedChoices() {
        CompletionCreateParams params = CompletionCreateParams.builder().model("tiny").prompt("the cat and the hat")
                .maxTokens(5).temperature(1.0).seed(11L).n(2L).putAdditionalBodyProperty("ignore_eos", JsonValue.from(true))
                .streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build()).build();
        List<Completion> chunks = new ArrayList<>();
        try (StreamResponse<Completion> s = client.completions().createStreaming(params)) {
            s.stream().forEach(chunks::add);
        }
        RequestOutput expected = f.llm.generateStream(f.llm.tokenizer().encode("the cat and the hat", true),
                seeded(5), null).join();
        StringBuilder[] text = {new StringBuilder(), new StringBuilder()};
        int[] finished = new int[2];
        List<Integer> order = new ArrayList<>();
        for (Completion c : chunks.subList(0, chunks.size() - 1)) {
            assertEquals(1, c.choices().size());
            var choice = c.choices().getFirst();
            int i = (int) choice.index();
            assertEquals(0, finished[i], "choice " + i + " has a chunk after its finish_reason chunk");
            order.add(i);
            text[i].append(choice.text());
            finished[i] += choice._finishReason().asKnown().isPresent() ? 1 : 0;
        }
        for (int i = 0; i < 2; i++) {
            assertEquals(1, finished[i], "choice " + i + ": one finish_reason chunk");
            assertEquals(expected.outputs().get(i).text(), text[i].toString(), "choice " + i);
        }
        assertTrue(order.indexOf(1) < order.lastIndexOf(0), "the choices interleave: " + order);
        Completion usage = chunks.getLast();
        assertTrue(usage.choices().isEmpty());
        assertEquals(10, usage.usage().orElseThrow().completionTokens(), "both choices' tokens");
        assertEquals(expected.metrics().generatedTokens(), usage.usage().orElseThrow().completionTokens());
    }

    @Test
    void chatStreamsTwoChoicesEachWithItsRoleAndFinish() {
        ChatCompletionCreateParams params = ChatCompletionCreateParams.builder().model("tiny").addUserMessage("the cat")
                .maxCompletionTokens(4).temperature(1.0).seed(11L).n(2L)
                .putAdditionalBodyProperty("ignore_eos", JsonValue.from(true))
                .streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build()).build();
        StringBuilder[] text = {new StringBuilder(), new StringBuilder()};
        int[] roles = new int[2];
        int[] finished = new int[2];
        List<ChatCompletionChunk> chunks = new ArrayList<>();
        try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(params)) {
            s.stream().forEach(chunks::add);
        }
        for (ChatCompletionChunk c : chunks) {
            for (var choice : c.choices()) {
                int i = (int) choice.index();
                assertEquals(0, finished[i], "choice " + i + " has a chunk after its finish_reason chunk");
                choice.delta().content().ifPresent(text[i]::append);
                roles[i] += choice.delta().role().isPresent() ? 1 : 0;
                finished[i] += choice.finishReason().isPresent() ? 1 : 0;
            }
        }
        RequestOutput expected = f.llm.chat(List.of(Message.user("the cat")), seeded(4));
        for (int i = 0; i < 2; i++) {
            assertEquals(1, roles[i], "choice " + i + ": one role chunk");
            assertEquals(1, finished[i], "choice " + i + ": one finish_reason chunk");
            assertEquals(expected.outputs().get(i).text(), text[i].toString(), "choice " + i);
        }
        assertEquals(8, chunks.getLast().usage().orElseThrow().completionTokens());
    }

    @Test
    void bestOfAboveNStreamedIsA400NamingBestOf() throws Exception {
        HttpResponse<String> r = f.post("/v1/completions", "{\"prompt\": \"x\", \"n\": 2, \"best_of\": 3,"
                + " \"stream\": true}");
        assertEquals(400, r.statusCode(), r.body());
        JsonNode e = JSON.readTree(r.body()).get("error");
        assertEquals("best_of", e.get("param").asText());
        assertEquals("not_supported", e.get("code").asText());
        assertTrue(e.get("message").asText().contains("'best_of' (3) above 'n' (2) is not supported with"
                + " \"stream\": true"), r.body());
    }

    @Test
    void streamIntervalSendsChunksOfThatManyTokens() throws Exception {
        String body = "{\"prompt\": \"the cat\", \"max_tokens\": 8, \"temperature\": 0, \"ignore_eos\": true,"
                + " \"logprobs\": 2";
        JsonNode whole = every3.postOk("/v1/completions", body + "}").get("choices").get(0);
        var r = every3.postStream("/v1/completions", body + ", \"stream\": true}");
        assertEquals(200, r.statusCode());
        List<String> events = ServerFixture.sseData(r.body());
        assertEquals("[DONE]", events.getLast());
        List<JsonNode> choices = new ArrayList<>();
        for (String e : events.subList(0, events.size() - 1)) {
            choices.add(JSON.readTree(e).get("choices").get(0));
        }
        assertEquals(3, choices.size(), "8 tokens in chunks of 3, 3, 2");
        StringBuilder text = new StringBuilder();
        List<JsonNode> tokenLogprobs = new ArrayList<>();
        for (int i = 0; i < choices.size(); i++) {
            JsonNode c = choices.get(i);
            assertEquals(i < 2 ? INTERVAL : 2, c.get("logprobs").get("tokens").size(), "chunk " + i);
            assertEquals(i < 2, c.get("finish_reason").isNull(), "only the last chunk finishes");
            text.append(c.get("text").asText());
            c.get("logprobs").get("token_logprobs").forEach(tokenLogprobs::add);
        }
        assertEquals(whole.get("text").asText(), text.toString());
        List<JsonNode> wholeLogprobs = new ArrayList<>();
        whole.get("logprobs").get("token_logprobs").forEach(wholeLogprobs::add);
        assertEquals(wholeLogprobs, tokenLogprobs, "the chunks' logprobs are the whole answer's");
    }

    @Test
    void promptLogprobsInVllmsShape() throws Exception {
        int[] ids = f.llm.tokenizer().encode("the cat and the hat", true);
        List<PromptLogprob> expected = f.llm.generateStream(ids, SamplingParams.builder().maxTokens(2)
                .temperature(0.0).promptLogprobs(2).build(), null).join().promptLogprobs();
        JsonNode choice = f.postOk("/v1/completions", "{\"prompt\": \"the cat and the hat\", \"max_tokens\": 2,"
                + " \"temperature\": 0, \"prompt_logprobs\": 2}").get("choices").get(0);
        checkPromptLogprobs(expected, choice.get("prompt_logprobs"));
        JsonNode chat = f.postOk("/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\":"
                + " \"the cat\"}], \"max_tokens\": 2, \"temperature\": 0, \"prompt_logprobs\": 2}");
        RequestOutput chatExpected = f.llm.chat(List.of(Message.user("the cat")), SamplingParams.builder().maxTokens(2)
                .temperature(0.0).promptLogprobs(2).build());
        checkPromptLogprobs(chatExpected.promptLogprobs(), chat.get("prompt_logprobs"));
        JsonNode plain = f.postOk("/v1/completions", "{\"prompt\": \"the cat\", \"max_tokens\": 1}");
        assertTrue(plain.get("choices").get(0).get("prompt_logprobs") == null, "absent unless asked for");
    }

    /** Entry p: an object keyed by token id holding the prompt token (its rank) and the top alternatives (ranks). */
    private static void checkPromptLogprobs(List<PromptLogprob> expected, JsonNode got) {
        assertEquals(expected.size(), got.size());
        assertTrue(got.get(0).isNull(), "the first prompt token has none");
        for (int p = 1; p < expected.size(); p++) {
            PromptLogprob e = expected.get(p);
            JsonNode at = got.get(p);
            JsonNode self = at.get(Integer.toString(e.tokenId()));
            assertEquals(e.logprob(), self.get("logprob").floatValue(), 0f, "position " + p);
            assertEquals(e.rank(), self.get("rank").asInt());
            assertEquals(f.llm.tokenizer().decode(new int[] {e.tokenId()}, false), self.get("decoded_token").asText());
            for (int r = 0; r < e.top().size(); r++) {
                JsonNode alt = at.get(Integer.toString(e.top().get(r).tokenId()));
                assertEquals(e.top().get(r).logprob(), alt.get("logprob").floatValue(), 0f);
                if (e.top().get(r).tokenId() != e.tokenId()) {
                    assertEquals(r + 1, alt.get("rank").asInt());
                }
            }
            assertEquals(e.top().size() + (e.rank() <= e.top().size() ? 0 : 1), at.size(), "position " + p);
        }
    }
}
