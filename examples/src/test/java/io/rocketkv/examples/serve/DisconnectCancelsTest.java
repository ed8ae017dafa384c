package io.rocketkv.examples.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rocketkv.api.RequestOutput;
import io.rocketkv.api.SamplingParams;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A client that disconnects mid-stream cancels its request: the KV pool returns to empty long before
 * the request could have finished. The engine is paced by a second request whose listener takes one
 * permit per step, so the streamed request (1000 tokens) would need over 5 s to finish on its own.
 */
class DisconnectCancelsTest {

    @TempDir
    static Path dir;
    static ServerFixture f;

    @BeforeAll
    static void start() throws Exception {
        f = ServerFixture.start(dir, null, 1 << 20, 1024, 1024);
    }

    @AfterAll
    static void stop() {
        f.close();
    }

    @Test
    void disconnectMidStreamFreesTheKvBlocks() throws Exception {
        long before = CompletionsEndpointTest.metric(f.get("/metrics").body(), "rocketkv_generation_tokens_total");
        Semaphore steps = new Semaphore(0);
        CompletableFuture<RequestOutput> pacer = f.llm.generateStream("the", SamplingParams.builder().maxTokens(1000)
                .temperature(0.0).ignoreEos(true).build(), chunk -> {
                    try {
                        steps.tryAcquire(10, TimeUnit.SECONDS); // on the engine thread: one step per permit
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                });
        AtomicBoolean pacing = new AtomicBoolean(true);
        Thread releaser = Thread.ofVirtual().start(() -> {
            while (pacing.get()) {
                steps.release();
                try {
                    Thread.sleep(5);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
        try {
            HttpResponse<InputStream> r = f.postStream("/v1/completions", """
                    {"prompt": "the cat", "max_tokens": 1000, "temperature": 0, "ignore_eos": true, "stream": true}""");
            assertEquals(200, r.statusCode());
            InputStream body = r.body();
            BufferedReader in = new BufferedReader(new InputStreamReader(body, StandardCharsets.UTF_8));
            for (int events = 0; events < 3; ) {
                String line = in.readLine();
                if (line != null && line.startsWith("data:")) {
                    events++;
                }
            }
            assertTrue(f.llm.numRunningRequests() == 2, "both requests run");
            body.close(); // the client goes away
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(4);
            while (f.llm.numRunningRequests() > 1 && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertEquals(1, f.llm.numRunningRequests(), "the disconnected request was removed from the batch");
        } finally {
            pacing.set(false);
            releaser.join();
            pacer.cancel(true);
            steps.release(100);
        }
        f.awaitIdle();
        String metrics = f.get("/metrics").body();
        assertEquals(1, CompletionsEndpointTest.metric(metrics, "rocketkv_requests_cancelled_total"), metrics);
        // a finished request would have added its tokens: a cancelled one adds none
        assertEquals(before, CompletionsEndpointTest.metric(metrics, "rocketkv_generation_tokens_total"));
    }
}
