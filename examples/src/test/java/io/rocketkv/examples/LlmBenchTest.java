package io.rocketkv.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.rocketkv.api.Backend;
import io.rocketkv.api.LLM;
import io.rocketkv.core.testing.RandomCheckpoint;
import io.rocketkv.examples.serve.OpenAiServer;
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
        CliRun run = CliRun.of(new LlmBench(), "--model", model.toString(), "--config", config.toString(),
                "--input-len", "16", "--output-len", "8", "--num-requests", "12", "--concurrency", "4",
                "--output-json", json.toString());
        String out = run.out();
        assertEquals(0, run.rc(), out + run.err());
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
        CliRun run = CliRun.of(new LlmBench(), "--model", model.toString(), "--config", config.toString(),
                "--prefix-len", "96", "--input-len", "8", "--output-len", "4", "--num-requests", "6",
                "--concurrency", "1", "--compare-reuse", "--output-json", json.toString());
        String out = run.out();
        assertEquals(0, run.rc(), out + run.err());
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
        CliRun run = CliRun.of(new LlmBench(), "--model", model.toString(), "--config", config.toString(),
                "--input-len", "60", "--output-len", "8");
        String message = run.err();
        assertTrue(message.contains("max_seq_len = 64") && message.contains("--input-len"), message);
        assertEquals(2, run.rc());
    }

    /** Runs LlmBench with {@code args}: its exit status, stdout and stderr. */
    private static String[] bench(String... args) {
        CliRun r = CliRun.of(new LlmBench(), args);
        return new String[] {Integer.toString(r.rc()), r.out(), r.err()};
    }

    /** Three requests in trtllm-bench's dataset shape: a text prompt and two of token ids (the older key too). */
    private Path dataset() throws Exception {
        return Files.writeString(dir.resolve("data.jsonl"), """
                {"task_id": 0, "prompt": "the cat and the hat", "output_tokens": 5}
                {"task_id": 1, "input_ids": [5, 6, 7, 8, 9, 10], "output_tokens": 3, "category": "x"}

                {"task_id": 2, "logits": [11, 12, 13], "output_tokens": 4}
                """);
    }

    private static void assertLatencies(JsonNode r) {
        for (String k : new String[] {"ttft_ms", "tpot_ms", "itl_ms", "e2e_ms"}) {
            JsonNode p = r.get(k);
            assertTrue(p.get("p50").asDouble() > 0, k);
            assertTrue(p.get("p50").asDouble() <= p.get("p90").asDouble(), k);
            assertTrue(p.get("p99").asDouble() <= p.get("max").asDouble(), k);
        }
        assertTrue(r.get("ttft_ms").get("max").asDouble() <= r.get("e2e_ms").get("max").asDouble());
        assertTrue(r.get("itl_ms").get("max").asDouble() <= r.get("e2e_ms").get("max").asDouble());
    }

    @Test
    void datasetRunsEachEntryWithItsOwnOutputLength() throws Exception {
        Path model = RandomCheckpoint.tiny().write(dir.resolve("model"));
        Path json = dir.resolve("bench.json");
        String[] r = bench("--model", model.toString(), "--backend", "cpu", "--max_seq_len", "128", "--dataset",
                dataset().toString(), "--warmup", "2", "--concurrency", "2", "--output-json", json.toString());
        assertEquals("0", r[0], r[1] + r[2]);
        assertTrue(r[1].contains("itl") && r[1].contains("e2e") && r[1].contains("dataset"), r[1]);
        JsonNode o = new ObjectMapper().readTree(json.toFile());
        assertEquals(3, o.get("num_requests").asInt());
        assertEquals(4.0, o.get("mean_output_tokens").asDouble(), 1e-9); // (5 + 3 + 4) / 3: ignore_eos
        int textTokens = io.rocketkv.core.tokenizer.Tokenizer.load(model).encode("the cat and the hat", true).length;
        assertEquals((textTokens + 6 + 3) / 3.0, o.get("mean_input_tokens").asDouble(), 1e-9);
        assertEquals(12 / o.get("duration_s").asDouble(), o.get("output_tokens_per_s").asDouble(), 1e-6);
        assertLatencies(o);
    }

    @Test
    void baseUrlDrivesARunningServer() throws Exception {
        Path model = RandomCheckpoint.tiny().write(dir.resolve("model"));
        try (LLM llm = LLM.builder().model(model).backend(Backend.CPU).maxSeqLen(128).build();
             OpenAiServer server = OpenAiServer.start(llm,
                     new OpenAiServer.Options("127.0.0.1", 0, "tiny", 1 << 20, 64).withApiKey("k"))) {
            Path json = dir.resolve("bench.json");
            String[] r = bench("--base-url", "http://127.0.0.1:" + server.port() + "/v1", "--api-key", "k",
                    "--dataset", dataset().toString(), "--num-requests", "5", "--warmup", "2", "--concurrency", "3",
                    "--output-json", json.toString());
            assertEquals("0", r[0], r[1] + r[2]);
            JsonNode o = new ObjectMapper().readTree(json.toFile());
            assertEquals(5, o.get("num_requests").asInt());
            assertEquals("tiny", o.get("model").asText());
            assertEquals((5 + 3 + 4 + 5 + 3) / 5.0, o.get("mean_output_tokens").asDouble(), 1e-9); // cycled
            assertLatencies(o);
            // the server saw the warm-up and the measured requests, and the tokens they asked for
            String metrics = server.metrics().render();
            assertTrue(metrics.contains("rocketkv_e2e_request_latency_seconds_count 7"), metrics);
            assertTrue(metrics.contains("rocketkv_generation_tokens_total " + (5 + 3 + 20) + ".0"), metrics);
        }
    }

    @Test
    void badDatasetsAndModesAreErrorsNamingTheFault() throws Exception {
        Path bad = Files.writeString(dir.resolve("bad.jsonl"), "{\"task_id\": 0, \"prompt\": \"x\"}\n");
        String[] r = bench("--model", "m", "--dataset", bad.toString());
        assertEquals("2", r[0]);
        assertTrue(r[2].contains("line 1") && r[2].contains("output_tokens"), r[2]);
        r = bench("--base-url", "http://127.0.0.1:1/v1");
        assertEquals("2", r[0]);
        assertTrue(r[2].contains("--dataset"), r[2]);
    }

    @Test
    void percentileIsNearestRank() {
        double[] v = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
        assertEquals(5, io.rocketkv.examples.bench.BenchReport.percentile(v, 50));
        assertEquals(9, io.rocketkv.examples.bench.BenchReport.percentile(v, 90));
        assertEquals(10, io.rocketkv.examples.bench.BenchReport.percentile(v, 99));
    }
}
