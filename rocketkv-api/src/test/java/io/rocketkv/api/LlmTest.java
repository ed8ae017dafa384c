package io.rocketkv.api;

import static io.rocketkv.api.TinyLlm.EOS;
import static io.rocketkv.api.TinyLlm.PROMPTS;
import static io.rocketkv.api.TinyLlm.decode;
import static io.rocketkv.api.TinyLlm.greedy;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * {@link LLM#generate} on a tiny random Llama: seeded sampling, stop strings across token boundaries, stop
 * token ids and EOS, concurrent callers, logprobs and metrics.
 */
class LlmTest extends TinyLlmSuite {

    // ---- sampling -------------------------------------------------------------------------------------

    @Test
    void sameSeedSameSampleDifferentSeedDifferentSample() {
        SamplingParams seeded = SamplingParams.builder().temperature(0.8).topP(0.9).seed(1234L).maxTokens(24)
                .ignoreEos(true).build();
        String prompt = PROMPTS.get(0);
        CompletionOutput a = llm.generate(prompt, seeded).output();
        CompletionOutput b = llm.generate(prompt, seeded).output();
        assertArrayEquals(a.tokenIds(), b.tokenIds(), "same seed, same ids");
        assertEquals(a.text(), b.text(), "same seed, same text");
        assertEquals(24, a.tokenIds().length);

        // the same seed batched with other requests: each request owns its random generator
        List<RequestOutput> batch = llm.generate(List.of(PROMPTS.get(1), prompt, PROMPTS.get(2)), seeded);
        assertArrayEquals(a.tokenIds(), batch.get(1).output().tokenIds(), "same seed inside a batch");

        CompletionOutput c = llm.generate(prompt, seeded.toBuilder().seed(4321L).build()).output();
        assertFalse(Arrays.equals(a.tokenIds(), c.tokenIds()), "different seeds give different samples");
        CompletionOutput greedy = llm.generate(prompt, greedy(24).build()).output();
        assertFalse(Arrays.equals(a.tokenIds(), greedy.tokenIds()), "temperature 0.8 does not just take the argmax");
    }

    @Test
    void greedyIsRepeatableAndTopKOneIsGreedy() {
        CompletionOutput a = llm.generate(PROMPTS.get(2), greedy(20).build()).output();
        CompletionOutput b = llm.generate(PROMPTS.get(2), greedy(20).build()).output();
        assertArrayEquals(a.tokenIds(), b.tokenIds());
        CompletionOutput k1 = llm.generate(PROMPTS.get(2), SamplingParams.builder().topK(1).maxTokens(20)
                .ignoreEos(true).build()).output();
        assertArrayEquals(a.tokenIds(), k1.tokenIds(), "top_k 1 at temperature 1 is greedy");
    }

    // ---- stop strings, stop token ids, EOS ------------------------------------------------------------

    @Test
    void stopStringSpanningTokensCutsTheTextBeforeIt() {
        int tried = 0;
        for (String prompt : PROMPTS) {
            CompletionOutput full = llm.generate(prompt, greedy(40).build()).output();
            int[] ids = full.tokenIds();
            String text = full.text();
            for (int i = 1; i + 2 < ids.length && tried < 6; i++) {
                StopCase c = stopCase(ids, text, i);
                if (c == null) {
                    continue;
                }
                tried++;
                CompletionOutput out = llm.generate(prompt, greedy(40).stop(c.stop).build()).output();
                String what = "prompt '" + prompt + "', stop \"" + c.stop + "\" over tokens " + i + ".." + c.lastToken;
                assertEquals(text.substring(0, c.at), out.text(), what + ": text before the stop string");
                assertEquals("stop", out.finishReason(), what);
                assertArrayEquals(Arrays.copyOf(ids, c.lastToken + 1), out.tokenIds(),
                        what + ": ids up to the token that completed the stop string");
            }
        }
        assertTrue(tried >= 3, "found only " + tried + " stop strings spanning tokens in the greedy outputs");
    }

    /**
     * A stop string made of the last character of token {@code i}, all of token {@code i+1} and, when it has
     * text, the first character of token {@code i+2}: printable ASCII only, first found where it is cut.
     */
    private static StopCase stopCase(int[] ids, String text, int i) {
        String before = decode(llm, ids, 0, i + 1);
        String t1 = decode(llm, ids, i + 1, i + 2);
        String t2 = decode(llm, ids, i + 2, i + 3);
        if (before.isEmpty() || t1.isEmpty() || !text.startsWith(before + t1) || !printableAscii(t1)) {
            return null;
        }
        String stop = before.substring(before.length() - 1) + t1;
        int last = i + 1;
        if (!t2.isEmpty() && printableAscii(t2) && text.startsWith(before + t1 + t2)) {
            stop += t2.charAt(0);
            last = i + 2;
        }
        int at = before.length() - 1;
        if (!printableAscii(stop) || text.indexOf(stop) != at) {
            return null;
        }
        return new StopCase(stop, at, last);
    }

    private record StopCase(String stop, int at, int lastToken) {
    }

    private static boolean printableAscii(String s) {
        return s.chars().allMatch(ch -> ch >= 0x20 && ch < 0x7f);
    }

    @Test
    void stopTokenIdEndsGenerationAndItsTextIsDropped() {
        CompletionOutput full = llm.generate(PROMPTS.get(0), greedy(40).build()).output();
        int[] ids = full.tokenIds();
        int k = firstNewTextTokenFrom(ids, 3);
        int stopId = ids[k];
        CompletionOutput out = llm.generate(PROMPTS.get(0), greedy(40).stopTokenIds(stopId).build()).output();
        assertEquals("stop", out.finishReason());
        assertArrayEquals(Arrays.copyOf(ids, k + 1), out.tokenIds(), "ids up to and including the stop token");
        assertEquals(decode(llm, ids, 0, k), out.text(), "the stop token's text is not part of the output");
    }

    /** The first index ≥ from whose id has text, is not EOS and did not occur before. */
    private static int firstNewTextTokenFrom(int[] ids, int from) {
        for (int k = from; k < ids.length; k++) {
            int id = ids[k];
            boolean seen = Arrays.stream(ids, 0, k).anyMatch(x -> x == id);
            if (!seen && id != EOS && !decode(llm, new int[] {id}).isEmpty()) {
                return k;
            }
        }
        throw new AssertionError("no fresh token in " + Arrays.toString(ids));
    }

    @Test
    void eosStopsUnlessIgnoredAndAStopTokenIdStopsEvenWhenEosIsIgnored() {
        // greedy, this prompt's continuation reaches EOS after a few tokens
        String prompt = PROMPTS.get(1);
        CompletionOutput ignoring = llm.generate(prompt, greedy(30).build()).output();
        int[] ids = ignoring.tokenIds();
        int eosAt = indexOf(ids, EOS);
        assertTrue(eosAt >= 1, "expected EOS in the greedy continuation " + Arrays.toString(ids));
        assertEquals(30, ids.length, "ignore_eos generates past EOS");
        assertEquals("length", ignoring.finishReason());

        CompletionOutput stopping = llm.generate(prompt, greedy(30).ignoreEos(false).build()).output();
        assertEquals("stop", stopping.finishReason());
        assertArrayEquals(Arrays.copyOf(ids, eosAt + 1), stopping.tokenIds(), "ids up to and including EOS");
        assertEquals(decode(llm, ids, 0, eosAt), stopping.text());

        CompletionOutput byStopId = llm.generate(prompt, greedy(30).stopTokenIds(EOS).build()).output();
        assertEquals("stop", byStopId.finishReason(), "stop_token_ids applies although ignore_eos is set");
        assertArrayEquals(stopping.tokenIds(), byStopId.tokenIds());
        assertEquals(stopping.text(), byStopId.text());
    }

    @Test
    void maxTokensEndsWithLength() {
        CompletionOutput out = llm.generate(PROMPTS.get(3), greedy(7).build()).output();
        assertEquals(7, out.tokenIds().length);
        assertEquals("length", out.finishReason());
        assertEquals(decode(llm, out.tokenIds()), out.text());
    }

    // ---- concurrency ------------------------------------------------------------------------------------

    @Test
    void concurrentGenerateCallsEqualSequentialOnes() throws Exception {
        SamplingParams params = greedy(16).build();
        List<CompletionOutput> sequential = new ArrayList<>();
        for (String p : PROMPTS) {
            sequential.add(llm.generate(p, params).output());
        }
        int threads = 4;
        CyclicBarrier start = new CyclicBarrier(threads);
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<List<CompletionOutput>>> futures = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int first = t;
                futures.add(pool.submit(() -> {
                    start.await(10, TimeUnit.SECONDS);
                    List<CompletionOutput> out = new ArrayList<>();
                    for (int p = first; p < PROMPTS.size(); p += threads) {   // two prompts per thread
                        out.add(llm.generate(PROMPTS.get(p), params).output());
                    }
                    return out;
                }));
            }
            for (int t = 0; t < threads; t++) {
                List<CompletionOutput> got = futures.get(t).get(30, TimeUnit.SECONDS);
                for (int j = 0; j < got.size(); j++) {
                    int p = t + j * threads;
                    assertArrayEquals(sequential.get(p).tokenIds(), got.get(j).tokenIds(), "prompt " + p);
                    assertEquals(sequential.get(p).text(), got.get(j).text(), "prompt " + p);
                }
            }
        } finally {
            pool.shutdownNow();
        }
        assertEquals(0, llm.kvCacheBytesInUse());
    }

    @Test
    void aListOfPromptsGivesOneOutputEachInOrder() {
        SamplingParams params = greedy(12).build();
        List<RequestOutput> batch = llm.generate(PROMPTS, params);
        assertEquals(PROMPTS.size(), batch.size());
        for (int i = 0; i < PROMPTS.size(); i++) {
            assertEquals(PROMPTS.get(i), batch.get(i).prompt());
            assertArrayEquals(llm.generate(PROMPTS.get(i), params).output().tokenIds(), batch.get(i).output().tokenIds());
        }
    }

    // ---- logprobs -----------------------------------------------------------------------------------

    @Test
    void logprobsListSortedAlternativesWithTheGreedyTokenFirst() {
        CompletionOutput out = llm.generate(PROMPTS.get(4), greedy(12).logprobs(3).build()).output();
        int[] ids = out.tokenIds();
        assertEquals(ids.length, out.logprobs().size());
        for (int i = 0; i < ids.length; i++) {
            CompletionOutput.TokenLogprobs t = out.logprobs().get(i);
            assertEquals(ids[i], t.tokenId());
            List<CompletionOutput.Alternative> top = t.top();
            assertEquals(3, top.size(), "token " + i + ": alternatives");
            for (int j = 1; j < top.size(); j++) {
                assertTrue(top.get(j - 1).logprob() >= top.get(j).logprob(), "token " + i + ": sorted " + top);
                assertNotEquals(top.get(j - 1).tokenId(), top.get(j).tokenId());
            }
            assertEquals(ids[i], top.getFirst().tokenId(), "token " + i + ": the greedy choice is the best");
            assertEquals(t.logprob(), top.getFirst().logprob(), 0.0f, "token " + i);
            assertTrue(t.logprob() <= 0 && t.logprob() > -20, "token " + i + ": logprob " + t.logprob());
        }
        // the same ids as without logprobs
        assertArrayEquals(llm.generate(PROMPTS.get(4), greedy(12).build()).output().tokenIds(), ids);
    }

    @Test
    void logprobsUnsetGivesNoneAndZeroGivesTheChosenTokensOnly() {
        assertTrue(llm.generate(PROMPTS.get(4), greedy(5).build()).output().logprobs().isEmpty());
        CompletionOutput zero = llm.generate(PROMPTS.get(4), greedy(5).logprobs(0).build()).output();
        assertEquals(5, zero.logprobs().size());
        for (CompletionOutput.TokenLogprobs t : zero.logprobs()) {
            assertTrue(t.top().isEmpty());
            assertTrue(t.logprob() <= 0);
        }
    }

    // ---- metrics and errors ---------------------------------------------------------------------------

    @Test
    void metricsCountTokensTimeAndKvBytes() {
        RequestOutput out = llm.generate(PROMPTS.get(2), greedy(9).build());
        RequestOutput.Metrics m = out.metrics();
        assertArrayEquals(llm.tokenizer().encode(PROMPTS.get(2), true), out.promptTokenIds());
        assertEquals(out.promptTokenIds().length, m.promptTokens());
        assertEquals(out.output().tokenIds().length, m.generatedTokens());
        assertEquals(9, m.generatedTokens());
        assertTrue(m.kvCacheBytes() > 0, "kv bytes " + m.kvCacheBytes());
        // 2 layers × K and V × 2 KV heads × 16 dims × 2 bytes (the CPU's BF16 cache) = 256 bytes per token, in blocks
        // of 16 tokens
        int tokens = m.promptTokens() + m.generatedTokens() - 1;
        assertEquals((long) Math.ceilDiv(tokens, 16) * 16 * 256, m.kvCacheBytes());
        assertTrue(m.prefillSeconds() > 0 && m.decodeSeconds() > 0, m.toString());
        assertTrue(m.timeToFirstTokenSeconds() > 0 && m.timeToFirstTokenSeconds() < 30, m.toString());
        assertEquals(0, llm.kvCacheBytesInUse(), "nothing is held after the request finished");
    }

    @Test
    void promptLongerThanMaxSeqLenIsRejectedNamingIt() {
        String longPrompt = "the cat and the hat ".repeat(300);   // well over 1024 tokens
        var e = assertThrows(IllegalArgumentException.class, () -> llm.generate(longPrompt, greedy(4).build()));
        assertTrue(e.getMessage().contains("max_seq_len"), e.getMessage());
        // the engine goes on
        assertEquals(4, llm.generate(PROMPTS.getFirst(), greedy(4).build()).output().tokenIds().length);
    }

    private static int indexOf(int[] a, int x) {
        for (int i = 0; i < a.length; i++) {
            if (a[i] == x) {
                return i;
            }
        }
        return -1;
    }
}
