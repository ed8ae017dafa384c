package io.rocketkv.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.rocketkv.core.testing.RandomCheckpoint;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** LlmBench runs briefly on the tiny model: a table on stdout, the JSON file with consistent figures. */
class LlmBenchTest {

    @TempDir
    Path dir;

    @Test
    void briefRunWritesTableAndJson() throws Exception {
        Path model = RandomCheckpoint.tiny().write(dir.resolve("model"));
        Path config = Files.writeString(dir.resolve("extra.yaml"), "backend: cpu\nmax_seq_len: 128\n");
        Path json = dir.resolve("bench.json");
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        PrintStream old = System.out;
        int rc;
        try {
            System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
            rc = Cli.run(new LlmBench(), new String[] {"--model", model.toString(), "--config", config.toString(),
                    "--input-len", "16", "--output-len", "8", "--num-requests", "12", "--concurrency", "4",
                    "--output-json", json.toString()});
        } finally {
            System.setOut(old);
        }
        String out = buf.toString(StandardCharsets.UTF_8);
        assertEquals(0, rc, out);
        assertTrue(out.contains("requests/s") && out.contains("ttft") && out.contains("tpot"), out);
        JsonNode r = new ObjectMapper().readTree(json.toFile());
        assertEquals(12, r.get("num_requests").asInt());
        assertEquals("cpu", r.get("backend").asText());
        double seconds = r.get("duration_s").asDouble();
        assertTrue(seconds > 0);
        assertEquals(12 / seconds, r.get("requests_per_s").asDouble(), 1e-6);
        assertEquals(12 * 8 / seconds, r.get("output_tokens_per_s").asDouble(), 1e-6);
        assertEquals(16 * 1000 / r.get("ttft_ms").get("mean").asDouble(), r.get("prefill_tokens_per_s").asDouble(), 1e-6);
        assertEquals(1000 / r.get("tpot_ms").get("mean").asDouble(), r.get("decode_tokens_per_s").asDouble(), 1e-6);
        assertTrue(out.contains("prefill tokens/s") && out.contains("decode tokens/s"), out);
        for (String k : new String[] {"ttft_ms", "tpot_ms"}) {
            JsonNode p = r.get(k);
            assertTrue(p.get("p50").asDouble() > 0, k);
            assertTrue(p.get("p50").asDouble() <= p.get("p90").asDouble(), k);
            assertTrue(p.get("p90").asDouble() <= p.get("p99").asDouble(), k);
            assertTrue(p.get("p99").asDouble() <= p.get("max").asDouble(), k);
        }
    }

    @Test
    void sharedPrefixWorkloadComparesReuseOnAndOff() throws Exception {
        Path model = RandomCheckpoint.tiny().write(dir.resolve("model"));
        Path config = Files.writeString(dir.resolve("extra.yaml"), "backend: cpu\nmax_seq_len: 256\ntokens_per_block: 16\n");
        Path json = dir.resolve("bench.json");
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        PrintStream old = System.out;
        int rc;
        try {
            System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
            rc = Cli.run(new LlmBench(), new String[] {"--model", model.toString(), "--config", config.toString(),
                    "--prefix-len", "96", "--input-len", "8", "--output-len", "4", "--num-requests", "6",
                    "--concurrency", "1", "--compare-reuse", "--output-json", json.toString()});
        } finally {
            System.setOut(old);
        }
        String out = buf.toString(StandardCharsets.UTF_8);
        assertEquals(0, rc, out);
        assertTrue(out.contains("block reuse on vs off") && out.contains("prefix-cache hits"), out);
        JsonNode r = new ObjectMapper().readTree(json.toFile());
        JsonNode on = r.get(0);
        JsonNode off = r.get(1);
        assertTrue(on.get("block_reuse").asBoolean());
        assertEquals(96, on.get("prefix_len").asInt());
        // one after another: the first request computes the 6 full blocks of the prefix, the 5 others reuse them
        assertEquals(5 * 96, on.get("prefix_cache").get("hit_tokens").asLong());
        assertEquals(6 * 104, on.get("prefix_cache").get("queried_tokens").asLong());
        assertEquals(80.0, on.get("prefix_cache").get("mean_cached_prompt_tokens").asDouble(), 1e-9);
        assertEquals(0, off.get("prefix_cache").get("hit_tokens").asLong());
        // prefill rate counts the prompt tokens computed: 104 - 80 cached on average with reuse, all 104 without
        assertEquals((104 - 80.0) * 1000 / on.get("ttft_ms").get("mean").asDouble(),
                on.get("prefill_tokens_per_s").asDouble(), 1e-6);
        assertEquals(104 * 1000 / off.get("ttft_ms").get("mean").asDouble(), off.get("prefill_tokens_per_s").asDouble(), 1e-6);
    }

    @Test
    void lengthsOverMaxSeqLenAreRefusedWithTheFix() throws Exception {
        Path model = RandomCheckpoint.tiny().write(dir.resolve("model"));
        Path config = Files.writeString(dir.resolve("extra.yaml"), "backend: cpu\nmax_seq_len: 64\n");
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream old = System.err;
        int rc;
        try {
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            rc = Cli.run(new LlmBench(), new String[] {"--model", model.toString(), "--config", config.toString(),
                    "--input-len", "60", "--output-len", "8"});
        } finally {
            System.setErr(old);
        }
        String message = err.toString(StandardCharsets.UTF_8);
        assertTrue(message.contains("max_seq_len = 64") && message.contains("--input-len"), message);
        assertEquals(2, rc);
    }

    @Test
    void percentileIsNearestRank() {
        double[] v = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
        assertEquals(5, LlmBench.percentile(v, 50));
        assertEquals(9, LlmBench.percentile(v, 90));
        assertEquals(10, LlmBench.percentile(v, 99));
    }
}
