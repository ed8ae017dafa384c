package io.rocketkv.api;

import static io.rocketkv.api.ConfigAssertions.assertConfigError;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.Test;

/**
 * The TensorRT-LLM sampling options end to end on the CPU backend, each against an independent reference: single
 * requests with the seeds a fan-out uses, the greedy run's own log-probabilities, the tokenizer's encoding.
 */
class LlmSamplingOptionsTest extends TinyLlmSuite {

    static final String PROMPT = TinyLlm.PROMPTS.get(2);

    private static SamplingParams.Builder sampled(long seed) {
        return SamplingParams.builder().temperature(1.0).seed(seed).maxTokens(6).ignoreEos(true);
    }

    @Test
    void nCompletionsAreTheSeededSingleRequests() {
        RequestOutput out = llm.generate(PROMPT, sampled(42).n(3).build());
        assertEquals(3, out.outputs().size());
        for (int i = 0; i < 3; i++) {
            CompletionOutput single = llm.generate(PROMPT, sampled(42 + i).build()).output();
            assertEquals(i, out.outputs().get(i).index());
            assertArrayEquals(single.tokenIds(), out.outputs().get(i).tokenIds(), "completion " + i);
        }
        assertEquals(18, out.metrics().generatedTokens(), "three completions of 6 tokens");
    }

