package io.rocketkv.core.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.rocketkv.core.kernels.CpuKernels;
import io.rocketkv.core.model.LlamaModel;
import io.rocketkv.core.model.ModelConfig;
import io.rocketkv.core.numeric.DType;
import io.rocketkv.core.testing.SlidingWindowCheckpoints;
import io.rocketkv.core.weights.SafeTensors;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Sliding-window attention against transformers (float32, eager; {@code parity/sliding-window.json} from
 * {@code tools/hf_reference/make_expectations.py} on {@link SlidingWindowCheckpoints}): the Mistral parity
 * checkpoint with {@code sliding_window} 96 in every layer, the Qwen2 one with layer 0 full and layer 1 sliding
 * ({@code max_window_layers} 1), and the Phi-3 one with the window in every layer. Prompts of 10, 57, 300 and 90 tokens and 24 greedy tokens each: positions past the
 * window, a prompt longer than it, decodes that cross it. Greedy ids equal and log-probabilities within 1e-3 (as
 * {@code TransformersParityTest}), with the KV cache in F32; each prompt alone, all four in one batch, in chunks of
 * 40 tokens (chunked prefill across the window), and twice with block reuse (the second run starts from cached
 * blocks, some released by the window). Every block is back in the pool at the end.
 */
class SlidingWindowParityTest {

    private static final double LOGPROB_TOLERANCE = 1e-3;
    private static final int TPB = 16;

    @TempDir
    static Path dir;

    static Stream<Arguments> runs() {
        return SlidingWindowCheckpoints.all().keySet().stream().flatMap(name -> Stream.of(
                Arguments.of(name, "whole"), Arguments.of(name, "chunked"), Arguments.of(name, "reuse")));
    }

    @ParameterizedTest(name = "{0}, {1}")
    @MethodSource("runs")
    void greedyIdsAndLogprobsMatchTransformers(String name, String mode) throws Exception {
        JsonNode expected = expected().path("checkpoints").path(name);
        assertEquals(SlidingWindowCheckpoints.WINDOW, expected.path("sliding_window").asInt());
        Path ckptDir = SlidingWindowCheckpoints.all().get(name).write(dir.resolve(name + "-" + mode));
        ModelConfig config = ModelConfig.load(ckptDir);
        List<int[]> prompts = SlidingWindowCheckpoints.prompts();
        EngineConfig ec = new EngineConfig(8, mode.equals("chunked") ? 40 : 4096, 1024, TPB, 96);
        ec = ec.withChunkedPrefill(mode.equals("chunked")).withBlockReuse(mode.equals("reuse"));
        try (SafeTensors weights = SafeTensors.open(ckptDir)) {
            CpuKernels kernels = new CpuKernels(true, DType.F32);
            LlamaModel model = LlamaModel.load(config, weights, kernels, TPB);
            try (Engine engine = new Engine(model, kernels, ec, ids -> "")) {
                int rounds = mode.equals("reuse") ? 2 : 1;
                for (int round = 0; round < rounds; round++) {
                    for (int p = 0; p < prompts.size(); p++) {
                        check(name + " " + mode + " prompt " + p + " (batch 1)", expected.path("cases").get(p),
                                prompts.get(p), engine.submit(request(prompts.get(p), null)).get());
                    }
                }
                List<CompletableFuture<GenerationResult>> futures = new ArrayList<>();
                for (int[] prompt : prompts) {
                    futures.add(engine.submit(request(prompt, null)));
                }
                for (int p = 0; p < prompts.size(); p++) {
                    check(name + " " + mode + " prompt " + p + " (batch 4)", expected.path("cases").get(p),
                            prompts.get(p), futures.get(p).get());
                }
                assertEquals(0, engine.usedKvBlocks(), "every block returns to the pool");
            }
        }
    }

    /**
     * A generation of 300 + 260 tokens in a pool of 24 blocks of 16 (384 tokens): it fits only because the blocks
     * before the window go back as it grows. While it decodes it holds at most ceil(96 / 16) + 1 = 7 blocks (the
     * window's keys may straddle 7 blocks); no block is read after it went back (attention would throw on its −1).
     */
    @Test
    void aLongGenerationHoldsAboutAWindowOfBlocks() throws Exception {
        Path ckptDir = SlidingWindowCheckpoints.MISTRAL.write(dir.resolve("long"));
        ModelConfig config = ModelConfig.load(ckptDir);
        assertEquals(SlidingWindowCheckpoints.WINDOW, config.kvReleaseWindow());
        int[] prompt = SlidingWindowCheckpoints.prompts().get(2); // 300 tokens
        int bound = (SlidingWindowCheckpoints.WINDOW + TPB - 1) / TPB + 1;
        try (SafeTensors weights = SafeTensors.open(ckptDir)) {
            CpuKernels kernels = new CpuKernels(true, DType.F32);
            LlamaModel model = LlamaModel.load(config, weights, kernels, TPB);
            try (Engine engine = new Engine(model, kernels, new EngineConfig(1, 4096, 1024, TPB, 24), ids -> "")) {
                AtomicInteger most = new AtomicInteger();
                AtomicInteger tokens = new AtomicInteger();
                GenerationResult r = engine.submit(request(prompt, e -> { // on the engine thread, after each step
                    if (tokens.incrementAndGet() > 1) { // after the first decode step released the prompt's head
                        most.accumulateAndGet(engine.usedKvBlocks(), Math::max);
                    }
                }, 260)).get();
                assertEquals(260, r.outputIds().length);
                assertTrue(most.get() <= bound, "held " + most.get() + " blocks, more than " + bound);
                assertTrue(most.get() >= bound - 1, "held only " + most.get() + " blocks: is the window read?");
                assertEquals(0, engine.usedKvBlocks());
            }
        }
    }

    private static GenerationRequest request(int[] prompt, Consumer<GenerationRequest.TokenEvent> listener) {
        return request(prompt, listener, 24);
    }

    private static GenerationRequest request(int[] prompt, Consumer<GenerationRequest.TokenEvent> listener, int n) {
        return new GenerationRequest(prompt, SamplingOptions.builder().temperature(0).build(),
                StopCriteria.builder().maxTokens(n).ignoreEos(true).build(), listener);
    }

    private static void check(String what, JsonNode expected, int[] prompt, GenerationResult r) {
        assertArrayEquals(TransformersParityTest.toInts(expected.path("prompt")), prompt, what + ": prompt");
        assertArrayEquals(TransformersParityTest.toInts(expected.path("ids")), r.outputIds(), what + ": greedy ids");
        double maxDiff = 0;
        for (int i = 0; i < r.outputIds().length; i++) {
            double diff = Math.abs(expected.path("logprobs").get(i).asDouble() - r.tokens().get(i).logprob());
            maxDiff = Math.max(maxDiff, diff);
            assertTrue(diff <= LOGPROB_TOLERANCE, what + ": logprob of token " + i + " off by " + diff);
        }
        System.out.printf("%s: ids equal, max |logprob diff| %.2e%n", what, maxDiff);
    }

    private static JsonNode expected() throws IOException {
        try (InputStream in = SlidingWindowParityTest.class.getResourceAsStream("/parity/sliding-window.json")) {
            return new ObjectMapper().readTree(in);
        }
    }
}
