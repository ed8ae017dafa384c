package io.rocketkv.examples.serve;

import io.helidon.webserver.ConnectionContext;
import java.io.IOException;
import java.net.SocketAddress;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.logging.Filter;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Deadlines for reading a request, and one log line per request a client abandons.
 *
 * <p>The accepted sockets read without a timeout (see {@link ClientConnections}: the connection monitor needs
 * that), so a client that connects and sends nothing, half a request header, or a body shorter than its
 * {@code Content-Length}, would hold its connection and a thread forever. Helidon's idle timeout only covers a
 * keep-alive connection waiting for its next request line. Here a new connection must send its first request
 * line within the idle timeout, a header must arrive within the read timeout of its request line (armed by
 * the HTTP/1 prologue listener, disarmed by the headers listener) and a body within the read timeout of the
 * handler starting to read it; past a deadline the socket is closed.
 *
 * <p>Helidon logs a client that closes the connection in the middle of a header as a WARNING with an
 * 18-line stack trace ({@code InsufficientDataAvailableException}); a filter on its logger turns that into one
 * line without the trace, and drops it when the close was a deadline of ours (which logs its own line).
 */
final class RequestDeadlines {

    private static final Logger log = LoggerFactory.getLogger(RequestDeadlines.class);
    /** Helidon's HTTP/1 connection logger (java.util.logging through System.Logger); held so the filter stays. */
    private static final java.util.logging.Logger HELIDON_HTTP1 =
            java.util.logging.Logger.getLogger("io.helidon.webserver.http1.Http1Connection");
    private static final String ABANDONED = "InsufficientDataAvailableException";

    private static final ScheduledExecutorService TIMER = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "rocketkv-request-deadlines");
        t.setDaemon(true);
        return t;
    });
    /** Connection threads whose socket a deadline closed: Helidon's report of that read failure is dropped. */
    private static final Set<Long> CLOSED_BY_DEADLINE = ConcurrentHashMap.newKeySet();
    private static final ThreadLocal<ScheduledFuture<?>> HEADER_DEADLINE = new ThreadLocal<>();

    static {
        Filter previous = HELIDON_HTTP1.getFilter();
        HELIDON_HTTP1.setFilter(r -> oneLine(r) && (previous == null || previous.isLoggable(r)));
    }

    private final Duration readTimeout;
    private final Duration idleTimeout;
    /** Accepted connections that have not sent a request line yet, by the client's address. */
    private final Map<SocketAddress, ScheduledFuture<?>> firstRequest = new ConcurrentHashMap<>();

    RequestDeadlines(Duration readTimeout, Duration idleTimeout) {
        this.readTimeout = readTimeout;
        this.idleTimeout = idleTimeout;
    }

    /**
     * A connection was accepted: its first request line must arrive within the idle timeout. (Helidon's idle
     * timeout counts only connections it has chosen a protocol for, which needs their first bytes.)
     */
    void accepted(SocketChannel channel) {
        SocketAddress client;
        try {
            client = channel.getRemoteAddress();
        } catch (IOException e) {
            return;
        }
        firstRequest.put(client, TIMER.schedule(() -> {
            if (firstRequest.remove(client) != null) {
                log.info("closing the connection from {}: it sent no request within {} s", client,
                        idleTimeout.toSeconds());
                try {
                    channel.close();
                } catch (IOException e) {
                    log.debug("closing the socket failed", e);
                }
            }
        }, idleTimeout.toMillis(), TimeUnit.MILLISECONDS));
    }

    /** The request line of a request was read, on its connection's thread: the header must follow in time. */
    void prologueRead(ConnectionContext ctx) {
        if (!firstRequest.isEmpty()) {
            try {
                disarm(firstRequest.remove(ctx.serverSocket().remotePeer().address()));
            } catch (RuntimeException e) {
                log.debug("no peer address", e);
            }
        }
        disarm(HEADER_DEADLINE.get());
        long thread = Thread.currentThread().threadId();
        HEADER_DEADLINE.set(TIMER.schedule(() -> close(ctx, thread, "its request header"), readTimeout.toMillis(),
                TimeUnit.MILLISECONDS));
    }

    /** The header of the request was read. */
    void headersRead() {
        disarm(HEADER_DEADLINE.get());
        HEADER_DEADLINE.remove();
    }

    /** Reads a body with a deadline: past it the connection is closed and {@code read} fails. */
    <T, E extends Exception> T readBody(ConnectionContext ctx, BodyRead<T, E> read) throws E {
        if (ctx == null) {
            return read.get();
        }
        long thread = Thread.currentThread().threadId();
        ScheduledFuture<?> deadline = TIMER.schedule(() -> close(ctx, thread, "its request body"),
                readTimeout.toMillis(), TimeUnit.MILLISECONDS);
        try {
            return read.get();
        } finally {
            disarm(deadline);
        }
    }

    /** A body read that may throw. */
    interface BodyRead<T, E extends Exception> {
        T get() throws E;
    }

    Duration readTimeout() {
        return readTimeout;
    }

    /** True (once) when this thread's connection was closed by a deadline, which logged it already. */
    static boolean closedByDeadline() {
        return CLOSED_BY_DEADLINE.remove(Thread.currentThread().threadId());
    }

    private static void disarm(ScheduledFuture<?> f) {
        if (f != null) {
            f.cancel(false);
        }
    }

    private void close(ConnectionContext ctx, long thread, String what) {
        CLOSED_BY_DEADLINE.add(thread);
        TIMER.schedule(() -> CLOSED_BY_DEADLINE.remove(thread), 1, TimeUnit.MINUTES); // if Helidon reports nothing
        log.info("closing the connection from {}: {} did not arrive within {} s", remote(ctx), what,
                readTimeout.toSeconds());
        try {
            ctx.serverSocket().close();
        } catch (RuntimeException e) {
            log.debug("closing the socket failed", e);
        }
    }

    private static String remote(ConnectionContext ctx) {
        try {
            return ctx.serverSocket().remotePeer().toString();
        } catch (RuntimeException e) {
            return "a client";
        }
    }

    /** The log filter: Helidon's report of an abandoned header becomes one line (none after our own close). */
    private static boolean oneLine(LogRecord r) {
        if (!causedBy(r.getThrown())) {
            return true;
        }
        if (CLOSED_BY_DEADLINE.remove(r.getLongThreadID())) {
            return false;
        }
        r.setThrown(null);
        r.setLevel(Level.INFO);
        r.setMessage("a client closed its connection before sending the whole request header; nothing to answer");
        r.setParameters(null);
        return true;
    }

    private static boolean causedBy(Throwable t) {
        for (; t != null; t = t.getCause()) {
            if (t.getClass().getName().endsWith(ABANDONED)) {
                return true;
            }
        }
        return false;
    }
}
