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
 * The same {@link LLM} on {@link Backend#CUDA} and {@link Backend#CPU}: the parity checkpoints,
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
        return ParityCheckpoints.forCuda().entrySet().stream().map(e -> Arguments.of(e.getKey(), e.getValue()));
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
        return ParityCheckpoints.forCuda().entrySet().stream()
                .flatMap(e -> Stream.of(Arguments.of(e.getKey(), e.getValue(), true),
                        Arguments.of(e.getKey(), e.getValue(), false)));
    }

    /** ParityCheckpoints.prompts() (10, 57 and 300 tokens) as text, so LLM.generate takes them. */

    @ParameterizedTest(name = "{0} cuda graphs {2}")
    @MethodSource("checkpointsWithGraphs")
    void cudaMatchesCpu(String name, RandomCheckpoint ckpt, boolean graphs) throws IOException {
        Path model = ckpt.write(dir.resolve(name + "-" + graphs));
        try (LLM cpuLlm = open(model, Backend.CPU); LLM gpuLlm = open(model, Backend.CUDA, graphs)) {
            assertEquals("cuda", gpuLlm.backendName());
            List<String> prompts = GpuEndToEnd.parityPrompts(cpuLlm);
            // batch 1
            for (int i = 0; i < prompts.size(); i++) {
                GpuEndToEnd.compare(name + " batch1 prompt" + i, "cpu", "gpu",
                        cpuLlm.generate(prompts.get(i), GpuEndToEnd.greedy(TOKENS)), gpuLlm.generate(prompts.get(i), GpuEndToEnd.greedy(TOKENS)), TOKENS,
                        GAP, LOGPROB_TOL);
            }
            // batch 3
            List<RequestOutput> c = cpuLlm.generate(prompts, GpuEndToEnd.greedy(TOKENS));
            List<RequestOutput> g = gpuLlm.generate(prompts, GpuEndToEnd.greedy(TOKENS));
            for (int i = 0; i < prompts.size(); i++) {
                GpuEndToEnd.compare(name + " batch3 prompt" + i, "cpu", "gpu", c.get(i), g.get(i), TOKENS, GAP,
                        LOGPROB_TOL);
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
     * kv_cache_config.dtype fp8 on both backends: the CUDA cache holds the bytes the CPU's holds (CudaFp8KvCacheGpuTest),
     * so the two runs differ only by the kernels' arithmetic; a divergence is accepted only at a CPU top-2 gap below
     * 0.15 and the agreeing prefix's log-probabilities within 0.25 (TransformersParityTest's fp8 rule).
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("checkpoints")
    void fp8KvCacheMatchesTheCpusFp8Cache(String name, RandomCheckpoint ckpt) throws IOException {
        Path model = ckpt.write(dir.resolve(name + "-fp8"));
        try (LLM cpuLlm = openFp8(model, Backend.CPU); LLM gpuLlm = openFp8(model, Backend.CUDA)) {
            List<String> prompts = GpuEndToEnd.parityPrompts(cpuLlm);
            List<RequestOutput> c = cpuLlm.generate(prompts, GpuEndToEnd.greedy(TOKENS));
            List<RequestOutput> g = gpuLlm.generate(prompts, GpuEndToEnd.greedy(TOKENS));
            for (int i = 0; i < prompts.size(); i++) {
                GpuEndToEnd.compare(name + " fp8 KV prompt" + i, "cpu", "gpu", c.get(i), g.get(i), TOKENS, 0.15, 0.25);
            }
        }
    }

    private static LLM openFp8(Path model, Backend backend) {
        return LLM.builder().model(model).backend(backend)
                .kvCacheConfig(KvCacheConfig.builder().maxTokens(8192).dtype(KvCacheDtype.FP8).build())
                .tokensPerBlock(16).maxBatchSize(8).build();
    }

    /**
     * Out of device memory while sizing: with all but about 1 GiB of the device taken by another allocation,
     * an LLM whose step workspace needs more (max_num_tokens 1,000,000) fails to build with an
     * {@link io.rocketkv.core.kernels.OutOfDeviceMemoryException} that names the workspace and the setting to
     * lower, gives back what it had allocated, and an LLM built afterwards (memory back) generates. (No
     * kernel runs while memory is short: a library kernel whose lazy loading fails for lack of memory can
     * stay unloadable for the process, which is the driver's behaviour, not something an LLM can undo.)
     */
    @Test
    void outOfMemoryWhileSizingNamesWhatDidNotFitAndFreesEverything() throws IOException {
        Path model = ParityCheckpoints.LLAMA.write(dir.resolve("oom-llama"));
        SamplingParams p = SamplingParams.builder().temperature(0.0).maxTokens(4).ignoreEos(true).build();
        try (CudaContext ctx = CudaContext.primary(0)) {
            cycle(model); // warm-up: the driver's lazily grown per-context reservations
            long before = ctx.memoryInfo().free();
            List<io.rocketkv.cuda.DeviceBuffer> hog = new ArrayList<>();
            try {
                long leave = 1L << 30;
                for (long chunk = 1L << 30; chunk >= 16L << 20; ) {
                    if (ctx.memoryInfo().free() - chunk < leave) {
                        chunk /= 2;
                        continue;
                    }
                    hog.add(ctx.allocate(chunk));
                }
                long freeWithHog = ctx.memoryInfo().free();
                Throwable t = org.junit.jupiter.api.Assertions.assertThrows(Throwable.class, () -> LLM.builder()
                        .model(model).backend(Backend.CUDA).maxNumTokens(1_000_000).maxBatchSize(8).build());
                Throwable root = t;
                while (!(root instanceof io.rocketkv.core.kernels.OutOfDeviceMemoryException) && root.getCause() != null) {
                    root = root.getCause();
                }
                System.out.println("out of memory reported as: " + t);
                assertTrue(root instanceof io.rocketkv.core.kernels.OutOfDeviceMemoryException, "got " + t);
                assertTrue(t.getMessage().contains("step workspace") && t.getMessage().contains("max_num_tokens")
                        && t.getMessage().contains("MiB free"), t.getMessage());
                long after = ctx.memoryInfo().free();
                assertTrue(Math.abs(after - freeWithHog) <= 16L << 20, "the failed build gave back its memory: free "
                        + after + ", before it " + freeWithHog);
            } finally {
                hog.forEach(io.rocketkv.cuda.DeviceBuffer::close);
            }
            try (LLM llm = open(model, Backend.CUDA)) {
                RequestOutput out = llm.generate("the cat and the hat", p);
                assertEquals(4, out.outputs().get(0).tokenIds().length, "an LLM built afterwards generates");
            }
            assertTrue(Math.abs(ctx.memoryInfo().free() - before) <= 16L << 20, "memory back to the start");
        }
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
