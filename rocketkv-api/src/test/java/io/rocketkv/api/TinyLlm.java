package io.rocketkv.api;

import io.rocketkv.core.testing.ParityCheckpoints;
import io.rocketkv.core.testing.TinyBpeTokenizer;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/** The tiny random Llama ({@link ParityCheckpoints#LLAMA}) behind an {@link LLM}, and helpers around it. */
final class TinyLlm {

    /** Prompts in the tiny tokenizer's English (its merges make them a few tokens each). */
    static final List<String> PROMPTS = List.of(
            "the cat and the hat",
            "in the house of Irene",
            "Irene is at the house, and the cat is in the hat",
            "of the",
            "a red hat for the cat",
            "to the house and on",
            "the hat",
            "I read it in the house of the cat");

    static final int EOS = TinyBpeTokenizer.eosId();

    private TinyLlm() {
    }

    static Path write(Path dir) throws IOException {
        return ParityCheckpoints.LLAMA.write(dir.resolve("tiny-llama"));
    }

    /** A CPU LLM with a modest pool (the default would size it for 64 requests of 1024 tokens). */
    static LLM open(Path model) {
        return LLM.builder().model(model).backend(Backend.CPU)
                .kvCacheConfig(KvCacheConfig.builder().maxTokens(8192).build())
                .tokensPerBlock(16).maxBatchSize(16).build();
    }

    static SamplingParams.Builder greedy(int maxTokens) {
        return SamplingParams.builder().temperature(0.0).maxTokens(maxTokens).ignoreEos(true);
    }

    /** Text of ids as the LLM decodes it: special tokens and padded-vocabulary ids give nothing. */
    static String decode(LLM llm, int[] ids) {
        int v = llm.tokenizer().vocabSize();
        return llm.tokenizer().decode(Arrays.stream(ids).filter(id -> id < v).toArray(), true);
    }

    static String decode(LLM llm, int[] ids, int from, int to) {
        return decode(llm, Arrays.copyOfRange(ids, from, to));
    }
}
