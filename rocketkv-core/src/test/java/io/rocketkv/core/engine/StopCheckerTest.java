package io.rocketkv.core.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rocketkv.core.engine.StopDecision.Kind;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class StopCheckerTest {

    private static final int EOS = 2;

    private static StopChecker checker(List<String> stops, List<Integer> stopIds, int maxTokens, boolean ignoreEos) {
        return new StopChecker(StopCriteria.builder().eosTokenIds(List.of(EOS, 128_009)).stopTokenIds(stopIds)
                .stopStrings(stops).maxTokens(maxTokens).ignoreEos(ignoreEos).build());
    }

    /** Feeds pieces as tokens 100, 101, ...; returns the decision for each. */
    private static StopDecision[] feed(StopChecker c, String... pieces) {
        StopDecision[] out = new StopDecision[pieces.length];
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < pieces.length; i++) {
            text.append(pieces[i]);
            out[i] = c.onToken(100 + i, text.toString());
            if (out[i].isStop()) {
                return Arrays.copyOf(out, i + 1);
            }
        }
        return out;
    }

    @Test
    void stopStringSpanningTwoTokens() {
        StopDecision[] d = feed(checker(List.of("END"), List.of(), 100, false), "The", " E", "ND of", " it");
        assertEquals(3, d.length);
        assertEquals(Kind.CONTINUE, d[0].kind());
        assertEquals(Kind.CONTINUE, d[1].kind());
        assertEquals(Kind.STOP_STRING, d[2].kind());
        assertEquals("END", d[2].stopString());
        assertEquals(4, d[2].truncateAt());   // keeps "The "
        assertEquals(Optional.of(FinishReason.STOP), d[2].finishReason());
        assertEquals("stop", d[2].finishReason().orElseThrow().wireName());
    }

    @Test
    void stopStringSpanningThreeTokens() {
        String[] pieces = {"Hi", " there<|im", "_en", "d|>\nuser"};
        StopDecision[] d = feed(checker(List.of("<|im_end|>"), List.of(), 100, false), pieces);
        assertEquals(4, d.length);
        assertEquals(Kind.STOP_STRING, d[3].kind());
        assertEquals("Hi there".length(), d[3].truncateAt());
        assertEquals(-1, d[3].stopTokenId());
    }

    @Test
    void stopStringInsideOneToken() {
        StopDecision[] d = feed(checker(List.of("\n\n"), List.of(), 100, false), "a", "b\n\nc");
        assertEquals(Kind.STOP_STRING, d[1].kind());
        assertEquals(2, d[1].truncateAt());
    }

    @Test
    void earliestMatchWinsThenListOrder() {
        StopDecision d = feed(checker(List.of("world", "lo w"), List.of(), 100, false), "hello world")[0];
        assertEquals("lo w", d.stopString());
        assertEquals(3, d.truncateAt());
        d = feed(checker(List.of("ab", "abc"), List.of(), 100, false), "xabc")[0];
        assertEquals("ab", d.stopString());
        assertEquals(1, d.truncateAt());
    }

    @Test
    void onlyTheTailThatCanHoldANewMatchIsSearched() {
        // "xyz" at index 0 ends before the previous length (4), so it is not a new match. (A real detokenizer never
        // rewrites old text; this shows the search window: len(stop) - 1 + len(new piece) chars.)
        StopChecker c = checker(List.of("xyz"), List.of(), 100, false);
        assertEquals(Kind.CONTINUE, c.onToken(11, "aaaa").kind());
        assertEquals(Kind.CONTINUE, c.onToken(12, "xyza b").kind());
        assertEquals(Kind.STOP_STRING, c.onToken(13, "xyza bxy" + "z").kind());
    }

    @Test
    void stopTokenIdStopsAndDropsItsText() {
        StopChecker c = checker(List.of(), List.of(7, 9), 100, false);
        assertEquals(Kind.CONTINUE, c.onToken(5, "Hello").kind());
        StopDecision d = c.onToken(9, "Hello<stop>");
        assertEquals(Kind.STOP_TOKEN, d.kind());
        assertEquals(9, d.stopTokenId());
        assertEquals(5, d.truncateAt());
        assertNull(d.stopString());
        assertEquals(FinishReason.STOP, d.finishReason().orElseThrow());
        assertTrue(c.isStopped());
        assertEquals("generation already stopped (STOP_TOKEN after 2 tokens); onToken must not be called again",
                assertThrows(IllegalStateException.class, () -> c.onToken(1, "x")).getMessage());
    }

    @Test
    void eosStopsUnlessIgnored() {
        StopChecker c = checker(List.of(), List.of(), 100, false);
        c.onToken(10, "ok");
        StopDecision d = c.onToken(128_009, "ok");   // special token: empty piece
        assertEquals(Kind.STOP_EOS, d.kind());
        assertEquals(128_009, d.stopTokenId());
        assertEquals(2, d.truncateAt());

        StopChecker ignoring = checker(List.of(), List.of(), 3, true);
        assertEquals(Kind.CONTINUE, ignoring.onToken(EOS, "").kind());
        assertEquals(Kind.CONTINUE, ignoring.onToken(EOS, "").kind());
        StopDecision last = ignoring.onToken(EOS, "");
        assertEquals(Kind.LENGTH, last.kind());
        assertEquals(FinishReason.LENGTH, last.finishReason().orElseThrow());
        assertEquals("length", FinishReason.LENGTH.wireName());

        // ignoreEos silences only the EOS list: an id that is also a stop token still stops.
        StopChecker both = checker(List.of(), List.of(EOS), 10, true);
        assertEquals(Kind.STOP_TOKEN, both.onToken(EOS, "").kind());
    }

    @Test
    void maxTokensGivesLength() {
        StopChecker one = checker(List.of(), List.of(), 1, false);
        StopDecision d = one.onToken(42, "word");
        assertEquals(Kind.LENGTH, d.kind());
        assertEquals(4, d.truncateAt());
        assertEquals(1, one.numTokens());

        StopDecision[] three = feed(checker(List.of("zzz"), List.of(), 3, false), "a", "b", "c", "d");
        assertEquals(3, three.length);
        assertEquals(Kind.CONTINUE, three[1].kind());
        assertEquals(Kind.LENGTH, three[2].kind());
        assertEquals(3, three[2].truncateAt());

        // A stop string completed by the last allowed token is a stop, not a length finish.
        StopDecision[] s = feed(checker(List.of("cd"), List.of(), 2, false), "abc", "d");
        assertEquals(Kind.STOP_STRING, s[1].kind());
        assertEquals(2, s[1].truncateAt());
    }

    @Test
    void continueHasNoFinishReason() {
        assertEquals(Optional.empty(), StopDecision.CONTINUE.finishReason());
        assertFalse(StopDecision.CONTINUE.isStop());
    }

    @Test
    void criteriaValidation() {
        assertEquals("maxTokens must be >= 1, got 0", assertThrows(IllegalArgumentException.class,
                () -> StopCriteria.builder().maxTokens(0).build()).getMessage());
        assertEquals("maxTokens must be >= 1, got 0", assertThrows(IllegalArgumentException.class,
                () -> StopCriteria.builder().build()).getMessage()); // maxTokens has no default
        assertEquals("stopStrings[1] must be a non-empty string, got \"\"", assertThrows(IllegalArgumentException.class,
                () -> StopCriteria.builder().stopStrings(List.of("a", "")).maxTokens(5).build()).getMessage());
        assertEquals("stopStrings[0] must be a non-empty string, got null", assertThrows(IllegalArgumentException.class,
                () -> StopCriteria.builder().eosTokenIds(null).stopTokenIds(null)
                        .stopStrings(Arrays.asList((String) null)).maxTokens(5).build()).getMessage());
        assertEquals("eosTokenIds[1] must be a token id >= 0, got -4", assertThrows(IllegalArgumentException.class,
                () -> StopCriteria.builder().eosTokenIds(List.of(1, -4)).maxTokens(5).build()).getMessage());
        assertEquals("stopTokenIds[0] must be a token id >= 0, got null", assertThrows(IllegalArgumentException.class,
                () -> StopCriteria.builder().stopTokenIds(Arrays.asList((Integer) null)).maxTokens(5).build())
                        .getMessage());
        StopCriteria defaults = StopCriteria.builder().eosTokenIds(null).stopTokenIds(null).stopStrings(null)
                .maxTokens(5).build();
        assertEquals(List.of(), defaults.eosTokenIds());
        assertEquals(List.of(), defaults.stopTokenIds());
        assertEquals(List.of(), defaults.stopStrings());
        assertFalse(defaults.ignoreEos());
        assertEquals(defaults, StopCriteria.builder().maxTokens(5).build());
        assertEquals(0, defaults.longestStopString());
        assertEquals(5, StopCriteria.builder().stopStrings(List.of("ab", "abcde")).maxTokens(5).build()
                .longestStopString());
        assertEquals(List.of(2), StopCriteria.of(16, List.of(2)).eosTokenIds());
        assertThrows(IllegalArgumentException.class, () -> new StopChecker(null));
        assertThrows(IllegalArgumentException.class, () -> new StopDecision(Kind.CONTINUE, 3, -1, null));
        assertThrows(IllegalArgumentException.class, () -> new StopDecision(Kind.STOP_EOS, 3, -1, null));
        assertThrows(IllegalArgumentException.class, () -> new StopDecision(Kind.STOP_STRING, 3, -1, null));
        assertThrows(IllegalArgumentException.class, () -> new StopDecision(Kind.LENGTH, 3, -1, "x"));
    }
}
