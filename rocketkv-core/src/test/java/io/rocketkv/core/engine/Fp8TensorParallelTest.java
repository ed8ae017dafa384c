package io.rocketkv.core.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.rocketkv.core.kernels.CpuCollective;
import io.rocketkv.core.kernels.CpuKernels;
import io.rocketkv.core.kernels.Kernels;
import io.rocketkv.core.model.LlamaModel;
import io.rocketkv.core.model.LoadProgress;
import io.rocketkv.core.model.Model;
import io.rocketkv.core.model.ModelConfig;
import io.rocketkv.core.model.TensorParallelPlan;
import io.rocketkv.core.numeric.DType;
import io.rocketkv.core.testing.ParityCheckpoints;
import io.rocketkv.core.weights.Fp8CheckpointWriter;
import io.rocketkv.core.weights.SafeTensors;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * fp8 weights under tensor parallelism: a rank's rows (q/k/v, gate/up, with their per-channel scales) and columns
 * (o_proj, down_proj) of an fp8 checkpoint, over 2 CPU ranks, give the greedy ids of the whole fp8 model, and its
 * log-probabilities within 1e-4 (the all-reduce sums partial products in another order). Phi-3's fused qkv_proj and
 * gate_up_proj: each rank's rows of each part, with their per-channel scales or the one per-tensor scale they share.
 */
class Fp8TensorParallelTest {

    @TempDir
    static Path dir;

    @ParameterizedTest(name = "{0} per-channel={1}")
    @CsvSource({"llama, true", "llama, false", "qwen2, true", "phi3, true", "phi3, false"})
    void shardedFp8ModelGivesTheWholeFp8ModelsIds(String arch, boolean perChannel) throws Exception {
        Path source = (switch (arch) {
            case "llama" -> ParityCheckpoints.LLAMA;
            case "qwen2" -> ParityCheckpoints.QWEN2;
            default -> ParityCheckpoints.PHI3;
        }).write(dir.resolve(arch + "-" + perChannel));
        Path fp8 = dir.resolve(arch + "-fp8-" + perChannel);
        Fp8CheckpointWriter.convert(source, fp8, perChannel);
        List<int[]> prompts = ParityCheckpoints.prompts().subList(0, 2);
        List<GenerationResult> whole = run(fp8, 1, prompts);
        List<GenerationResult> sharded = run(fp8, 2, prompts);
        for (int p = 0; p < prompts.size(); p++) {
            assertArrayEquals(whole.get(p).outputIds(), sharded.get(p).outputIds(), "prompt " + p + ": greedy ids");
            for (int i = 0; i < whole.get(p).tokens().size(); i++) {
                assertEquals(whole.get(p).tokens().get(i).logprob(), sharded.get(p).tokens().get(i).logprob(), 1e-4,
                        "prompt " + p + " token " + i + ": logprob");
            }
        }
    }

    private static List<GenerationResult> run(Path ckpt, int size, List<int[]> prompts) throws Exception {
        ModelConfig config = ModelConfig.load(ckpt);
        var group = CpuCollective.group(size);
        try (SafeTensors weights = SafeTensors.open(ckpt)) {
            List<Model> models = new ArrayList<>();
            List<Kernels> kernels = new ArrayList<>();
            for (int r = 0; r < size; r++) {
                CpuKernels k = new CpuKernels(true, DType.F32);
                var plan = size == 1 ? null : TensorParallelPlan.of(config, r, size, false);
                models.add(LlamaModel.load(config, weights, k, 16, LoadProgress.NONE, plan,
                        size == 1 ? null : group.get(r)));
                kernels.add(k);
            }
            try (Engine engine = new Engine(models, kernels, new EngineConfig(4, 2048, 512, 16, 64), ids -> "")) {
                List<CompletableFuture<GenerationResult>> futures = new ArrayList<>();
                for (int[] prompt : prompts) {
                    futures.add(engine.submit(new GenerationRequest(prompt,
                            SamplingOptions.builder().temperature(0).logprobs(0).build(),
                            StopCriteria.builder().maxTokens(12).ignoreEos(true).build(), null)));
                }
                List<GenerationResult> out = new ArrayList<>();
                for (var f : futures) {
                    out.add(f.get(60, TimeUnit.SECONDS));
                }
                return out;
            }
        }
    }
}
