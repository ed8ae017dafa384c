package io.rocketkv.api;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.rocketkv.core.model.Architecture;
import io.rocketkv.core.testing.ParityCheckpoints;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A Qwen3 checkpoint ({@link ParityCheckpoints#QWEN3}: per-head q/k RMSNorm, head_dim 32 != hidden / heads, GQA, tied
 * embeddings) through the public API on the CPU, KV cache in float32: the three parity prompts, given as token ids and
 * generated together, continue greedily as Hugging Face transformers did ({@code parity/expected.json}, made by
 * tools/hf_reference): the same 24 ids, each log-probability within 1e-3.
 */
class LlmQwen3Test {

    private static final double LOGPROB_TOLERANCE = 1e-3;
    private static final String NAME = "qwen3-qknorm-gqa";

    @TempDir
    Path dir;

    @Test
    void greedyContinuationsAreTransformers() throws Exception {
        Path model = ParityCheckpoints.QWEN3.write(dir.resolve(NAME));
        JsonNode cases = expected().path("checkpoints").path(NAME).path("cases");
        assertEquals(ParityCheckpoints.prompts().size(), cases.size(), "one reference per parity prompt");
        SamplingParams greedy = SamplingParams.builder().temperature(0.0).maxTokens(24).ignoreEos(true).logprobs(1)
                .build();
        try (LLM llm = LLM.builder().model(model).backend(Backend.CPU).tokensPerBlock(16)
                .kvCacheConfig(KvCacheConfig.builder().maxTokens(2048).dtype(KvCacheDtype.FLOAT32).build()).build()) {
            assertEquals(Architecture.QWEN3, llm.modelConfig().architecture());
            assertTrue(llm.modelConfig().qkNorm());
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
                assertArrayEquals(ids, out.tokenIds(), "prompt " + p + ": greedy ids");
                for (int i = 0; i < ids.length; i++) {
                    assertEquals(c.path("logprobs").get(i).asDouble(), out.logprobs().get(i).logprob(),
                            LOGPROB_TOLERANCE, "prompt " + p + " token " + i);
                }
            }
        }
    }

    private static JsonNode expected() throws IOException {
        try (InputStream in = LlmQwen3Test.class.getResourceAsStream("/parity/expected.json")) {
            return new ObjectMapper().readTree(in);
        }
    }
}
