package io.rocketkv.examples.serve;

import static io.rocketkv.examples.serve.ServerFixture.JSON;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.rocketkv.api.RequestOutput;
import io.rocketkv.api.SamplingParams;
import io.rocketkv.core.testing.RandomCheckpoint;
import io.rocketkv.examples.Cli;
import io.rocketkv.examples.LlmServe;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.BindException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Start-up and shutdown: a port that is taken is an error naming it (and LlmServe exits non-zero), and a
 * shutdown drains. The requests in flight are held by a request whose token listener blocks the engine
 * thread until the test lets it go, so what is in flight when the drain starts is fixed by the test, not by
 * timing.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ServerLifecycleTest {

    private static final String STREAM = """
            {"messages": [{"role": "user", "content": "the cat"}], "max_tokens": 6, "temperature": 0,
             "ignore_eos": true, "stream": true}""";
    private static final String WHOLE = """
            {"prompt": "the dog", "max_tokens": 6, "temperature": 0, "ignore_eos": true}""";

    @TempDir
    Path dir;

    @Test
    void aTakenPortIsAnErrorNamingIt() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"));
             ServerFixture f = ServerFixture.start(dir)) {
            int port = taken.getLocalPort();
            var options = new OpenAiServer.Options("127.0.0.1", port, "tiny", 1 << 20, 16);
            UncheckedIOException e = assertThrows(UncheckedIOException.class,
                    () -> OpenAiServer.start(f.llm, options));
            assertInstanceOf(BindException.class, e.getCause());
            assertTrue(e.getMessage().contains("127.0.0.1:" + port), e.getMessage());
            assertTrue(e.getMessage().contains("in use"), e.getMessage());
            assertTrue(e.getMessage().contains("--port"), e.getMessage());
        }
    }

    @Test
    void llmServeExitsNonZeroOnATakenPort() throws Exception {
        RandomCheckpoint.tiny().write(dir);
        Path config = Files.writeString(dir.resolve("serve.yaml"), "backend: cpu\nmax_seq_len: 64\nmax_batch_size: 2\n");
        PrintStream err = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        try (ServerSocket taken = new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"))) {
            System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
            int rc = Cli.run(new LlmServe(), new String[] {"--model", dir.toString(), "--config", config.toString(),
                "--host", "127.0.0.1", "--port", Integer.toString(taken.getLocalPort())});
            assertEquals(2, rc);
        } finally {
            System.setErr(err);
        }
        String out = captured.toString(StandardCharsets.UTF_8);
        assertTrue(out.contains("error: cannot listen on 127.0.0.1:"), out);
    }

    /** Blocks the engine thread at the first token of a request of its own until {@link #release}. */
    private static final class EngineGate {
        final CountDownLatch entered = new CountDownLatch(1);
        final CountDownLatch released = new CountDownLatch(1);
        final CompletableFuture<RequestOutput> request;

        EngineGate(ServerFixture f) throws InterruptedException {
            request = f.llm.generateStream("a", SamplingParams.builder().maxTokens(2).temperature(0.0).ignoreEos(true)
                    .build(), chunk -> {
                        entered.countDown();
                        try {
                            released.await();
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                    });
            assertTrue(entered.await(30, TimeUnit.SECONDS), "the gate request reached its first token");
        }

        void release() {
            released.countDown();
        }
    }

    private static void await(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!condition.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, "waited 30 s for " + what);
            Thread.sleep(5);
        }
    }

    private static CompletableFuture<HttpResponse<String>> postAsync(ServerFixture f, String path, String body) {
        return f.http.sendAsync(HttpRequest.newBuilder(f.uri(path)).timeout(Duration.ofSeconds(60))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void shutdownLetsRunningRequestsFinishAndRefusesNewOnes() throws Exception {
        try (ServerFixture f = ServerFixture.start(dir)) {
            String expectedWhole = f.postOk("/v1/completions", WHOLE).get("choices").get(0).get("text").asText();
            EngineGate gate = new EngineGate(f);
            var stream = postAsync(f, "/v1/chat/completions", STREAM);
            var whole = postAsync(f, "/v1/completions", WHOLE);
            await("two requests in flight", () -> f.server.requestsInFlight() == 2);

            Thread drain = Thread.ofVirtual().start(() -> f.server.shutdown(Duration.ofMinutes(2)));
            await("/health to report draining", () -> healthStatus(f) == 503);
            assertTrue(health(f).body().contains("\"draining\""), health(f).body());
            HttpResponse<String> refused = f.post("/v1/completions", WHOLE);
            assertEquals(503, refused.statusCode(), refused.body());
            assertEquals("shutting_down", JSON.readTree(refused.body()).get("error").get("code").asText());
            assertTrue(drain.isAlive(), "the drain waits for the requests in flight");

            gate.release();
            List<String> events = ServerFixture.sseData(new ByteArrayInputStream(
                    stream.get(60, TimeUnit.SECONDS).body().getBytes(StandardCharsets.UTF_8)));
            assertEquals("[DONE]", events.getLast());
            JsonNode last = JSON.readTree(events.get(events.size() - 2));
            assertEquals("length", last.get("choices").get(0).get("finish_reason").asText(), events.toString());
            HttpResponse<String> w = whole.get(60, TimeUnit.SECONDS);
            assertEquals(200, w.statusCode(), w.body());
            assertEquals(expectedWhole, JSON.readTree(w.body()).get("choices").get(0).get("text").asText());
            drain.join(TimeUnit.SECONDS.toMillis(60));
            assertTrue(!drain.isAlive(), "the drain ended once the requests finished");
            assertThrows(IOException.class, () -> health(f), "the listener is closed after the drain");
            gate.request.get(30, TimeUnit.SECONDS);
        }
    }

    @Test
    void requestsStillRunningAfterTheDrainTimeoutGetAShuttingDownError() throws Exception {
        try (ServerFixture f = ServerFixture.start(dir)) {
            EngineGate gate = new EngineGate(f);
            var stream = postAsync(f, "/v1/chat/completions", STREAM);
            var whole = postAsync(f, "/v1/completions", WHOLE);
            await("two requests in flight", () -> f.server.requestsInFlight() == 2);
            try {
                f.server.shutdown(Duration.ofMillis(100)); // the gate holds both requests past it
                List<String> events = ServerFixture.sseData(new ByteArrayInputStream(
                        stream.get(60, TimeUnit.SECONDS).body().getBytes(StandardCharsets.UTF_8)));
                assertEquals("[DONE]", events.getLast(), events.toString());
                JsonNode error = JSON.readTree(events.get(events.size() - 2)).get("error");
                assertEquals("shutting_down", error.get("code").asText(), events.toString());
                HttpResponse<String> w = whole.get(60, TimeUnit.SECONDS);
                assertEquals(503, w.statusCode(), w.body());
                assertEquals("shutting_down", JSON.readTree(w.body()).get("error").get("code").asText());
            } finally {
                gate.release();
            }
            f.awaitIdle();
        }
    }

    private static HttpResponse<String> health(ServerFixture f) throws IOException, InterruptedException {
        return f.get("/health");
    }

    private static int healthStatus(ServerFixture f) {
        try {
            return health(f).statusCode();
        } catch (IOException e) {
            return -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }
}
