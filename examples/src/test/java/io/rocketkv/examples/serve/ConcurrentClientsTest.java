package io.rocketkv.examples.serve;

import static io.rocketkv.examples.serve.ServerFixture.JSON;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.rocketkv.api.SamplingParams;
import java.io.InputStream;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A bounded load test: 48 concurrent greedy streaming clients. Every request completes, each streamed text
 * equals the same request run alone, the engine batched them (more than one running at once), and the KV
 * pool is empty afterwards.
 */
class ConcurrentClientsTest {

    static final int CLIENTS = 48;

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
    void concurrentStreamsEqualTheirRunsAlone() throws Exception {
        String[] words = {"the", "cat", "and", "hat", "in", "house", "of", "Irene"};
        List<String> prompts = new ArrayList<>();
        List<Integer> lengths = new ArrayList<>();
        List<String> alone = new ArrayList<>();
        for (int i = 0; i < CLIENTS; i++) {
            StringBuilder p = new StringBuilder();
            for (int w = 0; w <= i % 7; w++) {
                p.append(words[(i + w * 3) % words.length]).append(' ');
            }
            prompts.add(p.toString().trim());
            lengths.add(8 + i % 17);
            alone.add(f.llm.generate(prompts.get(i), SamplingParams.builder().maxTokens(lengths.get(i))
                    .temperature(0.0).ignoreEos(true).build()).output().text());
        }
        AtomicBoolean done = new AtomicBoolean();
        AtomicInteger maxRunning = new AtomicInteger();
        // a platform thread: a virtual one can wait for a carrier while the clients' and the server's virtual threads
        // hold both, and then sees the batch only after it has drained (a CI run saw "most running at once: 1")
        Thread sampler = Thread.ofPlatform().daemon().start(() -> {
            while (!done.get()) {
                maxRunning.accumulateAndGet(f.llm.numRunningRequests(), Math::max);
                try {
                    Thread.sleep(1);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
        List<Future<String>> results = new ArrayList<>();
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int i = 0; i < CLIENTS; i++) {
                String body = "{\"prompt\": " + JSON.writeValueAsString(prompts.get(i)) + ", \"max_tokens\": "
                        + lengths.get(i) + ", \"temperature\": 0, \"ignore_eos\": true, \"stream\": true}";
                results.add(pool.submit(() -> {
                    HttpResponse<InputStream> r = f.postStream("/v1/completions", body);
                    assertEquals(200, r.statusCode());
                    List<String> events = ServerFixture.sseData(r.body());
                    assertEquals("[DONE]", events.getLast());
                    StringBuilder text = new StringBuilder();
                    for (String e : events.subList(0, events.size() - 1)) {
                        JsonNode c = JSON.readTree(e);
                        text.append(c.get("choices").get(0).get("text").asText());
                    }
                    return text.toString();
                }));
            }
            for (int i = 0; i < CLIENTS; i++) {
                assertEquals(alone.get(i), results.get(i).get(60, TimeUnit.SECONDS), "client " + i);
            }
        } finally {
            done.set(true);
            sampler.join();
        }
        assertTrue(maxRunning.get() > 1, "requests were batched; most running at once: " + maxRunning.get());
        f.awaitIdle();
        String metrics = f.get("/metrics").body();
        assertTrue(metrics.contains("rocketkv_requests_total{endpoint=\"/v1/completions\",status=\"200\"} " + CLIENTS),
                metrics);
    }
}
