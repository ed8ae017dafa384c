package io.rocketkv.core.engine;

import io.rocketkv.core.kernels.CpuKernels;
import io.rocketkv.core.model.LlamaModel;
import io.rocketkv.core.model.ModelConfig;
import io.rocketkv.core.testing.ParityCheckpoints;
import io.rocketkv.core.tokenizer.Tokenizer;
import io.rocketkv.core.weights.SafeTensors;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

/**
 * Engines over the tiny {@link ParityCheckpoints#LLAMA} checkpoint (written once per test class), with a
 * real tokenizer as detokenizer, and helpers to build greedy requests and run them one at a time.
 */
final class TinyEngines implements AutoCloseable {

    /** Long enough for any test here; a hung engine fails the test instead of the build. */
    static final long TIMEOUT_SECONDS = 30;

    private final ModelConfig config;
    private final SafeTensors weights;
    private final Tokenizer tokenizer;

    private TinyEngines(ModelConfig config, SafeTensors weights, Tokenizer tokenizer) {
        this.config = config;
        this.weights = weights;
        this.tokenizer = tokenizer;
    }

    static TinyEngines write(Path dir) throws IOException {
        Path ckpt = ParityCheckpoints.LLAMA.write(dir.resolve("llama"));
        return new TinyEngines(ModelConfig.load(ckpt), SafeTensors.open(ckpt), Tokenizer.load(ckpt));
    }

    Tokenizer tokenizer() {
        return tokenizer;
    }

    Engine start(EngineConfig ec) {
        CpuKernels kernels = new CpuKernels();
        LlamaModel model = LlamaModel.load(config, weights, kernels, ec.tokensPerBlock());
        return new Engine(model, kernels, ec, this::decode);
    }

    /** Text of ids; the model's padded vocabulary rows (ids past the tokenizer's) decode to nothing, as in LLM. */
    String decode(int[] ids) {
        return tokenizer.decode(Arrays.stream(ids).filter(id -> id < tokenizer.vocabSize()).toArray(), true);
    }

    /** A pool large enough that nothing is ever preempted; batch 8. */
    Engine startRoomy() {
        return start(new EngineConfig(8, 4096, 1024, 4, 1024));
    }

    /** One prompt of random ordinary-token ids (below the special tokens) per length. */
    static List<int[]> prompts(long seed, int... lengths) {
        SplittableRandom r = new SplittableRandom(seed);
        List<int[]> out = new ArrayList<>();
        for (int n : lengths) {
            out.add(r.ints(n, 0, 296).toArray());
        }
        return out;
    }

    static GenerationRequest greedy(int[] prompt, int maxTokens) {
        return greedy(prompt, maxTokens, null);
    }

    /** Greedy, EOS ignored (so the length is exactly maxTokens unless max_seq_len cuts it), logprobs on. */
    static GenerationRequest greedy(int[] prompt, int maxTokens, Consumer<GenerationRequest.TokenEvent> listener) {
        return new GenerationRequest(prompt, SamplingOptions.builder().temperature(0).logprobs(0).build(),
                StopCriteria.builder().eosTokenIds(List.of(297)).maxTokens(maxTokens).ignoreEos(true).build(),
                listener);
    }

    static GenerationResult get(CompletableFuture<GenerationResult> f) throws Exception {
        return f.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
    }

    /** The exception a future failed with (fails the test when it completed normally or hung). */
    static Throwable failure(CompletableFuture<GenerationResult> f) throws InterruptedException, TimeoutException {
        try {
            GenerationResult r = f.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
            throw new AssertionError("expected a failure, got " + r.outputIds().length + " tokens, " + r.finishReason());
        } catch (ExecutionException e) {
            return e.getCause();
        }
    }

    /** Each request alone, in a roomy engine: the reference for batched and preempted runs. */
    List<GenerationResult> oneAtATime(List<GenerationRequest> requests) throws Exception {
        List<GenerationResult> out = new ArrayList<>();
        try (Engine engine = startRoomy()) {
            for (GenerationRequest r : requests) {
                out.add(get(engine.submit(r)));
            }
        }
        return out;
    }

    @Override
    public void close() {
        weights.close();
    }
}
