package io.rocketkv.api;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** RocketKV through the public API: builder and YAML switch it on, metrics show the reduction. */
class LlmRocketKvTest {

    @TempDir
    static Path dir;
    static Path model;

    @BeforeAll
    static void writeModel() throws Exception {
        model = TinyLlm.write(dir);
    }

    private static final String LONG_PROMPT = String.join(" ", TinyLlm.PROMPTS) + " " + String.join(" ", TinyLlm.PROMPTS);

    private static RocketSparseAttentionConfig small() {
        return RocketSparseAttentionConfig.builder().windowSize(8).kernelSize(7).promptBudget(32).topk(4).topr(16)
                .pageSize(4).build();
    }

    @Test
    void builderSwitchesRocketKvOnAndMetricsShowTheReduction() {
        try (LLM llm = LLM.builder().model(model).sparseAttentionConfig(small())
                .kvCacheConfig(KvCacheConfig.builder().enableBlockReuse(false).maxTokens(4096).build())
                .tokensPerBlock(16).build()) {
            RequestOutput out = llm.generate(LONG_PROMPT, TinyLlm.greedy(20).build());
            var m = out.metrics();
            assertTrue(m.promptTokens() > 32, "the prompt is longer than the budget: " + m.promptTokens());
            assertEquals(20, m.generatedTokens());
            assertEquals(32 + 19, m.cacheTokens(), "budget + decoded tokens stay in the cache");
            assertTrue(m.ktCacheBytes() > 0);
            assertTrue(m.kvCacheBytes() < m.denseKvCacheBytes(), m.kvCacheBytes() + " vs dense " + m.denseKvCacheBytes());
            assertEquals(0, llm.kvCacheBytesInUse());
        }
    }

    @Test
    void yamlSwitchesRocketKvOnAndEqualsDenseWhenNothingIsEvicted() throws Exception {
        Path yaml = dir.resolve("rocket.yaml");
        Files.writeString(yaml, """
                sparse_attention_config:
                  algorithm: rocket
                  window_size: 8
                  kernel_size: 7
                  prompt_budget: 512
                  topk: 128
                  topr: 16
                  page_size: 4
                  kt_cache_dtype: bfloat16
                kv_cache_config:
                  enable_block_reuse: false
                  max_tokens: 4096
                tokens_per_block: 16
                """);
        SamplingParams greedy = TinyLlm.greedy(24).logprobs(0).build();
        List<RequestOutput> sparse;
        try (LLM llm = LLM.builder().model(model).args(LlmArgs.fromYaml(yaml)).build()) {
            sparse = llm.generate(List.of(LONG_PROMPT, "the cat"), greedy);
        }
        List<RequestOutput> dense;
        try (LLM llm = LLM.builder().model(model).kvCacheConfig(KvCacheConfig.builder().maxTokens(4096).build())
                .tokensPerBlock(16).build()) {
            dense = llm.generate(List.of(LONG_PROMPT, "the cat"), greedy);
        }
        for (int i = 0; i < 2; i++) {
            assertArrayEquals(dense.get(i).output().tokenIds(), sparse.get(i).output().tokenIds());
            assertEquals(dense.get(i).output().text(), sparse.get(i).output().text());
            for (int t = 0; t < 24; t++) {
                assertEquals(dense.get(i).output().logprobs().get(t).logprob(),
                        sparse.get(i).output().logprobs().get(t).logprob(), 1e-5);
            }
        }
    }

    @Test
    void pageSizeMustDivideTokensPerBlock() {
        var cfg = small().toBuilder().pageSize(32).build();
        ConfigException e = assertThrows(ConfigException.class, () -> LLM.builder().model(model).sparseAttentionConfig(cfg)
                .kvCacheConfig(KvCacheConfig.builder().enableBlockReuse(false).build()).tokensPerBlock(16).build());
        assertEquals("sparse_attention_config.page_size", e.key());
        assertTrue(e.getMessage().contains("32") && e.getMessage().contains("16"), e.getMessage());
    }

    @Test
    void toprAboveHeadDimNamesBothNumbers() {
        var cfg = small().toBuilder().topr(17).build();
        ConfigException e = assertThrows(ConfigException.class, () -> LLM.builder().model(model).sparseAttentionConfig(cfg)
                .kvCacheConfig(KvCacheConfig.builder().enableBlockReuse(false).build()).build());
        assertTrue(e.getMessage().contains("17") && e.getMessage().contains("16"), e.getMessage());
    }
}
