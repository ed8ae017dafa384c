package io.rocketkv.examples.serve;

import io.helidon.common.socket.HelidonSocket;
import io.helidon.common.socket.SocketOptions;
import io.helidon.http.Headers;
import io.helidon.http.HttpPrologue;
import io.helidon.webserver.ConnectionContext;
import io.helidon.webserver.WebServerConfig;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http1.Http1Config;
import io.helidon.webserver.http1.Http1ConnectionListener;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.SocketOption;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;

/**
 * Notices that a client closed its connection while its request is still being worked on. A non-streaming
 * completion writes nothing until the answer is ready, so no failed write can tell; the connection has to
 * be read.
 *
 * <p>Helidon SE 4.5 has the piece for this: {@link HelidonSocket#idle()} starts a virtual thread that reads one
 * byte ahead on the connection, in 101 ms slices so that it can be stopped, and {@link HelidonSocket#isConnected()}
 * turns false once that read meets the end of the stream. The connection's next read (the next request's prologue)
 * stops the monitor and receives the byte it read, so a keep-alive connection goes on as before. Helidon uses it
 * for its client's connection cache; on the server three settings are needed, all made by {@link #configure}:
 * <ul>
 *   <li>the plain-socket transport ({@code use-nio: false}): the default NIO socket's {@code idle()} does nothing
 *       and its {@code isConnected()} only says whether the server itself closed the channel;</li>
 *   <li>a read timeout on each accepted socket: the monitor reads for at most {@code SO_TIMEOUT} (at least one
 *       101 ms slice) and then reports the connection closed. Helidon's server leaves {@code SO_TIMEOUT} at 0, so a
 *       live client that simply waits would be reported gone after 101 ms, and its connection broken. Helidon
 *       applies only the socket-option map to accepted channels, so {@link SocketOptions#configureSocket(SocketChannel)}
 *       is extended here to set {@code SO_TIMEOUT} to {@link Integer#MAX_VALUE} ms (24.8 days): reads behave as
 *       without a timeout, and the monitor runs until it is stopped or the client goes;</li>
 *   <li>the request's {@link ConnectionContext}, which the handler API does not expose: an HTTP/1 receive listener
 *       is given it with each request's prologue, on the connection's thread, which then runs the handler; it is
 *       kept in a thread local, and {@link #watch} checks that its socket ids are the request's.</li>
 * </ul>
 * A client that half-closes its side of the connection (shuts down output) while waiting counts as gone, as in
 * most proxies. Bytes a client pipelines before the answer stop the monitor (they are kept for the next request);
 * that request is then not watched any further.
 */
final class ClientConnections {

    private static final ThreadLocal<ConnectionContext> CURRENT = new ThreadLocal<>();

    /** Keeps each request's context for {@link #watch} and arms and disarms the header deadline. */
    private record ReceiveListener(RequestDeadlines deadlines) implements Http1ConnectionListener {
        @Override
        public void prologue(ConnectionContext ctx, HttpPrologue prologue) {
            CURRENT.set(ctx);
            deadlines.prologueRead(ctx);
        }

        @Override
        public void headers(ConnectionContext ctx, Headers headers) {
            deadlines.headersRead();
        }
    }

    private ClientConnections() {
    }

    /** Whether the client of one request is still connected. */
    interface Watch {
        boolean connected();
    }

    private static final Watch UNWATCHED = () -> true;

    /**
     * Sets up the server so that {@link #watch} works, with {@code deadlines} on reading each request and
     * connections that wait longer than {@code idleTimeout} for their next request closed.
     */
    static void configure(WebServerConfig.Builder server, RequestDeadlines deadlines, Duration idleTimeout) {
        server.useNio(false)
                .connectionOptions(new WithReadTimeout(SocketOptions.create(), deadlines))
                .idleConnectionTimeout(idleTimeout)
                .idleConnectionPeriod(idlePeriod(idleTimeout))
                .addProtocol(Http1Config.builder().addReceiveListener(new ReceiveListener(deadlines)).build());
    }

    /** How often idle connections are looked for: a fifth of the timeout, between 100 ms and 5 s. */
    private static Duration idlePeriod(Duration idleTimeout) {
        long ms = Math.clamp(idleTimeout.toMillis() / 5, 100, 5000);
        return Duration.ofMillis(ms);
    }

    /** The connection of {@code req}, on the handler's thread; null where it is not known. */
    static ConnectionContext context(ServerRequest req) {
        ConnectionContext ctx = CURRENT.get();
        if (ctx == null || !ctx.childSocketId().equals(req.socketId())
                || !ctx.socketId().equals(req.serverSocketId())) {
            return null;
        }
        return ctx;
    }

    /**
     * Starts watching the connection of {@code req}; call on the handler's thread, after the request body was
     * read. Where the connection cannot be watched (another transport), the answer is always "connected".
     */
    static Watch watch(ServerRequest req) {
        ConnectionContext ctx = context(req);
        if (ctx == null) {
            return UNWATCHED;
        }
        HelidonSocket socket = ctx.serverSocket();
        socket.idle();
        return socket::isConnected;
    }

    /**
     * Helidon's default socket options, plus an (in effect unbounded) read timeout on accepted sockets; each
     * accepted socket is handed to the deadlines.
     */
    private record WithReadTimeout(SocketOptions d, RequestDeadlines deadlines) implements SocketOptions {
        @Override
        public void configureSocket(SocketChannel channel) {
            d.configureSocket(channel);
            deadlines.accepted(channel);
            try {
                channel.socket().setSoTimeout(Integer.MAX_VALUE);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        @Override
        public Map<SocketOption<?>, Object> socketOptions() {
            return d.socketOptions();
        }

        @Override
        public Duration connectTimeout() {
            return d.connectTimeout();
        }

        @Override
        public Duration readTimeout() {
            return d.readTimeout();
        }

        @Override
        public Optional<Integer> socketReceiveBufferSize() {
            return d.socketReceiveBufferSize();
        }

        @Override
        public Optional<Integer> socketSendBufferSize() {
            return d.socketSendBufferSize();
        }

        @Override
        public boolean socketReuseAddress() {
            return d.socketReuseAddress();
        }

        @Override
        public boolean socketKeepAlive() {
            return d.socketKeepAlive();
        }

        @Override
        public boolean tcpNoDelay() {
            return d.tcpNoDelay();
        }
    }
}
