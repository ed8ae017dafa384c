package io.rocketkv.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code kv_cache_config.dtype: fp8} through {@code LLM} on the CPU, dense and RocketKV: both run, and dense picks the
 * bf16 run's tokens wherever the bf16 run's top-2 gap is wide (the engine-level parity with transformers is
 * TransformersParityTest's). RocketKV's page selection reads the fp8 keys, so a changed selection may change tokens
 * past any tie rule; with budgets that keep every page it equals dense (RocketKvEngineTest).
 */
class Fp8KvCacheTest {

    @TempDir
    static Path dir;
    static Path model;

    @BeforeAll
    static void writeModel() throws Exception {
        model = TinyLlm.write(dir);
    }

    private static RequestOutput run(KvCacheDtype dtype, RocketSparseAttentionConfig sparse) {
        LLM.Builder b = LLM.builder().model(model).backend(Backend.CPU).tokensPerBlock(16)
                .kvCacheConfig(KvCacheConfig.builder().enableBlockReuse(false).maxTokens(2048).dtype(dtype).build());
        if (sparse != null) {
            b.sparseAttentionConfig(sparse);
        }
        try (LLM llm = b.build()) {
            return llm.generate("the cat sat on the mat and looked at the dog for a while",
                    TinyLlm.greedy(8).logprobs(2).build());
        }
    }

    @Test
    void fp8RunsDenseAndRocketKvAndAgreesWithBf16AwayFromNearTies() {
        var sparse = RocketSparseAttentionConfig.builder().windowSize(8).kernelSize(7).promptBudget(32).topk(4).topr(16)
                .pageSize(4).build();
        for (RocketSparseAttentionConfig s : new RocketSparseAttentionConfig[] {null, sparse}) {
            RequestOutput bf16 = run(KvCacheDtype.BFLOAT16, s);
            RequestOutput fp8 = run(KvCacheDtype.FP8, s);
            int[] a = bf16.output().tokenIds();
            int[] b = fp8.output().tokenIds();
            assertEquals(8, b.length);
            for (int i = 0; i < a.length && a[i] == b[i]; i++) {
                assertTrue(Double.isFinite(fp8.output().logprobs().get(i).logprob()));
            }
            for (int i = 0; s == null && i < a.length; i++) {
                if (a[i] != b[i]) {
                    var top = bf16.output().logprobs().get(i).top();
                    double gap = top.get(0).logprob() - top.get(1).logprob();
                    assertTrue(gap < 0.1, "dense: fp8 differs from bf16 at token " + i
                            + " where bf16's top-2 gap is " + gap);
                    break;
                }
            }
        }
    }
}
