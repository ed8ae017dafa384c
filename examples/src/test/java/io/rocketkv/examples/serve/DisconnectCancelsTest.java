package io.rocketkv.examples.serve;

import static io.rocketkv.examples.serve.ServerFixture.JSON;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.rocketkv.api.RequestOutput;
import io.rocketkv.api.SamplingParams;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A client that disconnects cancels its request, streaming or not: the request leaves the batch and the KV
 * pool returns to empty long before the request could have finished. The engine is paced by a second request
 * whose listener takes one permit per step (a permit every 5 ms), so a 1000-token request would need over
 * 5 s to finish on its own.
 */
class DisconnectCancelsTest {

    private static final String LONG_COMPLETION = """
            {"prompt": "the cat", "max_tokens": 1000, "temperature": 0, "ignore_eos": true%s}""";

    @TempDir
    static Path dir;
    static ServerFixture f;

    private CompletableFuture<RequestOutput> pacer;
    private Thread releaser;
    private final AtomicBoolean pacing = new AtomicBoolean(true);
    private final Semaphore steps = new Semaphore(0);

    @BeforeAll
    static void start() throws Exception {
        f = ServerFixture.start(dir, null, 1 << 20, 1024, 1024);
    }

    @AfterAll
    static void stop() {
        f.close();
    }

