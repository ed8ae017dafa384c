package io.rocketkv.examples.serve;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.helidon.webserver.CloseConnectionException;
import io.helidon.webserver.WebServer;
import io.helidon.webserver.http.Handler;
import io.helidon.webserver.http.HttpRouting;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http.ServerResponse;
import io.rocketkv.api.LLM;
import io.rocketkv.api.chat.ChatTemplate;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.BindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The OpenAI-compatible HTTP server (Helidon SE): routes, body limits, error bodies and metrics. Each
 * generation request is handled on its own (virtual) thread and submitted to the shared {@link LLM},
 * whose engine batches all requests in flight.
 */
public final class OpenAiServer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(OpenAiServer.class);
    static final ObjectMapper JSON = new ObjectMapper();
    /** How long cancelled requests have to write their error answer before the listener closes. */
    private static final Duration ABORT_GRACE = Duration.ofSeconds(5);
    private static final Set<String> ENDPOINTS = Set.of("/v1/completions", "/v1/chat/completions", "/v1/models",
            "/health", "/metrics", "/tokenize", "/detokenize", "/version");

    /**
     * Server settings.
     *
     * @param host         address to bind
     * @param port         port; 0 picks a free one
     * @param servedModel  the name clients pass as {@code model}
     * @param maxBodyBytes larger request bodies get 413
     * @param maxWaiting   with this many requests already waiting, new ones get 503 with Retry-After
     * @param readTimeout  a request's header must arrive within this of its request line, its body within this
     *                     of the handler starting to read it; else the connection is closed
     * @param idleTimeout  a keep-alive connection waiting longer than this for its next request is closed
     * @param apiKey       the bearer token every {@code /v1} request must carry ({@code Authorization: Bearer KEY});
     *                     null serves without authentication
     */
    public record Options(String host, int port, String servedModel, long maxBodyBytes, int maxWaiting,
                          Duration readTimeout, Duration idleTimeout, String apiKey) {
        public static final Duration DEFAULT_READ_TIMEOUT = Duration.ofSeconds(30);
        public static final Duration DEFAULT_IDLE_TIMEOUT = Duration.ofSeconds(30);

        /** With the default read and idle timeouts. */
        public Options(String host, int port, String servedModel, long maxBodyBytes, int maxWaiting) {
            this(host, port, servedModel, maxBodyBytes, maxWaiting, DEFAULT_READ_TIMEOUT, DEFAULT_IDLE_TIMEOUT);
        }

        /** Without authentication. */
        public Options(String host, int port, String servedModel, long maxBodyBytes, int maxWaiting,
                       Duration readTimeout, Duration idleTimeout) {
            this(host, port, servedModel, maxBodyBytes, maxWaiting, readTimeout, idleTimeout, null);
        }

        /** These options with {@code key} as the API key (null: none). */
        public Options withApiKey(String key) {
            return new Options(host, port, servedModel, maxBodyBytes, maxWaiting, readTimeout, idleTimeout, key);
        }

        public Options {
            if (apiKey != null && apiKey.isBlank()) {
                throw new IllegalArgumentException("--api-key must not be empty");
            }
            Objects.requireNonNull(readTimeout, "readTimeout");
            Objects.requireNonNull(idleTimeout, "idleTimeout");
            if (readTimeout.toMillis() < 1) {
                throw new IllegalArgumentException("--read-timeout must be > 0; got " + readTimeout);
            }
            if (idleTimeout.toMillis() < 1) {
                throw new IllegalArgumentException("--idle-timeout must be > 0; got " + idleTimeout);
            }
            Objects.requireNonNull(host, "host");
            Objects.requireNonNull(servedModel, "servedModel");
            if (port < 0 || port > 65535) {
                throw new IllegalArgumentException("--port must be in 0..65535 (0 = a free port); got " + port);
            }
            if (maxBodyBytes < 1) {
                throw new IllegalArgumentException("--max-body-bytes must be >= 1; got " + maxBodyBytes);
            }
            if (maxWaiting < 0) {
                throw new IllegalArgumentException("--max-waiting must be >= 0; got " + maxWaiting);
            }
        }
    }

    /** The project version (GET /version), from the build. */
    static final String VERSION = readVersion();

    private final LLM llm;
    private final Options options;
    private final ServerMetrics metrics;
    private final InFlightRequests inFlight = new InFlightRequests();
    private final RequestDeadlines deadlines;
    private final CompletionHandler completions;
    private final TokenizeHandler tokenize;
    private final WebServer server;
    private final int port; // the bound one

    private OpenAiServer(LLM llm, Options options) {
        this.llm = llm;
        // the library's chat template (the checkpoint's, or the LLM's override), capped for bodies of maxBodyBytes
        ChatTemplate template = llm.chatTemplate()
                .withLimits(ChatTemplate.Limits.forInputBytes(options.maxBodyBytes()));
        this.options = options;
        this.metrics = new ServerMetrics(llm);
        this.completions = new CompletionHandler(llm, template, options, metrics, inFlight);
        this.tokenize = new TokenizeHandler(llm, template, options.servedModel());
        this.deadlines = new RequestDeadlines(options.readTimeout(), options.idleTimeout());
        var builder = WebServer.builder()
                .host(options.host())
                .port(options.port())
                .shutdownHook(false) // the owner stops the server (after draining), not Helidon's own hook
                .routing(this::routes);
        // so that a client leaving a non-streaming request is noticed, and half-sent requests and idle
        // connections are closed
        ClientConnections.configure(builder, deadlines, options.idleTimeout());
        this.server = builder.build().start();
        if (!server.isRunning()) {
            String why = bindFailure(options.host(), options.port());
            throw new UncheckedIOException(why, new BindException(why));
        }
        this.port = server.port();
    }

    /**
     * Starts serving {@code llm}; chat requests are rendered with its {@link LLM#chatTemplate() chat template}.
     *
     * @throws UncheckedIOException (a {@link BindException}) when the address cannot be listened on, e.g. the
     *                              port is taken; the message names the address and the reason
     */
    public static OpenAiServer start(LLM llm, Options options) {
        return new OpenAiServer(llm, options);
    }

    /**
     * Why Helidon could not listen on {@code host:port}. Helidon logs the bind error and returns a server that is
     * not running; binding a plain socket the same way gives the reason in a form that can be reported.
     */
    private static String bindFailure(String host, int port) {
        String where = "cannot listen on " + host + ":" + port;
        try (ServerSocket probe = new ServerSocket()) {
            probe.setReuseAddress(true);
            probe.bind(new InetSocketAddress(InetAddress.getByName(host), port));
        } catch (IOException e) {
            String why = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
            return where + ": " + why + (why.toLowerCase(Locale.ROOT).contains("in use")
                    ? "; another process holds the port: stop it, or pass another --port (0 picks a free one)"
                    : "; check --host and --port");
        }
        return where + ": the web server did not start (see the log above); check --host and --port";
    }

    /** The bound port (the chosen one when started with port 0). */
    public int port() {
        return port;
    }

    public ServerMetrics metrics() {
        return metrics;
    }

    /** Generation requests being handled now (parsed, queued, running or writing their answer). */
    public int requestsInFlight() {
        return inFlight.handlers();
    }

    private void routes(HttpRouting.Builder r) {
        r.addFilter((chain, req, res) -> {
            try {
                chain.proceed();
            } finally {
                String path = req.path().path();
                metrics.request(ENDPOINTS.contains(path) ? path : "other", res.status().code());
            }
        });
        if (options.apiKey() != null) {
            r.addFilter((chain, req, res) -> {
                if (ApiKeys.authorized(req, options.apiKey())) {
                    chain.proceed();
                } else {
                    res.header("WWW-Authenticate", "Bearer");
                    sendError(res, ApiKeys.unauthorized(req));
                }
            });
        }
        r.post("/v1/completions", guarded((req, res) -> completions.handle(readJson(req), req, res, false)));
        r.post("/v1/chat/completions", guarded((req, res) -> completions.handle(readJson(req), req, res, true)));
        r.get("/v1/models", guarded((req, res) -> sendJson(res, 200, models())));
        r.post("/tokenize", guarded((req, res) -> sendJson(res, 200, tokenize.tokenize(readJson(req)))));
        r.post("/detokenize", guarded((req, res) -> sendJson(res, 200, tokenize.detokenize(readJson(req)))));
        r.get("/version", (req, res) -> sendJson(res, 200, JSON.createObjectNode().put("version", VERSION)));
        r.get("/health", (req, res) -> {
            res.header("Content-Type", "application/json");
            if (inFlight.draining()) { // 503 takes the server out of a load balancer's rotation
                res.status(503);
                res.send("{\"status\":\"draining\",\"requests_in_flight\":" + inFlight.handlers() + "}");
            } else {
                res.send("{\"status\":\"ok\"}");
            }
        });
        r.get("/metrics", (req, res) -> {
            res.header("Content-Type", metrics.contentType());
            res.send(metrics.render());
        });
        for (String p : new String[] {"/v1/completions", "/v1/chat/completions", "/tokenize", "/detokenize"}) {
            r.any(p, methodNotAllowed("POST"));
        }
        for (String p : new String[] {"/v1/models", "/health", "/metrics", "/version"}) {
            r.any(p, methodNotAllowed("GET"));
        }
        r.any((req, res) -> sendError(res, new ApiError(404, "not_found_error", null, "not_found",
                "no route for " + req.prologue().method().text() + " " + req.path().path()
                        + "; endpoints: POST /v1/completions, POST /v1/chat/completions, GET /v1/models,"
                        + " POST /tokenize, POST /detokenize, GET /health, GET /metrics, GET /version")));
    }

    private static Handler methodNotAllowed(String allowed) {
        return (req, res) -> {
            res.header("Allow", allowed);
            sendError(res, new ApiError(405, "invalid_request_error", null, "method_not_allowed",
                    req.prologue().method().text() + " is not allowed on " + req.path().path() + "; use " + allowed));
        };
    }

    private static Handler guarded(Handler h) {
        return (req, res) -> {
            try {
                h.handle(req, res);
            } catch (CloseConnectionException e) {
                throw e; // the client is gone: Helidon closes the connection without answering
            } catch (ApiError e) {
                if (!res.isSent()) {
                    sendError(res, e);
                }
            } catch (RuntimeException e) {
                log.error("request failed", e);
                if (!res.isSent()) {
                    sendError(res, new ApiError(500, "server_error", null, "internal_error",
                            "internal error: " + e.getMessage()));
                }
            }
        };
    }

    private JsonNode readJson(ServerRequest req) {
        long limit = options.maxBodyBytes();
        var declared = req.headers().contentLength();
        if (declared.isPresent() && declared.getAsLong() > limit) {
            throw tooLarge(declared.getAsLong());
        }
        byte[] body;
        try {
            body = deadlines.readBody(ClientConnections.context(req), () -> {
                try (InputStream in = req.content().inputStream()) {
                    return in.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, limit + 1));
                }
            });
        } catch (IOException | RuntimeException e) {
            // the client closed the connection, or sent too little within the read timeout (already logged)
            if (!RequestDeadlines.closedByDeadline()) {
                log.info("a client closed its connection before sending the whole request body ({})",
                        e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage());
            }
            throw new CloseConnectionException("the request body did not arrive");
        }
        if (body.length > limit) {
            throw tooLarge(-1);
        }
        try {
            JsonNode n = JSON.readTree(body);
            if (n == null || n.isMissingNode()) {
                throw ApiError.badRequest(null, "invalid_json", "the request body is empty; send a JSON object");
            }
            return n;
        } catch (JsonProcessingException e) {
            throw ApiError.badRequest(null, "invalid_json", "the request body is not valid JSON: "
                    + e.getOriginalMessage());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private ApiError tooLarge(long size) {
        return new ApiError(413, "invalid_request_error", null, "request_too_large", "the request body"
                + (size >= 0 ? " (" + size + " bytes)" : "") + " is larger than the limit of " + options.maxBodyBytes()
                + " bytes; send a shorter prompt or start the server with a larger --max-body-bytes");
    }

    private ObjectNode models() {
        ObjectNode o = JSON.createObjectNode();
        o.put("object", "list");
        ObjectNode m = o.putArray("data").addObject();
        m.put("id", options.servedModel());
        m.put("object", "model");
        m.put("created", 0);
        m.put("owned_by", "rocketkv");
        m.put("max_model_len", llm.maxSeqLen());
        return o;
    }

    static void sendJson(ServerResponse res, int status, JsonNode body) {
        res.status(status);
        res.header("Content-Type", "application/json");
        try {
            res.send(JSON.writeValueAsBytes(body));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    static ObjectNode errorBody(ApiError e) {
        ObjectNode o = JSON.createObjectNode();
        ObjectNode err = o.putObject("error");
        err.put("message", e.getMessage());
        err.put("type", e.type());
        err.put("param", e.param());
        err.put("code", e.code());
        return o;
    }

    static void sendError(ServerResponse res, ApiError e) {
        if (e.status() == 503) {
            res.header("Retry-After", "1");
        }
        sendJson(res, e.status(), errorBody(e));
    }

    /**
     * Stops gracefully: new generation requests get 503 {@code shutting_down} and {@code /health} reports
     * {@code draining} (503) while the requests in flight run to their end, for at most {@code drainTimeout}.
     * Those still running then are cancelled: a stream ends with an error event and {@code [DONE]}, a
     * non-streaming request gets 503 {@code shutting_down}. Then the listener closes.
     */
    public void shutdown(Duration drainTimeout) {
        inFlight.startDraining();
        try {
            int running = inFlight.handlers();
            if (running > 0) {
                log.info("draining: {} requests in flight; waiting up to {} s", running, drainTimeout.toSeconds());
            }
            if (!inFlight.awaitIdle(drainTimeout.toNanos())) {
                log.warn("drain timeout of {} s over; cancelling the {} requests still in flight",
                        drainTimeout.toSeconds(), inFlight.handlers());
                inFlight.abort();
                if (!inFlight.awaitIdle(ABORT_GRACE.toNanos())) {
                    log.warn("{} requests did not answer within {} s of being cancelled; closing their connections",
                            inFlight.handlers(), ABORT_GRACE.toSeconds());
                }
            }
        } catch (InterruptedException e) {
            inFlight.abort();
            Thread.currentThread().interrupt();
        } finally {
            if (server.isRunning()) {
                server.stop();
            }
        }
    }

    /** Stops at once: requests in flight are cancelled and answered with {@code shutting_down}. */
    @Override
    public void close() {
        shutdown(Duration.ZERO);
    }

    private static String readVersion() {
        try (InputStream in = OpenAiServer.class.getResourceAsStream("version.properties")) {
            java.util.Properties p = new java.util.Properties();
            if (in != null) {
                p.load(in);
            }
            return p.getProperty("version", "unknown");
        } catch (IOException e) {
            return "unknown";
        }
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
