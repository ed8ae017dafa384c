package io.rocketkv.api;

import static io.rocketkv.api.TinyLlm.PROMPTS;
import static io.rocketkv.api.TinyLlm.greedy;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * {@link LLM#generateStream}, callback and iterator: the chunks' text deltas add up to the final text, their
 * ids are the output ids, only the last chunk carries the finish reason — with stop strings too, whose text
 * must never be streamed.
 */
class LlmStreamingTest extends TinyLlmSuite {

    @Test
    void callbackChunksAddUpToTheOutput() throws Exception {
        for (String prompt : PROMPTS.subList(0, 3)) {
            SamplingParams params = greedy(24).build();
            List<StreamChunk> chunks = new CopyOnWriteArrayList<>();
            RequestOutput out = llm.generateStream(prompt, params, chunks::add).get(30, TimeUnit.SECONDS);
            checkChunks(prompt, chunks, out);
            assertArrayEquals(llm.generate(prompt, params).output().tokenIds(), out.output().tokenIds(),
                    "streaming does not change the output");
        }
    }

    @Test
    void iteratorChunksAddUpToTheOutput() {
        for (String prompt : PROMPTS.subList(0, 3)) {
            SamplingParams params = greedy(24).build();
            List<StreamChunk> chunks = drain(llm.generateStream(prompt, params));
            checkChunks(prompt, chunks, llm.generate(prompt, params));
        }
    }

    @Test
    void streamedLogprobsEqualTheOutputsLogprobs() throws Exception {
        SamplingParams params = greedy(10).logprobs(3).build();
        List<StreamChunk> chunks = new CopyOnWriteArrayList<>();
        RequestOutput out = llm.generateStream(PROMPTS.get(4), params, chunks::add).get(30, TimeUnit.SECONDS);
        assertEquals(out.output().logprobs().size(), chunks.size());
        for (int i = 0; i < chunks.size(); i++) {
            CompletionOutput.TokenLogprobs whole = out.output().logprobs().get(i);
            assertEquals(whole.logprob(), chunks.get(i).logprob(), 0.0f, "token " + i);
            assertEquals(3, chunks.get(i).top().size(), "token " + i + ": the alternatives are streamed");
            assertEquals(whole.top(), chunks.get(i).top(), "token " + i + ": the same alternatives as the output");
        }
        // without logprobs a chunk carries no alternatives
        List<StreamChunk> plain = new CopyOnWriteArrayList<>();
        llm.generateStream(PROMPTS.get(4), greedy(3).build(), plain::add).get(30, TimeUnit.SECONDS);
        assertTrue(plain.stream().allMatch(c -> c.top().isEmpty()));
    }

    @Test
    void eosEndsTheStreamWithStop() {
        // this prompt's greedy continuation reaches EOS (see LlmTest)
        SamplingParams params = greedy(30).ignoreEos(false).build();
        List<StreamChunk> chunks = drain(llm.generateStream(PROMPTS.get(1), params));
        RequestOutput out = llm.generate(PROMPTS.get(1), params);
        assertEquals("stop", out.output().finishReason());
        checkChunks(PROMPTS.get(1), chunks, out);
    }

    @Test
    void stopStringsAreNeverStreamed() throws Exception {
        // stop at a string spanning tokens: the chunks before the cut must not have sent part of it
        int checked = 0;
        for (String prompt : PROMPTS) {
            CompletionOutput full = llm.generate(prompt, greedy(40).build()).output();
            String text = full.text();
            for (int len = 2; len <= 4; len++) {
                String stop = asciiSubstringAfterFirstToken(full, len);
                if (stop == null) {
                    continue;
                }
                SamplingParams params = greedy(40).stop(stop).build();
                List<StreamChunk> chunks = new CopyOnWriteArrayList<>();
                RequestOutput out = llm.generateStream(prompt, params, chunks::add).get(30, TimeUnit.SECONDS);
                assertEquals(text.substring(0, text.indexOf(stop)), out.output().text(), "stop \"" + stop + "\"");
                checkChunks(prompt + " / stop \"" + stop + "\"", chunks, out);
                checkChunks(prompt + " / stop \"" + stop + "\" (iterator)", drain(llm.generateStream(prompt, params)), out);
                checked++;
            }
        }
        assertTrue(checked >= 3, "only " + checked + " stop strings found");
    }

    /** A printable-ASCII substring of the output of {@code len} characters that does not start in token 0. */
    private static String asciiSubstringAfterFirstToken(CompletionOutput out, int len) {
        String text = out.text();
        int from = TinyLlm.decode(llm, out.tokenIds(), 0, 1).length() + 1;
        for (int at = from; at + len <= text.length(); at++) {
            String s = text.substring(at, at + len);
            if (s.chars().allMatch(c -> c > 0x20 && c < 0x7f) && text.indexOf(s) == at) {
                return s;
            }
        }
        return null;
    }

    @Test
    void aFailedRequestEndsTheIteratorWithItsError() {
        Iterator<StreamChunk> it = llm.generateStream("the cat and the hat ".repeat(300), greedy(4).build());
        var e = assertThrows(CompletionException.class, it::hasNext);
        assertInstanceOf(IllegalArgumentException.class, e.getCause());
        assertTrue(e.getCause().getMessage().contains("max_seq_len"), e.getCause().getMessage());
        assertFalse(it.hasNext(), "the iterator is finished after the error");
    }

    @Test
    void aFailedRequestFailsTheCallbackFuture() {
        List<StreamChunk> chunks = new ArrayList<>();
        var f = llm.generateStream("the cat and the hat ".repeat(300), greedy(4).build(), chunks::add);
        var e = assertThrows(ExecutionException.class, () -> f.get(30, TimeUnit.SECONDS));
        assertInstanceOf(IllegalArgumentException.class, e.getCause());
        assertTrue(chunks.isEmpty());
    }

    private static List<StreamChunk> drain(Iterator<StreamChunk> it) {
        List<StreamChunk> chunks = new ArrayList<>();
        while (it.hasNext()) {
            chunks.add(it.next());
        }
        assertThrows(NoSuchElementException.class, it::next);
        return chunks;
    }

    private static void checkChunks(String what, List<StreamChunk> chunks, RequestOutput out) {
        CompletionOutput o = out.output();
        int[] ids = o.tokenIds();
        assertEquals(ids.length, chunks.size(), what + ": one chunk per token");
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < chunks.size(); i++) {
            StreamChunk c = chunks.get(i);
            assertEquals(ids[i], c.tokenId(), what + ": id of chunk " + i);
            text.append(c.textDelta());
            assertTrue(o.text().startsWith(text.toString()),
                    what + ": after chunk " + i + " the streamed text \"" + text + "\" is no prefix of the output \""
                            + o.text() + "\"");
            if (i < chunks.size() - 1) {
                assertNull(c.finishReason(), what + ": chunk " + i + " is not the last");
                assertFalse(c.isLast());
            }
        }
        assertEquals(o.text(), text.toString(), what + ": concatenated deltas");
        assertEquals(o.finishReason(), chunks.getLast().finishReason(), what + ": last chunk's finish reason");
        assertTrue(chunks.getLast().isLast());
    }
}
