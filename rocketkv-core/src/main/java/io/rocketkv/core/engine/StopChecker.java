package io.rocketkv.core.engine;

import java.util.Arrays;
import java.util.List;

/**
 * Applies a request's {@link StopCriteria} incrementally, once per generated token.
 *
 * <p>Call {@link #onToken} after every token with the request's whole output text so far (detokenized, including
 * the new token's piece). The checker remembers how long the text was at the previous call, so the new piece is
 * {@code textSoFar[previousLength ..]}.
 *
 * <p><b>Stop strings across token boundaries.</b> A stop string may be split over several tokens ("&lt;/an" +
 * "swer" + "&gt;"), so the check searches the text, not the token. Only a match that ends inside the new piece can
 * be new (anything earlier was checked at an earlier call), so for a stop string {@code s} the search starts at
 * {@code previousLength − len(s) + 1}: at most the last {@code len(longest stop) − 1 + len(new piece)} characters
 * are scanned per token, whatever the output length. When several stop strings match, the earliest in the text
 * wins (then the first listed). The output is cut before the match; the stop string is excluded, as vLLM and
 * TensorRT-LLM do by default.
 *
 * <p>The text must only grow between calls: a detokenizer holds back an incomplete UTF-8 sequence instead of
 * emitting a replacement character it later rewrites (vLLM's incremental detokenizer does the same). Indices are
 * {@code String} (UTF-16) indices.
 *
 * <p>One checker per request; not thread-safe. After a stop decision further calls are an error.
 */
public final class StopChecker {

    private final StopCriteria criteria;
    private final int[] eosIds;    // sorted, for binary search
    private final int[] stopIds;   // sorted, for binary search
    private int numTokens;
    private int previousLength;
    private StopDecision stopped;

    public StopChecker(StopCriteria criteria) {
        if (criteria == null) {
            throw new IllegalArgumentException("criteria must not be null");
        }
        this.criteria = criteria;
        this.eosIds = sorted(criteria.eosTokenIds());
        this.stopIds = sorted(criteria.stopTokenIds());
    }

    public StopCriteria criteria() {
        return criteria;
    }

    /** Tokens seen so far. */
    public int numTokens() {
        return numTokens;
    }

    /** The stop decision, once there is one. */
    public boolean isStopped() {
        return stopped != null;
    }

    /**
     * Records one generated token and decides whether generation stops.
     *
     * @param tokenId   the token just generated
     * @param textSoFar the whole output text so far, including this token's piece
     */
    public StopDecision onToken(int tokenId, String textSoFar) {
        if (stopped != null) {
            throw new IllegalStateException("generation already stopped (" + stopped.kind() + " after " + numTokens
                    + " tokens); onToken must not be called again");
        }
        if (textSoFar == null) {
            throw new IllegalArgumentException("textSoFar must not be null");
        }
        numTokens++;
        int before = Math.min(previousLength, textSoFar.length());
        previousLength = textSoFar.length();
        StopDecision d = decide(tokenId, textSoFar, before);
        if (d.isStop()) {
            stopped = d;
        }
        return d;
    }

    private StopDecision decide(int tokenId, String text, int before) {
        if (!criteria.ignoreEos() && Arrays.binarySearch(eosIds, tokenId) >= 0) {
            return StopDecision.eos(tokenId, before);
        }
        if (Arrays.binarySearch(stopIds, tokenId) >= 0) {
            return StopDecision.stopToken(tokenId, before);
        }
        if (text.length() > before) {
            int bestAt = -1;
            String best = null;
            for (String s : criteria.stopStrings()) {
                int at = text.indexOf(s, Math.max(0, before - s.length() + 1));
                if (at >= 0 && (bestAt < 0 || at < bestAt)) {
                    bestAt = at;
                    best = s;
                }
            }
            if (best != null) {
                return StopDecision.stopString(best, bestAt);
            }
        }
        if (numTokens >= criteria.maxTokens()) {
            return StopDecision.length(text.length());
        }
        return StopDecision.CONTINUE;
    }

    private static int[] sorted(List<Integer> ids) {
        int[] a = new int[ids.size()];
        for (int i = 0; i < a.length; i++) {
            a[i] = ids.get(i);
        }
        Arrays.sort(a);
        return a;
    }
}
