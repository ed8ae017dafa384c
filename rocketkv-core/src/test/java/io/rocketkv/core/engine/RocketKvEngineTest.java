package io.rocketkv.core.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rocketkv.core.kernels.CpuKernels;
import io.rocketkv.core.model.LlamaModel;
import io.rocketkv.core.model.ModelConfig;
import io.rocketkv.core.numeric.DType;
import io.rocketkv.core.sparse.RocketKvParams;
import io.rocketkv.core.testing.ParityCheckpoints;
import io.rocketkv.core.testing.RandomCheckpoint;
import io.rocketkv.core.weights.SafeTensors;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** RocketKV in the engine: equal to dense when nothing is evicted, and correct accounting when it is. */
class RocketKvEngineTest {

    private static final int TOKENS_PER_BLOCK = 16;

    @TempDir
    static Path dir;

    static Stream<Arguments> checkpoints() {
        return ParityCheckpoints.all().entrySet().stream().map(e -> Arguments.of(e.getKey(), e.getValue()));
    }

    /** Each parity checkpoint with the default (bf16) and the fp8 KV cache. */
    static Stream<Arguments> checkpointsAndKvDtypes() {
        return ParityCheckpoints.all().entrySet().stream().flatMap(e -> Stream.of(
                Arguments.of(e.getKey(), e.getValue(), DType.BF16), Arguments.of(e.getKey(), e.getValue(), DType.F8_E4M3)));
    }

    private static GenerationRequest greedy(int[] prompt, int maxTokens) {
        return new GenerationRequest(prompt, SamplingOptions.builder().temperature(0).logprobs(0).build(),
                StopCriteria.builder().maxTokens(maxTokens).ignoreEos(true).build(), null);
    }

    private record Loaded(ModelConfig config, SafeTensors weights, LlamaModel model, CpuKernels kernels) {
    }

    private static Loaded load(String name, RandomCheckpoint ckpt) throws Exception {
        return load(name, ckpt, DType.BF16);
    }

    private static Loaded load(String name, RandomCheckpoint ckpt, DType kvDtype) throws Exception {
        Path d = dir.resolve(name);
        if (!d.resolve("model.safetensors").toFile().exists()) {
            ckpt.write(d);
        }
        ModelConfig config = ModelConfig.load(d);
        SafeTensors weights = SafeTensors.open(d);
        CpuKernels kernels = new CpuKernels(true, kvDtype);
        return new Loaded(config, weights, LlamaModel.load(config, weights, kernels, TOKENS_PER_BLOCK), kernels);
    }

    private static List<GenerationResult> run(Loaded m, EngineConfig cfg, List<int[]> prompts, int maxTokens) throws Exception {
        try (Engine engine = new Engine(m.model(), m.kernels(), cfg, ids -> "")) {
            List<CompletableFuture<GenerationResult>> fs = new ArrayList<>();
            for (int[] p : prompts) {
                fs.add(engine.submit(greedy(p, maxTokens)));
            }
            List<GenerationResult> out = new ArrayList<>();
            for (var f : fs) {
                out.add(f.get());
            }
            assertEquals(0, engine.usedKvBlocks(), "every block returns to the pool");
            return out;
        }
    }

    @ParameterizedTest(name = "{0}, KV {2}")
    @MethodSource("checkpointsAndKvDtypes")
    void withoutEvictionRocketKvEqualsDense(String name, RandomCheckpoint ckpt, DType kvDtype) throws Exception {
        Loaded m = load(name, ckpt, kvDtype);
        try (SafeTensors w = m.weights()) {
            List<int[]> prompts = ParityCheckpoints.prompts(); // 10, 57, 300 tokens, 24 new: cache <= 324 slots
            // budget >= every prompt and topk * page_size >= every cache length: stage 1 keeps all, stage 2 selects all
            var rk = RocketKvParams.builder().windowSize(32).kernelSize(63).promptBudget(512).topk(96)
                    .topr(ckpt.headDim()).pageSize(4).ktDtype(DType.F8_E5M2).build();
            List<GenerationResult> dense = run(m, new EngineConfig(8, 4096, 1024, TOKENS_PER_BLOCK, 96), prompts, 24);
            List<GenerationResult> sparse = run(m, new EngineConfig(8, 4096, 1024, TOKENS_PER_BLOCK, 96, rk), prompts, 24);
            for (int i = 0; i < prompts.size(); i++) {
                assertArrayEquals(dense.get(i).outputIds(), sparse.get(i).outputIds(), name + " prompt " + i);
                for (int t = 0; t < 24; t++) {
                    assertEquals(dense.get(i).tokens().get(t).logprob(), sparse.get(i).tokens().get(t).logprob(), 1e-5,
                            name + " prompt " + i + " token " + t);
                }
                assertEquals(prompts.get(i).length + 23, sparse.get(i).metrics().cacheTokens());
                assertTrue(sparse.get(i).metrics().ktCacheBytesPeak() > 0);
            }
        }
    }

