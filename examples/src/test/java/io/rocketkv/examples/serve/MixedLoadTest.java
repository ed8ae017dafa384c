package io.rocketkv.examples.serve;

import static io.rocketkv.examples.serve.ServerFixture.JSON;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.rocketkv.api.Backend;
import io.rocketkv.api.LLM;
import io.rocketkv.api.SamplingParams;
import io.rocketkv.core.testing.RandomCheckpoint;
import java.io.InputStream;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A bounded load test with mixed long and short prompts (loopback, stops by itself): long non-streaming
 * prompts, each as large as one prefill step (max_num_tokens), arrive with short streaming requests. Every
 * answer equals its request run alone, the metrics add up, the pool is empty afterwards, and the server still
 * answers correctly. (That running requests keep decoding while the long prompts are prefilled is checked in
 * step counts by SchedulerTest and EngineFairnessTest; here timing decides the interleaving.)
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class MixedLoadTest {

    private static final int LONG = 8;
    private static final int SHORT = 16;
    private static final int PREFILL_TOKENS = 160;

    @TempDir
    Path dir;

    private static String completion(String prompt, int maxTokens, boolean stream) throws Exception {
        return "{\"prompt\": " + JSON.writeValueAsString(prompt) + ", \"max_tokens\": " + maxTokens
                + ", \"temperature\": 0, \"ignore_eos\": true" + (stream ? ", \"stream\": true" : "") + "}";
    }

    private static SamplingParams greedy(int maxTokens) {
        return SamplingParams.builder().maxTokens(maxTokens).temperature(0.0).ignoreEos(true).build();
    }

    private static long metric(String text, String line) {
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(line) + " (\\d+)(?:\\.0)?$").matcher(text);
        return m.find() ? Long.parseLong(m.group(1)) : 0;
    }

    @Test
    void longAndShortPromptsTogetherGiveTheirAnswersAlone() throws Exception {
        RandomCheckpoint.builder().maxPositions(512).build().write(dir);
        LLM llm = LLM.builder().model(dir).backend(Backend.CPU).maxSeqLen(512).maxBatchSize(32)
                .maxNumTokens(PREFILL_TOKENS).build();
        try (ServerFixture f = ServerFixture.serve(llm, dir, new OpenAiServer.Options("127.0.0.1", 0,
                ServerFixture.NAME, 1 << 20, 1024))) {
            String[] words = {"the", "cat", "and", "hat", "in", "house", "of", "Irene"};
            List<String> longPrompts = new ArrayList<>();
            List<String> shortPrompts = new ArrayList<>();
            List<String> longAlone = new ArrayList<>();
            List<String> shortAlone = new ArrayList<>();
            int promptTokens = 0;
            for (int i = 0; i < LONG; i++) {
                List<String> ws = new ArrayList<>();
                for (int w = 0; w < PREFILL_TOKENS; w++) {
                    ws.add(words[(w * (i + 1) + i) % words.length]);
                }
                while (llm.tokenizer().encode(String.join(" ", ws), true).length > PREFILL_TOKENS) {
                    ws.removeLast(); // as long as one prefill step allows
                }
                String p = String.join(" ", ws);
                longPrompts.add(p);
                promptTokens += llm.tokenizer().encode(p, true).length;
                longAlone.add(llm.generate(p, greedy(4)).output().text());
            }
            for (int i = 0; i < SHORT; i++) {
                String p = words[i % words.length] + " " + words[(i * 3 + 1) % words.length];
                shortPrompts.add(p);
                promptTokens += llm.tokenizer().encode(p, true).length;
                shortAlone.add(llm.generate(p, greedy(24)).output().text());
            }
            String before = f.get("/metrics").body();

            List<Future<String>> longs = new ArrayList<>();
            List<Future<String>> shorts = new ArrayList<>();
            try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
                for (int i = 0; i < Math.max(LONG, SHORT); i++) {
                    if (i < SHORT) {
                        String body = completion(shortPrompts.get(i), 24, true);
                        shorts.add(pool.submit(() -> {
                            HttpResponse<InputStream> r = f.postStream("/v1/completions", body);
                            assertEquals(200, r.statusCode());
                            List<String> events = ServerFixture.sseData(r.body());
                            assertEquals("[DONE]", events.getLast());
                            StringBuilder text = new StringBuilder();
                            for (String e : events.subList(0, events.size() - 1)) {
                                text.append(JSON.readTree(e).get("choices").get(0).get("text").asText());
                            }
                            return text.toString();
                        }));
                    }
                    if (i < LONG) {
                        String body = completion(longPrompts.get(i), 4, false);
                        longs.add(pool.submit(() -> f.postOk("/v1/completions", body).get("choices").get(0)
                                .get("text").asText()));
                    }
                }
                for (int i = 0; i < SHORT; i++) {
                    assertEquals(shortAlone.get(i), shorts.get(i).get(120, TimeUnit.SECONDS), "short request " + i);
                }
                for (int i = 0; i < LONG; i++) {
                    assertEquals(longAlone.get(i), longs.get(i).get(120, TimeUnit.SECONDS), "long request " + i);
                }
            }
            f.awaitIdle();
            String after = f.get("/metrics").body();
            String ok = "rocketkv_requests_total{endpoint=\"/v1/completions\",status=\"200\"}";
            assertEquals(LONG + SHORT, metric(after, ok) - metric(before, ok), after);
            assertEquals(promptTokens, metric(after, "rocketkv_prompt_tokens_total")
                    - metric(before, "rocketkv_prompt_tokens_total"), after);
            assertEquals(LONG * 4 + SHORT * 24, metric(after, "rocketkv_generation_tokens_total")
                    - metric(before, "rocketkv_generation_tokens_total"), after);
            assertEquals(0, metric(after, "rocketkv_kv_cache_blocks_in_use"), after);
            assertEquals(0, metric(after, "rocketkv_requests_running") + metric(after, "rocketkv_requests_waiting"));

            // and afterwards the server still answers, correctly
            JsonNode again = f.postOk("/v1/completions", completion(longPrompts.getFirst(), 4, false));
            assertEquals(longAlone.getFirst(), again.get("choices").get(0).get("text").asText());
            assertTrue(f.get("/health").body().contains("\"ok\""));
        }
    }
}
