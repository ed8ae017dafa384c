package io.rocketkv.core.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.rocketkv.core.kernels.Collective;
import io.rocketkv.core.kernels.CpuCollective;
import io.rocketkv.core.kernels.CpuKernels;
import io.rocketkv.core.kernels.Kernels;
import io.rocketkv.core.kernels.Tensor;
import io.rocketkv.core.model.LlamaModel;
import io.rocketkv.core.model.LoadProgress;
import io.rocketkv.core.model.ModelConfig;
import io.rocketkv.core.model.TensorParallelPlan;
import io.rocketkv.core.numeric.DType;
import io.rocketkv.core.sparse.RocketKvParams;
import io.rocketkv.core.testing.ParityCheckpoints;
import io.rocketkv.core.testing.RandomCheckpoint;
import io.rocketkv.core.weights.SafeTensors;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntFunction;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Tensor parallelism on the CPU backend (ranks joined by {@link CpuCollective}, the reference for the NCCL
 * group): the sharded engine against Hugging Face transformers on the parity checkpoints (GQA split, KV
 * heads replicated when fewer than ranks, q/k/v bias, tied embeddings, bf16 weights), RocketKV sharded against
 * RocketKV whole, and a failing rank that must fail its requests without hanging the others.
 */
class TensorParallelCpuTest {

    private static final double LOGPROB_TOLERANCE = 1e-3;

