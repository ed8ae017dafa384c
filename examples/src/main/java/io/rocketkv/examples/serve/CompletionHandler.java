package io.rocketkv.examples.serve;

import com.fasterxml.jackson.databind.JsonNode;
import io.helidon.http.sse.SseEvent;
import io.helidon.webserver.CloseConnectionException;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http.ServerResponse;
import io.helidon.webserver.sse.SseSink;
import io.rocketkv.api.LLM;
import io.rocketkv.api.RequestOutput;
import io.rocketkv.api.SamplingParams;
import io.rocketkv.api.StreamChunk;
import io.rocketkv.api.chat.ChatTemplate;
import io.rocketkv.core.kvcache.KvCacheExhaustedException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

/**
 * Runs a completion or chat completion through the engine, one engine request per prompt of the batch, and
 * answers it whole or as server-sent events.
 */
final class CompletionHandler {

    private static final int DEFAULT_COMPLETION_MAX_TOKENS = 16; // OpenAI's default for /v1/completions
    /** How often a non-streaming request looks whether its client is still there. */
    private static final long PROBE_MILLIS = 20;
    /** How long a stream waits for a token before it looks at the request and the client. */
    private static final long STREAM_POLL_MILLIS = 50;
    /** nginx's status for a request whose client closed the connection before the answer. */
    private static final int CLIENT_CLOSED_REQUEST = 499;

    private final LLM llm;
    private final ChatTemplate template;
    private final OpenAiServer.Options options;
    private final ServerMetrics metrics;
    private final InFlightRequests inFlight;
    private final ResponseBodies bodies;

    CompletionHandler(LLM llm, ChatTemplate template, OpenAiServer.Options options, ServerMetrics metrics,
                      InFlightRequests inFlight) {
        this.llm = llm;
        this.template = template;
        this.options = options;
        this.metrics = metrics;
        this.inFlight = inFlight;
        this.bodies = new ResponseBodies(llm.tokenizer(), options.servedModel());
    }

    /** Token ids a request may name: those both the tokenizer and the model's embedding know. */
    static int vocab(LLM llm) {
        return Math.min(llm.tokenizer().vocabSize(), llm.modelConfig().vocabSize());
    }

    void handle(JsonNode body, ServerRequest req, ServerResponse res, boolean chat) {
        if (!inFlight.enter()) {
            throw new ApiError(503, "server_error", null, "shutting_down",
                    "the server is shutting down and takes no new requests; retry on another instance");
        }
        try {
            handleEntered(body, req, res, chat);
        } finally {
            inFlight.exit();
        }
    }

    /** One prompt of the request, tokenized, and its sampling params. */
    private record Prompt(int[] ids, SamplingParams params) {
    }

    private void handleEntered(JsonNode body, ServerRequest req, ServerResponse res, boolean chat) {
        CompletionRequest cr = CompletionRequest.parse(body, chat, options.servedModel(), vocab(llm));
        if (llm.numWaitingRequests() >= options.maxWaiting()) {
            throw new ApiError(503, "server_error", null, "overloaded", llm.numWaitingRequests()
                    + " requests are already waiting (the limit is " + options.maxWaiting() + "); retry later");
        }
        String field = chat ? "messages" : "prompt";
        List<Prompt> prompts = new ArrayList<>();
        for (int[] ids : tokenize(cr)) {
            if (cr.truncatePromptTokens() != null && ids.length > cr.truncatePromptTokens()) {
                ids = Arrays.copyOfRange(ids, ids.length - cr.truncatePromptTokens(), ids.length); // vLLM: the last k
            }
            if (ids.length > llm.maxSeqLen()) {
                throw ApiError.badRequest(field, "context_length_exceeded", "the " + field + " has " + ids.length
                        + " tokens, more than the model's max_seq_len of " + llm.maxSeqLen() + "; shorten it");
            }
            // chat's default: what is left of max_seq_len, or of the whole KV pool when that is smaller
            int maxTokens = cr.maxTokens() != null ? cr.maxTokens()
                    : chat ? (int) Math.max(1, Math.min(llm.maxSeqLen(), llm.kvCacheCapacityTokens()) - ids.length)
                    : DEFAULT_COMPLETION_MAX_TOKENS;
            prompts.add(new Prompt(ids, cr.samplingParams(maxTokens)));
        }
        String id = (chat ? "chatcmpl-" : "cmpl-") + UUID.randomUUID().toString().replace("-", "");
        long created = System.currentTimeMillis() / 1000;
        if (cr.stream()) {
            stream(cr, prompts, req, res, id, created, field);
        } else {
            List<CompletableFuture<RequestOutput>> fs = new ArrayList<>();
            for (Prompt p : prompts) {
                fs.add(submit(p, null));
            }
            List<RequestOutput> outs = awaitWhileConnected(fs, req, res, field);
            OpenAiServer.sendJson(res, 200, bodies.whole(cr, outs, id, created));
        }
    }

