package io.rocketkv.api;

import io.rocketkv.core.testing.ParityCheckpoints;
import io.rocketkv.core.testing.RandomCheckpoint;
import io.rocketkv.core.weights.Fp8CheckpointWriter;
import io.rocketkv.cuda.CudaDriver;
import java.io.IOException;
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
 * An fp8 checkpoint (the parity checkpoints through {@link Fp8CheckpointWriter}, per tensor and per channel) on CUDA
 * against the CPU, which dequantizes the same weights and keeps fp32 activations. On CUDA a per-tensor weight whose
 * sides are multiples of 16 runs as an fp8 GEMM of activations quantized per tensor to e4m3 (4 significant bits), the
 * others as bf16 GEMMs; so a divergence is accepted at a CPU top-2 gap below 0.3 and the agreeing prefix's
 * log-probabilities within 0.5 (the activation rounding moves logits by about a percent).
 */
@Tag("gpu")
class CudaFp8CheckpointGpuTest {

    private static final int TOKENS = 16;

    @TempDir
    static Path dir;

    @BeforeAll
    static void requireCuda() {
        Assumptions.assumeTrue(CudaDriver.isAvailable(), () -> "no CUDA here: " + CudaDriver.unavailableReason());
    }

    static Stream<Arguments> checkpoints() {
        return ParityCheckpoints.forCuda().entrySet().stream().flatMap(e -> Stream.of(
                Arguments.of(e.getKey(), e.getValue(), false), Arguments.of(e.getKey(), e.getValue(), true)));
    }

    private static LLM open(Path model, Backend backend) {
        return LLM.builder().model(model).backend(backend).tokensPerBlock(16).maxBatchSize(8)
                .kvCacheConfig(KvCacheConfig.builder().maxTokens(8192).build()).build();
    }

    @ParameterizedTest(name = "{0} per-channel {2}")
    @MethodSource("checkpoints")
    void fp8CheckpointOnCudaMatchesTheCpu(String name, RandomCheckpoint ckpt, boolean perChannel) throws IOException {
        Path plain = ckpt.write(dir.resolve(name + "-" + perChannel));
        Path fp8 = dir.resolve(name + "-" + perChannel + "-fp8");
        Fp8CheckpointWriter.convert(plain, fp8, perChannel);
        try (LLM cpu = open(fp8, Backend.CPU); LLM gpu = open(fp8, Backend.CUDA)) {
            List<String> prompts = GpuEndToEnd.parityPrompts(cpu);
            List<RequestOutput> c = cpu.generate(prompts, GpuEndToEnd.greedy(TOKENS));
            List<RequestOutput> g = gpu.generate(prompts, GpuEndToEnd.greedy(TOKENS));
            for (int i = 0; i < prompts.size(); i++) {
                GpuEndToEnd.compare(name + " fp8 weights prompt" + i, "cpu", "gpu", c.get(i), g.get(i), TOKENS, 0.3, 0.5);
            }
        }
    }
}
