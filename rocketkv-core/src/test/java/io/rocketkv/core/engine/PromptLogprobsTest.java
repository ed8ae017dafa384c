package io.rocketkv.core.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.rocketkv.core.kernels.AttentionShape;
import io.rocketkv.core.kernels.CpuKernels;
import io.rocketkv.core.kernels.StepBatch;
import io.rocketkv.core.kernels.Tensor;
import io.rocketkv.core.model.LlamaModel;
import io.rocketkv.core.model.ModelConfig;
import io.rocketkv.core.numeric.DType;
import io.rocketkv.core.testing.ParityCheckpoints;
import io.rocketkv.core.testing.RandomCheckpoint;
import io.rocketkv.core.weights.SafeTensors;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Prompt log-probabilities ({@link GenerationRequest#promptLogprobs()}) on the CPU engine, KV cache in F32, against
 * two independent references:
 * <ul>
 *   <li>Hugging Face transformers: the committed parity fixtures ({@code parity/expected.json}) hold the log-probability
 *       of each of 24 greedy tokens after a prompt; fed back as one prompt (prompt + those tokens), positions 10..33 of
 *       its prompt log-probabilities are those tokens' — within 1e-3, the parity test's tolerance — at rank 1.</li>
 *   <li>Brute force: each prefix {@code prompt[0, p)} prefilled on its own through {@link LlamaModel#forward} (logits
 *       of its last position only) and log-softmaxed here in double precision gives position p's entry: log-probability
 *       within 1e-4, equal rank and top-k ids.</li>
 * </ul>
 * Whole and chunked prefill, batched with a request that does not ask, and with block reuse (a request that asks shares
 * no cached blocks; its own are cached for the next) all give the same entries; a request's outputs are the same with
 * or without them; with k = vocabulary size each position's alternatives are a whole log-softmax (their probabilities
 * sum to 1).
 */
class PromptLogprobsTest {

    private static final int TPB = 16;
    private static final double TRANSFORMERS_TOLERANCE = 1e-3;
    private static final double BRUTE_FORCE_TOLERANCE = 1e-4;

    @TempDir
    static Path dir;

    private record Loaded(LlamaModel model, CpuKernels kernels, SafeTensors weights, ModelConfig config)
            implements AutoCloseable {
        static Loaded of(RandomCheckpoint ckpt, String name) throws Exception {
            Path p = ckpt.write(dir.resolve(name));
            ModelConfig config = ModelConfig.load(p);
            SafeTensors weights = SafeTensors.open(p);
            CpuKernels kernels = new CpuKernels(true, DType.F32);
            return new Loaded(LlamaModel.load(config, weights, kernels, TPB), kernels, weights, config);
        }

        Engine engine(int maxNumTokens, boolean chunked, boolean reuse) {
            return new Engine(model, kernels, new EngineConfig(8, maxNumTokens, 1024, TPB, 128, null, List.of(), false,
                    chunked, reuse), ids -> "");
        }

        @Override
        public void close() {
            weights.close();
        }
    }

    private static GenerationRequest request(int[] prompt, Integer promptLogprobs, int maxTokens) {
        return new GenerationRequest(prompt, SamplingOptions.builder().temperature(0).logprobs(2).build(),
                StopCriteria.builder().maxTokens(maxTokens).ignoreEos(true).build(), null, null, promptLogprobs);
    }

    @Test
    void greedyContinuationsScoreAsTransformersDid() throws Exception {
        JsonNode expected = TransformersParityTest.expected().path("checkpoints");
        for (Map.Entry<String, RandomCheckpoint> e : ParityCheckpoints.all().entrySet()) {
            try (Loaded m = Loaded.of(e.getValue(), e.getKey() + "-hf"); Engine engine = m.engine(4096, false, false)) {
                // Frequencies that change with the length (dynamic RoPE) rotate one forward over prompt + continuation
                // with those of the whole length, transformers' decode each step with those of its own length: the
                // two agree only while the whole stays within the length-independent range.
                int sameRotation = m.config().ropeTable().lengthIndependentUpTo();
                for (JsonNode c : expected.path(e.getKey()).path("cases")) {
                    int[] prompt = TransformersParityTest.toInts(c.path("prompt"));
                    int[] ids = TransformersParityTest.toInts(c.path("ids"));
                    int[] fed = IntStream.concat(Arrays.stream(prompt), Arrays.stream(ids)).toArray();
                    if (fed.length > sameRotation) {
                        continue;
                    }
                    List<PromptLogprob> lp = TinyEngines.get(engine.submit(request(fed, 1, 1))).promptLogprobs();
                    assertEquals(fed.length, lp.size());
                    assertNull(lp.getFirst(), "no token precedes the first");
                    for (int j = 0; j < ids.length; j++) {
                        PromptLogprob got = lp.get(prompt.length + j);
                        double want = c.path("logprobs").get(j).asDouble();
                        assertEquals(ids[j], got.tokenId());
                        assertEquals(want, got.logprob(), TRANSFORMERS_TOLERANCE, e.getKey() + " token " + j);
                        assertEquals(1, got.rank(), e.getKey() + " token " + j + ": transformers' greedy choice");
                        assertEquals(ids[j], got.top().getFirst().tokenId());
                    }
                }
            }
        }
    }

    @Test
    void eachPositionEqualsItsPrefixPrefilledAlone() throws Exception {
        int[] prompt = TinyEngines.prompts(11, 45).getFirst();
        int k = 5;
        try (Loaded m = Loaded.of(ParityCheckpoints.QWEN2, "qwen2-bf")) {
            List<PromptLogprob> reference = bruteForce(m, prompt, k);
            GenerationResult plain;
            try (Engine engine = m.engine(4096, false, false)) {
                plain = TinyEngines.get(engine.submit(request(prompt, null, 6)));
                assertNull(plain.promptLogprobs(), "not asked for");
                // batched with a request that does not ask: only the asking one gets extra rows
                CompletableFuture<GenerationResult> other = engine.submit(request(prompt, null, 6));
                GenerationResult whole = TinyEngines.get(engine.submit(request(prompt, k, 6)));
                compare("whole prefill", reference, whole.promptLogprobs());
                sameOutputs(plain, whole);
                sameOutputs(plain, TinyEngines.get(other));
            }
            try (Engine engine = m.engine(TPB, true, false)) { // 45 tokens in chunks of 16
                GenerationResult chunked = TinyEngines.get(engine.submit(request(prompt, k, 6)));
                compare("chunked prefill", reference, chunked.promptLogprobs());
                sameOutputs(plain, chunked);
            }
            try (Engine engine = m.engine(4096, false, true)) {
                GenerationResult first = TinyEngines.get(engine.submit(request(prompt, null, 6)));
                GenerationResult asking = TinyEngines.get(engine.submit(request(prompt, k, 6)));
                assertEquals(0, asking.metrics().cachedPromptTokens(), "a request that scores its prompt shares"
                        + " no cached blocks");
                compare("block reuse on", reference, asking.promptLogprobs());
                sameOutputs(first, asking);
                GenerationResult after = TinyEngines.get(engine.submit(request(prompt, null, 6)));
                assertEquals(2 * TPB, after.metrics().cachedPromptTokens(), "its blocks were cached for others");
                sameOutputs(first, after);
            }
        }
    }

    @Test
    void withTheWholeVocabularyEachPositionIsALogSoftmax() throws Exception {
        int[] prompt = TinyEngines.prompts(12, 20).getFirst();
        try (Loaded m = Loaded.of(ParityCheckpoints.LLAMA, "llama-ls"); Engine engine = m.engine(4096, false, false)) {
            int vocab = m.config().vocabSize();
            List<PromptLogprob> lp = TinyEngines.get(engine.submit(request(prompt, vocab, 1))).promptLogprobs();
            for (int p = 1; p < prompt.length; p++) {
                PromptLogprob e = lp.get(p);
                assertEquals(prompt[p], e.tokenId());
                assertEquals(vocab, e.top().size());
                double sum = 0;
                for (int i = 0; i < vocab; i++) {
                    sum += Math.exp(e.top().get(i).logprob());
                    assertTrue(i == 0 || e.top().get(i - 1).logprob() >= e.top().get(i).logprob(), "best first");
                }
                assertEquals(1.0, sum, 1e-5, "position " + p + ": probabilities sum to 1");
                TokenLogprob self = e.top().get(e.rank() - 1);
                assertEquals(prompt[p], self.tokenId(), "position " + p + ": rank names the token's place");
                assertEquals(self.logprob(), e.logprob(), 0f);
            }
        }
    }

    private static void sameOutputs(GenerationResult want, GenerationResult got) {
        assertArrayEquals(want.outputIds(), got.outputIds(), "the outputs do not depend on prompt log-probabilities");
        for (int i = 0; i < want.tokens().size(); i++) {
            assertEquals(want.tokens().get(i).logprob(), got.tokens().get(i).logprob(), 1e-5);
        }
    }

    private static void compare(String what, List<PromptLogprob> want, List<PromptLogprob> got) {
        assertEquals(want.size(), got.size(), what);
        assertNull(got.getFirst(), what);
        for (int p = 1; p < want.size(); p++) {
            PromptLogprob w = want.get(p);
            PromptLogprob g = got.get(p);
            assertEquals(w.tokenId(), g.tokenId(), what + " position " + p);
            assertEquals(w.logprob(), g.logprob(), BRUTE_FORCE_TOLERANCE, what + " position " + p);
            assertEquals(w.rank(), g.rank(), what + " position " + p + ": rank");
            assertEquals(w.top().size(), g.top().size(), what + " position " + p);
            for (int i = 0; i < w.top().size(); i++) {
                assertEquals(w.top().get(i).tokenId(), g.top().get(i).tokenId(), what + " position " + p + " top " + i);
                assertEquals(w.top().get(i).logprob(), g.top().get(i).logprob(), BRUTE_FORCE_TOLERANCE);
            }
        }
    }

    /**
     * Position p's entry from the prefix {@code prompt[0, p)} prefilled alone (a fresh cache each time, the logits of
     * its last position), log-softmaxed in double precision: log-probability, rank and the top k of the whole row.
     */
    private static List<PromptLogprob> bruteForce(Loaded m, int[] prompt, int k) {
        AttentionShape shape = m.model().attentionShape();
        int blocks = (prompt.length + TPB - 1) / TPB;
        PromptLogprob[] out = new PromptLogprob[prompt.length];
        for (int p = 1; p < prompt.length; p++) {
            Tensor[] caches = new Tensor[m.model().numLayers()];
            for (int l = 0; l < caches.length; l++) {
                caches[l] = m.kernels().allocate(DType.F32, blocks, 2, shape.numKvHeads(), TPB, shape.headDim());
            }
            int[] positions = IntStream.range(0, p).toArray();
            StepBatch step = new StepBatch(true, Arrays.copyOf(prompt, p), positions, positions, new int[] {0, p},
                    new int[] {p}, new int[][] {IntStream.range(0, blocks).toArray()}, new int[] {p - 1});
            float[] row = m.model().forward(step, caches);
            for (Tensor t : caches) {
                t.close();
            }
            double[] lp = SamplerReference.logSoftmax(row);
            int rank = 1;
            for (float x : row) {
                rank += x > row[prompt[p]] ? 1 : 0;
            }
            List<TokenLogprob> top = Arrays.stream(SamplerReference.rankOrder(row), 0, k)
                    .mapToObj(id -> new TokenLogprob(id, (float) lp[id])).toList();
            out[p] = new PromptLogprob(prompt[p], (float) lp[prompt[p]], rank, top);
        }
        return Arrays.asList(out);
    }
}
