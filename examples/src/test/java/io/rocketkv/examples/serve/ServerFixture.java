package io.rocketkv.examples.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rocketkv.api.Backend;
import io.rocketkv.api.KvCacheConfig;
import io.rocketkv.api.LLM;
import io.rocketkv.core.testing.RandomCheckpoint;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** A tiny random Llama served on loopback, and an HTTP client for it. */
final class ServerFixture implements AutoCloseable {

    static final ObjectMapper JSON = new ObjectMapper();
    static final String NAME = "tiny";

    final LLM llm;
    final OpenAiServer server;
    final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();

    ServerFixture(LLM llm, OpenAiServer server) {
        this.llm = llm;
        this.server = server;
    }

    /** Writes the tiny checkpoint into {@code dir} (with {@code chatTemplate} when not null) and serves it. */
    static ServerFixture start(Path dir, String chatTemplate, long maxBodyBytes, int maxWaiting) throws IOException {
        return start(dir, chatTemplate, maxBodyBytes, maxWaiting, 256);
    }

    static ServerFixture start(Path dir, String chatTemplate, long maxBodyBytes, int maxWaiting, int maxSeqLen)
            throws IOException {
        return start(dir, chatTemplate, maxBodyBytes, maxWaiting, maxSeqLen, null);
    }

    /** As above, with a KV pool of {@code poolTokens} tokens (null: the default size). */
    static ServerFixture start(Path dir, String chatTemplate, long maxBodyBytes, int maxWaiting, int maxSeqLen,
                               Integer poolTokens) throws IOException {
        return start(dir, chatTemplate, maxSeqLen, poolTokens, new OpenAiServer.Options("127.0.0.1", 0, NAME,
                maxBodyBytes, maxWaiting));
    }

    /** The tiny checkpoint served with {@code options} (its port should be 0). */
    static ServerFixture start(Path dir, String chatTemplate, int maxSeqLen, Integer poolTokens,
                               OpenAiServer.Options options) throws IOException {
        RandomCheckpoint.builder().maxPositions(Math.max(256, maxSeqLen)).build().write(dir); // tiny(), long enough
        if (chatTemplate != null) {
            Path tc = dir.resolve("tokenizer_config.json");
            ObjectNode c = (ObjectNode) JSON.readTree(tc.toFile());
            c.put("chat_template", chatTemplate);
            JSON.writeValue(tc.toFile(), c);
        }
        LLM llm = LLM.builder().model(dir).backend(Backend.CPU).maxSeqLen(maxSeqLen).maxBatchSize(64)
                .kvCacheConfig(KvCacheConfig.builder().maxTokens(poolTokens).build()).build();
        return serve(llm, dir, options);
    }

    /** Serves {@code llm} (closed with the fixture), with its chat template. */
    static ServerFixture serve(LLM llm, Path dir, OpenAiServer.Options options) {
        return new ServerFixture(llm, OpenAiServer.start(llm, options));
    }

    static ServerFixture start(Path dir) throws IOException {
        return start(dir, null, 1 << 20, 1024);
    }

    /** The official OpenAI Java client for this server (no retries; the key is unused unless the server has one). */
    com.openai.client.OpenAIClient openAiClient() {
        return com.openai.client.okhttp.OpenAIOkHttpClient.builder().baseUrl("http://127.0.0.1:" + server.port()
                + "/v1").apiKey("unused").maxRetries(0).build();
    }

    URI uri(String path) {
        return URI.create("http://127.0.0.1:" + server.port() + path);
    }

    HttpResponse<String> post(String path, String body) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(60))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<String> get(String path) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(30)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
    }

    JsonNode postOk(String path, String body) throws IOException, InterruptedException {
        HttpResponse<String> r = post(path, body);
        assertEquals(200, r.statusCode(), r.body());
        return JSON.readTree(r.body());
    }

    /** Opens a streaming request; the caller reads (and may close) the body. */
    HttpResponse<InputStream> postStream(String path, String body) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(60))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofInputStream());
    }

    /**
     * The {@code data:} payloads of a server-sent event stream, per the SSE framing: events end at a blank
     * line, {@code data:} lines (one optional space after the colon) are joined with newlines.
     */
    static List<String> sseData(InputStream body) throws IOException {
        List<String> events = new ArrayList<>();
        try (BufferedReader in = new BufferedReader(new InputStreamReader(body, StandardCharsets.UTF_8))) {
            StringBuilder data = null;
            for (String line; (line = in.readLine()) != null; ) {
                if (line.isEmpty()) {
                    if (data != null) {
                        events.add(data.toString());
                    }
                    data = null;
                } else if (line.startsWith("data:")) {
                    String v = line.substring(5);
                    v = v.startsWith(" ") ? v.substring(1) : v;
                    data = data == null ? new StringBuilder(v) : data.append('\n').append(v);
                }
            }
            if (data != null) {
                events.add(data.toString());
            }
        }
        return events;
    }

    /** Waits until the KV pool is empty and nothing is queued or running (10 s at most). */
    void awaitIdle() throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while ((llm.kvBlocksInUse() != 0 || llm.numRunningRequests() != 0 || llm.numWaitingRequests() != 0)
                && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertEquals(0, llm.kvBlocksInUse(), "KV blocks in use");
        assertEquals(0, llm.numRunningRequests() + llm.numWaitingRequests(), "requests queued or running");
    }

    @Override
    public void close() {
        server.close();
        llm.close();
    }
}
