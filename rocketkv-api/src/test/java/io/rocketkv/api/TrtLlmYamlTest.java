package io.rocketkv.api;

import static io.rocketkv.api.ConfigAssertions.assertConfigError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * TensorRT-LLM's {@code extra_llm_api_options} YAML: the keys implemented here work, the keys that do not apply are
 * accepted with one warning each, a key TensorRT-LLM does not define is an error with a suggestion.
 */
class TrtLlmYamlTest {

    private static Path fixture() throws URISyntaxException {
        return Path.of(TrtLlmYamlTest.class.getResource("/trtllm/extra_llm_api_options.yaml").toURI());
    }

    /** The key path each warning names ("ignoring <path> (...)"). */
    private static List<String> warnedKeys(LlmArgs.Loaded loaded) {
        return loaded.warnings().stream().map(w -> w.substring("ignoring ".length(), w.indexOf(' ', 9))).toList();
    }

    @Test
    void theRealisticFileLoadsWithExactlyTheExpectedWarnings() throws Exception {
        LlmArgs.Loaded loaded = LlmArgs.readYaml(fixture());
        assertEquals(List.of("moe_expert_parallel_size", "enable_attention_dp", "disable_overlap_scheduler",
                "enable_iter_perf_stats", "moe_config", "kv_cache_config.enable_partial_reuse",
                "scheduler_config.capacity_scheduler_policy"), warnedKeys(loaded));
        for (String w : loaded.warnings()) {
            assertTrue(w.contains("does not apply here: "), w);
            assertFalse(w.contains("\n"), w);
        }
        LlmArgs a = loaded.args();
        assertEquals(Backend.AUTO, a.backend());
        assertEquals(64, a.maxBatchSize());
        assertEquals(4, a.streamInterval(), "stream_interval is read, no longer ignored");
        assertEquals(10240, a.maxSeqLen());
        assertEquals(32, a.tokensPerBlock());
        assertTrue(a.printIterLog());
        assertEquals(KvCacheDtype.AUTO, a.kvCacheConfig().dtype());
        assertEquals(0.7, a.kvCacheConfig().freeGpuMemoryFraction());
        assertFalse(a.kvCacheConfig().enableBlockReuse());
        assertTrue(a.cudaGraphConfig().enablePadding());
        assertEquals(List.of(1, 2, 4, 8, 16, 32, 64), a.cudaGraphBatchSizes());
        assertEquals(new RocketSparseAttentionConfig(32, 63, 2048, 64, 128, 4, KtCacheDtype.FLOAT8_E5M2),
                a.sparseAttentionConfig());
        assertEquals(a, LlmArgs.fromYaml(a.toYaml()), "round trip through toYaml");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "print_iter_logs: true                          | print_iter_logs                  | print_iter_log",
            "stream_intervall: 2                            | stream_intervall                 | stream_interval",
            "disable_overlap_schedular: true                | disable_overlap_schedular        | disable_overlap_scheduler",
            "kv_cache_config: {tokens_per_blok: 32}         | kv_cache_config.tokens_per_blok  | tokens_per_block",
            "kv_cache_config: {dtyp: auto}                  | kv_cache_config.dtyp             | dtype",
            "cuda_graph_config: {enable_pading: true}       | cuda_graph_config.enable_pading  | enable_padding",
            "scheduler_config: {capacity_scheduler: x}      | scheduler_config.capacity_scheduler | capacity_scheduler_policy",
    })
    void aTypoGetsTheNearestKey(String yaml, String key, String suggestion) {
        assertConfigError(key, () -> LlmArgs.fromYaml(yaml), "unknown key " + key,
                "(did you mean " + suggestion + "?)");
    }

    @Test
    void aKeyNobodyDefinesIsStillAnError() {
        ConfigException e = assertConfigError("flux_capacitor", () -> LlmArgs.fromYaml("flux_capacitor: 1.21\n"),
                "unknown key flux_capacitor", "docs/api.md");
        assertFalse(e.getMessage().contains("did you mean"), e.getMessage());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "kv_cache_config: {tokens_per_block: abc}  | kv_cache_config.tokens_per_block | an integer, got string \"abc\"",
            "stream_interval: fast                     | stream_interval                  | an integer, got string \"fast\"",
            "disable_overlap_scheduler: 'yes'          | disable_overlap_scheduler        | a boolean (true or false), got string \"yes\"",
            "moe_config: CUTLASS                       | moe_config                       | a mapping of keys, got string \"CUTLASS\"",
            "print_iter_log: 1                         | print_iter_log                   | a boolean (true or false), got integer 1",
            "scheduler_config: [a]                     | scheduler_config                 | a mapping of keys, got a list",
            "kv_cache_config: {dtype: 16}              | kv_cache_config.dtype            | a string, got integer 16",
    })
    void aWrongTypeNamesTheKeyPath(String yaml, String key, String expected) {
        assertConfigError(key, () -> LlmArgs.fromYaml(yaml), key + " must be " + expected);
    }

    @Test
    void tokensPerBlockUnderKvCacheConfigIsTheBlockSize() {
        assertEquals(64, LlmArgs.fromYaml("kv_cache_config: {tokens_per_block: 64}\n").tokensPerBlock());
        assertEquals(16, LlmArgs.fromYaml("tokens_per_block: 16\nkv_cache_config: {tokens_per_block: 16}\n")
                .tokensPerBlock());
        assertConfigError("kv_cache_config.tokens_per_block",
                () -> LlmArgs.fromYaml("tokens_per_block: 16\nkv_cache_config: {tokens_per_block: 64}\n"),
                "same setting");
        assertConfigError("tokens_per_block", () -> LlmArgs.fromYaml("kv_cache_config: {tokens_per_block: 48}\n"),
                "power of two");
    }

    @Test
    void kvCacheDtypeTakesTensorRtLlmNamesAndRefusesTheOtherQuantizedOnes() {
        assertEquals(KvCacheDtype.BFLOAT16, LlmArgs.fromYaml("kv_cache_config: {dtype: bf16}\n").kvCacheConfig().dtype());
        assertEquals(KvCacheDtype.BFLOAT16, LlmArgs.fromYaml("kv_cache_config: {dtype: BFloat16}\n")
                .kvCacheConfig().dtype());
        LlmArgs f32 = LlmArgs.fromYaml("kv_cache_config: {dtype: float32}\n");
        assertEquals(KvCacheDtype.FLOAT32, f32.kvCacheConfig().dtype());
        assertEquals(f32, LlmArgs.fromYaml(f32.toYaml()), "round trip");
        LlmArgs fp8 = LlmArgs.fromYaml("kv_cache_config: {dtype: fp8}\n");
        assertEquals(KvCacheDtype.FP8, fp8.kvCacheConfig().dtype());
        assertEquals(fp8, LlmArgs.fromYaml(fp8.toYaml()), "round trip");
        for (String quantized : List.of("nvfp4", "fp8_ds_mla", "float16")) {
            assertConfigError("kv_cache_config.dtype",
                    () -> LlmArgs.fromYaml("kv_cache_config: {dtype: " + quantized + "}\n"),
                    "\"" + quantized + "\" is not supported", "use auto, bfloat16, float32 or fp8");
        }
        assertConfigError("kv_cache_config.dtype", () -> LlmArgs.fromYaml("kv_cache_config: {dtype: int4}\n"),
                "one of auto, bfloat16 (bf16), float32 (fp32), fp8", "got \"int4\"");
    }

    @Test
    void defaultsAreTensorRtLlms() {
        LlmArgs a = LlmArgs.defaults();
        assertEquals(2048, a.maxBatchSize());
        assertEquals(8192, a.maxNumTokens());
        assertEquals(32, a.tokensPerBlock());
        assertFalse(a.printIterLog());
        assertFalse(a.cudaGraphConfig().enablePadding());
        assertEquals(List.of(1, 2, 4, 8, 16, 32, 64, 128), a.cudaGraphBatchSizes(),
                "graphs up to TensorRT-LLM's cuda_graph_config default of 128");
        assertEquals(KvCacheDtype.AUTO, a.kvCacheConfig().dtype());
        assertEquals(0.9, a.kvCacheConfig().freeGpuMemoryFraction());
        assertTrue(a.kvCacheConfig().enableBlockReuse());
        assertEquals(List.of(1, 2, 4), LlmArgs.fromYaml("max_batch_size: 4\n").cudaGraphBatchSizes(),
                "capped by the engine's max_batch_size");
        assertEquals(a.cudaGraphBatchSizes(), LlmArgs.fromYaml("cuda_graph_config: {max_batch_size: 0}\n")
                .cudaGraphBatchSizes(), "TensorRT-LLM's 0 means unset");
    }

    @Test
    void everyAcceptedIgnoredKeyLoadsWithOneWarning() {
        for (TrtLlmKeys.Section section : List.of(TrtLlmKeys.TOP, TrtLlmKeys.KV_CACHE, TrtLlmKeys.CUDA_GRAPH,
                TrtLlmKeys.SCHEDULER)) {
            StringBuilder yaml = new StringBuilder(section.path().isEmpty() ? "" : section.path() + ":\n");
            String indent = section.path().isEmpty() ? "" : "  ";
            for (String key : section.ignored().keySet()) {
                yaml.append(indent).append(key).append(": null\n");
            }
            LlmArgs.Loaded loaded = LlmArgs.readYaml(yaml.toString());
            List<String> expected = section.ignored().keySet().stream().map(k -> section.prefix() + k).toList();
            assertEquals(expected, warnedKeys(loaded), section.path());
        }
    }

    @Test
    void implementedAndIgnoredKeysDoNotOverlap() {
        for (TrtLlmKeys.Section section : List.of(TrtLlmKeys.TOP, TrtLlmKeys.KV_CACHE, TrtLlmKeys.CUDA_GRAPH,
                TrtLlmKeys.SCHEDULER, TrtLlmKeys.SPARSE)) {
            Set<String> both = new HashSet<>(section.implemented());
            both.retainAll(section.ignored().keySet());
            assertEquals(Set.of(), both, section.path());
        }
    }

    @Test
    void otherCudaGraphModesAreRefused() {
        assertConfigError("cuda_graph_config.mode", () -> LlmArgs.fromYaml("cuda_graph_config: {mode: encode}\n"),
                "must be decode");
        assertEquals(List.of("cuda_graph_config.mode"),
                warnedKeys(LlmArgs.readYaml("cuda_graph_config: {mode: decode}\n")));
    }
}
