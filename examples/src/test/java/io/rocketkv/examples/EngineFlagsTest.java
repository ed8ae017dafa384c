package io.rocketkv.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.rocketkv.api.LlmArgs;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** trtllm-serve's snake_case flags and their kebab-case aliases override the YAML's keys; absent ones keep them. */
class EngineFlagsTest {

    @TempDir
    Path dir;

    private LlmArgs parse(String... args) {
        LlmServe serve = new LlmServe();
        new CommandLine(serve).parseArgs(args);
        return serve.engine.args();
    }

    @Test
    void snakeAndKebabNamesSetTheSameKeys() throws Exception {
        Path yaml = Files.writeString(dir.resolve("extra.yaml"), "backend: cpu\nmax_batch_size: 8\nmax_seq_len: 512\n"
                + "kv_cache_config:\n  enable_block_reuse: false\n");
        for (String[] names : new String[][] {
                {"--extra_llm_api_options", "--max_batch_size", "--max_num_tokens", "--tp_size",
                        "--kv_cache_free_gpu_memory_fraction"},
                {"--config", "--max-batch-size", "--max-num-tokens", "--tp-size",
                        "--kv-cache-free-gpu-memory-fraction"}}) {
            LlmArgs a = parse("--model", "m", names[0], yaml.toString(), names[1], "4", names[2], "1024", names[3], "2",
                    names[4], "0.5");
            assertEquals(4, a.maxBatchSize());
            assertEquals(1024, a.maxNumTokens());
            assertEquals(2, a.tensorParallelSize());
            assertEquals(0.5, a.kvCacheConfig().freeGpuMemoryFraction());
            assertEquals(512, a.maxSeqLen(), "kept from the YAML");
            assertEquals(false, a.kvCacheConfig().enableBlockReuse(), "kept from the YAML");
        }
        assertEquals(128, parse("--model", "m", "--config", yaml.toString(), "--max_seq_len", "128").maxSeqLen());
    }

    @Test
    void streamIntervalOverridesTheYamlsAndMustBePositive() throws Exception {
        Path yaml = Files.writeString(dir.resolve("interval.yaml"), "stream_interval: 4\n");
        assertEquals(4, parse("--model", "m", "--config", yaml.toString()).streamInterval());
        assertEquals(2, parse("--model", "m", "--config", yaml.toString(), "--stream_interval", "2").streamInterval());
        assertEquals(3, parse("--model", "m", "--stream-interval", "3").streamInterval());
        var e = org.junit.jupiter.api.Assertions.assertThrows(io.rocketkv.api.ConfigException.class,
                () -> parse("--model", "m", "--stream_interval", "0"));
        assertEquals("stream_interval", e.key());
    }

    @Test
    void withoutFlagsTheDefaults() {
        LlmArgs a = parse("--model", "m");
        assertEquals(LlmArgs.builder().build(), a);
        assertNull(a.maxSeqLen());
    }
}
