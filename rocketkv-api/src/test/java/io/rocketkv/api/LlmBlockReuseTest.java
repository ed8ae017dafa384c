package io.rocketkv.api;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rocketkv.core.kvcache.PrefixCacheStats;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code kv_cache_config.enable_block_reuse} through the public API: on (the default) a repeated prompt prefix is
 * served from the cache ({@link RequestOutput.Metrics#numCachedTokens()}, {@link LLM#prefixCacheStats()}) with the
 * outputs of reuse off, dense and RocketKV; off, nothing is cached.
 */
class LlmBlockReuseTest {

    @TempDir
    static Path dir;
    static Path model;

    @BeforeAll
    static void writeModel() throws Exception {
        model = TinyLlm.write(dir);
    }

    private static final String PREFIX = String.join(" ", TinyLlm.PROMPTS) + " " + String.join(" ", TinyLlm.PROMPTS);

    private static LLM open(boolean reuse, RocketSparseAttentionConfig sparse) {
        return LLM.builder().model(model).backend(Backend.CPU).sparseAttentionConfig(sparse)
                .kvCacheConfig(KvCacheConfig.builder().enableBlockReuse(reuse).maxTokens(4096).build())
                .tokensPerBlock(16).maxBatchSize(8).build();
    }

    private static List<RequestOutput> run(LLM llm) {
        List<RequestOutput> out = new ArrayList<>();
        SamplingParams greedy = TinyLlm.greedy(6).logprobs(0).build();
        for (String tail : TinyLlm.PROMPTS) {
            out.add(llm.generate(PREFIX + " " + tail, greedy));
        }
        return out;
    }

    private static void check(boolean sparse) {
        RocketSparseAttentionConfig rk = sparse ? RocketSparseAttentionConfig.builder().windowSize(8).kernelSize(7)
                .promptBudget(32).topk(4).topr(16).pageSize(4).build() : null;
        List<RequestOutput> off;
        try (LLM llm = open(false, rk)) {
            off = run(llm);
            assertEquals(0, llm.prefixCacheStats().hitTokens());
            assertTrue(off.stream().allMatch(o -> o.metrics().numCachedTokens() == 0));
        }
        try (LLM llm = open(true, rk)) {
            List<RequestOutput> on = run(llm);
            for (int i = 0; i < on.size(); i++) {
                assertArrayEquals(off.get(i).output().tokenIds(), on.get(i).output().tokenIds(), "prompt " + i);
                for (int t = 0; t < on.get(i).output().logprobs().size(); t++) {
                    assertEquals(off.get(i).output().logprobs().get(t).logprob(),
                            on.get(i).output().logprobs().get(t).logprob(), 1e-5, "prompt " + i + " token " + t);
                }
            }
            int prompt = on.get(1).metrics().promptTokens();
            int cached = on.get(1).metrics().numCachedTokens();
            assertTrue(cached >= 16 && cached < prompt && cached % 16 == 0, cached + " of " + prompt + " cached");
            assertEquals(0, on.get(0).metrics().numCachedTokens());
            PrefixCacheStats st = llm.prefixCacheStats();
            assertEquals(on.size(), st.admissions());
            assertEquals(on.stream().mapToInt(o -> o.metrics().numCachedTokens()).sum(), st.hitTokens());
            assertTrue(st.hitRate() > 0.3, st.toString());
            assertEquals(0, llm.kvBlocksInUse());
        }
    }

    @Test
    void denseReuseIsOnByDefaultAndChangesNoOutput() {
        try (LLM llm = LLM.builder().model(model).backend(Backend.CPU).tokensPerBlock(16)
                .kvCacheConfig(KvCacheConfig.builder().maxTokens(4096).build()).build()) {
            llm.generate(PREFIX, TinyLlm.greedy(2).build());
            assertTrue(llm.generate(PREFIX + " the", TinyLlm.greedy(2).build()).metrics().numCachedTokens() > 0);
        }
        check(false);
    }

    @Test
    void rocketKvWithReuseChangesNoOutput() {
        check(true);
    }
}
