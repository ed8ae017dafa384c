package io.rocketkv.api;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rocketkv.core.engine.FinishReason;
import io.rocketkv.core.engine.GenerationRequest;
import io.rocketkv.core.engine.GenerationResult;
import io.rocketkv.core.engine.SampledToken;
import io.rocketkv.core.engine.TokenLogprob;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The engine's results and streamed tokens as the api's: every field lands in the field of its name. */
class EngineOutputMappingTest {

    private static final SampledToken FIRST = new SampledToken(5, -0.25f,
            List.of(new TokenLogprob(5, -0.25f), new TokenLogprob(9, -1.5f)));
    private static final SampledToken SECOND = new SampledToken(9, -0.75f, List.of());

    @Test
    void metricsMapFieldByFieldWithTimesInSeconds() {
        // every value distinct, so a field read into another's place shows
        GenerationResult.Metrics m = GenerationResult.Metrics.builder().promptTokens(1).generatedTokens(2)
                .prefillNanos(3_000_000_000L).decodeNanos(4_000_000_000L).timeToFirstNanos(5_500_000_000L)
                .kvCacheBytesPeak(6).preemptions(7).cacheTokens(8).ktCacheBytesPeak(9).denseKvCacheBytes(10)
                .cachedPromptTokens(11).build();
        RequestOutput.Metrics out = RequestOutput.Metrics.from(m);
        assertEquals(new RequestOutput.Metrics(1, 2, 3.0, 4.0, 5.5, 6, 8, 9, 10, 7, 11), out);
        assertEquals(11, out.numCachedTokens());
        assertEquals(7, out.preemptions());
        assertEquals(8, out.cacheTokens());
    }

    @Test
    void resultMapsToOneCompletion() {
        var r = new GenerationResult(new int[] {1, 2, 3}, new int[] {5, 9}, "ab", List.of(FIRST, SECOND),
                FinishReason.LENGTH, GenerationResult.Metrics.builder().promptTokens(3).generatedTokens(2).build());
        RequestOutput out = RequestOutput.from("the prompt", r, true);
        assertEquals("the prompt", out.prompt());
        assertArrayEquals(new int[] {1, 2, 3}, out.promptTokenIds());
        CompletionOutput c = out.output();
        assertEquals(0, c.index());
        assertEquals("ab", c.text());
        assertArrayEquals(new int[] {5, 9}, c.tokenIds());
        assertEquals("length", c.finishReason());
        assertEquals(List.of(new CompletionOutput.TokenLogprobs(5, -0.25f, List.of(
                        new CompletionOutput.Alternative(5, -0.25f), new CompletionOutput.Alternative(9, -1.5f))),
                new CompletionOutput.TokenLogprobs(9, -0.75f, List.of())), c.logprobs());
        assertEquals(3, out.metrics().promptTokens());
        assertEquals(List.of(), RequestOutput.from("the prompt", r, false).output().logprobs());
    }

    @Test
    void tokenEventsMapToStreamChunks() {
        StreamChunk mid = StreamChunk.from(new GenerationRequest.TokenEvent(FIRST, "a", null));
        assertEquals(new StreamChunk(5, "a", -0.25f, null, List.of(new CompletionOutput.Alternative(5, -0.25f),
                new CompletionOutput.Alternative(9, -1.5f))), mid);
        assertNull(mid.finishReason());
        StreamChunk last = StreamChunk.from(new GenerationRequest.TokenEvent(SECOND, "b", FinishReason.STOP));
        assertEquals(new StreamChunk(9, "b", -0.75f, "stop"), last);
        assertTrue(last.isLast());
    }
}
