package io.rocketkv.examples.serve;

import static io.rocketkv.examples.serve.OpenAiServer.JSON;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.helidon.http.sse.SseEvent;
import io.helidon.webserver.CloseConnectionException;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http.ServerResponse;
import io.helidon.webserver.sse.SseSink;
import io.rocketkv.api.CompletionOutput;
import io.rocketkv.api.LLM;
import io.rocketkv.api.RequestOutput;
import io.rocketkv.api.SamplingParams;
import io.rocketkv.api.StreamChunk;
import io.rocketkv.core.kvcache.KvCacheExhaustedException;
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

/** Runs one completion or chat completion through the engine and answers it whole or as server-sent events. */
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

    CompletionHandler(LLM llm, ChatTemplate template, OpenAiServer.Options options, ServerMetrics metrics,
                      InFlightRequests inFlight) {
        this.llm = llm;
        this.template = template;
        this.options = options;
        this.metrics = metrics;
        this.inFlight = inFlight;
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

    private void handleEntered(JsonNode body, ServerRequest req, ServerResponse res, boolean chat) {
        CompletionRequest cr = CompletionRequest.parse(body, chat, options.servedModel());
        if (llm.numWaitingRequests() >= options.maxWaiting()) {
            throw new ApiError(503, "server_error", null, "overloaded", llm.numWaitingRequests()
                    + " requests are already waiting (the limit is " + options.maxWaiting() + "); retry later");
        }
        String field = chat ? "messages" : "prompt";
        int[] ids = chat
                ? llm.tokenizer().encode(template.render(cr.messages()), !template.hasTemplate())
                : llm.tokenizer().encode(cr.prompt(), true);
        if (ids.length > llm.maxSeqLen()) {
            throw ApiError.badRequest(field, "context_length_exceeded", "the " + field + " has " + ids.length
                    + " tokens, more than the model's max_seq_len of " + llm.maxSeqLen() + "; shorten it");
        }
        // chat's default: what is left of max_seq_len, or of the whole KV pool when that is smaller
        int maxTokens = cr.maxTokens() != null ? cr.maxTokens()
                : chat ? (int) Math.max(1, Math.min(llm.maxSeqLen(), llm.kvCacheCapacityTokens()) - ids.length)
                : DEFAULT_COMPLETION_MAX_TOKENS;
        SamplingParams params = cr.samplingParams(maxTokens);
        String id = (chat ? "chatcmpl-" : "cmpl-") + UUID.randomUUID().toString().replace("-", "");
        long created = System.currentTimeMillis() / 1000;
        if (cr.stream()) {
            stream(cr, ids, params, req, res, id, created, field);
        } else {
            CompletableFuture<RequestOutput> f = llm.generateStream(ids, params, null);
            inFlight.track(f);
            RequestOutput out = awaitWhileConnected(f, req, res, field);
            metrics.tokens(out.metrics().promptTokens(), out.metrics().generatedTokens());
            OpenAiServer.sendJson(res, 200, whole(cr, out, id, created));
        }
    }

    /**
     * Waits for a non-streaming answer while watching the client's connection: a client that closes it
     * cancels the request (its KV blocks are freed) and the connection is closed without an answer.
     */
    private RequestOutput awaitWhileConnected(CompletableFuture<RequestOutput> f, ServerRequest req,
                                              ServerResponse res, String field) {
        ClientConnections.Watch client = null;
        try {
            while (true) {
                try {
                    return f.get(PROBE_MILLIS, TimeUnit.MILLISECONDS);
                } catch (TimeoutException e) {
                    if (client == null) {
                        client = ClientConnections.watch(req); // only requests that take a while are watched
                    } else if (!client.connected()) {
                        if (f.cancel(true)) {
                            metrics.cancelled();
                        }
                        res.status(CLIENT_CLOSED_REQUEST); // what the request is counted as in /metrics
                        throw new CloseConnectionException("the client closed the connection; request cancelled");
                    }
                }
            }
        } catch (ExecutionException e) {
            throw failure(e.getCause(), field);
        } catch (CancellationException e) {
            throw inFlight.aborted() ? shutDown() : new ApiError(503, "server_error", null, "cancelled",
                    "the request was cancelled");
        } catch (InterruptedException e) {
            f.cancel(true);
            Thread.currentThread().interrupt();
            throw new ApiError(503, "server_error", null, "interrupted", "the server is shutting down");
        }
    }

    /**
     * Streams the answer as server-sent events. While no token comes (the request is queued, or its prompt is
     * prefilled) the client's connection is watched as for a non-streaming request, so a client that leaves
     * a queued request cancels it at once rather than at the first failed write.
     */
    private void stream(CompletionRequest cr, int[] ids, SamplingParams params, ServerRequest req,
                        ServerResponse res, String id, long created, String field) {
        BlockingQueue<StreamChunk> queue = new LinkedBlockingQueue<>();
        CompletableFuture<RequestOutput> f = llm.generateStream(ids, params, queue::add);
        inFlight.track(f);
        if (f.isCompletedExceptionally() && !f.isCancelled()) { // refused at submission: an ordinary error response
            try {
                f.join();
            } catch (CompletionException e) {
                throw failure(e.getCause(), field);
            }
        }
        res.header("Cache-Control", "no-cache");
        SseSink sink = res.sink(SseSink.TYPE);
        ClientConnections.Watch client = null;
        boolean clientGone = false;
        try {
            if (cr.chat()) {
                ObjectNode delta = JSON.createObjectNode().put("role", "assistant").put("content", "");
                emit(sink, chunk(cr, id, created, delta, null, null));
            }
            while (true) {
                StreamChunk c = queue.poll(STREAM_POLL_MILLIS, TimeUnit.MILLISECONDS);
                if (c == null) {
                    if (f.isCancelled()) { // by the server's shutdown
                        emit(sink, OpenAiServer.errorBody(inFlight.aborted() ? shutDown()
                                : new ApiError(503, "server_error", null, "cancelled", "the request was cancelled")));
                        break;
                    }
                    if (f.isCompletedExceptionally()) {
                        ApiError e = failure(f.exceptionNow(), field);
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
                emit(sink, tokenChunk(cr, id, created, c));
                if (c.isLast()) {
                    RequestOutput out = f.get(10, TimeUnit.SECONDS);
                    metrics.tokens(out.metrics().promptTokens(), out.metrics().generatedTokens());
                    break;
                }
            }
            if (!clientGone) {
                sink.emit(SseEvent.create("[DONE]"));
                sink.close();
            }
        } catch (InterruptedException e) {
            f.cancel(true);
            Thread.currentThread().interrupt();
        } catch (Exception e) {
            clientGone = true; // a write failed: the client went away
        }
        if (clientGone) {
            // stop the request and free its KV blocks; the connection is closed without finishing the stream
            if (f.cancel(true)) {
                metrics.cancelled();
            }
            throw new CloseConnectionException("the client closed the connection; request cancelled");
        }
    }

    private static void emit(SseSink sink, JsonNode data) {
        sink.emit(SseEvent.create(data.toString()));
    }

    private ObjectNode tokenChunk(CompletionRequest cr, String id, long created, StreamChunk c) {
        if (cr.chat()) {
            ObjectNode delta = JSON.createObjectNode();
            if (!c.textDelta().isEmpty() || c.finishReason() == null) {
                delta.put("content", c.textDelta());
            }
            ObjectNode lp = null;
            if (cr.logprobs() != null) {
                lp = JSON.createObjectNode();
                addChatLogprob(lp.putArray("content"), c.tokenId(), c.logprob(), c.top());
            }
            return chunk(cr, id, created, delta, lp, c.finishReason());
        }
        ObjectNode lp = null;
        if (cr.logprobs() != null) {
            lp = JSON.createObjectNode();
            lp.putArray("tokens").add(tokenText(c.tokenId()));
            lp.putArray("token_logprobs").add(c.logprob());
            lp.putArray("top_logprobs").add(completionTop(c.top()));
        }
        return chunk(cr, id, created, JSON.getNodeFactory().textNode(c.textDelta()), lp, c.finishReason());
    }

    /** A streamed chunk: chat's {@code delta} object or the completion's {@code text}. */
    private ObjectNode chunk(CompletionRequest cr, String id, long created, JsonNode deltaOrText, ObjectNode logprobs,
                             String finishReason) {
        ObjectNode o = header(cr.chat() ? "chat.completion.chunk" : "text_completion", id, created);
        ObjectNode choice = o.putArray("choices").addObject();
        choice.put("index", 0);
        choice.set(cr.chat() ? "delta" : "text", deltaOrText);
        choice.set("logprobs", logprobs);
        choice.put("finish_reason", finishReason);
        return o;
    }

    private ObjectNode whole(CompletionRequest cr, RequestOutput out, String id, long created) {
        CompletionOutput c = out.output();
        ObjectNode o = header(cr.chat() ? "chat.completion" : "text_completion", id, created);
        ObjectNode choice = o.putArray("choices").addObject();
        choice.put("index", 0);
        if (cr.chat()) {
            choice.putObject("message").put("role", "assistant").put("content", c.text());
        } else {
            choice.put("text", c.text());
        }
        choice.set("logprobs", cr.logprobs() == null ? null : logprobs(cr.chat(), c));
        choice.put("finish_reason", c.finishReason());
        ObjectNode usage = o.putObject("usage");
        usage.put("prompt_tokens", out.metrics().promptTokens());
        usage.put("completion_tokens", out.metrics().generatedTokens());
        usage.put("total_tokens", out.metrics().promptTokens() + out.metrics().generatedTokens());
        // OpenAI's field for prompt tokens served from the prefix cache (block reuse)
        usage.putObject("prompt_tokens_details").put("cached_tokens", out.metrics().numCachedTokens());
        return o;
    }

    private ObjectNode logprobs(boolean chat, CompletionOutput c) {
        ObjectNode lp = JSON.createObjectNode();
        if (chat) {
            var content = lp.putArray("content");
            for (CompletionOutput.TokenLogprobs t : c.logprobs()) {
                addChatLogprob(content, t.tokenId(), t.logprob(), t.top());
            }
            return lp;
        }
        var tokens = lp.putArray("tokens");
        var tokenLogprobs = lp.putArray("token_logprobs");
        var tops = lp.putArray("top_logprobs");
        for (CompletionOutput.TokenLogprobs t : c.logprobs()) {
            tokens.add(tokenText(t.tokenId()));
            tokenLogprobs.add(t.logprob());
            tops.add(completionTop(t.top()));
        }
        return lp;
    }

    /** One entry of chat's {@code logprobs.content}: the token, its logprob and its {@code top_logprobs}. */
    private void addChatLogprob(ArrayNode content, int tokenId, float logprob, List<CompletionOutput.Alternative> alts) {
        ObjectNode e = content.addObject();
        e.put("token", tokenText(tokenId));
        e.put("logprob", logprob);
        var top = e.putArray("top_logprobs");
        for (CompletionOutput.Alternative a : alts) {
            top.addObject().put("token", tokenText(a.tokenId())).put("logprob", a.logprob());
        }
    }

    /** One entry of the completions' {@code logprobs.top_logprobs}: token text → logprob, most likely first. */
    private ObjectNode completionTop(List<CompletionOutput.Alternative> alts) {
        ObjectNode top = JSON.createObjectNode();
        for (CompletionOutput.Alternative a : alts) {
            top.put(tokenText(a.tokenId()), a.logprob());
        }
        return top;
    }

    private String tokenText(int tokenId) {
        return tokenId < llm.tokenizer().vocabSize() ? llm.tokenizer().decode(new int[] {tokenId}, false) : "";
    }

    private ObjectNode header(String object, String id, long created) {
        ObjectNode o = JSON.createObjectNode();
        o.put("id", id);
        o.put("object", object);
        o.put("created", created);
        o.put("model", options.servedModel());
        return o;
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
