package io.rocketkv.examples.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A client that leaves while its request is still queued cancels it then, streaming or not: the engine is held
 * by a request whose listener blocks, so the queued requests cannot start, and the cancellations are counted
 * before the engine moves again.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class QueuedDisconnectTest {

    @TempDir
    Path dir;

    private static long cancelled(ServerFixture f) throws Exception {
        Matcher m = Pattern.compile("(?m)^rocketkv_requests_cancelled_total (\\d+)(?:\\.0)?$").matcher(f.get("/metrics").body());
        assertTrue(m.find());
        return Long.parseLong(m.group(1));
    }

    @Test
    void leavingAQueuedRequestCancelsItAtOnce() throws Exception {
        try (ServerFixture f = ServerFixture.start(dir)) {
            EngineGate gate = new EngineGate(f.llm);
            try {
                for (String stream : new String[] {"true", "false"}) {
                    String body = "{\"prompt\": \"the cat\", \"max_tokens\": 50, \"stream\": " + stream + "}";
                    Socket s = new Socket("127.0.0.1", f.server.port());
                    OutputStream out = s.getOutputStream();
                    out.write(("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                            + "Content-Length: " + body.length() + "\r\n\r\n" + body).getBytes(StandardCharsets.UTF_8));
                    out.flush();
                    long before = cancelled(f);
                    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                    while (f.server.requestsInFlight() == 0) {
                        assertTrue(System.nanoTime() < deadline, "the request reached its handler");
                        Thread.sleep(5);
                    }
                    Thread.sleep(100); // it is queued behind the gate (and watched)
                    s.close();
                    while (cancelled(f) == before) {
                        assertTrue(System.nanoTime() < deadline, "stream=" + stream + ": not cancelled within 30 s");
                        Thread.sleep(5);
                    }
                    assertEquals(1, cancelled(f) - before, "stream=" + stream);
                    assertTrue(gate.holding(), "the engine is still held");
                    while (f.server.requestsInFlight() > 0) {
                        assertTrue(System.nanoTime() < deadline, "the handler ended");
                        Thread.sleep(5);
                    }
                }
            } finally {
                gate.close();
            }
            f.awaitIdle();
        }
    }
}
