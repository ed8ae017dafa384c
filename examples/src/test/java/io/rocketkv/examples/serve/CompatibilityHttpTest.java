package io.rocketkv.examples.serve;

import io.rocketkv.api.chat.Message;
import io.rocketkv.api.chat.ChatTemplate;
import static io.rocketkv.examples.serve.ServerFixture.JSON;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.rocketkv.api.RequestOutput;
import io.rocketkv.api.SamplingParams;
import io.rocketkv.core.testing.TinyBpeTokenizer;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * Raw HTTP: vLLM's /tokenize, /detokenize and /version, the refusals of the OpenAI fields (wrong types, conflicts,
 * unsupported values), the vLLM sampling fields with their effect (n over batched prompts, min_tokens, bad_words,
 * min_p, repetition_penalty, include_stop_str_in_output, skip_special_tokens), unknown fields ignored, and the
 * latency histograms of /metrics counting what was served.
 */
class CompatibilityHttpTest {

    @TempDir
    static Path dir;
    static ServerFixture f;

    @BeforeAll
    static void start() throws Exception {
        f = ServerFixture.start(dir, ChatTemplateTest.LLAMA3, 1 << 20, 1024);
    }

    @AfterAll
    static void stop() {
        f.close();
    }

    private static int[] ints(JsonNode a) {
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = a.get(i).asInt();
        }
        return out;
    }

    @Test
    void tokenizeGivesWhatACompletionSeesAndDetokenizeReverses() throws Exception {
        JsonNode t = f.postOk("/tokenize", "{\"prompt\": \"the cat and the hat\"}");
        int[] expected = f.llm.tokenizer().encode("the cat and the hat", true);
        assertArrayEquals(expected, ints(t.get("tokens")));
        assertEquals(expected.length, t.get("count").asInt());
        assertEquals(f.llm.maxSeqLen(), t.get("max_model_len").asInt());
        assertTrue(t.get("token_strs").isNull());
        JsonNode noBos = f.postOk("/tokenize", "{\"prompt\": \"the cat\", \"add_special_tokens\": false,"
                + " \"return_token_strs\": true}");
        int[] plain = f.llm.tokenizer().encode("the cat", false);
        assertArrayEquals(plain, ints(noBos.get("tokens")));
        assertEquals(f.llm.tokenizer().idToToken(plain[0]), noBos.get("token_strs").get(0).asText());
        JsonNode back = f.postOk("/detokenize", "{\"tokens\": " + noBos.get("tokens") + "}");
        assertEquals(f.llm.tokenizer().decode(plain, false), back.get("prompt").asText());
        // a completion of the same prompt counts the same prompt tokens
        JsonNode c = f.postOk("/v1/completions", "{\"prompt\": \"the cat and the hat\", \"max_tokens\": 1}");
        assertEquals(expected.length, c.get("usage").get("prompt_tokens").asInt());
    }

    @Test
    void tokenizeMessagesRendersTheChatTemplate() throws Exception {
        String messages = "[{\"role\": \"system\", \"content\": \"Be brief.\"}, {\"role\": \"user\", \"content\":"
                + " \"the cat\"}]";
        JsonNode t = f.postOk("/tokenize", "{\"messages\": " + messages + "}");
        String rendered = ChatTemplate.fromTokenizerConfig(dir).render(List.of(Message.system("Be brief."),
                Message.user("the cat")), true);
        assertArrayEquals(f.llm.tokenizer().encode(rendered, false), ints(t.get("tokens")));
        JsonNode chat = f.postOk("/v1/chat/completions", "{\"messages\": " + messages + ", \"max_tokens\": 1}");
        assertEquals(t.get("count").asInt(), chat.get("usage").get("prompt_tokens").asInt());
        JsonNode open = f.postOk("/tokenize", "{\"messages\": " + messages + ", \"add_generation_prompt\": false}");
        assertTrue(open.get("count").asInt() < t.get("count").asInt(), "no assistant header");
    }

    @Test
    void versionNamesTheProjectVersion() throws Exception {
        HttpResponse<String> r = f.get("/version");
        assertEquals(200, r.statusCode());
        String v = JSON.readTree(r.body()).get("version").asText();
        assertTrue(v.matches("\\d+\\.\\d+\\.\\d+.*"), v); // the build's version, filtered into the jar
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            max tokens disagree     | /v1/completions      | {"prompt": "x", "max_tokens": 3, "max_completion_tokens": 4} | max_completion_tokens | invalid_value
            max completion zero     | /v1/chat/completions | {"messages": [{"role": "user", "content": "x"}], "max_completion_tokens": 0} | max_completion_tokens | invalid_value
            stream options no stream| /v1/completions      | {"prompt": "x", "stream_options": {"include_usage": true}} | stream_options | invalid_value
            include usage type      | /v1/completions      | {"prompt": "x", "stream": true, "stream_options": {"include_usage": 1}} | stream_options.include_usage | invalid_type
            n over 128              | /v1/completions      | {"prompt": "x", "n": 129}                             | n                    | invalid_value
            best_of below n         | /v1/completions      | {"prompt": "x", "best_of": 0}                         | best_of              | invalid_value
            penalty out of range    | /v1/completions      | {"prompt": "x", "presence_penalty": 3}                | presence_penalty     | invalid_value
            penalty wrong type      | /v1/completions      | {"prompt": "x", "frequency_penalty": "0"}             | frequency_penalty    | invalid_type
            logit bias key          | /v1/completions      | {"prompt": "x", "logit_bias": {"cat": 1}}             | logit_bias           | invalid_value
            logit bias out of vocab | /v1/completions      | {"prompt": "x", "logit_bias": {"99999999": 1}}        | logit_bias           | invalid_value
            logit bias value        | /v1/completions      | {"prompt": "x", "logit_bias": {"5": 101}}             | logit_bias.5         | invalid_value
            empty prompt list       | /v1/completions      | {"prompt": [], "user": 5}                             | prompt               | invalid_type
            token id out of vocab   | /v1/completions      | {"prompt": [1, 99999999]}                             | prompt               | invalid_value
            token list wrong type   | /v1/completions      | {"prompt": [[1, 2], "x", 3]}                          | prompt[2]            | invalid_type
            json_object format      | /v1/chat/completions | {"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_object"}} | response_format | not_supported
            tools                   | /v1/chat/completions | {"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function"}]} | tools | not_supported
            echo                    | /v1/completions      | {"prompt": "x", "echo": true}                         | echo                 | not_supported
            image part              | /v1/chat/completions | {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]} | messages[0].content[0].type | not_supported
            part without text       | /v1/chat/completions | {"messages": [{"role": "user", "content": [{"type": "text"}]}]} | messages[0].content[0].text | invalid_type
            best_of above n stream  | /v1/completions      | {"prompt": "x", "best_of": 2, "stream": true}         | best_of              | not_supported
            best_of above n, n 2    | /v1/chat/completions | {"messages": [{"role": "user", "content": "x"}], "n": 2, "best_of": 3, "stream": true} | best_of | not_supported
            prompt_logprobs over 20 | /v1/completions      | {"prompt": "x", "prompt_logprobs": 21}                | prompt_logprobs      | invalid_value
            n with greedy           | /v1/completions      | {"prompt": "x", "n": 2, "temperature": 0}             | n                    | invalid_value
            min_tokens over max     | /v1/completions      | {"prompt": "x", "min_tokens": 5, "max_tokens": 4}     | min_tokens           | invalid_value
            prompt_logprobs stream  | /v1/completions      | {"prompt": "x", "prompt_logprobs": 1, "stream": true} | prompt_logprobs      | not_supported
            tokenize both           | /tokenize            | {"prompt": "x", "messages": [{"role": "user", "content": "x"}]} | prompt   | invalid_value
            detokenize no tokens    | /detokenize          | {}                                                    | tokens               | missing_field
            detokenize bad id       | /detokenize          | {"tokens": [-1]}                                      | tokens               | invalid_value
            """)
    void refusedNamingTheField(String name, String path, String body, String param, String code) throws Exception {
        HttpResponse<String> r = f.post(path, body);
        assertEquals(400, r.statusCode(), r.body());
        JsonNode e = JSON.readTree(r.body()).get("error");
        assertEquals(param, e.get("param").asText(), r.body());
        assertEquals(code, e.get("code").asText(), r.body());
    }

    /** A greedy completion of {@code prompt} with {@code extra} fields (JSON members, may be empty). */
    private static JsonNode greedy(String prompt, int maxTokens, String extra) throws Exception {
        return f.postOk("/v1/completions", "{\"prompt\": \"" + prompt + "\", \"max_tokens\": " + maxTokens
                + ", \"temperature\": 0, \"ignore_eos\": true" + (extra.isEmpty() ? "" : ", " + extra) + "}");
    }

    private static SamplingParams.Builder greedyParams(int maxTokens) {
        return SamplingParams.builder().maxTokens(maxTokens).temperature(0.0).ignoreEos(true);
    }

    private static RequestOutput library(String prompt, SamplingParams params) {
        return f.llm.generateStream(f.llm.tokenizer().encode(prompt, true), params, null).join();
    }

    private static String text(JsonNode completion) {
        return completion.get("choices").get(0).get("text").asText();
    }

    @Test
    void batchedPromptsWithNTwoAreIndexedPromptTimesNPlusCompletion() throws Exception {
        JsonNode r = f.postOk("/v1/completions", "{\"prompt\": [\"the cat\", \"a hat\"], \"n\": 2, \"max_tokens\": 3,"
                + " \"temperature\": 1.0, \"seed\": 5, \"ignore_eos\": true}");
        JsonNode choices = r.get("choices");
        assertEquals(4, choices.size());
        String[] prompts = {"the cat", "a hat"};
        for (int p = 0; p < 2; p++) {
            RequestOutput expected = library(prompts[p], greedyParams(3).temperature(1.0).seed(5L).n(2).build());
            for (int j = 0; j < 2; j++) {
                JsonNode choice = choices.get(p * 2 + j);
                assertEquals(p * 2 + j, choice.get("index").asInt());
                assertEquals(expected.outputs().get(j).text(), choice.get("text").asText(), prompts[p] + " #" + j);
            }
        }
        assertEquals(12, r.get("usage").get("completion_tokens").asInt()); // 2 prompts x 2 completions x 3 tokens
    }

    @Test
    void minTokensHoldsOffAStopTokenUntilThatManyTokens() throws Exception {
        int first = library("the cat", greedyParams(1).build()).output().tokenIds()[0];
        String stopAtFirst = "\"ignore_eos\": false, \"stop_token_ids\": [" + first + "]";
        JsonNode stops = f.postOk("/v1/completions", "{\"prompt\": \"the cat\", \"max_tokens\": 6, \"temperature\": 0,"
                + stopAtFirst + "}");
        assertEquals("stop", stops.get("choices").get(0).get("finish_reason").asText());
        assertEquals(1, stops.get("usage").get("completion_tokens").asInt());
        JsonNode held = f.postOk("/v1/completions", "{\"prompt\": \"the cat\", \"max_tokens\": 6, \"temperature\": 0,"
                + stopAtFirst + ", \"min_tokens\": 4}");
        assertTrue(held.get("usage").get("completion_tokens").asInt() >= 4, held.toString());
        assertEquals(library("the cat", SamplingParams.builder().maxTokens(6).temperature(0.0).stopTokenIds(first)
                .minTokens(4).build()).output().text(), text(held));
    }

    @Test
    void badWordsExcludeAWordGreedyWouldWrite() throws Exception {
        // a token of the greedy output that is a whole word: its text encodes back to it alone
        int[] greedyIds = library("the cat", greedyParams(6).build()).output().tokenIds();
        String word = null;
        int wordId = -1;
        for (int id : greedyIds) {
            String bare = f.llm.tokenizer().decode(new int[] {id}, true).strip();
            if (!bare.isEmpty() && (Arrays.equals(new int[] {id}, f.llm.tokenizer().encode(bare, false))
                    || Arrays.equals(new int[] {id}, f.llm.tokenizer().encode(" " + bare, false)))) {
                word = bare;
                wordId = id;
                break;
            }
        }
        assertTrue(word != null, "a greedy token of the tiny model is a word: " + Arrays.toString(greedyIds));
        JsonNode banned = greedy("the cat", 6, "\"bad_words\": [" + JSON.writeValueAsString(word) + "]");
        RequestOutput expected = library("the cat", greedyParams(6).bad(List.of(word)).build());
        int id = wordId;
        assertTrue(Arrays.stream(expected.output().tokenIds()).noneMatch(t -> t == id),
                Arrays.toString(expected.output().tokenIds()));
        assertEquals(expected.output().text(), text(banned));
        assertTrue(!text(greedy("the cat", 6, "")).equals(text(banned)), text(banned));
    }

    @Test
    void minPOneKeepsOnlyTheMostLikelyTokenSoSamplingIsGreedy() throws Exception {
        JsonNode sampled = f.postOk("/v1/completions", "{\"prompt\": \"the cat\", \"max_tokens\": 8,"
                + " \"temperature\": 1.5, \"seed\": 3, \"ignore_eos\": true, \"min_p\": 1.0}");
        assertEquals(text(greedy("the cat", 8, "")), text(sampled));
    }

    @Test
    void repetitionPenaltyAndIncludeStopStrGiveTheLibrarysAnswer() throws Exception {
        assertEquals(library("the cat", greedyParams(10).repetitionPenalty(1.8).build()).output().text(),
                text(greedy("the cat", 10, "\"repetition_penalty\": 1.8")));
        String whole = text(greedy("the cat", 8, ""));
        String stop = whole.substring(whole.length() / 2, whole.length() / 2 + 1);
        String cut = text(greedy("the cat", 8, "\"stop\": [" + JSON.writeValueAsString(stop) + "]"));
        String kept = text(greedy("the cat", 8, "\"stop\": [" + JSON.writeValueAsString(stop) + "],"
                + " \"include_stop_str_in_output\": true"));
        assertEquals(cut + stop, kept);
        assertEquals(library("the cat", greedyParams(8).stop(stop).includeStopStrInOutput(true).build())
                .output().text(), kept);
    }

    @Test
    void skipSpecialTokensFalseWritesTheirText() throws Exception {
        int eos = TinyBpeTokenizer.eosId();
        String forceEos = "\"logit_bias\": {\"" + eos + "\": 100}";
        assertEquals("", text(greedy("the cat", 2, forceEos)));
        String kept = text(greedy("the cat", 2, forceEos + ", \"skip_special_tokens\": false"));
        assertEquals(f.llm.tokenizer().decode(new int[] {eos, eos}, false), kept);
        assertTrue(!kept.isEmpty());
    }

    @Test
    void unknownAndBookkeepingFieldsAreIgnored() throws Exception {
        String body = "{\"prompt\": \"the cat\", \"max_tokens\": 3, \"temperature\": 0, \"ignore_eos\": true,"
                + " \"max_tokenz\": 9, \"user\": \"u\", \"store\": false, \"metadata\": {\"a\": \"b\"},"
                + " \"response_format\": {\"type\": \"text\"}, \"echo\": false, \"n\": 1, \"best_of\": 1,"
                + " \"presence_penalty\": 0, \"repetition_penalty\": 1.0, \"min_p\": 0, \"logit_bias\": {}}";
        JsonNode r = f.postOk("/v1/completions", body);
        JsonNode plain = f.postOk("/v1/completions", "{\"prompt\": \"the cat\", \"max_tokens\": 3, \"temperature\": 0,"
                + " \"ignore_eos\": true}");
        assertEquals(plain.get("choices").get(0).get("text"), r.get("choices").get(0).get("text"));
    }

    @Test
    void truncatePromptTokensKeepsTheLastTokens() throws Exception {
        int[] ids = f.llm.tokenizer().encode("the cat and the hat", true);
        JsonNode r = f.postOk("/v1/completions", "{\"prompt\": \"the cat and the hat\", \"truncate_prompt_tokens\": 3,"
                + " \"max_tokens\": 4, \"temperature\": 0, \"ignore_eos\": true}");
        assertEquals(3, r.get("usage").get("prompt_tokens").asInt());
        int[] last = Arrays.copyOfRange(ids, ids.length - 3, ids.length);
        JsonNode same = f.postOk("/v1/completions", "{\"prompt\": " + Arrays.toString(last)
                + ", \"max_tokens\": 4, \"temperature\": 0, \"ignore_eos\": true}");
        assertEquals(same.get("choices").get(0).get("text"), r.get("choices").get(0).get("text"));
    }

    @Test
    void batchedStreamInterleavesChoicesThatAddUpToEachWhole() throws Exception {
        String prompts = "[\"the cat\", \"a hat and a bat\"]";
        JsonNode whole = f.postOk("/v1/completions", "{\"prompt\": " + prompts + ", \"max_tokens\": 5,"
                + " \"temperature\": 0, \"ignore_eos\": true}");
        var r = f.postStream("/v1/completions", "{\"prompt\": " + prompts + ", \"max_tokens\": 5, \"temperature\": 0,"
                + " \"ignore_eos\": true, \"stream\": true, \"stream_options\": {\"include_usage\": true}}");
        List<String> events = ServerFixture.sseData(r.body());
        assertEquals("[DONE]", events.getLast());
        StringBuilder[] text = {new StringBuilder(), new StringBuilder()};
        int finished = 0;
        for (String e : events.subList(0, events.size() - 2)) {
            JsonNode choice = JSON.readTree(e).get("choices").get(0);
            text[choice.get("index").asInt()].append(choice.get("text").asText());
            finished += choice.get("finish_reason").isNull() ? 0 : 1;
            assertTrue(JSON.readTree(e).get("usage").isNull());
        }
        assertEquals(2, finished);
        for (int i = 0; i < 2; i++) {
            assertEquals(whole.get("choices").get(i).get("text").asText(), text[i].toString());
        }
        JsonNode usage = JSON.readTree(events.get(events.size() - 2));
        assertEquals(0, usage.get("choices").size());
        assertEquals(whole.get("usage"), usage.get("usage"));
    }

    @Test
    void latencyHistogramsCountEveryRequestAndTokenGap() throws Exception {
        f.awaitIdle();
        String before = f.get("/metrics").body();
        int requests = 3;
        int tokens = 4;
        for (int i = 0; i < requests; i++) { // one streamed, the others whole
            var r = f.postStream("/v1/completions", "{\"prompt\": \"the cat\", \"max_tokens\": " + tokens
                    + ", \"temperature\": 0, \"ignore_eos\": true, \"stream\": " + (i == 0) + "}");
            assertEquals(200, r.statusCode());
            r.body().readAllBytes();
        }
        f.awaitIdle();
        String after = f.get("/metrics").body();
        assertEquals(requests, delta(before, after, "rocketkv_time_to_first_token_seconds_count"), after);
        assertEquals(requests * (tokens - 1), delta(before, after, "rocketkv_inter_token_latency_seconds_count"));
        assertEquals(requests, delta(before, after, "rocketkv_e2e_request_latency_seconds_count"));
        assertTrue(after.contains("# TYPE rocketkv_time_to_first_token_seconds histogram"), after);
        assertTrue(after.contains("rocketkv_time_to_first_token_seconds_bucket{le=\"2560.0\"}"), after);
        assertTrue(after.contains("rocketkv_e2e_request_latency_seconds_bucket{le=\"7680.0\"}"), after);
        assertTrue(after.contains("rocketkv_inter_token_latency_seconds_bucket{le=\"80.0\"}"), after);
    }

    private static long delta(String before, String after, String name) {
        return CompletionsEndpointTest.metric(after, name) - CompletionsEndpointTest.metric(before, name);
    }
}
