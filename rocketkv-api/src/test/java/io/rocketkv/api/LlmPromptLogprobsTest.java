package io.rocketkv.api;

import static io.rocketkv.api.TinyLlm.PROMPTS;
import static io.rocketkv.api.TinyLlm.greedy;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rocketkv.api.chat.Message;
import java.util.Arrays;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/**
 * {@link SamplingParams#promptLogprobs()} through the {@link LLM}: {@link RequestOutput#promptLogprobs()} has one entry
 * per prompt token, the first null, and is checked against another path through the model, the sampling row: a prompt
 * extended by its greedy continuation scores each continuation token as generation did (log-probability within 1e-5,
 * rank 1, the same alternatives). Block reuse (on by default) changes nothing and serves such a request nothing from
 * the cache; with n = 2 the entries come once; chat and streaming carry them too. (The engine's own test compares them
 * to transformers and to a brute-force reference.)
 */
class LlmPromptLogprobsTest extends TinyLlmSuite {

    private static final double TOLERANCE = 1e-5;


    @Test
    void notAskedForIsNull() {
        assertNull(llm.generate(PROMPTS.get(0), greedy(2).build()).promptLogprobs());
    }

    @Test
    void aContinuationFedBackScoresAsItWasGenerated() {
        int[] prompt = llm.tokenizer().encode(PROMPTS.get(2), true);
        CompletionOutput gen = llm.generate(PROMPTS.get(2), greedy(8).logprobs(3).build()).output();
        int[] fed = IntStream.concat(Arrays.stream(prompt), Arrays.stream(gen.tokenIds())).toArray();
        for (int pass = 0; pass < 2; pass++) { // the second finds the first's blocks cached
            RequestOutput out = llm.generateStream(fed, greedy(1).promptLogprobs(3).build(), null).join();
            assertEquals(0, out.metrics().numCachedTokens(), "pass " + pass + ": nothing served from the cache");
            List<PromptLogprob> lp = out.promptLogprobs();
            assertEquals(fed.length, lp.size());
            assertNull(lp.getFirst());
            for (int p = 1; p < fed.length; p++) {
                assertEquals(fed[p], lp.get(p).tokenId(), "position " + p);
                assertEquals(3, lp.get(p).top().size());
                assertTrue(lp.get(p).logprob() <= lp.get(p).top().getFirst().logprob());
            }
            for (int j = 0; j < gen.tokenIds().length; j++) {
                PromptLogprob e = lp.get(prompt.length + j);
                CompletionOutput.TokenLogprobs t = gen.logprobs().get(j);
                assertEquals(t.logprob(), e.logprob(), TOLERANCE, "pass " + pass + ", continuation token " + j);
                assertEquals(1, e.rank(), "greedy tokens rank first");
                for (int a = 0; a < 3; a++) {
                    assertEquals(t.top().get(a).tokenId(), e.top().get(a).tokenId(), "token " + j + " top " + a);
                    assertEquals(t.top().get(a).logprob(), e.top().get(a).logprob(), TOLERANCE);
                }
            }
        }
    }

    @Test
    void severalCompletionsChatAndStreamsCarryThem() throws Exception {
        List<PromptLogprob> reference = llm.generate(PROMPTS.get(4), greedy(2).promptLogprobs(2).build())
                .promptLogprobs();
        SamplingParams two = SamplingParams.builder().temperature(1.0).seed(3L).n(2).maxTokens(3).promptLogprobs(2)
                .build();
        RequestOutput out = llm.generate(PROMPTS.get(4), two);
        assertEquals(2, out.outputs().size());
        same(reference, out.promptLogprobs());
        same(reference, llm.generateStream(PROMPTS.get(4), two, c -> { }).get().promptLogprobs());
        RequestOutput chat = llm.chat(List.of(Message.user("the cat")), greedy(2).promptLogprobs(0).build());
        assertEquals(chat.promptTokenIds().length, chat.promptLogprobs().size());
        assertArrayEquals(Arrays.copyOfRange(chat.promptTokenIds(), 1, chat.promptTokenIds().length),
                chat.promptLogprobs().stream().skip(1).mapToInt(PromptLogprob::tokenId).toArray());
    }

    private static void same(List<PromptLogprob> want, List<PromptLogprob> got) {
        assertEquals(want.size(), got.size());
        for (int p = 1; p < want.size(); p++) {
            assertEquals(want.get(p).tokenId(), got.get(p).tokenId());
            assertEquals(want.get(p).logprob(), got.get(p).logprob(), TOLERANCE, "position " + p);
            assertEquals(want.get(p).rank(), got.get(p).rank());
        }
    }
}
