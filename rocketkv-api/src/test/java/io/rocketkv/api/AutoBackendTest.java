package io.rocketkv.api;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.rocketkv.cuda.CudaDriver;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code Backend.AUTO}: CUDA where a device is usable (dense attention and RocketKV alike), else the
 * CPU. Runs everywhere; the {@code gpu} tag makes the GPU suite run it where CUDA exists too.
 */
@Tag("gpu")
class AutoBackendTest {

    @TempDir
    static Path dir;
    static Path model;

    @BeforeAll
    static void writeModel() throws Exception {
        model = TinyLlm.write(dir);
    }

    @Test
    void autoTakesCudaWhenAvailableElseCpu() {
        try (LLM llm = LLM.builder().model(model).kvCacheConfig(KvCacheConfig.builder().maxTokens(2048).build())
                .tokensPerBlock(16).build()) {
            assertEquals(CudaDriver.isAvailable() ? "cuda" : "cpu", llm.backendName(), CudaDriver.unavailableReason());
            RequestOutput out = llm.generate("the cat", TinyLlm.greedy(8).build());
            assertEquals(8, out.output().tokenIds().length);
        }
    }

    @Test
    void autoRunsRocketKvOnCudaWhenAvailable() {
        var sparse = RocketSparseAttentionConfig.builder().windowSize(8).kernelSize(7).promptBudget(32).topk(4).topr(16)
                .pageSize(4).build();
        try (LLM llm = LLM.builder().model(model).sparseAttentionConfig(sparse)
                .kvCacheConfig(KvCacheConfig.builder().enableBlockReuse(false).maxTokens(2048).build())
                .tokensPerBlock(16).build()) {
            assertEquals(CudaDriver.isAvailable() ? "cuda" : "cpu", llm.backendName(), CudaDriver.unavailableReason());
            RequestOutput out = llm.generate("the cat sat on the mat and looked at the dog for a while",
                    TinyLlm.greedy(8).build());
            assertEquals(8, out.output().tokenIds().length);
        }
    }
}
