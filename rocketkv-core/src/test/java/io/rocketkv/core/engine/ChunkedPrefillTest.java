package io.rocketkv.core.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rocketkv.core.kernels.CpuKernels;
import io.rocketkv.core.model.LlamaModel;
import io.rocketkv.core.model.ModelConfig;
import io.rocketkv.core.numeric.DType;
import io.rocketkv.core.sparse.RocketKvParams;
import io.rocketkv.core.testing.ParityCheckpoints;
import io.rocketkv.core.testing.RandomCheckpoint;
import io.rocketkv.core.weights.SafeTensors;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Chunked prefill on the CPU engine: a prompt prefilled in chunks of {@code max_num_tokens} generates what it
 * generates prefilled whole (same greedy ids, log-probabilities within 1e-5), dense and with RocketKV (stage 1 after
 * the last chunk, its window spanning chunks); a decode step of a running request comes between chunks; a sequence
 * preempted mid-prefill is recomputed from its first token; without the flag a long prompt is refused naming the fix.
 */
class ChunkedPrefillTest {

    private static final int TPB = 16;

    @TempDir
    static Path dir;

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (var e : ParityCheckpoints.all().entrySet()) {
            for (int chunk : new int[] {16, 33, 64}) {
                out.add(Arguments.of(e.getKey(), e.getValue(), chunk));
            }
        }
        return out.stream();
    }

    private record Loaded(LlamaModel model, CpuKernels kernels, SafeTensors weights) implements AutoCloseable {
        @Override
        public void close() {
            weights.close();
        }
    }

    private static Loaded load(Path d, int tpb) throws Exception {
        ModelConfig config = ModelConfig.load(d);
        SafeTensors weights = SafeTensors.open(d);
        CpuKernels kernels = new CpuKernels();
        return new Loaded(LlamaModel.load(config, weights, kernels, tpb), kernels, weights);
    }

    private static Path write(String name, RandomCheckpoint ckpt) throws Exception {
        Path d = dir.resolve(name);
        if (!Files.exists(d.resolve("model.safetensors"))) {
            ckpt.write(d);
        }
        return d;
    }

    private static GenerationRequest greedy(int[] prompt, int maxTokens) {
        return new GenerationRequest(prompt, SamplingOptions.builder().temperature(0).logprobs(0).build(),
                StopCriteria.builder().maxTokens(maxTokens).ignoreEos(true).build(), null);
    }

    /** All prompts submitted at once (they batch, and with chunking queue behind the chunked one). */
    private static List<GenerationResult> run(Loaded m, EngineConfig cfg, List<int[]> prompts, int maxTokens)
            throws Exception {
        return run(m, cfg, prompts, prompts.stream().map(p -> maxTokens).toList());
    }

    private static List<GenerationResult> run(Loaded m, EngineConfig cfg, List<int[]> prompts, List<Integer> maxTokens)
            throws Exception {
        try (Engine engine = new Engine(m.model(), m.kernels(), cfg, ids -> "")) {
            // queued together: they enter the schedule in the same round, so what the engine does with them (who is
            // preempted in a tight pool) does not depend on how fast this thread submits
            List<GenerationRequest> requests = new ArrayList<>();
            for (int i = 0; i < prompts.size(); i++) {
                requests.add(greedy(prompts.get(i), maxTokens.get(i)));
            }
            List<CompletableFuture<GenerationResult>> fs = engine.submitAll(requests);
            List<GenerationResult> out = new ArrayList<>();
            for (var f : fs) {
                out.add(f.get(120, TimeUnit.SECONDS));
            }
            assertEquals(0, engine.usedKvBlocks(), "every block returns to the pool");
            return out;
        }
    }

    private static void assertSame(List<GenerationResult> expected, List<GenerationResult> actual, double tol,
                                   String what) {
        for (int i = 0; i < expected.size(); i++) {
            GenerationResult e = expected.get(i);
            GenerationResult a = actual.get(i);
            assertArrayEquals(e.outputIds(), a.outputIds(), what + " prompt " + i + ": greedy ids");
            for (int t = 0; t < e.tokens().size(); t++) {
                assertEquals(e.tokens().get(t).logprob(), a.tokens().get(t).logprob(), tol,
                        what + " prompt " + i + " token " + t);
            }
            assertEquals(e.metrics().cacheTokens(), a.metrics().cacheTokens(), what + " prompt " + i + ": cache tokens");
        }
    }

    @ParameterizedTest(name = "{0}, chunks of {2}")
    @MethodSource("cases")
    void chunkedEqualsWholeDenseAndRocketKv(String name, RandomCheckpoint ckpt, int chunk) throws Exception {
        try (Loaded m = load(write(name, ckpt), TPB)) {
            List<int[]> prompts = ParityCheckpoints.prompts(); // 10, 57, 300 tokens
            EngineConfig whole = new EngineConfig(8, 4096, 1024, TPB, 96);
            EngineConfig chunked = new EngineConfig(8, chunk, 1024, TPB, 96).withChunkedPrefill(true);
            assertSame(run(m, whole, prompts, 12), run(m, chunked, prompts, 12), 1e-5, name + " dense, chunks of " + chunk);
            // budget 96 < 300: stage 1 evicts, its 32-query window spanning two or more chunks
            var rk = RocketKvParams.builder().windowSize(32).kernelSize(15).promptBudget(96).topk(8)
                    .topr(ckpt.headDim()).pageSize(4).ktDtype(DType.F8_E5M2).build();
            EngineConfig wholeRk = new EngineConfig(8, 4096, 1024, TPB, 96, rk);
            EngineConfig chunkedRk = new EngineConfig(8, chunk, 1024, TPB, 96, rk).withChunkedPrefill(true);
            List<GenerationResult> expected = run(m, wholeRk, prompts, 12);
            assertEquals(96 + 11, expected.get(2).metrics().cacheTokens(), "stage 1 compacted the 300-token prompt");
            assertSame(expected, run(m, chunkedRk, prompts, 12), 1e-5, name + " RocketKV, chunks of " + chunk);
        }
    }

    /** The bundled retrieval model, a 3000-token prompt in chunks of 256, with RocketKV evicting to 1024. */
    @Test
    void aLongPromptInChunksOf256EqualsItsWholePrefill() throws Exception {
        Path model = Path.of(System.getProperty("rocketkv.retrievalModel", "../models/rocketkv-retrieval-tiny"));
        assertTrue(Files.isDirectory(model), model.toAbsolutePath() + " is missing");
        try (Loaded m = load(model, 32)) {
            int[] prompt = new SplittableRandom(3).ints(3000, 3, 1000).toArray();
            var rk = RocketKvParams.builder().windowSize(32).kernelSize(63).promptBudget(1024).topk(64)
                    .topr(32).pageSize(4).ktDtype(DType.F8_E5M2).build();
            EngineConfig whole = new EngineConfig(2, 4096, 3100, 32, 100, rk);
            EngineConfig chunked = new EngineConfig(2, 256, 3100, 32, 100, rk).withChunkedPrefill(true);
            List<GenerationResult> expected = run(m, whole, List.of(prompt), 4);
            List<GenerationResult> actual = run(m, chunked, List.of(prompt), 4);
            assertSame(expected, actual, 1e-5, "retrieval model, 3000 tokens in chunks of 256");
            assertEquals(1024 + 3, actual.get(0).metrics().cacheTokens());
        }
    }

    @Test
    void withoutTheFlagALongPromptIsRefusedNamingBothNumbersAndTheFlag() throws Exception {
        try (Loaded m = load(write("llama", ParityCheckpoints.LLAMA), TPB);
             Engine engine = new Engine(m.model(), m.kernels(), new EngineConfig(4, 64, 1024, TPB, 64), ids -> "")) {
            Throwable e = TinyEngines.failure(engine.submit(greedy(new int[100], 4)));
            assertInstanceOf(IllegalArgumentException.class, e);
            String msg = e.getMessage();
            assertTrue(msg.contains("100") && msg.contains("max_num_tokens = 64") && msg.contains("enable_chunked_prefill"),
                    msg);
        }
    }

    /**
     * A running request keeps decoding while a long prompt is prefilled in chunks: between the long prompt's
     * submission and its first token (19 chunks of 16 for 300 tokens), the running request gets a token after each
     * chunk but the last.
     */
    @Test
    void decodesOfARunningRequestComeBetweenChunks() throws Exception {
        try (Loaded m = load(write("llama", ParityCheckpoints.LLAMA), TPB);
             Engine engine = new Engine(m.model(), m.kernels(),
                     new EngineConfig(4, 16, 1024, TPB, 96).withChunkedPrefill(true), ids -> "")) {
            AtomicInteger aTokens = new AtomicInteger();
            CountDownLatch aStarted = new CountDownLatch(1);
            SplittableRandom r = new SplittableRandom(1);
            var a = engine.submit(new GenerationRequest(r.ints(10, 0, 296).toArray(), SamplingOptions.GREEDY,
                    StopCriteria.builder().maxTokens(200).ignoreEos(true).build(), ev -> { // still running after B's chunks
                        aTokens.incrementAndGet();
                        aStarted.countDown();
                    }));
            assertTrue(aStarted.await(30, TimeUnit.SECONDS));
            int[] atFirst = {-1, -1};
            int before = aTokens.get(); // read before B is queued: a test thread slow after the submit missed tokens
            var b = engine.submit(new GenerationRequest(r.ints(300, 0, 296).toArray(), SamplingOptions.GREEDY,
                    StopCriteria.builder().maxTokens(2).ignoreEos(true).build(), ev -> {
                        if (atFirst[0] < 0) {
                            atFirst[0] = aTokens.get();
                        }
                    }));
            b.get(60, TimeUnit.SECONDS);
            a.get(60, TimeUnit.SECONDS);
            int between = atFirst[0] - before;
            assertTrue(between >= 18, "the running request got " + between + " tokens during 19 chunks");
        }
    }

    /**
     * A tight pool: the running request's growth preempts the sequence being prefilled in chunks (the newest), whose
     * blocks go back to the pool; it is prefilled again from its first token later, and both outputs equal those of
     * a roomy pool.
     */
    @Test
    void aSequencePreemptedMidPrefillIsRecomputedFromItsFirstToken() throws Exception {
        try (Loaded m = load(write("llama", ParityCheckpoints.LLAMA), 4)) {
            SplittableRandom r = new SplittableRandom(2);
            List<int[]> prompts = List.of(r.ints(10, 0, 296).toArray(), r.ints(200, 0, 296).toArray());
            // A (10 tokens, 3 blocks of 4) decodes while B (200 tokens, 50 blocks) is prefilled in 13 chunks of 16:
            // A's 5th block is not there, so B is preempted mid-prefill; B (204 tokens at most, 51 blocks) comes back
            // once A (50 tokens, 13 blocks) is done
            EngineConfig tight = new EngineConfig(4, 16, 1024, 4, 54).withChunkedPrefill(true);
            EngineConfig roomy = new EngineConfig(4, 16, 1024, 4, 200).withChunkedPrefill(true);
            List<GenerationResult> expected = run(m, roomy, prompts, List.of(40, 4));
            List<GenerationResult> actual = run(m, tight, prompts, List.of(40, 4));
            assertEquals(0, expected.get(1).metrics().preemptions());
            assertEquals(1, actual.get(1).metrics().preemptions(), "B was preempted");
            assertSame(expected, actual, 1e-5, "preempted mid-prefill");
        }
    }
}
