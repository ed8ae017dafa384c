package io.rocketkv.api;

import static io.rocketkv.api.ConfigAssertions.assertConfigError;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

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
 * of 96): sliding-window attention is not implemented, so a max_seq_len beyond the window is refused, and one
 * within it runs, as full attention is then the same thing.
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
    void maxSeqLenUnsetIsTheModelsLimitAndIsRefused() {
        assertConfigError("max_seq_len", () -> cpu(windowed).build(),
                "sliding_window (config.json) is 96", "max_seq_len 1024", "max_position_embeddings",
                "set max_seq_len <= 96", "sliding-window attention is not implemented yet");
    }

    @Test
    void maxSeqLenOneBeyondTheWindowIsRefused() {
        assertConfigError("max_seq_len", () -> cpu(windowed).maxSeqLen(WINDOW + 1).build(),
                "sliding_window (config.json) is 96", "max_seq_len 97", "set max_seq_len <= 96");
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