    /** The token ids of each prompt: chat's rendered template, a text prompt's encoding, or the ids sent. */
    private List<int[]> tokenize(CompletionRequest cr) {
        if (cr.chat()) {
            String text = ChatMessages.render(template, cr.messages(), cr.addGenerationPrompt());
            boolean special = cr.addSpecialTokens() != null ? cr.addSpecialTokens() : !template.hasTemplate();
            return List.of(llm.tokenizer().encode(text, special));
        }
        List<int[]> out = new ArrayList<>();
        for (PromptInput p : cr.prompts()) {
            out.add(p.ids() != null ? p.ids()
                    : llm.tokenizer().encode(p.text(), cr.addSpecialTokens() == null || cr.addSpecialTokens()));
        }
        return out;
    }

    /**
     * Submits one prompt, timed for the latency histograms. A request with {@code best_of} above {@code n} (never
     * streamed) runs without a token listener, as the library streams only when every sampled completion is
     * returned; its time to first token is then read from the output.
     */
    private CompletableFuture<RequestOutput> submit(Prompt p, Consumer<StreamChunk> listener) {
        ServerMetrics.RequestTimer timer = metrics.timer(p.params().n());
        boolean streamable = p.params().numSampled() == p.params().n();
        CompletableFuture<RequestOutput> f = llm.generateStream(p.ids(), p.params(),
                streamable ? timer.listener(listener) : null);
        inFlight.track(f);
        f.thenAccept(timer::finished);
        return f;
    }

    /** The finished outputs of a batch, in prompt order, counted in the token metrics before they are answered. */
    private List<RequestOutput> finished(List<CompletableFuture<RequestOutput>> fs) throws Exception {
        List<RequestOutput> outs = new ArrayList<>();
        for (var f : fs) {
            RequestOutput out = f.get(10, TimeUnit.SECONDS);
            metrics.tokens(out.metrics().promptTokens(), out.metrics().generatedTokens());
            outs.add(out);
        }
        return outs;
    }

    /**
     * Waits for a non-streaming answer while watching the client's connection: a client that closes it
     * cancels the request (its KV blocks are freed) and the connection is closed without an answer.
     */
    private List<RequestOutput> awaitWhileConnected(List<CompletableFuture<RequestOutput>> fs, ServerRequest req,
                                                    ServerResponse res, String field) {
        CompletableFuture<Void> all = CompletableFuture.allOf(fs.toArray(CompletableFuture[]::new));
        ClientConnections.Watch client = null;
        try {
            while (true) {
                try {
                    all.get(PROBE_MILLIS, TimeUnit.MILLISECONDS);
                    return finished(fs);
                } catch (TimeoutException e) {
                    if (client == null) {
                        client = ClientConnections.watch(req); // only requests that take a while are watched
                    } else if (!client.connected()) {
                        if (cancelAll(fs)) {
                            metrics.cancelled();
                        }
                        res.status(CLIENT_CLOSED_REQUEST); // what the request is counted as in /metrics
                        throw new CloseConnectionException("the client closed the connection; request cancelled");
                    }
                }
            }
        } catch (InterruptedException e) {
            cancelAll(fs);
            Thread.currentThread().interrupt();
            throw new ApiError(503, "server_error", null, "interrupted", "the server is shutting down");
        } catch (ExecutionException | CancellationException e) {
            cancelAll(fs); // one prompt failed: the others of the batch stop too
            Throwable cause = e instanceof ExecutionException ? e.getCause() : e;
            if (cause instanceof CancellationException) {
                throw inFlight.aborted() ? shutDown() : new ApiError(503, "server_error", null, "cancelled",
                        "the request was cancelled");
            }
            throw failure(cause, field);
        } catch (ApiError | CloseConnectionException e) {
            throw e;
        } catch (Exception e) {
            throw failure(e, field);
        }
    }

    /** Cancels every request of the batch; true when one was still running. */
    private static boolean cancelAll(List<CompletableFuture<RequestOutput>> fs) {
        boolean any = false;
        for (var f : fs) {
            any |= f.cancel(true);
        }
        return any;
    }

    /** A streamed token of the batch's prompt {@code prompt}. */
    private record Tagged(int prompt, StreamChunk chunk) {
    }

