package io.rocketkv.api;

import static io.rocketkv.api.TinyLlm.PROMPTS;
import static io.rocketkv.api.TinyLlm.greedy;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Streaming with {@code stream_interval} 3 and with {@code n} = 2, each against the whole (non-streamed) output of the
 * same request: a completion's chunks hold 3 tokens each and the rest in the last, which alone carries the finish
 * reason; their tokens are the output's ids with its log-probabilities and alternatives, their deltas add up to its
 * text (stop strings included); the chunks of n completions interleave, each naming its index and ending with its
 * own last chunk, callback and iterator alike.
 */
class LlmStreamIntervalTest {

    private static final int INTERVAL = 3;

    @TempDir
    static Path dir;

    static LLM llm;

    @BeforeAll
    static void open() throws Exception {
        llm = LLM.builder().model(TinyLlm.write(dir)).backend(Backend.CPU)
                .kvCacheConfig(KvCacheConfig.builder().maxTokens(8192).build())
                .tokensPerBlock(16).maxBatchSize(16).streamInterval(INTERVAL).build();
    }

    @AfterAll
    static void close() {
        llm.close();
    }

    @Test
    void chunksHoldStreamIntervalTokensAndTheRestAtTheEnd() throws Exception {
        for (int maxTokens : new int[] {1, 3, 10}) {
            SamplingParams params = greedy(maxTokens).logprobs(2).build();
            List<StreamChunk> chunks = new CopyOnWriteArrayList<>();
            RequestOutput out = llm.generateStream(PROMPTS.get(0), params, chunks::add).get(30, TimeUnit.SECONDS);
            assertEquals((maxTokens + INTERVAL - 1) / INTERVAL, chunks.size(), maxTokens + " tokens");
            for (int i = 0; i < chunks.size(); i++) {
                assertEquals(i < chunks.size() - 1 ? INTERVAL : maxTokens - INTERVAL * (chunks.size() - 1),
                        chunks.get(i).tokens().size(), maxTokens + " tokens: chunk " + i);
            }
            checkCompletion(maxTokens + " tokens", chunks, out.output());
            assertEquals(out.output().logprobs(), llm.generate(PROMPTS.get(0), params).output().logprobs());
        }
    }

    @Test
    void aStopStringsTextIsNeverStreamed() throws Exception {
        RequestOutput whole = llm.generate(PROMPTS.get(2), greedy(24).build());
        String stop = whole.output().text().substring(4, 6);
        SamplingParams params = greedy(24).stop(stop).build();
        List<StreamChunk> chunks = new CopyOnWriteArrayList<>();
        RequestOutput out = llm.generateStream(PROMPTS.get(2), params, chunks::add).get(30, TimeUnit.SECONDS);
        assertEquals("stop", out.output().finishReason());
        checkCompletion("stop string", chunks, out.output());
    }

    @Test
    void nCompletionsInterleaveEachEndingWithItsOwnLastChunk() throws Exception {
        SamplingParams params = SamplingParams.builder().temperature(1.0).seed(5L).n(2).maxTokens(7).ignoreEos(true)
                .logprobs(1).build();
        List<StreamChunk> chunks = new CopyOnWriteArrayList<>();
        RequestOutput out = llm.generateStream(PROMPTS.get(1), params, chunks::add).get(30, TimeUnit.SECONDS);
        assertEquals(2, out.outputs().size());
        RequestOutput whole = llm.generate(PROMPTS.get(1), params);
        for (int i = 0; i < 2; i++) {
            int index = i;
            assertArrayEquals(whole.outputs().get(i).tokenIds(), out.outputs().get(i).tokenIds(),
                    "streaming does not change completion " + i);
            checkCompletion("completion " + i, chunks.stream().filter(c -> c.index() == index).toList(),
                    out.outputs().get(i));
        }
        assertTrue(chunks.stream().allMatch(c -> c.index() == 0 || c.index() == 1));
        // the iterator ends once both completions ended
        List<StreamChunk> iterated = new ArrayList<>();
        try (TokenStream it = llm.generateStream(PROMPTS.get(1), params)) {
            it.forEachRemaining(iterated::add);
        }
        assertEquals(2, iterated.stream().filter(StreamChunk::isLast).count());
        for (int i = 0; i < 2; i++) {
            int index = i;
            int[] ids = iterated.stream().filter(c -> c.index() == index).flatMapToInt(c -> IntStream.of(c.tokenIds()))
                    .toArray();
            assertArrayEquals(whole.outputs().get(i).tokenIds(), ids, "iterated completion " + i);
        }
    }

    /** One completion's chunks against its output: ids, log-probabilities, alternatives, text, finish reason. */
    private static void checkCompletion(String what, List<StreamChunk> chunks, CompletionOutput o) {
        List<CompletionOutput.TokenLogprobs> tokens = new ArrayList<>();
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < chunks.size(); i++) {
            StreamChunk c = chunks.get(i);
            tokens.addAll(c.tokens());
            text.append(c.textDelta());
            assertTrue(o.text().startsWith(text.toString()), what + ": streamed text is a prefix after chunk " + i);
            if (i < chunks.size() - 1) {
                assertNull(c.finishReason(), what + ": chunk " + i + " is not the last");
            }
        }
        assertArrayEquals(o.tokenIds(), tokens.stream().mapToInt(CompletionOutput.TokenLogprobs::tokenId).toArray(),
                what + ": the chunks' tokens are the output's");
        if (!o.logprobs().isEmpty()) {
            assertEquals(o.logprobs(), tokens, what + ": each token's log-probability and alternatives");
        }
        assertEquals(o.text(), text.toString(), what + ": concatenated deltas");
        assertEquals(o.finishReason(), chunks.getLast().finishReason(), what + ": last chunk's finish reason");
    }
}
