package io.rocketkv.examples.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Half-sent requests and idle connections are closed by the server (300 ms deadlines here), a request that
 * takes far longer than the deadlines to answer is not, and a client that leaves in the middle of a header is
 * one log line. "Closed" is seen as the end of the stream on a raw socket; the socket's own read timeout (30 s)
 * only stops a test that would otherwise hang.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class RequestDeadlinesTest {

    private static final Duration DEADLINE = Duration.ofMillis(300);

    @TempDir
    static Path dir;
    static ServerFixture f;

    @BeforeAll
    static void start() throws Exception {
        f = ServerFixture.start(dir, null, 256, null, new OpenAiServer.Options("127.0.0.1", 0, ServerFixture.NAME,
                1 << 20, 1024, DEADLINE, DEADLINE));
    }

    @AfterAll
    static void stop() {
        f.close();
    }

    private Socket open(String sent) throws IOException {
        Socket s = new Socket("127.0.0.1", f.server.port());
        s.setSoTimeout(30_000);
        OutputStream out = s.getOutputStream();
        out.write(sent.getBytes(StandardCharsets.US_ASCII));
        out.flush();
        return s;
    }

    /** Reads until the server closes the connection; what it sent before. */
    private static String readToEnd(Socket s) throws IOException {
        try (s; InputStream in = s.getInputStream()) {
            return new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
        } catch (SocketTimeoutException e) {
            throw new AssertionError("the server kept the connection open for 30 s", e);
        }
    }

    @Test
    void aConnectionThatSendsNothingIsClosed() throws Exception {
        assertEquals("", readToEnd(open("")));
    }

    @Test
    void aHalfSentRequestLineIsClosed() throws Exception {
        assertEquals("", readToEnd(open("POST /v1/compl")));
    }

    @Test
    void aHalfSentHeaderIsClosed() throws Exception {
        assertEquals("", readToEnd(open("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Ty")));
    }

    @Test
    void aBodyShorterThanItsContentLengthIsClosed() throws Exception {
        assertEquals("", readToEnd(open("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                + "\r\nContent-Length: 100\r\n\r\n{\"prompt\"")));
    }

    @Test
    void anIdleKeepAliveConnectionIsClosedAfterItsAnswer() throws Exception {
        String got = readToEnd(open("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"));
        assertTrue(got.startsWith("HTTP/1.1 200") && got.contains("\"ok\""), got);
    }

    @Test
    void aRequestThatTakesLongerThanTheDeadlinesIsAnswered() throws Exception {
        // hold the engine (a request whose listener blocks) well past the deadlines while a request waits
        EngineGate gate = new EngineGate(f.llm);
        String body = "{\"prompt\": \"the cat\", \"max_tokens\": 3, \"temperature\": 0}";
        Socket s = open("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
                + body.length() + "\r\nConnection: close\r\n\r\n" + body);
        Thread.sleep(DEADLINE.toMillis() * 5); // the request waits; no deadline applies to that
        gate.close();
        String got = readToEnd(s);
        assertTrue(got.startsWith("HTTP/1.1 200") && got.contains("\"completion_tokens\":3"), got);
    }

    @Test
    void aClientLeavingInTheMiddleOfAHeaderIsOneLogLineWithoutAStackTrace() throws Exception {
        List<LogRecord> records = new CopyOnWriteArrayList<>();
        Handler capture = new Handler() {
            @Override
            public void publish(LogRecord r) {
                if (r.getLoggerName() != null && r.getLoggerName().startsWith("io.helidon")
                        && (r.getThrown() != null || r.getMessage().contains("request header"))) {
                    records.add(r);
                }
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        java.util.logging.Logger helidon = java.util.logging.Logger.getLogger("io.helidon");
        helidon.addHandler(capture);
        try {
            Socket s = open("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Ty");
            Thread.sleep(50);
            s.close(); // before the deadline: the client left
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (records.isEmpty() && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            Thread.sleep(DEADLINE.toMillis() * 2); // nothing more comes
            assertEquals(1, records.size(), records.stream().map(LogRecord::getMessage).toList().toString());
            assertNull(records.getFirst().getThrown(), "no stack trace");
            assertTrue(records.getFirst().getMessage().contains("before sending the whole request header"),
                    records.getFirst().getMessage());
        } finally {
            helidon.removeHandler(capture);
        }
    }
}
