package io.rocketkv.examples.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A client that disconnects mid-stream cancels its request: the KV pool returns to empty at once. */
class DisconnectCancelsTest {

    @TempDir
    static Path dir;
    static ServerFixture f;

    @BeforeAll
    static void start() throws Exception {
        f = ServerFixture.start(dir, null, 1 << 20, 1024, 1024);
    }

    @AfterAll
    static void stop() {
        f.close();
    }

    @Test
    void disconnectMidStreamFreesTheKvBlocks() throws Exception {
        long before = CompletionsEndpointTest.metric(f.get("/metrics").body(), "rocketkv_generation_tokens_total");
        HttpResponse<InputStream> r = f.postStream("/v1/completions", """
                {"prompt": "the cat", "max_tokens": 1000, "temperature": 0, "ignore_eos": true, "stream": true}""");
        assertEquals(200, r.statusCode());
        InputStream body = r.body();
        BufferedReader in = new BufferedReader(new InputStreamReader(body, StandardCharsets.UTF_8));
        int events = 0;
        while (events < 3) {
            String line = in.readLine();
            if (line != null && line.startsWith("data:")) {
                events++;
            }
        }
        assertTrue(f.llm.kvBlocksInUse() > 0, "the request holds KV blocks while it streams");
        body.close(); // the client goes away
        f.awaitIdle();
        String metrics = f.get("/metrics").body();
        assertEquals(1, CompletionsEndpointTest.metric(metrics, "rocketkv_requests_cancelled_total"), metrics);
        // a finished request would have added its tokens: a cancelled one adds none
        assertEquals(before, CompletionsEndpointTest.metric(metrics, "rocketkv_generation_tokens_total"));
    }
}