    @Test
    void bestOfKeepsTheNWithTheHighestCumulativeLogprob() {
        RequestOutput out = llm.generate(PROMPT, sampled(7).n(2).bestOf(5).logprobs(0).build());
        List<CompletionOutput> singles = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            singles.add(llm.generate(PROMPT, sampled(7 + i).logprobs(0).build()).output());
        }
        singles.sort(Comparator.comparingDouble(LlmSamplingOptionsTest::cumulative).reversed());
        assertEquals(2, out.outputs().size());
        for (int i = 0; i < 2; i++) {
            assertArrayEquals(singles.get(i).tokenIds(), out.outputs().get(i).tokenIds(), "rank " + i);
        }
    }

    private static double cumulative(CompletionOutput c) {
        return c.logprobs().stream().mapToDouble(CompletionOutput.TokenLogprobs::logprob).sum();
    }

    @Test
    void badTokenIdsGiveTheNextBestToken() {
        SamplingParams greedy = TinyLlm.greedy(1).logprobs(2).build();
        CompletionOutput free = llm.generate(PROMPT, greedy).output();
        int first = free.tokenIds()[0];
        int second = free.logprobs().getFirst().top().get(1).tokenId();
        CompletionOutput banned = llm.generate(PROMPT, greedy.toBuilder().badTokenIds(List.of(first)).build())
                .output();
        assertEquals(second, banned.tokenIds()[0]);
        assertEquals(free.logprobs().getFirst().top().get(1).logprob(), banned.logprobs().getFirst().logprob(), 1e-6,
                "the reported logprob is the raw model's");
    }

    @Test
    void logitBiasForcesAToken() {
        int forced = 100;
        CompletionOutput c = llm.generate(PROMPT, TinyLlm.greedy(5).logitBias(Map.of(forced, 100f)).build())
                .output();
        assertArrayEquals(new int[] {forced, forced, forced, forced, forced}, c.tokenIds());
    }

    @Test
    void badWordsAreNeverGenerated() {
        int[] free = llm.generate(PROMPT, TinyLlm.greedy(8).build()).output().tokenIds();
        String word = null;
        List<List<Integer>> ids = null;
        for (int i = 0; i < free.length && word == null; i++) { // a generated token that is a word's encoding
            String w = TinyLlm.decode(llm, free, i, i + 1).strip();
            List<List<Integer>> enc = w.isEmpty() ? List.of() : BadWords.encode(llm.tokenizer(), List.of(w));
            if (enc.contains(List.of(free[i]))) {
                word = w;
                ids = enc;
            }
        }
        assertTrue(word != null, "some generated token is a whole word: " + Arrays.toString(free));
        int[] banned = llm.generate(PROMPT, TinyLlm.greedy(8).bad(List.of(word)).build()).output().tokenIds();
        for (List<Integer> w : ids) {
            int[] seq = w.stream().mapToInt(Integer::intValue).toArray();
            for (int i = 0; i + seq.length <= banned.length; i++) {
                assertFalse(Arrays.equals(seq, Arrays.copyOfRange(banned, i, i + seq.length)),
                        "banned word " + word + " " + w + " in " + Arrays.toString(banned));
            }
        }
        assertFalse(Arrays.equals(free, banned));
    }

    @Test
    void minTokensHoldsBackAStopTokenId() {
        int first = llm.generate(PROMPT, TinyLlm.greedy(1).build()).output().tokenIds()[0];
        SamplingParams stopAtIt = SamplingParams.builder().temperature(0.0).maxTokens(6).stopTokenIds(first).build();
        assertEquals(1, llm.generate(PROMPT, stopAtIt).output().tokenIds().length, "stops on its first token");
        int[] held = llm.generate(PROMPT, stopAtIt.toBuilder().minTokens(3).build()).output().tokenIds();
        assertTrue(held.length >= 3, Arrays.toString(held));
        for (int i = 0; i < 3; i++) {
            assertNotEquals(first, held[i], "masked before min_tokens: " + Arrays.toString(held));
        }
    }

    @Test
    void includeStopStrInOutputKeepsTheMatch() {
        String text = llm.generate(PROMPT, TinyLlm.greedy(12).build()).output().text();
        String stop = text.substring(2, 5);
        String cut = llm.generate(PROMPT, TinyLlm.greedy(12).stop(stop).build()).output().text();
        String kept = llm.generate(PROMPT, TinyLlm.greedy(12).stop(stop).includeStopStrInOutput(true).build())
                .output().text();
        assertEquals(text.substring(0, text.indexOf(stop)), cut);
        assertEquals(text.substring(0, text.indexOf(stop) + stop.length()), kept);
    }

    @Test
    void specialTokensOnTheWayInAndOut() {
        int[] with = llm.generate(PROMPT, TinyLlm.greedy(1).build()).promptTokenIds();
        int[] without = llm.generate(PROMPT, TinyLlm.greedy(1).addSpecialTokens(false).build()).promptTokenIds();
        assertArrayEquals(llm.tokenizer().encode(PROMPT, true), with);
        assertArrayEquals(llm.tokenizer().encode(PROMPT, false), without);
        assertNotEquals(with.length, without.length, "the tiny tokenizer adds BOS");
        SamplingParams eos = TinyLlm.greedy(2).logitBias(Map.of(TinyLlm.EOS, 100f)).build();
        assertEquals("", llm.generate(PROMPT, eos).output().text());
        String shown = llm.generate(PROMPT, eos.toBuilder().skipSpecialTokens(false).build()).output().text();
        assertEquals(llm.tokenizer().decode(new int[] {TinyLlm.EOS, TinyLlm.EOS}, false), shown);
        assertFalse(shown.isEmpty());
    }

    @Test
    void truncatePromptTokensKeepsTheLastK() {
        int[] all = llm.tokenizer().encode(PROMPT, true);
        RequestOutput out = llm.generate(PROMPT, TinyLlm.greedy(2).truncatePromptTokens(4).build());
        assertArrayEquals(Arrays.copyOfRange(all, all.length - 4, all.length), out.promptTokenIds());
        assertArrayEquals(all, llm.generate(PROMPT, TinyLlm.greedy(2).truncatePromptTokens(1000).build())
                .promptTokenIds(), "a longer k keeps the whole prompt");
    }

    @Test
    void penaltiesChangeGreedyOutputOnlyWhenSet() {
        int[] plain = llm.generate(PROMPT, TinyLlm.greedy(10).build()).output().tokenIds();
        int[] neutral = llm.generate(PROMPT, TinyLlm.greedy(10).repetitionPenalty(1.0).presencePenalty(0.0)
                .frequencyPenalty(0.0).minP(0.0).build()).output().tokenIds();
        assertArrayEquals(plain, neutral, "neutral values are no-ops");
        int[] strong = llm.generate(PROMPT, TinyLlm.greedy(10).frequencyPenalty(2.0).presencePenalty(2.0).build())
                .output().tokenIds();
        long distinctPlain = Arrays.stream(plain).distinct().count();
        long distinctStrong = Arrays.stream(strong).distinct().count();
        assertTrue(distinctStrong >= distinctPlain, Arrays.toString(plain) + " vs " + Arrays.toString(strong));
    }

    @Test
    void badInputIsRefusedWithTheField() {
        assertConfigError("sampling_params.n", () -> SamplingParams.builder().n(-1).build(), "got -1");
        assertConfigError("sampling_params.best_of", () -> SamplingParams.builder().temperature(1.0).n(3).bestOf(2)
                .build(), ">= n (3)", "got 2");
        assertConfigError("sampling_params.n", () -> SamplingParams.builder().n(2).build(), "needs sampling");
        assertConfigError("sampling_params.presence_penalty",
                () -> SamplingParams.builder().presencePenalty(2.5).build(), "[-2.0, 2.0]");
        assertConfigError("sampling_params.frequency_penalty",
                () -> SamplingParams.builder().frequencyPenalty(-3.0).build(), "[-2.0, 2.0]");
        assertConfigError("sampling_params.repetition_penalty",
                () -> SamplingParams.builder().repetitionPenalty(0.0).build(), "> 0");
        assertConfigError("sampling_params.min_p", () -> SamplingParams.builder().minP(1.5).build(), "[0.0, 1.0]");
        assertConfigError("sampling_params.min_tokens",
                () -> SamplingParams.builder().maxTokens(4).minTokens(5).build(), "<= max_tokens (4)");
        assertConfigError("sampling_params.logit_bias[3]",
                () -> SamplingParams.builder().logitBias(Map.of(3, 101f)).build(), "[-100, 100]");
        assertConfigError("sampling_params.bad_token_ids[0]",
                () -> SamplingParams.builder().badTokenIds(List.of(-2)).build(), ">= 0");
        assertConfigError("sampling_params.truncate_prompt_tokens",
                () -> SamplingParams.builder().truncatePromptTokens(0).build(), ">= 1");
        int vocab = llm.modelConfig().vocabSize();
        assertRequestRefused("sampling_params.logit_bias", TinyLlm.greedy(2).logitBias(Map.of(vocab, 1f)).build(),
                "token id " + vocab + " is outside the model's vocabulary");
        assertRequestRefused("sampling_params.bad_token_ids", TinyLlm.greedy(2).badTokenIds(List.of(vocab + 5))
                .build(), "outside the model's vocabulary");
        ExecutionException streamed = assertThrows(ExecutionException.class, () -> llm.generateStream(PROMPT,
                sampled(1).n(2).bestOf(3).build(), c -> { }).get());
        assertTrue(streamed.getCause() instanceof ConfigException c && c.key().equals("sampling_params.best_of")
                && c.getMessage().contains("best_of (bestOf) 3 above n 2 cannot be streamed"),
                String.valueOf(streamed.getCause()));
    }

    private static void assertRequestRefused(String key, SamplingParams params, String fragment) {
        assertConfigError(key, () -> llm.generate(PROMPT, params), fragment);
    }
}
