package io.rocketkv.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rocketkv.core.testing.ParityCheckpoints;
import io.rocketkv.core.testing.RandomCheckpoint;
import io.rocketkv.cuda.CudaContext;
import io.rocketkv.cuda.CudaDriver;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The same {@link LLM} on {@link Backend#CUDA} and {@link Backend#CPU}: the three parity checkpoints,
 * greedy, batch 1 and 3. The GPU keeps a bf16 KV cache (and rounds activations to bf16 for bf16 weights),
 * so a divergence is accepted only at a step where the CPU's top-2 log-probability gap is below 0.05; the
 * sequence is not compared after it. Log-probabilities of the matching prefix agree within 5e-2.
 */
@Tag("gpu")
class CudaEndToEndGpuTest {

    private static final int TOKENS = 24;
    private static final double GAP = 0.05;
    private static final double LOGPROB_TOL = 5e-2;

    @TempDir
    static Path dir;

    @BeforeAll
    static void requireCuda() {
        Assumptions.assumeTrue(CudaDriver.isAvailable(), () -> "no CUDA here: " + CudaDriver.unavailableReason());
    }

    static Stream<Arguments> checkpoints() {
        return ParityCheckpoints.all().entrySet().stream().map(e -> Arguments.of(e.getKey(), e.getValue()));
    }

    private static LLM open(Path model, Backend backend) {
        return open(model, backend, true);
    }

    private static LLM open(Path model, Backend backend, boolean graphs) {
        return LLM.builder().model(model).backend(backend)
                .kvCacheConfig(KvCacheConfig.builder().maxTokens(8192).build())
                .cudaGraphConfig(graphs ? CudaGraphConfig.defaults() : CudaGraphConfig.disabled())
                .tokensPerBlock(16).maxBatchSize(8).build();
    }

    static Stream<Arguments> checkpointsWithGraphs() {
        return ParityCheckpoints.all().entrySet().stream()
                .flatMap(e -> Stream.of(Arguments.of(e.getKey(), e.getValue(), true),
                        Arguments.of(e.getKey(), e.getValue(), false)));
    }

    private static SamplingParams greedy() {
        return SamplingParams.builder().temperature(0.0).maxTokens(TOKENS).ignoreEos(true).logprobs(2).build();
    }

    /** ParityCheckpoints.prompts() (10, 57 and 300 tokens) as text, so LLM.generate takes them. */
    private static List<String> prompts(LLM llm) {
        List<String> out = new ArrayList<>();
        for (int[] ids : ParityCheckpoints.prompts()) {
            out.add(llm.tokenizer().decode(ids, true));
        }
        return out;
    }

    @ParameterizedTest(name = "{0} cuda graphs {2}")
    @MethodSource("checkpointsWithGraphs")
    void cudaMatchesCpu(String name, RandomCheckpoint ckpt, boolean graphs) throws IOException {
        Path model = ckpt.write(dir.resolve(name + "-" + graphs));
        try (LLM cpuLlm = open(model, Backend.CPU); LLM gpuLlm = open(model, Backend.CUDA, graphs)) {
            assertEquals("cuda", gpuLlm.backendName());
            List<String> prompts = prompts(cpuLlm);
            // batch 1
            for (int i = 0; i < prompts.size(); i++) {
                compare(name + " batch1 prompt" + i, cpuLlm.generate(prompts.get(i), greedy()),
                        gpuLlm.generate(prompts.get(i), greedy()));
            }
            // batch 3
            List<RequestOutput> c = cpuLlm.generate(prompts, greedy());
            List<RequestOutput> g = gpuLlm.generate(prompts, greedy());
            for (int i = 0; i < prompts.size(); i++) {
                compare(name + " batch3 prompt" + i, c.get(i), g.get(i));
            }
            long[] stats = gpuLlm.cudaGraphStats();
            System.out.printf("%s graphs %s: %d decode steps replayed, %d recorded%n", name, graphs, stats[0], stats[1]);
            if (graphs) {
                assertTrue(stats[0] > 0 && stats[1] > 0, "decode steps replayed from CUDA graphs: " + stats[0]);
            } else {
                assertEquals(0, stats[0] + stats[1], "no CUDA graphs when disabled");
            }
            assertEquals(0, cpuLlm.cudaGraphStats()[0] + cpuLlm.cudaGraphStats()[1], "the CPU records nothing");
        }
    }

    /**
     * Out of device memory in a running step: with nearly all memory taken by another allocation, the first
     * request needs scratch memory, fails with an {@link io.rocketkv.core.kernels.OutOfDeviceMemoryException}
     * that says what did not fit, and the same LLM serves the request once the memory is back.
     */
    @Test
    void outOfMemoryInAStepFailsThatRequestAndTheLlmStaysUsable() throws IOException {
        Path model = ParityCheckpoints.LLAMA.write(dir.resolve("oom-llama"));
        try (LLM llm = open(model, Backend.CUDA); CudaContext ctx = CudaContext.primary(0)) {
            SamplingParams p = SamplingParams.builder().temperature(0.0).maxTokens(4).ignoreEos(true).build();
            List<io.rocketkv.cuda.DeviceBuffer> hog = new ArrayList<>();
            try {
                for (long chunk = 1L << 30; chunk >= 1L << 20; ) {
                    try {
                        hog.add(ctx.allocate(chunk));
                    } catch (io.rocketkv.cuda.CudaException e) {
                        chunk /= 2;
                    }
                }
                String prompt = "the cat and the hat ".repeat(20);
                Throwable t = org.junit.jupiter.api.Assertions.assertThrows(Throwable.class, () -> llm.generate(prompt, p));
                Throwable root = t;
                while (!(root instanceof io.rocketkv.core.kernels.OutOfDeviceMemoryException) && root.getCause() != null) {
                    root = root.getCause();
                }
                assertTrue(root instanceof io.rocketkv.core.kernels.OutOfDeviceMemoryException, "got " + t);
                System.out.println("out of memory reported as: " + root.getMessage());
                assertTrue(root.getMessage().contains("MiB free"), root.getMessage());
            } finally {
                hog.forEach(io.rocketkv.cuda.DeviceBuffer::close);
            }
            RequestOutput out = llm.generate("the cat and the hat ".repeat(20), p);
            assertEquals(4, out.outputs().get(0).tokenIds().length, "the LLM serves requests again");
        }
    }

    private static void compare(String what, RequestOutput cpu, RequestOutput gpu) {
        CompletionOutput c = cpu.outputs().get(0);
        CompletionOutput g = gpu.outputs().get(0);
        assertEquals(TOKENS, c.tokenIds().length, what);
        assertEquals(TOKENS, g.tokenIds().length, what);
        double worst = 0;
        for (int i = 0; i < TOKENS; i++) {
            var cl = c.logprobs().get(i);
            var gl = g.logprobs().get(i);
            if (c.tokenIds()[i] != g.tokenIds()[i]) {
                double gap = cl.top().get(0).logprob() - cl.top().get(1).logprob();
                System.out.printf("%s: diverges at step %d (cpu %d, gpu %d), CPU top-2 gap %.4f%n", what, i,
                        c.tokenIds()[i], g.tokenIds()[i], gap);
                assertTrue(gap < GAP, what + ": token " + i + " differs (cpu " + c.tokenIds()[i] + ", gpu "
                        + g.tokenIds()[i] + ") although the CPU's top-2 gap is " + gap + " >= " + GAP);
                break;
            }
            double diff = Math.abs(cl.logprob() - gl.logprob());
            worst = Math.max(worst, diff);
            assertTrue(diff <= LOGPROB_TOL, what + ": step " + i + " logprob cpu " + cl.logprob() + " gpu "
                    + gl.logprob());
        }
        System.out.printf("%s: max |logprob difference| %.2e%n", what, worst);
    }

    /** build → generate → close gives back all device memory (after one warm-up cycle), three times. */
    @Test
    void closeReturnsDeviceMemory() throws IOException {
        Path model = ParityCheckpoints.LLAMA.write(dir.resolve("memory-llama"));
        try (CudaContext ctx = CudaContext.primary(0)) { // held, so the context outlives each LLM
            cycle(model); // warm-up: the driver's lazily grown per-context reservations
            long start = ctx.memoryInfo().free();
            for (int i = 0; i < 3; i++) {
                cycle(model);
                long now = ctx.memoryInfo().free();
                System.out.printf("memory cycle %d: free %d MiB, start %d MiB%n", i, now >> 20, start >> 20);
                assertTrue(Math.abs(now - start) <= 16L << 20, "cycle " + i + ": free device memory " + now
                        + " bytes, at the start " + start);
            }
        }
    }

    private static void cycle(Path model) {
        try (LLM llm = open(model, Backend.CUDA)) {
            RequestOutput out = llm.generate("the cat and the hat", SamplingParams.builder().temperature(0.0)
                    .maxTokens(8).ignoreEos(true).build());
            assertEquals(8, out.outputs().get(0).tokenIds().length);
        }
    }
}
