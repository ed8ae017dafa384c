package io.rocketkv.api;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.rocketkv.core.testing.ParityCheckpoints;
import io.rocketkv.core.testing.RandomCheckpoint;
import io.rocketkv.cuda.CudaDriver;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Chunked prefill on {@link Backend#CUDA}: the parity checkpoints' prompts (10, 57, 300 tokens, batched) prefilled in
 * chunks of 16, 33 and 64 tokens ({@code enable_chunked_prefill}, {@code max_num_tokens}) against the same prompts
 * prefilled whole, dense and with RocketKV (budget 64 < 300: stage 1 after the last chunk, its 8-query window
 * spanning chunks for the chunks of 33). A chunk's GEMMs and attention tiles differ from a whole prompt's, so the
 * bf16 rounding differs: greedy ids must agree except where the whole prefill's top-2 log-probability gap is below
 * 0.05 (compared up to the first such divergence), log-probabilities within 5e-2 — {@link CudaEndToEndGpuTest}'s rule.
 * RocketKV's selection itself is the same for both (stage 1 reads the keys from the bf16 cache either way:
 * {@code CudaChunkedPrefillGpuTest}).
 */
@Tag("gpu")
class CudaChunkedPrefillEndToEndGpuTest {

    private static final int TOKENS = 24;
    private static final double GAP = 0.05;
    private static final double LOGPROB_TOL = 5e-2;

    @TempDir
    static Path dir;

    @BeforeAll
    static void requireCuda() {
        Assumptions.assumeTrue(CudaDriver.isAvailable(), () -> "no CUDA here: " + CudaDriver.unavailableReason());
    }

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (var e : ParityCheckpoints.forCuda().entrySet()) {
            for (int chunk : new int[] {16, 33, 64}) {
                for (boolean rocket : new boolean[] {false, true}) {
                    out.add(Arguments.of(e.getKey(), e.getValue(), chunk, rocket));
                }
            }
        }
        return out.stream();
    }

    private static LLM open(Path model, boolean rocket, int maxNumTokens, boolean chunked) {
        var b = LLM.builder().model(model).backend(Backend.CUDA).tokensPerBlock(16).maxBatchSize(8)
                .maxNumTokens(maxNumTokens).enableChunkedPrefill(chunked)
                .kvCacheConfig(KvCacheConfig.builder().enableBlockReuse(false).maxTokens(8192).build());
        if (rocket) {
            b.sparseAttentionConfig(RocketSparseAttentionConfig.builder().windowSize(8).kernelSize(7).promptBudget(64)
                    .topk(4).topr(16).pageSize(4).ktCacheDtype(KtCacheDtype.BFLOAT16).build());
        }
        return b.build();
    }

    @ParameterizedTest(name = "{0}, chunks of {2}, rocketkv {3}")
    @MethodSource("cases")
    void chunkedEqualsWholeOnCuda(String name, RandomCheckpoint ckpt, int chunk, boolean rocket) throws IOException {
        Path model = ckpt.write(dir.resolve(name + "-" + chunk + "-" + rocket));
        try (LLM whole = open(model, rocket, 4096, false); LLM chunked = open(model, rocket, chunk, true)) {
            List<String> prompts = GpuEndToEnd.parityPrompts(whole);
            List<RequestOutput> w = whole.generate(prompts, GpuEndToEnd.greedy(TOKENS));
            List<RequestOutput> c = chunked.generate(prompts, GpuEndToEnd.greedy(TOKENS));
            for (int i = 0; i < prompts.size(); i++) {
                GpuEndToEnd.compare(name + " chunks of " + chunk + (rocket ? " rocketkv" : " dense") + " prompt" + i,
                        "whole", "chunked", w.get(i), c.get(i), TOKENS, GAP, LOGPROB_TOL);
            }
            assertEquals(0, chunked.kvCacheBytesInUse(), "every block is back in the pool");
        }
    }
}
