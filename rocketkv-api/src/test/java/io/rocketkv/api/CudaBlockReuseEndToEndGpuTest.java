package io.rocketkv.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rocketkv.core.testing.ParityCheckpoints;
import io.rocketkv.core.testing.RandomCheckpoint;
import io.rocketkv.cuda.CudaDriver;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Block reuse on {@link Backend#CUDA}: a 300-token prefix (ending mid-block: 18 blocks of 16 and 12 tokens) with 8
 * different suffixes, sent one after another and all at once, and a prompt sent twice (its whole prompt cached but
 * the last block), with {@code enable_block_reuse} on against off, dense and with RocketKV (budget 64: stage 1 evicts
 * into blocks of each request's own). A suffix prefill's GEMMs and attention tiles differ from a whole prompt's, so
 * bf16 rounding differs: {@link GpuEndToEnd#compare}'s rule (ids equal up to a near-tie, log-probabilities within
 * 5e-2), as {@link CudaChunkedPrefillEndToEndGpuTest}. Later requests must be served from the cache.
 */
@Tag("gpu")
class CudaBlockReuseEndToEndGpuTest {

    private static final int TOKENS = 16;
    private static final double GAP = 0.05;
    private static final double LOGPROB_TOL = 5e-2;
    private static final int[] SUFFIXES = {1, 5, 13, 20, 31, 40, 57, 64};

    @TempDir
    static Path dir;

    @BeforeAll
    static void requireCuda() {
        Assumptions.assumeTrue(CudaDriver.isAvailable(), () -> "no CUDA here: " + CudaDriver.unavailableReason());
    }

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (var e : ParityCheckpoints.forCuda().entrySet()) {
            for (boolean rocket : new boolean[] {false, true}) {
                out.add(Arguments.of(e.getKey(), e.getValue(), rocket));
            }
        }
        return out.stream();
    }

    private static LLM open(Path model, boolean rocket, boolean reuse) {
        var b = LLM.builder().model(model).backend(Backend.CUDA).tokensPerBlock(16).maxBatchSize(8)
                .kvCacheConfig(KvCacheConfig.builder().enableBlockReuse(reuse).maxTokens(8192).build());
        if (rocket) {
            b.sparseAttentionConfig(RocketSparseAttentionConfig.builder().windowSize(8).kernelSize(7).promptBudget(64)
                    .topk(4).topr(16).pageSize(4).ktCacheDtype(KtCacheDtype.BFLOAT16).build());
        }
        return b.build();
    }

    private static List<int[]> prompts() {
        SplittableRandom r = new SplittableRandom(11);
        int[] prefix = r.ints(300, 0, 296).toArray();
        List<int[]> out = new ArrayList<>();
        for (int s : SUFFIXES) {
            int[] p = Arrays.copyOf(prefix, 300 + s);
            System.arraycopy(r.ints(s, 0, 296).toArray(), 0, p, 300, s);
            out.add(p);
        }
        out.add(out.get(2)); // sent again: all its full blocks but the last token's are cached
        return out;
    }

    private static List<RequestOutput> oneAfterAnother(LLM llm, List<int[]> prompts) {
        List<RequestOutput> out = new ArrayList<>();
        for (int[] p : prompts) {
            out.add(llm.generateStream(p, GpuEndToEnd.greedy(TOKENS), null).join());
        }
        return out;
    }

    private static List<RequestOutput> allAtOnce(LLM llm, List<int[]> prompts) {
        List<CompletableFuture<RequestOutput>> fs = new ArrayList<>();
        for (int[] p : prompts) {
            fs.add(llm.generateStream(p, GpuEndToEnd.greedy(TOKENS), null));
        }
        return fs.stream().map(CompletableFuture::join).toList();
    }

    @ParameterizedTest(name = "{0}, rocketkv {2}")
    @MethodSource("cases")
    void reuseOnEqualsReuseOffOnCuda(String name, RandomCheckpoint ckpt, boolean rocket) throws IOException {
        Path model = ckpt.write(dir.resolve(name + "-" + rocket));
        List<int[]> prompts = prompts();
        String what = name + (rocket ? " rocketkv" : " dense");
        List<RequestOutput> off;
        try (LLM llm = open(model, rocket, false)) {
            off = oneAfterAnother(llm, prompts);
        }
        try (LLM llm = open(model, rocket, true)) {
            List<RequestOutput> seq = oneAfterAnother(llm, prompts);
            for (int i = 0; i < prompts.size(); i++) {
                GpuEndToEnd.compare(what + " one after another, prompt " + i, "reuse off", "reuse on", off.get(i),
                        seq.get(i), TOKENS, GAP, LOGPROB_TOL);
                if (i > 0) {
                    assertTrue(seq.get(i).metrics().numCachedTokens() >= 256, what + " prompt " + i + ": "
                            + seq.get(i).metrics().numCachedTokens() + " tokens served from the cache");
                }
            }
            assertTrue(seq.get(8).metrics().numCachedTokens() > seq.get(2).metrics().numCachedTokens(),
                    "the repeated prompt is served past the shared prefix");
            assertEquals(0, llm.kvCacheBytesInUse(), "every block is back in the pool");
        }
        try (LLM llm = open(model, rocket, true)) {
            List<RequestOutput> together = allAtOnce(llm, prompts);
            for (int i = 0; i < prompts.size(); i++) {
                GpuEndToEnd.compare(what + " all at once, prompt " + i, "reuse off", "reuse on", off.get(i),
                        together.get(i), TOKENS, GAP, LOGPROB_TOL);
            }
            assertTrue(llm.prefixCacheStats().hitTokens() > 0, llm.prefixCacheStats().toString());
            assertEquals(0, llm.kvCacheBytesInUse(), "every block is back in the pool");
        }
    }
}
