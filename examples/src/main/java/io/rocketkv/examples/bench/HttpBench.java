package io.rocketkv.examples.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Drives a running OpenAI-compatible server (this project's LlmServe, vLLM, trtllm-serve) over HTTP: each request
 * is a streamed {@code /v1/completions} call (greedy, {@code ignore_eos}, {@code max_tokens} = the entry's output
 * length, {@code stream_options.include_usage}); a token's time is when its chunk arrives, the token counts come
 * from the last chunk's {@code usage} (the chunk count when a server sends none).
 */
public final class HttpBench {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final String baseUrl;
    private final String apiKey;
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(10)).build();

    /** {@code baseUrl} as OpenAI clients take it, e.g. {@code http://127.0.0.1:8000/v1}; {@code apiKey} may be null. */
    public HttpBench(String baseUrl, String apiKey) {
        this.baseUrl = baseUrl.endsWith("/") ? baseUrl.substring(0, baseUrl.length() - 1) : baseUrl;
        this.apiKey = apiKey;
    }

    private HttpRequest.Builder request(String path) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(baseUrl + path)).timeout(Duration.ofMinutes(30));
        if (apiKey != null) {
            b.header("Authorization", "Bearer " + apiKey);
        }
        return b;
    }

    /** The first model the server lists ({@code GET /models}). */
    public String modelName() throws IOException, InterruptedException {
        HttpResponse<String> r = http.send(request("/models").GET().build(), HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) {
            throw new IllegalStateException("GET " + baseUrl + "/models answered " + r.statusCode() + ": " + r.body());
        }
        JsonNode data = JSON.readTree(r.body()).path("data");
        if (!data.isArray() || data.isEmpty()) {
            throw new IllegalStateException("GET " + baseUrl + "/models lists no model: " + r.body());
        }
        return data.get(0).path("id").asText();
    }

    /** Runs {@code entries} with at most {@code concurrency} in flight; the timings in entry order. */
    public List<Timing> run(String model, List<BenchDataset.Entry> entries, int concurrency)
            throws InterruptedException {
        try (ExecutorService pool = Executors.newFixedThreadPool(concurrency, Thread.ofVirtual().factory())) {
            List<Future<Timing>> futures = new ArrayList<>();
            for (BenchDataset.Entry e : entries) {
                futures.add(pool.submit(() -> one(model, e)));
            }
            List<Timing> out = new ArrayList<>();
            for (Future<Timing> f : futures) {
                out.add(f.get());
            }
            return out;
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            throw c instanceof RuntimeException r ? r : new IllegalStateException(c.getMessage(), c);
        }
    }

    private Timing one(String model, BenchDataset.Entry e) throws IOException, InterruptedException {
        ObjectNode body = JSON.createObjectNode().put("model", model).put("max_tokens", e.outputTokens())
                .put("temperature", 0).put("ignore_eos", true).put("stream", true);
        body.putObject("stream_options").put("include_usage", true);
        if (e.inputIds() != null) {
            ArrayNode ids = body.putArray("prompt");
            for (int id : e.inputIds()) {
                ids.add(id);
            }
        } else {
            body.put("prompt", e.prompt());
        }
        long start = System.nanoTime();
        HttpResponse<InputStream> r = http.send(request("/completions").header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body.toString())).build(),
                HttpResponse.BodyHandlers.ofInputStream());
        List<Long> times = new ArrayList<>();
        JsonNode usage = null;
        try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
            if (r.statusCode() != 200) {
                throw new IllegalStateException("task " + e.taskId() + ": the server answered " + r.statusCode()
                        + ": " + in.lines().reduce("", String::concat));
            }
            for (String line; (line = in.readLine()) != null; ) {
                if (!line.startsWith("data:")) {
                    continue;
                }
                String data = line.substring(5).trim();
                if (data.equals("[DONE]")) {
                    break;
                }
                JsonNode chunk = JSON.readTree(data);
                if (chunk.has("error")) {
                    throw new IllegalStateException("task " + e.taskId() + " failed: " + chunk.get("error"));
                }
                if (chunk.path("choices").size() > 0) {
                    times.add(System.nanoTime() - start);
                }
                if (chunk.hasNonNull("usage")) {
                    usage = chunk.get("usage");
                }
            }
        } catch (UncheckedIOException x) {
            throw x.getCause();
        }
        long end = System.nanoTime() - start;
        long[] t = times.stream().mapToLong(Long::longValue).toArray();
        int tokens = usage != null ? usage.path("completion_tokens").asInt() : t.length;
        int prompt = usage != null ? usage.path("prompt_tokens").asInt()
                : e.inputIds() != null ? e.inputIds().length : 0;
        int cached = usage != null ? usage.path("prompt_tokens_details").path("cached_tokens").asInt() : 0;
        return new Timing(t, end, tokens, prompt, cached);
    }
}