    /**
     * Streams the answer as server-sent events, the chunks of all prompts of the batch and of their n completions
     * interleaved as they come, each naming its choice ({@code index} = prompt × n + completion) and each choice
     * ending with its own {@code finish_reason} chunk. While no token comes (the request is queued, or its prompt is prefilled) the
     * client's connection is watched as for a non-streaming request, so a client that leaves a queued request
     * cancels it at once rather than at the first failed write.
     */
    private void stream(CompletionRequest cr, List<Prompt> prompts, ServerRequest req, ServerResponse res,
                        String id, long created, String field) {
        BlockingQueue<Tagged> queue = new LinkedBlockingQueue<>();
        List<CompletableFuture<RequestOutput>> fs = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) {
            int prompt = i;
            fs.add(submit(prompts.get(i), c -> queue.add(new Tagged(prompt, c))));
        }
        for (var f : fs) {
            if (f.isCompletedExceptionally() && !f.isCancelled()) { // refused at submission: an ordinary error
                cancelAll(fs);
                try {
                    f.join();
                } catch (CompletionException e) {
                    throw failure(e.getCause(), field);
                }
            }
        }
        int n = cr.sampling().n();
        res.header("Cache-Control", "no-cache");
        SseSink sink = res.sink(SseSink.TYPE);
        ClientConnections.Watch client = null;
        boolean clientGone = false;
        try {
            if (cr.chat()) {
                for (int i = 0; i < prompts.size() * n; i++) {
                    emit(sink, bodies.roleChunk(cr, id, created, i));
                }
            }
            int finished = 0; // choices whose last chunk was sent
            while (finished < fs.size() * n) {
                Tagged t = queue.poll(STREAM_POLL_MILLIS, TimeUnit.MILLISECONDS);
                if (t == null) {
                    ApiError e = streamFailure(fs, field);
                    if (e != null) {
                        emit(sink, OpenAiServer.errorBody(e));
                        break;
                    }
                    if (client == null) {
                        client = ClientConnections.watch(req);
                    } else if (!client.connected()) {
                        clientGone = true;
                        break;
                    }
                    continue;
                }
                emit(sink, bodies.tokenChunk(cr, id, created, t.prompt() * n + t.chunk().index(), t.chunk()));
                if (t.chunk().isLast()) {
                    finished++;
                }
            }
            if (!clientGone && finished == fs.size() * n) {
                List<RequestOutput> outs = finished(fs);
                if (cr.includeUsage()) {
                    emit(sink, bodies.usageChunk(cr, id, created, outs));
                }
            }
            if (!clientGone) {
                sink.emit(SseEvent.create("[DONE]"));
                sink.close();
            }
        } catch (InterruptedException e) {
            cancelAll(fs);
            Thread.currentThread().interrupt();
        } catch (Exception e) {
            clientGone = true; // a write failed: the client went away
        }
        if (clientGone) {
            // stop the request and free its KV blocks; the connection is closed without finishing the stream
            if (cancelAll(fs)) {
                metrics.cancelled();
            }
            throw new CloseConnectionException("the client closed the connection; request cancelled");
        }
    }

    /** Why a stream must end early (a request of it was cancelled or failed), or null while all run. */
    private ApiError streamFailure(List<CompletableFuture<RequestOutput>> fs, String field) {
        for (var f : fs) {
            if (f.isCancelled()) { // by the server's shutdown
                cancelAll(fs);
                return inFlight.aborted() ? shutDown()
                        : new ApiError(503, "server_error", null, "cancelled", "the request was cancelled");
            }
            if (f.isCompletedExceptionally()) {
                cancelAll(fs);
                return failure(f.exceptionNow(), field);
            }
        }
        return null;
    }

    private static void emit(SseSink sink, JsonNode data) {
        sink.emit(SseEvent.create(data.toString()));
    }

    private static ApiError shutDown() {
        return new ApiError(503, "server_error", null, "shutting_down", "the server shut down before this request"
                + " finished (its drain timeout ran out); retry on another instance");
    }

    /** Maps an engine failure to an error response. */
    private static ApiError failure(Throwable t, String field) {
        if (t instanceof CompletionException c && c.getCause() != null) {
            t = c.getCause();
        }
        if (t instanceof KvCacheExhaustedException) {
            return new ApiError(503, "server_error", null, "kv_cache_exhausted", t.getMessage());
        }
        if (t instanceof IllegalArgumentException) {
            return ApiError.badRequest(field, "invalid_value", t.getMessage());
        }
        return new ApiError(500, "server_error", null, "internal_error", "generation failed: " + t.getMessage());
    }
}
