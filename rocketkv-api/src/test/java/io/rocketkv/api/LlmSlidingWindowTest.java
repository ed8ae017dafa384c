package io.rocketkv.api;

import static io.rocketkv.api.ConfigAssertions.assertConfigError;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rocketkv.core.testing.ParityCheckpoints;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A model with a {@code sliding_window} (Mistral's parity checkpoint, max_position_embeddings 1024, given a window
 * of 96) through the facade: it runs at any max_seq_len, attending within the window (the engine's parity against
 * transformers is {@code SlidingWindowParityTest}); while a sequence is shorter than the window its tokens are those
 * of the model without one, past it they part. RocketKV is refused where the window binds.
 */
class LlmSlidingWindowTest {

    private static final int WINDOW = 96;

    @TempDir
    static Path dir;

    static Path windowed;
    static Path full;

    @BeforeAll
    static void write() throws IOException {
        full = ParityCheckpoints.MISTRAL.write(dir.resolve("mistral-full"));
        windowed = withSlidingWindow(ParityCheckpoints.MISTRAL.write(dir.resolve("mistral-window")), WINDOW);
    }

    private static Path withSlidingWindow(Path model, int window) throws IOException {
        ObjectMapper json = new ObjectMapper();
        ObjectNode config = (ObjectNode) json.readTree(model.resolve("config.json").toFile());
        config.put("sliding_window", window);
        json.writeValue(model.resolve("config.json").toFile(), config);
        return model;
    }

    private static LLM.Builder cpu(Path model) {
        return LLM.builder().model(model).backend(Backend.CPU).tokensPerBlock(16)
                .kvCacheConfig(KvCacheConfig.builder().maxTokens(2048).build());
    }

    @Test
    void maxSeqLenUnsetRunsPastTheWindow() {
        List<String> prompts = List.of("the cat and the hat", "Irene is at the house, and the cat is in the hat");
        try (LLM w = cpu(windowed).build(); LLM f = cpu(full).build()) {
            assertEquals(1024, w.maxSeqLen());
            SamplingParams greedy = TinyLlm.greedy(150).ignoreEos(true).logprobs(0).build();
            List<RequestOutput> got = w.generate(prompts, greedy);
            List<RequestOutput> expected = f.generate(prompts, greedy);
            for (int i = 0; i < prompts.size(); i++) {
                int prompt = got.get(i).promptTokenIds().length;
                int[] g = got.get(i).output().tokenIds();
                int[] e = expected.get(i).output().tokenIds();
                assertEquals(150, g.length);
                // token n is chosen at position prompt + n - 1, whose query sees every earlier key while < 96
                int within = WINDOW - prompt + 1;
                assertArrayEquals(java.util.Arrays.copyOf(e, within), java.util.Arrays.copyOf(g, within),
                        "inside the window the windowed model is the plain one");
                assertEquals(expected.get(i).output().logprobs().subList(0, within),
                        got.get(i).output().logprobs().subList(0, within));
                assertNotEquals(expected.get(i).output().logprobs(), got.get(i).output().logprobs(),
                        "past the window the keys it drops change the log-probabilities");
            }
        }
    }

    @Test
    void rocketKvIsRefusedWhereTheWindowBinds() {
        RocketSparseAttentionConfig sparse = RocketSparseAttentionConfig.builder().windowSize(8).kernelSize(7)
                .promptBudget(64).topk(4).topr(16).pageSize(4).build();
        assertConfigError("sparse_attention_config", () -> cpu(windowed).sparseAttentionConfig(sparse).build(),
                "RocketKV", "sliding_window (config.json) is 96", "max_seq_len 1024", "set max_seq_len <= 96");
        cpu(windowed).maxSeqLen(WINDOW).sparseAttentionConfig(sparse).build().close(); // the window never binds
    }

    @Test
    void maxSeqLenWithinTheWindowRunsAsFullAttention() {
        List<String> prompts = List.of("the cat and the hat", "Irene is at the house, and the cat is in the hat");
        // max_seq_len = window: every query sees its whole prefix, so the windowed model is the plain one
        try (LLM w = cpu(windowed).maxSeqLen(WINDOW).build(); LLM f = cpu(full).maxSeqLen(WINDOW).build()) {
            assertEquals(WINDOW, w.modelConfig().slidingWindow());
            assertEquals(WINDOW, w.maxSeqLen());
            SamplingParams greedy = TinyLlm.greedy(200).logprobs(0).build(); // runs into max_seq_len
            List<RequestOutput> got = w.generate(prompts, greedy);
            List<RequestOutput> expected = f.generate(prompts, greedy);
            for (int i = 0; i < prompts.size(); i++) {
                CompletionOutput g = got.get(i).output();
                CompletionOutput e = expected.get(i).output();
                assertEquals("length", g.finishReason());
                assertEquals(WINDOW, got.get(i).promptTokenIds().length + g.tokenIds().length);
                assertArrayEquals(e.tokenIds(), g.tokenIds());
                assertEquals(e.logprobs(), g.logprobs());
            }
        }
    }
}