    @Test
    void evictionShrinksTheCacheAndFreedBlocksServeOtherRequests() throws Exception {
        Loaded m = load("llama", ParityCheckpoints.LLAMA);
        try (SafeTensors w = m.weights()) {
            SplittableRandom r = new SplittableRandom(5);
            List<int[]> prompts = List.of(r.ints(300, 0, 296).toArray(), r.ints(300, 0, 296).toArray(),
                    r.ints(300, 0, 296).toArray());
            var rk = RocketKvParams.builder().windowSize(8).kernelSize(7).promptBudget(64).topk(4).topr(16)
                    .pageSize(4).ktDtype(DType.F8_E5M2).build();
            // 30 blocks of 16 = 480 slots: two 300-token prompts (19 blocks each) never fit at once, so without
            // eviction the second would wait for the first to finish. With a decode step between prefills (the
            // scheduler's fairness rule) the first two have grown to 5 blocks each when the third is prefilled:
            // 5 + 5 + 19 = 29 blocks
            EngineConfig cfg = new EngineConfig(8, 4096, 1024, TOKENS_PER_BLOCK, 30, rk);
            int maxTokens = 24;
            try (Engine engine = new Engine(m.model(), m.kernels(), cfg, ids -> "")) {
                int[] usedAtFirstToken = new int[3];
                List<CompletableFuture<GenerationResult>> fs = new ArrayList<>();
                boolean[][] othersDoneAtFirstToken = new boolean[3][3];
                for (int i = 0; i < 3; i++) {
                    int me = i;
                    AtomicInteger n = new AtomicInteger();
                    fs.add(engine.submit(new GenerationRequest(prompts.get(i), SamplingOptions.GREEDY,
                            StopCriteria.builder().maxTokens(maxTokens).ignoreEos(true).build(), ev -> {
                                if (n.getAndIncrement() == 0) {
                                    usedAtFirstToken[me] = engine.usedKvBlocks();
                                    for (int j = 0; j < 3; j++) {
                                        othersDoneAtFirstToken[me][j] = j < fs.size() && fs.get(j).isDone();
                                    }
                                }
                            })));
                }
                List<GenerationResult> results = new ArrayList<>();
                for (var f : fs) {
                    results.add(f.get());
                }
                // after its prefill the first request holds ceil(64 / 16) = 4 blocks, not ceil(300 / 16) = 19
                assertEquals(4, usedAtFirstToken[0], "blocks past the budget went back to the pool");
                // the third request was admitted while the first two were still generating: it reused freed blocks
                assertFalse(othersDoneAtFirstToken[2][0] || othersDoneAtFirstToken[2][1],
                        "request 3 started while requests 1 and 2 were running");
                for (GenerationResult res : results) {
                    assertEquals(maxTokens, res.outputIds().length);
                    assertEquals(64 + maxTokens - 1, res.metrics().cacheTokens());
                    assertTrue(res.metrics().kvCacheBytesPeak() < res.metrics().denseKvCacheBytes() / 2,
                            "KV held " + res.metrics().kvCacheBytesPeak() + " vs dense " + res.metrics().denseKvCacheBytes());
                    assertEquals(0, res.metrics().preemptions());
                }
                assertEquals(0, engine.usedKvBlocks());
            }
        }
    }

    @Test
    void manyConcurrentRocketKvAndDenseRequestsReturnThePoolsToEmpty() throws Exception {
        Loaded m = load("qwen2", ParityCheckpoints.QWEN2);
        try (SafeTensors w = m.weights()) {
            SplittableRandom r = new SplittableRandom(9);
            List<int[]> prompts = new ArrayList<>();
            for (int i = 0; i < 16; i++) {
                prompts.add(r.ints(20 + r.nextInt(200), 0, 296).toArray()); // around the budget of 96
            }
            var rk = RocketKvParams.builder().windowSize(16).kernelSize(15).promptBudget(96).topk(8).topr(8)
                    .pageSize(8).ktDtype(DType.BF16).build();
            // a small pool (640 slots): requests queue and get preempted, in both engines
            EngineConfig sparse = new EngineConfig(6, 1024, 1024, TOKENS_PER_BLOCK, 40, rk);
            EngineConfig dense = new EngineConfig(6, 1024, 1024, TOKENS_PER_BLOCK, 40);
            CompletableFuture<List<GenerationResult>> denseRun = CompletableFuture.supplyAsync(() -> {
                try {
                    return run(m, dense, prompts, 32);
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            List<GenerationResult> sparseResults = run(m, sparse, prompts, 32);
            List<GenerationResult> denseResults = denseRun.get();
            for (int i = 0; i < prompts.size(); i++) {
                assertEquals(32, sparseResults.get(i).outputIds().length);
                assertEquals(32, denseResults.get(i).outputIds().length);
                int expectedCache = Math.min(prompts.get(i).length, 96) + 31;
                if (sparseResults.get(i).metrics().preemptions() == 0) {
                    assertEquals(expectedCache, sparseResults.get(i).metrics().cacheTokens(), "request " + i);
                }
            }
        }
    }
}
