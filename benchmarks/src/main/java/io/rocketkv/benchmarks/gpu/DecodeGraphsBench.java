package io.rocketkv.benchmarks.gpu;

import io.rocketkv.api.Backend;
import io.rocketkv.api.CudaGraphConfig;
import io.rocketkv.api.KvCacheConfig;
import io.rocketkv.api.LLM;
import io.rocketkv.api.RequestOutput;
import io.rocketkv.api.SamplingParams;
import io.rocketkv.core.model.Architecture;
import io.rocketkv.core.numeric.DType;
import io.rocketkv.core.testing.RandomCheckpoint;
import io.rocketkv.cuda.CudaDriver;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Decode step time on the GPU with and without CUDA graphs, through the public API: a random-weight bf16
 * Llama checkpoint (8 layers, hidden 1024, 16 query / 4 KV heads of 64, MLP 4096, vocabulary 32000), greedy,
 * batch 1, 8 and 32, 256 new tokens after a 64-token prompt. The figure is the engine's decode time per step
 * (decode seconds / generated tokens of one request, all requests decoding together), which includes the
 * host side of each step (scheduling, the index upload, sampling on the host). Run on the GPU machine:
 * {@code java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -cp <classpath> io.rocketkv.benchmarks.gpu.DecodeGraphsBench}.
 */
public final class DecodeGraphsBench {

    private DecodeGraphsBench() {
    }

    public static void main(String[] args) throws Exception {
        if (!CudaDriver.isAvailable()) {
            System.err.println("CUDA is unavailable: " + CudaDriver.unavailableReason());
            System.exit(2);
        }
        Path dir = Files.createTempDirectory("rocketkv-graphs-bench");
        RandomCheckpoint.builder().architecture(Architecture.LLAMA).dtype(DType.BF16).numLayers(8).hiddenSize(1024)
                .intermediateSize(4096).numHeads(16).numKvHeads(4).headDim(64).vocabSize(32000).maxPositions(4096)
                .build().write(dir);
        System.out.println("decode step time, CUDA graphs on vs off (8-layer bf16 Llama, hidden 1024, vocab 32000)");
        System.out.printf("%6s %14s %14s %8s%n", "batch", "graphs ms/step", "eager ms/step", "speedup");
        for (int batch : new int[] {1, 8, 32}) {
            double on = stepMillis(dir, batch, true);
            double off = stepMillis(dir, batch, false);
            System.out.printf("%6d %14.3f %14.3f %7.2fx%n", batch, on, off, off / on);
        }
    }

    private static double stepMillis(Path model, int batch, boolean graphs) {
        try (LLM llm = LLM.builder().model(model).backend(Backend.CUDA).maxBatchSize(Math.max(batch, 1))
                .kvCacheConfig(KvCacheConfig.builder().maxTokens(batch * 512 + 64).build())
                .cudaGraphConfig(graphs ? CudaGraphConfig.defaults() : CudaGraphConfig.disabled()).build()) {
            List<String> prompts = new ArrayList<>();
            for (int i = 0; i < batch; i++) {
                prompts.add("request " + i + " " + "the quick brown fox jumps over the lazy dog ".repeat(6));
            }
            SamplingParams p = SamplingParams.builder().temperature(0.0).maxTokens(256).ignoreEos(true).build();
            llm.generate(prompts, p); // warm-up: JIT, recordings
            double best = Double.MAX_VALUE;
            for (int rep = 0; rep < 3; rep++) {
                List<RequestOutput> out = llm.generate(prompts, p);
                RequestOutput.Metrics m = out.getFirst().metrics();
                best = Math.min(best, m.decodeSeconds() * 1e3 / Math.max(1, m.generatedTokens() - 1));
            }
            long[] stats = llm.cudaGraphStats();
            if (graphs && stats[0] == 0) {
                throw new IllegalStateException("no decode step was replayed from a graph");
            }
            return best;
        }
    }
}
