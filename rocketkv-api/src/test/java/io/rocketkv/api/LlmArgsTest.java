package io.rocketkv.api;

import static io.rocketkv.api.ConfigAssertions.assertConfigError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class LlmArgsTest {

    private static final KvCacheConfig NO_REUSE = KvCacheConfig.builder().enableBlockReuse(false).build();

    private static LlmArgs.Builder rocketKv() {
        return LlmArgs.builder().sparseAttentionConfig(RocketSparseAttentionConfig.defaults()).kvCacheConfig(NO_REUSE);
    }

    @Test
    void defaults() {
        LlmArgs a = LlmArgs.defaults();
        assertEquals(Backend.AUTO, a.backend());
        assertEquals("TRTLLM", a.attnBackend());
        assertNull(a.sparseAttentionConfig());
        assertFalse(a.isSparse());
        assertEquals(KvCacheConfig.defaults(), a.kvCacheConfig());
        assertFalse(a.enableChunkedPrefill());
        assertNull(a.maxSeqLen());
        assertEquals(2048, a.maxBatchSize());
        assertEquals(8192, a.maxNumTokens());
        assertEquals(32, a.tokensPerBlock());
        assertEquals(1, a.streamInterval(), "TensorRT-LLM's default: every token");
    }

    @Test
    void builderSetsEveryFieldAndToBuilderRoundTrips() {
        LlmArgs a = rocketKv().backend(Backend.CPU).attnBackend("vanilla").maxSeqLen(4096).maxBatchSize(4)
                .maxNumTokens(16384).tokensPerBlock(64).build();
        assertEquals(Backend.CPU, a.backend());
        assertEquals("VANILLA", a.attnBackend());
        assertTrue(a.isSparse());
        assertEquals(RocketSparseAttentionConfig.defaults(), a.sparseAttentionConfig());
        assertEquals(NO_REUSE, a.kvCacheConfig());
        assertEquals(4096, a.maxSeqLen());
        assertEquals(4, a.maxBatchSize());
        assertEquals(16384, a.maxNumTokens());
        assertEquals(64, a.tokensPerBlock());
        assertEquals(a, a.toBuilder().build());
        assertEquals(a.hashCode(), a.toBuilder().build().hashCode());
        assertTrue(a.toString().contains("maxSeqLen=4096"), a.toString());
    }

    @Test
    void nullsRestoreTheDefaults() {
        LlmArgs a = LlmArgs.builder().backend((Backend) null).attnBackend(null).kvCacheConfig(null).build();
        assertEquals(LlmArgs.defaults(), a);
        assertEquals(Backend.CUDA, LlmArgs.builder().backend("CUDA").build().backend());
    }

    @ParameterizedTest
    @ValueSource(strings = {"TRTLLM", "trtllm", "Vanilla", "FLASHINFER", "default"})
    void attnBackendAcceptsTensorRtLlmNamesInAnyCase(String name) {
        assertEquals(name.toUpperCase(java.util.Locale.ROOT), LlmArgs.builder().attnBackend(name).build().attnBackend());
    }

    @Test
    void unknownAttnBackendListsTheAllowedNames() {
        assertConfigError("attn_backend", () -> LlmArgs.builder().attnBackend("flash").build(),
                "attn_backend (attnBackend)", "TRTLLM, VANILLA, FLASHINFER, DEFAULT", "got \"flash\"");
    }

    @Test
    void maxSeqLenMustBePositiveWhenSet() {
        assertConfigError("max_seq_len", () -> LlmArgs.builder().maxSeqLen(0).build(),
                "max_seq_len (maxSeqLen)", ">= 1", "got 0");
    }

    @Test
    void maxBatchSizeMustBePositive() {
        assertConfigError("max_batch_size", () -> LlmArgs.builder().maxBatchSize(0).build(),
                "max_batch_size (maxBatchSize)", ">= 1", "got 0");
    }

    @ParameterizedTest
    @ValueSource(ints = {0, -3})
    void streamIntervalMustBePositive(int bad) {
        assertConfigError("stream_interval", () -> LlmArgs.builder().streamInterval(bad).build(),
                "stream_interval (streamInterval)", ">= 1", "got " + bad);
        assertConfigError("stream_interval", () -> LlmArgs.fromYaml("stream_interval: " + bad),
                "stream_interval (streamInterval)", ">= 1", "got " + bad);
    }

    @Test
    void streamIntervalRoundTripsThroughYaml() {
        LlmArgs a = LlmArgs.builder().streamInterval(3).build();
        assertEquals(3, a.streamInterval());
        assertEquals(a, a.toBuilder().build());
        assertEquals(a, LlmArgs.fromYaml(a.toYaml()));
    }

    @Test
    void maxNumTokensMustBePositive() {
        assertConfigError("max_num_tokens", () -> LlmArgs.builder().maxNumTokens(-1).build(),
                "max_num_tokens (maxNumTokens)", ">= 1", "got -1");
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 24, -32})
    void tokensPerBlockMustBeAPowerOfTwo(int bad) {
        assertConfigError("tokens_per_block", () -> LlmArgs.builder().tokensPerBlock(bad).build(),
                "tokens_per_block (tokensPerBlock)", "power of two", "got " + bad);
    }

    @Test
    void rocketKvAcceptsBlockReuseTheDefault() {
        // TensorRT-LLM requires enable_block_reuse: false with RocketKV; here it is a choice, and the default (true)
        LlmArgs a = LlmArgs.builder().sparseAttentionConfig(RocketSparseAttentionConfig.defaults()).build();
        assertTrue(a.kvCacheConfig().enableBlockReuse());
        assertFalse(rocketKv().build().kvCacheConfig().enableBlockReuse(), "false stays a choice");
    }

    @Test
    void rocketKvAcceptsChunkedPrefill() {
        // TensorRT-LLM refuses the pair; here stage 1 runs after a prompt's last chunk
        assertTrue(rocketKv().enableChunkedPrefill(true).build().enableChunkedPrefill());
    }

    @Test
    void denseAttentionAllowsBlockReuseAndChunkedPrefill() {
        LlmArgs a = LlmArgs.builder().enableChunkedPrefill(true).build();
        assertTrue(a.kvCacheConfig().enableBlockReuse());
        assertTrue(a.enableChunkedPrefill());
    }

    @Test
    void promptBudgetMayNotExceedMaxSeqLen() {
        assertConfigError("sparse_attention_config.prompt_budget", () -> rocketKv().maxSeqLen(1024).build(),
                "sparse_attention_config.prompt_budget (promptBudget)", "<= max_seq_len (1024)", "got 2048");
        assertEquals(2048, rocketKv().maxSeqLen(2048).build().maxSeqLen());
    }
}
