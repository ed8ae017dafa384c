package io.rocketkv.core.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rocketkv.core.kernels.CpuKernels;
import io.rocketkv.core.kernels.Kernels;
import io.rocketkv.core.kernels.Tensor;
import io.rocketkv.core.model.LlamaModel;
import io.rocketkv.core.model.ModelConfig;
import io.rocketkv.core.numeric.DType;
import io.rocketkv.core.testing.GreedyReference;
import io.rocketkv.core.testing.ParityCheckpoints;
import io.rocketkv.core.weights.SafeTensors;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The engine's greedy path through {@code Kernels.greedyRows} (what a GPU backend takes, so that a greedy step reads
 * back only the picked tokens): on a CPU backend that claims it (its greedyRows the sampler's own picks,
 * {@link GreedyReference}), the same requests give the same tokens, log-probabilities and top log-probabilities as the
 * plain CPU backend (bit for bit); the steps of a sampled request take the logits path.
 */
class GreedyRowsEngineTest {

    @TempDir
    Path dir;

    /** CpuKernels that says it picks greedy tokens itself, counting the calls. */
    private static Kernels claimingGreedyRows(CpuKernels cpu, AtomicInteger calls) {
        return (Kernels) Proxy.newProxyInstance(Kernels.class.getClassLoader(), new Class<?>[] {Kernels.class},
                (proxy, m, args) -> switch (m.getName()) {
                    case "hasGreedyRows" -> true;
                    case "greedyRows" -> {
                        calls.incrementAndGet();
                        Tensor logits = (Tensor) args[0];
                        int rows = (Integer) args[1];
                        int topK = (Integer) args[2];
                        GreedyReference r = GreedyReference.of(cpu.download(logits), rows, logits.dim(1), topK);
                        System.arraycopy(r.ids(), 0, args[3], 0, rows);
                        System.arraycopy(r.logprobs(), 0, args[4], 0, rows);
                        System.arraycopy(r.topIds(), 0, args[5], 0, rows * topK);
                        System.arraycopy(r.topLogprobs(), 0, args[6], 0, rows * topK);
                        yield null;
                    }
                    default -> {
                        try {
                            yield m.invoke(cpu, args);
                        } catch (InvocationTargetException e) {
                            throw e.getCause();
                        }
                    }
                });
    }

    private static List<GenerationResult> run(Path ckpt, Kernels kernels) throws Exception {
        ModelConfig config = ModelConfig.load(ckpt);
        try (SafeTensors weights = SafeTensors.open(ckpt)) {
            LlamaModel model = LlamaModel.load(config, weights, kernels, 16);
            try (Engine engine = new Engine(model, kernels, new EngineConfig(8, 4096, 1024, 16, 96), ids -> "")) {
                List<CompletableFuture<GenerationResult>> futures = new ArrayList<>();
                List<int[]> prompts = ParityCheckpoints.prompts();
                StopCriteria stop = StopCriteria.builder().maxTokens(12).ignoreEos(true).build();
                // greedy without and with top logprobs: together, then alone
                futures.add(engine.submit(new GenerationRequest(prompts.get(0),
                        SamplingOptions.builder().temperature(0).build(), stop, null)));
                futures.add(engine.submit(new GenerationRequest(prompts.get(1),
                        SamplingOptions.builder().temperature(0).logprobs(5).build(), stop, null)));
                List<GenerationResult> out = new ArrayList<>();
                for (CompletableFuture<GenerationResult> f : futures) {
                    out.add(f.get());
                }
                out.add(engine.submit(new GenerationRequest(prompts.get(2),
                        SamplingOptions.builder().temperature(0).logprobs(2).build(), stop, null)).get());
                // a seeded sampled request: its steps read the logits
                out.add(engine.submit(new GenerationRequest(prompts.get(0),
                        SamplingOptions.builder().temperature(0.8).seed(7L).build(), stop, null)).get());
                return out;
            }
        }
    }

    @Test
    void greedyStepsPickOnTheBackendAndGiveTheSamplersTokens() throws Exception {
        Path ckpt = ParityCheckpoints.LLAMA.write(dir.resolve("llama"));
        List<GenerationResult> plain = run(ckpt, new CpuKernels(true, DType.F32));
        AtomicInteger calls = new AtomicInteger();
        List<GenerationResult> picked = run(ckpt, claimingGreedyRows(new CpuKernels(true, DType.F32), calls));
        // the first two requests share their 12 steps, the third has 12 of its own; the sampled one has none
        assertTrue(calls.get() >= 2 * 12 && calls.get() <= 2 * 12 + 4, "greedy steps through greedyRows: " + calls.get());
        assertEquals(plain.size(), picked.size());
        for (int i = 0; i < plain.size(); i++) {
            assertArrayEquals(plain.get(i).outputIds(), picked.get(i).outputIds(), "request " + i + ": ids");
            for (int t = 0; t < plain.get(i).tokens().size(); t++) {
                SampledToken a = plain.get(i).tokens().get(t);
                SampledToken b = picked.get(i).tokens().get(t);
                assertEquals(a.logprob(), b.logprob(), "request " + i + " token " + t);
                assertEquals(a.topLogprobs(), b.topLogprobs(), "request " + i + " token " + t + ": top logprobs");
            }
        }
    }
}