    @TempDir
    static Path dir;

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (var e : ParityCheckpoints.all().entrySet()) {
            for (int tp : new int[] {2, 4}) {
                out.add(Arguments.of(e.getKey(), e.getValue(), tp));
            }
        }
        return out.stream();
    }

    /** The shards of {@code ckpt} over {@code size} CPU ranks, with {@code collective(r)} for rank r. */
    private record Shards(List<LlamaModel> models, List<Kernels> kernels, SafeTensors weights) implements AutoCloseable {
        static Shards load(Path ckptDir, int size, IntFunction<Collective> collective) throws IOException {
            ModelConfig config = ModelConfig.load(ckptDir);
            SafeTensors weights = SafeTensors.open(ckptDir);
            List<LlamaModel> models = new ArrayList<>();
            List<Kernels> kernels = new ArrayList<>();
            for (int r = 0; r < size; r++) {
                CpuKernels k = new CpuKernels(true, DType.F32); // float32 transformers keeps its K/V in fp32
                var plan = size == 1 ? null : TensorParallelPlan.of(config, r, size, false);
                models.add(LlamaModel.load(config, weights, k, 16, LoadProgress.NONE, plan, collective.apply(r)));
                kernels.add(k);
            }
            return new Shards(models, kernels, weights);
        }

        @Override
        public void close() {
            weights.close();
        }
    }

    @ParameterizedTest(name = "{0} tp={2}")
    @MethodSource("cases")
    void shardedGreedyIdsAndLogprobsMatchTransformers(String name, RandomCheckpoint ckpt, int tp) throws Exception {
        JsonNode expected = TransformersParityTest.expected().path("checkpoints").path(name);
        Path ckptDir = ckpt.write(dir.resolve(name + "-" + tp));
        List<int[]> prompts = ParityCheckpoints.prompts();
        List<Collective> group = CpuCollective.group(tp);
        try (Shards s = Shards.load(ckptDir, tp, group::get);
             Engine engine = new Engine(s.models(), s.kernels(), new EngineConfig(8, 4096, 1024, 16, 96), ids -> "")) {
            var shape = s.models().get(0).attentionShape();
            // a rank attends for its own query heads, or for its KV head's whole group when that head is replicated
            int attended = tp <= ckpt.numKvHeads() ? ckpt.numHeads() / tp : ckpt.numHeads() / ckpt.numKvHeads();
            assertEquals(attended, shape.numHeads(), "query heads attended per rank");
            assertEquals(Math.max(1, ckpt.numKvHeads() / tp), shape.numKvHeads(), "KV heads per rank");
            List<CompletableFuture<GenerationResult>> futures = new ArrayList<>();
            for (int[] prompt : prompts) {
                futures.add(engine.submit(request(prompt, 24)));
            }
            for (int p = 0; p < prompts.size(); p++) {
                JsonNode c = expected.path("cases").get(p);
                GenerationResult r = futures.get(p).get(60, TimeUnit.SECONDS);
                int[] ids = TransformersParityTest.toInts(c.path("ids"));
                assertArrayEquals(ids, r.outputIds(), name + " tp=" + tp + " prompt " + p + ": greedy ids");
                for (int i = 0; i < ids.length; i++) {
                    double exp = c.path("logprobs").get(i).asDouble();
                    double got = r.tokens().get(i).logprob();
                    assertTrue(Math.abs(exp - got) <= LOGPROB_TOLERANCE, name + " tp=" + tp + " prompt " + p
                            + ": logprob of token " + i + " expected " + exp + " got " + got);
                }
            }
            assertEquals(0, engine.usedKvBlocks(), "every block returns to the pool");
        }
    }

    @ParameterizedTest(name = "{0} tp={2}")
    @MethodSource("cases")
    void shardedRocketKvGivesTheIdsOfRocketKvOnOneDevice(String name, RandomCheckpoint ckpt, int tp) throws Exception {
        Path ckptDir = ckpt.write(dir.resolve("rocket-" + name + "-" + tp));
        // budget 64 of prompts up to 300 tokens, 4 pages of 4 tokens per step: eviction and selection both act
        var rk = RocketKvParams.builder().windowSize(8).kernelSize(7).promptBudget(64).topk(4).topr(ckpt.headDim())
                .pageSize(4).ktDtype(DType.F8_E5M2).build();
        EngineConfig cfg = new EngineConfig(8, 4096, 1024, 16, 96, rk);
        List<int[]> prompts = ParityCheckpoints.prompts();
        List<GenerationResult> whole;
        try (Shards s = Shards.load(ckptDir, 1, r -> null);
             Engine engine = new Engine(s.models(), s.kernels(), cfg, ids -> "")) {
            whole = runAll(engine, prompts);
        }
        try (Shards s = Shards.load(ckptDir, tp, CpuCollective.group(tp)::get);
             Engine engine = new Engine(s.models(), s.kernels(), cfg, ids -> "")) {
            List<GenerationResult> sharded = runAll(engine, prompts);
            for (int p = 0; p < prompts.size(); p++) {
                assertArrayEquals(whole.get(p).outputIds(), sharded.get(p).outputIds(),
                        name + " tp=" + tp + " prompt " + p + ": RocketKV greedy ids");
                for (int i = 0; i < whole.get(p).tokens().size(); i++) {
                    assertEquals(whole.get(p).tokens().get(i).logprob(), sharded.get(p).tokens().get(i).logprob(), 1e-4,
                            name + " tp=" + tp + " prompt " + p + " token " + i + ": logprob");
                }
            }
            assertEquals(0, engine.usedKvBlocks(), "every block returns to the pool");
        }
    }

    @Test
    void aTightPoolPreemptsAndRecomputesOnEveryRankWithTheIdsOfOneDevice() throws Exception {
        // 6 requests of 57 and 10 tokens + 16 new, max_num_tokens 64 (so a recompute longer than it grows every
        // rank's workspace) and a pool of 16 blocks of 16: the prompts fit at once (15 blocks), their growth
        // does not (21)
        Path ckptDir = ParityCheckpoints.LLAMA.write(dir.resolve("tight"));
        List<int[]> base = ParityCheckpoints.prompts();
        List<int[]> prompts = List.of(base.get(1), base.get(0), base.get(1), base.get(0), base.get(1), base.get(0));
        EngineConfig cfg = new EngineConfig(8, 64, 1024, 16, 16);
        List<GenerationResult> whole;
        try (Shards s = Shards.load(ckptDir, 1, r -> null);
             Engine engine = new Engine(s.models(), s.kernels(), new EngineConfig(8, 4096, 1024, 16, 96), ids -> "")) {
            whole = runAll(engine, prompts);
        }
        try (Shards s = Shards.load(ckptDir, 2, CpuCollective.group(2)::get);
             Engine engine = new Engine(s.models(), s.kernels(), cfg, ids -> "")) {
            List<GenerationResult> sharded = runAll(engine, prompts);
            int preemptions = 0;
            for (int i = 0; i < prompts.size(); i++) {
                assertArrayEquals(whole.get(i).outputIds(), sharded.get(i).outputIds(), "request " + i + ": greedy ids");
                preemptions += sharded.get(i).metrics().preemptions();
            }
            assertTrue(preemptions > 0, "the pool of 16 blocks must force at least one preemption");
            assertEquals(0, engine.usedKvBlocks(), "every block returns to the pool");
        }
    }

    @Test
    void aRankThatFailsFailsTheStepWithoutHangingTheOthersAndTheEngineRefusesLaterSteps() throws Exception {
        Path ckptDir = ParityCheckpoints.LLAMA.write(dir.resolve("failing"));
        List<Collective> group = CpuCollective.group(2);
        AtomicInteger calls = new AtomicInteger();
        // rank 1 fails in its fifth all-reduce (the prefill's third layer-half); rank 0 is then waiting in it
        Collective failing = new Collective() {
            @Override
            public int rank() {
                return 1;
            }

            @Override
            public int size() {
                return 2;
            }

            @Override
            public void allReduceSum(Tensor x) {
                if (calls.incrementAndGet() == 5) {
                    throw new IllegalStateException("injected failure on rank 1");
                }
                group.get(1).allReduceSum(x);
            }

            @Override
            public void abort() {
                group.get(1).abort();
            }
        };
        try (Shards s = Shards.load(ckptDir, 2, r -> r == 0 ? group.get(0) : failing);
             Engine engine = new Engine(s.models(), s.kernels(), new EngineConfig(8, 4096, 1024, 16, 96), ids -> "")) {
            var first = engine.submit(request(ParityCheckpoints.prompts().get(1), 4));
            ExecutionException e = assertThrows(ExecutionException.class, () -> first.get(30, TimeUnit.SECONDS));
            assertEquals("injected failure on rank 1", e.getCause().getMessage());
            var second = engine.submit(request(ParityCheckpoints.prompts().get(0), 4));
            ExecutionException later = assertThrows(ExecutionException.class, () -> second.get(30, TimeUnit.SECONDS));
            assertTrue(later.getCause().getMessage().contains("tensor-parallel group was aborted"),
                    later.getCause().getMessage());
            assertTrue(later.getCause().getMessage().contains("rank 1"), later.getCause().getMessage());
            assertEquals(0, engine.usedKvBlocks(), "the failed requests' blocks return to the pool");
        }
    }

    @Test
    void shardsAndBackendsMustMatch() throws Exception {
        Path ckptDir = ParityCheckpoints.LLAMA.write(dir.resolve("mismatch"));
        try (Shards s = Shards.load(ckptDir, 2, CpuCollective.group(2)::get)) {
            var e = assertThrows(IllegalArgumentException.class, () -> new Engine(List.of(s.models().get(1),
                    s.models().get(0)), s.kernels(), new EngineConfig(8, 4096, 1024, 16, 96), ids -> ""));
            assertTrue(e.getMessage().contains("must be the shard of rank 0 of 2"), e.getMessage());
            var one = assertThrows(IllegalArgumentException.class, () -> new Engine(s.models().get(0),
                    s.kernels().get(0), new EngineConfig(8, 4096, 1024, 16, 96), ids -> ""));
            assertTrue(one.getMessage().contains("the shard of rank 0 of 2; give the shards of every rank"), one.getMessage());
        }
    }

    private static List<GenerationResult> runAll(Engine engine, List<int[]> prompts) throws Exception {
        List<CompletableFuture<GenerationResult>> futures = new ArrayList<>();
        for (int[] prompt : prompts) {
            futures.add(engine.submit(request(prompt, 16)));
        }
        List<GenerationResult> out = new ArrayList<>();
        for (var f : futures) {
            out.add(f.get(60, TimeUnit.SECONDS));
        }
        return out;
    }

    private static GenerationRequest request(int[] prompt, int maxTokens) {
        return new GenerationRequest(prompt, SamplingOptions.builder().temperature(0).logprobs(0).build(),
                StopCriteria.builder().maxTokens(maxTokens).ignoreEos(true).build(), null);
    }
}