    @BeforeEach
    void pace() {
        pacer = f.llm.generateStream("the", SamplingParams.builder().maxTokens(1000).temperature(0.0)
                .ignoreEos(true).build(), chunk -> {
                    try {
                        steps.tryAcquire(10, TimeUnit.SECONDS); // on the engine thread: one step per permit
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                });
        releaser = Thread.ofVirtual().start(() -> {
            while (pacing.get()) {
                steps.release();
                try {
                    Thread.sleep(5);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
    }

    @AfterEach
    void stopPacing() throws InterruptedException {
        pacing.set(false);
        releaser.join();
        pacer.cancel(true);
        steps.release(100);
        f.awaitIdle(); // no KV blocks in use, nothing queued or running
    }

    @Test
    void disconnectMidStreamFreesTheKvBlocks() throws Exception {
        String before = f.get("/metrics").body();
        HttpResponse<InputStream> r = f.postStream("/v1/completions", LONG_COMPLETION.formatted(", \"stream\": true"));
        assertEquals(200, r.statusCode());
        InputStream body = r.body();
        BufferedReader in = new BufferedReader(new InputStreamReader(body, StandardCharsets.UTF_8));
        for (int events = 0; events < 3; ) {
            String line = in.readLine();
            if (line != null && line.startsWith("data:")) {
                events++;
            }
        }
        assertEquals(2, f.llm.numRunningRequests(), "both requests run");
        body.close(); // the client goes away
        assertTheRequestLeavesTheBatch();
        assertCancelledWithoutTokens(before);
    }

    @Test
    void disconnectDuringANonStreamingRequestFreesTheKvBlocks() throws Exception {
        String before = f.get("/metrics").body();
        try (Socket s = new Socket("127.0.0.1", f.server.port())) {
            s.setSoTimeout(10_000);
            send(s, LONG_COMPLETION.formatted(""));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(4);
            while (f.llm.numRunningRequests() < 2 && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            assertEquals(2, f.llm.numRunningRequests(), "both requests run");
            assertTrue(f.llm.kvBlocksInUse() > 0);
            Thread.sleep(300); // mid-generation: the handler waits for the answer, watching the connection
            assertEquals(2, f.llm.numRunningRequests(), "a client that waits is not taken for gone");
        } // the client goes away without reading anything
        assertTheRequestLeavesTheBatch();
        assertCancelledWithoutTokens(before);
        long answered = count(before, "/v1/completions", "499") + 1;
        String metrics = awaitMetrics(m -> count(m, "/v1/completions", "499") >= answered);
        assertEquals(answered, count(metrics, "/v1/completions", "499"), "counted as 499 (client closed)\n" + metrics);
    }

    @Test
    void aClientThatWaitsGetsItsAnswerAndKeepsItsConnection() throws Exception {
        // paced, 60 tokens take 0.3 s or more: the connection is watched meanwhile, then serves a second request
        try (Socket s = new Socket("127.0.0.1", f.server.port())) {
            s.setSoTimeout(30_000);
            for (int i = 0; i < 2; i++) {
                send(s, """
                        {"prompt": "the cat", "max_tokens": 60, "temperature": 0, "ignore_eos": true}""");
                JsonNode r = JSON.readTree(readResponse(s.getInputStream(), "request " + i));
                assertEquals(60, r.get("usage").get("completion_tokens").asInt());
            }
        }
    }

    private static void send(Socket s, String json) throws IOException {
        byte[] body = json.getBytes(StandardCharsets.UTF_8);
        OutputStream out = s.getOutputStream();
        out.write(("POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                + "Content-Length: " + body.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        out.write(body);
        out.flush();
    }

    /** Reads one HTTP/1.1 response with a Content-Length; asserts 200 and keep-alive, returns the body. */
    private static String readResponse(InputStream in, String what) throws IOException {
        String status = line(in);
        assertTrue(status.startsWith("HTTP/1.1 200"), what + ": " + status);
        int length = -1;
        for (String h; !(h = line(in)).isEmpty(); ) {
            String lower = h.toLowerCase();
            if (lower.startsWith("content-length:")) {
                length = Integer.parseInt(h.substring(15).trim());
            }
            assertTrue(!lower.startsWith("connection:") || lower.contains("keep-alive"), what + ": " + h);
        }
        assertTrue(length >= 0, what + ": no Content-Length");
        return new String(in.readNBytes(length), StandardCharsets.UTF_8);
    }

    private static String line(InputStream in) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        for (int c; (c = in.read()) != '\n'; ) {
            if (c < 0) {
                throw new IOException("the server closed the connection");
            }
            b.write(c);
        }
        return b.toString(StandardCharsets.US_ASCII).stripTrailing();
    }

    private static void assertTheRequestLeavesTheBatch() throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(4);
        while (f.llm.numRunningRequests() > 1 && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertEquals(1, f.llm.numRunningRequests(), "the disconnected request was removed from the batch");
    }

    /**
     * The cancelled counter grew by one (it is counted just after the cancellation, so this waits a little);
     * no generated tokens were counted (a finished request adds them).
     */
    private static String assertCancelledWithoutTokens(String before) throws Exception {
        long cancelled = CompletionsEndpointTest.metric(before, "rocketkv_requests_cancelled_total") + 1;
        String metrics = awaitMetrics(m -> CompletionsEndpointTest.metric(m, "rocketkv_requests_cancelled_total")
                >= cancelled);
        assertEquals(CompletionsEndpointTest.metric(before, "rocketkv_requests_cancelled_total") + 1,
                CompletionsEndpointTest.metric(metrics, "rocketkv_requests_cancelled_total"), metrics);
        assertEquals(CompletionsEndpointTest.metric(before, "rocketkv_generation_tokens_total"),
                CompletionsEndpointTest.metric(metrics, "rocketkv_generation_tokens_total"), metrics);
        return metrics;
    }

    /** The metrics text once {@code until} holds for it, or after 4 s. */
    private static String awaitMetrics(java.util.function.Predicate<String> until) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(4);
        String m = f.get("/metrics").body();
        while (!until.test(m) && System.nanoTime() < deadline) {
            Thread.sleep(10);
            m = f.get("/metrics").body();
        }
        return m;
    }

    private static long count(String metrics, String endpoint, String status) {
        String prefix = "rocketkv_requests_total{endpoint=\"" + endpoint + "\",status=\"" + status + "\"} ";
        return metrics.lines().filter(l -> l.startsWith(prefix))
                .mapToLong(l -> (long) Double.parseDouble(l.substring(prefix.length()).trim())).sum();
    }
}
