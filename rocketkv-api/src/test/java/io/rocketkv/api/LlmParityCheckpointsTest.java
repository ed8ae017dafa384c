package io.rocketkv.api;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.rocketkv.core.testing.ParityCheckpoints;
import io.rocketkv.core.testing.RandomCheckpoint;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every parity checkpoint (Llama with llama3 / linear / dynamic RoPE, Qwen2 with and without YaRN, Mistral, Qwen3's
 * per-head q/k norms, Phi-3's fused projections with partial rotary and longrope) through the public API on the CPU,
 * KV cache in float32: the parity prompts, given as token ids and generated together, continue greedily as Hugging
 * Face transformers did ({@code parity/expected.json}, made by tools/hf_reference): the same 24 ids, each
 * log-probability within 1e-3, and the architecture read from config.json as the checkpoint declares it.
 */
class LlmParityCheckpointsTest {

    private static final double LOGPROB_TOLERANCE = 1e-3;

    @TempDir
    Path dir;

    static Stream<Arguments> checkpoints() {
        return ParityCheckpoints.all().entrySet().stream().map(e -> Arguments.of(e.getKey(), e.getValue()));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("checkpoints")
    void greedyContinuationsAreTransformers(String name, RandomCheckpoint ckpt) throws Exception {
        Path model = ckpt.write(dir.resolve(name));
        JsonNode cases = expected().path("checkpoints").path(name).path("cases");
        assertEquals(ParityCheckpoints.prompts().size(), cases.size(), "one reference per parity prompt");
        SamplingParams greedy = SamplingParams.builder().temperature(0.0).maxTokens(24).ignoreEos(true).logprobs(1)
                .build();
        // max_seq_len past max_position_embeddings for the dynamic-RoPE checkpoint (64), whose scaling starts there
        try (LLM llm = LLM.builder().model(model).backend(Backend.CPU).tokensPerBlock(16).maxSeqLen(1024)
                .allowLongMaxSeqLen(true).kvCacheConfig(KvCacheConfig.builder().maxTokens(2048).dtype(KvCacheDtype.FLOAT32).build()).build()) {
            assertEquals(ckpt.architecture(), llm.modelConfig().architecture());
            List<CompletableFuture<RequestOutput>> futures = new ArrayList<>();
            for (int[] prompt : ParityCheckpoints.prompts()) {
                futures.add(llm.generateStream(prompt, greedy, null));
            }
            for (int p = 0; p < futures.size(); p++) {
                CompletionOutput out = futures.get(p).get().output();
                JsonNode c = cases.get(p);
                int[] ids = new int[c.path("ids").size()];
                for (int i = 0; i < ids.length; i++) {
                    ids[i] = c.path("ids").get(i).asInt();
                }
                assertArrayEquals(ids, out.tokenIds(), name + " prompt " + p + ": greedy ids");
                for (int i = 0; i < ids.length; i++) {
                    assertEquals(c.path("logprobs").get(i).asDouble(), out.logprobs().get(i).logprob(),
                            LOGPROB_TOLERANCE, name + " prompt " + p + " token " + i);
                }
            }
        }
    }

    private static JsonNode expected() throws IOException {
        try (InputStream in = LlmParityCheckpointsTest.class.getResourceAsStream("/parity/expected.json")) {
            return new ObjectMapper().readTree(in);
        }
    }
}
