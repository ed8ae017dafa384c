package io.rocketkv.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rocketkv.core.testing.ParityCheckpoints;
import io.rocketkv.core.testing.RandomCheckpoint;
import io.rocketkv.cuda.CudaDriver;
import java.nio.file.Path;
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
 * {@link SamplingParams#promptLogprobs()} on {@link Backend#CUDA} against {@link Backend#CPU} on the parity
 * checkpoints, whole and in chunks of 64 (chunked prefill): every prompt position's log-probability within 5e-2 (the
 * GPU's bf16 KV cache and activations, as {@link CudaEndToEndGpuTest}) and the same token ids.
 */
@Tag("gpu")
class CudaPromptLogprobsGpuTest {

    private static final double LOGPROB_TOL = 5e-2;

    @TempDir
    static Path dir;

    @BeforeAll
    static void requireCuda() {
        Assumptions.assumeTrue(CudaDriver.isAvailable(), () -> "no CUDA here: " + CudaDriver.unavailableReason());
    }

    static Stream<Arguments> checkpointsChunked() {
        return ParityCheckpoints.forCuda().entrySet().stream().flatMap(e -> Stream.of(
                Arguments.of(e.getKey(), e.getValue(), false), Arguments.of(e.getKey(), e.getValue(), true)));
    }

    private static LLM open(Path model, Backend backend, boolean chunked) {
        LLM.Builder b = LLM.builder().model(model).backend(backend)
                .kvCacheConfig(KvCacheConfig.builder().maxTokens(8192).build()).tokensPerBlock(16).maxBatchSize(8);
        if (chunked) {
            b.enableChunkedPrefill(true).maxNumTokens(64);
        }
        return b.build();
    }

    @ParameterizedTest(name = "{0}, chunked {2}")
    @MethodSource("checkpointsChunked")
    void cudaPromptLogprobsMatchTheCpu(String name, RandomCheckpoint ckpt, boolean chunked) throws Exception {
        Path model = ckpt.write(dir.resolve(name + "-" + chunked));
        try (LLM cpu = open(model, Backend.CPU, chunked); LLM gpu = open(model, Backend.CUDA, chunked)) {
            assertEquals("cuda", gpu.backendName());
            for (String prompt : GpuEndToEnd.parityPrompts(cpu)) {
                SamplingParams p = SamplingParams.builder().temperature(0.0).maxTokens(1).promptLogprobs(2).build();
                List<PromptLogprob> want = cpu.generate(prompt, p).promptLogprobs();
                List<PromptLogprob> got = gpu.generate(prompt, p).promptLogprobs();
                assertEquals(want.size(), got.size(), name + ": one entry per prompt token");
                assertNull(got.getFirst());
                double worst = 0;
                for (int i = 1; i < want.size(); i++) {
                    assertEquals(want.get(i).tokenId(), got.get(i).tokenId(), name + " position " + i);
                    double d = Math.abs(want.get(i).logprob() - got.get(i).logprob());
                    worst = Math.max(worst, d);
                    assertTrue(d <= LOGPROB_TOL, name + " position " + i + ": cpu " + want.get(i).logprob() + ", gpu "
                            + got.get(i).logprob());
                }
                System.out.printf("%s chunked %s, %d positions: max |gpu - cpu| %.2e%n", name, chunked, want.size(),
                        worst);
            }
        }
    }
}
