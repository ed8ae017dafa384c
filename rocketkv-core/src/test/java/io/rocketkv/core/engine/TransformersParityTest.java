package io.rocketkv.core.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.rocketkv.core.kernels.CpuKernels;
import io.rocketkv.core.model.LlamaModel;
import io.rocketkv.core.model.ModelConfig;
import io.rocketkv.core.testing.ParityCheckpoints;
import io.rocketkv.core.testing.RandomCheckpoint;
import io.rocketkv.core.weights.SafeTensors;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The CPU engine against Hugging Face transformers (float32) on the three parity checkpoints: greedy ids
 * for 24 new tokens must be equal and each chosen token's log-probability within 1e-3, for each prompt
 * alone (batch 1) and for all three prompts in one batch (batch 3).
 */
class TransformersParityTest {

    private static final double LOGPROB_TOLERANCE = 1e-3;

    @TempDir
    static Path dir;

    static Stream<Arguments> checkpoints() {
        return ParityCheckpoints.all().entrySet().stream().map(e -> Arguments.of(e.getKey(), e.getValue()));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("checkpoints")
    void greedyIdsAndLogprobsMatchTransformers(String name, RandomCheckpoint ckpt) throws Exception {
        JsonNode expected = expected().path("checkpoints").path(name);
        Path ckptDir = ckpt.write(dir.resolve(name));
        assertEquals(expected.path("model_sha256").asText(), sha256(ckptDir.resolve("model.safetensors")),
                "the regenerated checkpoint differs from the one transformers ran on; rerun tools/hf_reference");
        List<int[]> prompts = ParityCheckpoints.prompts();
        ModelConfig config = ModelConfig.load(ckptDir);
        try (SafeTensors weights = SafeTensors.open(ckptDir)) {
            CpuKernels kernels = new CpuKernels();
            LlamaModel model = LlamaModel.load(config, weights, kernels, 16);
            try (Engine engine = new Engine(model, kernels, new EngineConfig(8, 4096, 1024, 16, 96), ids -> "")) {
                // batch 1: one request at a time
                for (int p = 0; p < prompts.size(); p++) {
                    GenerationResult r = engine.submit(request(prompts.get(p))).get();
                    check(name + " prompt " + p + " (batch 1)", expected.path("cases").get(p), prompts.get(p), r);
                }
                // batch 3: all prompts scheduled together
                List<CompletableFuture<GenerationResult>> futures = new ArrayList<>();
                for (int[] prompt : prompts) {
                    futures.add(engine.submit(request(prompt)));
                }
                for (int p = 0; p < prompts.size(); p++) {
                    check(name + " prompt " + p + " (batch 3)", expected.path("cases").get(p), prompts.get(p), futures.get(p).get());
                }
                assertEquals(0, engine.usedKvBlocks(), "every block returns to the pool");
            }
        }
    }

    private static GenerationRequest request(int[] prompt) {
        return new GenerationRequest(prompt, SamplingOptions.builder().temperature(0).logprobs(0).build(),
                StopCriteria.builder().maxTokens(24).ignoreEos(true).build(), null);
    }

    private static void check(String what, JsonNode expected, int[] prompt, GenerationResult r) {
        int[] promptExpected = toInts(expected.path("prompt"));
        assertArrayEquals(promptExpected, prompt, what + ": prompt");
        int[] ids = toInts(expected.path("ids"));
        assertArrayEquals(ids, r.outputIds(), what + ": greedy ids");
        double maxDiff = 0;
        for (int i = 0; i < ids.length; i++) {
            double exp = expected.path("logprobs").get(i).asDouble();
            double got = r.tokens().get(i).logprob();
            maxDiff = Math.max(maxDiff, Math.abs(exp - got));
            if (Math.abs(exp - got) > LOGPROB_TOLERANCE) {
                throw new AssertionError(what + ": logprob of token " + i + " (" + ids[i] + ") expected " + exp + " got " + got);
            }
        }
        System.out.printf("%s: %d ids equal, max |logprob diff| %.2e%n", what, ids.length, maxDiff);
    }

    static int[] toInts(JsonNode array) {
        int[] a = new int[array.size()];
        for (int i = 0; i < a.length; i++) {
            a[i] = array.get(i).asInt();
        }
        return a;
    }

    /** The transformers reference (tools/hf_reference) for the parity checkpoints. */
    static JsonNode expected() throws IOException {
        try (InputStream in = TransformersParityTest.class.getResourceAsStream("/parity/expected.json")) {
            return new ObjectMapper().readTree(in);
        }
    }

    private static String sha256(Path file) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
    }
}
