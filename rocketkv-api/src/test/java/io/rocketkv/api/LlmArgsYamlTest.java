package io.rocketkv.api;

import static io.rocketkv.api.ConfigAssertions.assertConfigError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class LlmArgsYamlTest {

    /** The seed document's extra_config.yaml, verbatim. */
    static final String SEED_CONFIG = """
            backend: pytorch
            attn_backend: TRTLLM
            sparse_attention_config:
              algorithm: rocket
              window_size: 32
              kernel_size: 63
              prompt_budget: 2048
              topk: 64
              topr: 128
              page_size: 4
              kt_cache_dtype: float8_e5m2
            kv_cache_config:
              enable_block_reuse: false
            enable_chunked_prefill: false
            """;

    /** A valid RocketKV config with {@code extra} appended at the top level. */
    private static String rocketKvWith(String extra) {
        return SEED_CONFIG + extra;
    }

    @TempDir
    Path dir;

    @Test
    void seedConfigLoadsUnchanged() throws IOException {
        Path file = dir.resolve("extra_config.yaml");
        Files.writeString(file, SEED_CONFIG);
        LlmArgs a = LlmArgs.fromYaml(file);
        assertEquals(Backend.AUTO, a.backend());
        assertEquals("TRTLLM", a.attnBackend());
        assertEquals(RocketSparseAttentionConfig.defaults(), a.sparseAttentionConfig());
        assertFalse(a.kvCacheConfig().enableBlockReuse());
        assertNull(a.kvCacheConfig().maxTokens());
        assertEquals(0.9, a.kvCacheConfig().freeGpuMemoryFraction());
        assertFalse(a.enableChunkedPrefill());
        assertEquals(a, LlmArgs.fromYaml(SEED_CONFIG));
    }

    @Test
    void everyKeyIsRead() {
        LlmArgs a = LlmArgs.fromYaml("""
                backend: CPU
                attn_backend: flashinfer
                sparse_attention_config:
                  algorithm: Rocket
                  window_size: 16
                  kernel_size: 7
                  prompt_budget: 512
                  topk: 32
                  topr: 64
                  page_size: 8
                  kt_cache_dtype: bfloat16
                kv_cache_config:
                  enable_block_reuse: false
                  max_tokens: 100000
                  free_gpu_memory_fraction: 0.75
                enable_chunked_prefill: false
                max_seq_len: 32768
                max_batch_size: 16
                max_num_tokens: 4096
                tokens_per_block: 64
                """);
        LlmArgs expected = LlmArgs.builder().backend(Backend.CPU).attnBackend("FLASHINFER")
                .sparseAttentionConfig(new RocketSparseAttentionConfig(16, 7, 512, 32, 64, 8, KtCacheDtype.BFLOAT16))
                .kvCacheConfig(new KvCacheConfig(false, 100000, 0.75)).enableChunkedPrefill(false).maxSeqLen(32768)
                .maxBatchSize(16).maxNumTokens(4096).tokensPerBlock(64).build();
        assertEquals(expected, a);
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "   \n\n", "# only a comment\n", "---\n", "~\n"})
    void emptyFileIsAllDefaults(String yaml) {
        assertEquals(LlmArgs.defaults(), LlmArgs.fromYaml(yaml));
    }

    @Test
    void emptyFileOnDiskIsAllDefaults() throws IOException {
        Path file = Files.writeString(dir.resolve("empty.yaml"), "");
        assertEquals(LlmArgs.defaults(), LlmArgs.fromYaml(file));
    }

    @Test
    void sparseFieldsMayBeOmittedAndTakeTheirDefaults() {
        LlmArgs a = LlmArgs.fromYaml("""
                sparse_attention_config: {algorithm: rocket, topk: 16}
                kv_cache_config: {enable_block_reuse: false}
                """);
        assertEquals(RocketSparseAttentionConfig.builder().topk(16).build(), a.sparseAttentionConfig());
    }

    @Test
    void nullMappingsMeanNoneOrDefaults() {
        LlmArgs a = LlmArgs.fromYaml("sparse_attention_config:\nkv_cache_config: ~\nmax_seq_len: null\n");
        assertEquals(LlmArgs.defaults(), a);
    }

    @Test
    void roundTripThroughToYaml() {
        LlmArgs seed = LlmArgs.fromYaml(SEED_CONFIG);
        assertEquals(seed, LlmArgs.fromYaml(seed.toYaml()));
        LlmArgs full = seed.toBuilder().backend(Backend.CUDA).attnBackend("vanilla").maxSeqLen(65536)
                .kvCacheConfig(new KvCacheConfig(false, 123456, 0.85))
                .sparseAttentionConfig(new RocketSparseAttentionConfig(8, 1, 8, 1, 1, 1, KtCacheDtype.BFLOAT16))
                .maxBatchSize(1).maxNumTokens(1).tokensPerBlock(1).allowLongMaxSeqLen(true).build();
        assertEquals(full, LlmArgs.fromYaml(full.toYaml()));
        assertTrue(full.toYaml().contains("allow_long_max_seq_len: true"), full.toYaml());
        assertEquals(LlmArgs.defaults(), LlmArgs.fromYaml(LlmArgs.defaults().toYaml()));
    }

    @Test
    void tensorParallelSizeIsReadWrittenAndValidated() {
        assertEquals(1, LlmArgs.defaults().tensorParallelSize());
        LlmArgs four = LlmArgs.fromYaml("tensor_parallel_size: 4\n");
        assertEquals(4, four.tensorParallelSize());
        assertEquals(four, LlmArgs.fromYaml(four.toYaml()));
        assertTrue(four.toYaml().contains("tensor_parallel_size: 4"), four.toYaml());
        assertEquals(LlmArgs.builder().tensorParallelSize(4).build(), four);
        assertConfigError("tensor_parallel_size", () -> LlmArgs.fromYaml("tensor_parallel_size: 0\n"),
                "tensor_parallel_size (tensorParallelSize) must be >= 1", "got 0");
        assertConfigError("tensor_parallel_size", () -> LlmArgs.builder().tensorParallelSize(-2).build(),
                "tensor_parallel_size (tensorParallelSize) must be >= 1", "got -2");
        assertConfigError("tensor_parallel_size", () -> LlmArgs.fromYaml("tensor_parallel_size: two\n"),
                "tensor_parallel_size must be ", "string \"two\"");
    }

    @Test
    void toYamlUsesTheYamlKeys() {
        String yaml = LlmArgs.fromYaml(SEED_CONFIG).toYaml();
        assertTrue(yaml.contains("algorithm: rocket"), yaml);
        assertTrue(yaml.contains("kt_cache_dtype: float8_e5m2"), yaml);
        assertTrue(yaml.contains("enable_block_reuse: false"), yaml);
        assertFalse(yaml.contains("max_seq_len"), "unset values are omitted: " + yaml);
    }

    // ---- unknown keys ----

    @Test
    void unknownTopLevelKeyIsNamedWithTheAllowedKeys() {
        ConfigException e = assertConfigError("max_seqlen", () -> LlmArgs.fromYaml("max_seqlen: 4096\n"),
                "<yaml>", "unknown key max_seqlen", "top-level keys read here: backend, attn_backend",
                "tokens_per_block", "did you mean max_seq_len?");
        assertFalse(e.getMessage().contains("\n"));
    }

    @Test
    void unknownSparseKeyIsNamedWithItsPath() {
        assertConfigError("sparse_attention_config.kernel",
                () -> LlmArgs.fromYaml(SEED_CONFIG.replace("kernel_size: 63", "kernel: 63")),
                "unknown key sparse_attention_config.kernel",
                "allowed keys under sparse_attention_config: algorithm, window_size, kernel_size",
                "did you mean kernel_size?");
    }

    @Test
    void unknownKvCacheKeyIsNamedWithItsPath() {
        assertConfigError("kv_cache_config.enable_reuse",
                () -> LlmArgs.fromYaml("kv_cache_config:\n  enable_reuse: false\n"),
                "unknown key kv_cache_config.enable_reuse",
                "keys under kv_cache_config read here: enable_block_reuse, max_tokens, free_gpu_memory_fraction",
                "did you mean enable_block_reuse?");
    }

    @Test
    void unknownKeyInAFileNamesTheFile() throws IOException {
        Path file = Files.writeString(dir.resolve("extra_config.yaml"), rocketKvWith("print_iter_logs: true\n"));
        assertConfigError("print_iter_logs", () -> LlmArgs.fromYaml(file),
                file.toString() + ": unknown key print_iter_logs");
    }

    // ---- wrong types ----

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "max_seq_len: '4096'                      | max_seq_len       | string \"4096\"",
            "max_seq_len: 4096.0                      | max_seq_len       | floating-point 4096.0",
            "max_batch_size: 2.5                      | max_batch_size    | floating-point 2.5",
            "max_num_tokens: true                     | max_num_tokens    | boolean true",
            "tokens_per_block: [32]                   | tokens_per_block  | a list",
            "max_seq_len: 99999999999                 | max_seq_len       | integer 99999999999",
            "enable_chunked_prefill: 'false'          | enable_chunked_prefill | string \"false\"",
            "enable_chunked_prefill: 0                | enable_chunked_prefill | integer 0",
            "backend: 1                               | backend           | integer 1",
            "attn_backend: {a: b}                     | attn_backend      | a mapping",
            "kv_cache_config: 0.5                     | kv_cache_config   | floating-point 0.5",
            "kv_cache_config: {max_tokens: lots}      | kv_cache_config.max_tokens | string \"lots\"",
            "kv_cache_config: {free_gpu_memory_fraction: '0.5'} | kv_cache_config.free_gpu_memory_fraction | string \"0.5\"",
            "kv_cache_config: {enable_block_reuse: ~} | kv_cache_config.enable_block_reuse | null",
            "max_batch_size:                          | max_batch_size    | null",
    })
    void wrongTypesNameTheKeyPathAndTheValue(String yaml, String key, String shown) {
        assertConfigError(key, () -> LlmArgs.fromYaml(yaml), "<yaml>: " + key + " must be ", "got " + shown);
    }

    @Test
    void wrongTypeInsideTheSparseConfig() {
        assertConfigError("sparse_attention_config.window_size",
                () -> LlmArgs.fromYaml(SEED_CONFIG.replace("window_size: 32", "window_size: 32.5")),
                "sparse_attention_config.window_size must be an integer, got floating-point 32.5");
        assertConfigError("sparse_attention_config.topk",
                () -> LlmArgs.fromYaml(SEED_CONFIG.replace("topk: 64", "topk: \"64\"")),
                "sparse_attention_config.topk must be an integer, got string \"64\"");
        assertConfigError("sparse_attention_config",
                () -> LlmArgs.fromYaml("sparse_attention_config: rocket\n"),
                "sparse_attention_config must be a mapping of keys, got string \"rocket\"");
    }

    @Test
    void topLevelMustBeAMapping() {
        assertConfigError(() -> LlmArgs.fromYaml("- backend: cpu\n"), "top level must be a mapping", "a list");
    }

    // ---- values out of range, via the builders ----

    @Test
    void outOfRangeValuesNameTheFieldBothWays() {
        assertConfigError("sparse_attention_config.kernel_size",
                () -> LlmArgs.fromYaml(SEED_CONFIG.replace("kernel_size: 63", "kernel_size: 64")),
                "<yaml>: sparse_attention_config.kernel_size (kernelSize) must be odd and >= 1, got 64");
        assertConfigError("max_batch_size", () -> LlmArgs.fromYaml("max_batch_size: -4\n"),
                "max_batch_size (maxBatchSize) must be >= 1, got -4");
        assertConfigError("kv_cache_config.free_gpu_memory_fraction",
                () -> LlmArgs.fromYaml("kv_cache_config: {free_gpu_memory_fraction: 0}\n"),
                "kv_cache_config.free_gpu_memory_fraction (freeGpuMemoryFraction)", "got 0.0");
        assertConfigError("sparse_attention_config.kt_cache_dtype",
                () -> LlmArgs.fromYaml(SEED_CONFIG.replace("float8_e5m2", "float8_e4m3")),
                "kt_cache_dtype", "float8_e5m2, bfloat16", "got \"float8_e4m3\"");
        assertConfigError("backend", () -> LlmArgs.fromYaml("backend: tensorrt\n"),
                "backend (backend)", "auto, cpu, cuda", "got \"tensorrt\"");
        assertConfigError("attn_backend", () -> LlmArgs.fromYaml("attn_backend: xformers\n"),
                "attn_backend (attnBackend)", "TRTLLM, VANILLA, FLASHINFER, DEFAULT");
    }

    // ---- algorithm ----

    @Test
    void badAlgorithmListsTheSupportedOnes() {
        assertConfigError("sparse_attention_config.algorithm",
                () -> LlmArgs.fromYaml(SEED_CONFIG.replace("algorithm: rocket", "algorithm: dsa")),
                "sparse_attention_config.algorithm", "supported algorithms: rocket", "got \"dsa\"");
    }

    @Test
    void missingAlgorithmIsAnError() {
        assertConfigError("sparse_attention_config.algorithm",
                () -> LlmArgs.fromYaml(SEED_CONFIG.replace("  algorithm: rocket\n", "")),
                "sparse_attention_config.algorithm is required", "rocket");
        assertConfigError("sparse_attention_config.algorithm",
                () -> LlmArgs.fromYaml("sparse_attention_config: {}\n"), "is required");
    }

    @Test
    void algorithmIsCaseInsensitive() {
        LlmArgs a = LlmArgs.fromYaml(SEED_CONFIG.replace("algorithm: rocket", "algorithm: ROCKET"));
        assertEquals(RocketSparseAttentionConfig.defaults(), a.sparseAttentionConfig());
    }

    // ---- RocketKV engine rules ----

    @Test
    void rocketKvWithBlockReuseIsAccepted() {
        LlmArgs a = LlmArgs.fromYaml(SEED_CONFIG.replace("enable_block_reuse: false", "enable_block_reuse: true"));
        assertTrue(a.kvCacheConfig().enableBlockReuse());
        // enable_block_reuse defaults to true, also under RocketKV
        LlmArgs d = LlmArgs.fromYaml(SEED_CONFIG.replace("kv_cache_config:\n  enable_block_reuse: false\n", ""));
        assertTrue(d.isSparse());
        assertTrue(d.kvCacheConfig().enableBlockReuse());
    }

    @Test
    void rocketKvWithChunkedPrefillIsAccepted() {
        LlmArgs a = LlmArgs.fromYaml(SEED_CONFIG.replace("enable_chunked_prefill: false", "enable_chunked_prefill: true"));
        assertTrue(a.enableChunkedPrefill());
        assertNotNull(a.sparseAttentionConfig());
    }

    @Test
    void promptBudgetAboveMaxSeqLenIsAnError() {
        assertConfigError("sparse_attention_config.prompt_budget",
                () -> LlmArgs.fromYaml(rocketKvWith("max_seq_len: 1000\n")),
                "prompt_budget (promptBudget) must be <= max_seq_len (1000), got 2048");
    }

    // ---- malformed YAML and unreadable files ----

    @Test
    void malformedYamlNamesTheFileAndLine() throws IOException {
        Path file = Files.writeString(dir.resolve("broken.yaml"), "backend: cpu\nkv_cache_config:\n\tenable_block_reuse: false\n");
        ConfigException e = assertConfigError(() -> LlmArgs.fromYaml(file),
                file.toString() + ": malformed YAML at line 3", "TAB");
        assertNull(e.key());
    }

    @Test
    void unclosedFlowMappingNamesTheLine() {
        assertConfigError(() -> LlmArgs.fromYaml("backend: cpu\nkv_cache_config: {enable_block_reuse: false\n"),
                "<yaml>: malformed YAML at line 3");
    }

    @Test
    void duplicateKeyIsAnError() {
        assertConfigError(() -> LlmArgs.fromYaml("max_seq_len: 5\nmax_seq_len: 6\n"),
                "malformed YAML at line 2", "duplicate key 'max_seq_len'");
    }

    @Test
    void secondDocumentIsAnError() {
        assertConfigError(() -> LlmArgs.fromYaml("max_seq_len: 5\n---\nmax_seq_len: 6\n"),
                "malformed YAML at line 3", "second YAML document");
    }

    @Test
    void missingFileIsAConfigErrorNamingIt() {
        Path missing = dir.resolve("nope.yaml");
        assertConfigError(() -> LlmArgs.fromYaml(missing), "config file " + missing, "cannot be read");
    }
}
