package io.rocketkv.core.engine;

import java.util.Optional;

/**
 * What {@link StopChecker#onToken} decided about the token just generated.
 *
 * @param kind        continue, or why generation stops
 * @param truncateAt  for a stop, the length of the output text to keep ({@code textSoFar.substring(0, truncateAt)}):
 *                    the text before the stop string for {@link Kind#STOP_STRING}; the text before this token's
 *                    piece for {@link Kind#STOP_EOS} and {@link Kind#STOP_TOKEN} (as vLLM drops a stop token's
 *                    text); all of it for {@link Kind#LENGTH}. −1 for {@link Kind#CONTINUE}
 * @param stopTokenId the EOS or stop token id for {@link Kind#STOP_EOS} / {@link Kind#STOP_TOKEN}, else −1
 * @param stopString  the matched stop string for {@link Kind#STOP_STRING}, else null (vLLM's {@code stop_reason})
 */
public record StopDecision(Kind kind, int truncateAt, int stopTokenId, String stopString) {

    /** Continue, or the reason to stop. */
    public enum Kind { CONTINUE, STOP_EOS, STOP_TOKEN, STOP_STRING, LENGTH }

    /** The decision to keep generating. */
    public static final StopDecision CONTINUE = new StopDecision(Kind.CONTINUE, -1, -1, null);

    public StopDecision {
        if (kind == null) {
            throw new IllegalArgumentException("kind must not be null");
        }
        if ((kind == Kind.CONTINUE) != (truncateAt == -1) || truncateAt < -1) {
            throw new IllegalArgumentException("truncateAt must be -1 for CONTINUE and >= 0 for a stop, got "
                    + truncateAt + " for " + kind);
        }
        boolean byToken = kind == Kind.STOP_EOS || kind == Kind.STOP_TOKEN;
        if (byToken != (stopTokenId >= 0) || stopTokenId < -1) {
            throw new IllegalArgumentException("stopTokenId must be >= 0 for STOP_EOS/STOP_TOKEN and -1 otherwise, got "
                    + stopTokenId + " for " + kind);
        }
        if ((kind == Kind.STOP_STRING) != (stopString != null)) {
            throw new IllegalArgumentException("stopString must be set exactly for STOP_STRING, got "
                    + (stopString == null ? "null" : "\"" + stopString + "\"") + " for " + kind);
        }
    }

    public static StopDecision eos(int tokenId, int truncateAt) {
        return new StopDecision(Kind.STOP_EOS, truncateAt, tokenId, null);
    }

    public static StopDecision stopToken(int tokenId, int truncateAt) {
        return new StopDecision(Kind.STOP_TOKEN, truncateAt, tokenId, null);
    }

    public static StopDecision stopString(String matched, int truncateAt) {
        return new StopDecision(Kind.STOP_STRING, truncateAt, -1, matched);
    }

    public static StopDecision length(int truncateAt) {
        return new StopDecision(Kind.LENGTH, truncateAt, -1, null);
    }

    public boolean isStop() {
        return kind != Kind.CONTINUE;
    }

    /** {@code length} for {@link Kind#LENGTH}, {@code stop} for the other stops, empty for {@link Kind#CONTINUE}. */
    public Optional<FinishReason> finishReason() {
        return switch (kind) {
            case CONTINUE -> Optional.empty();
            case LENGTH -> Optional.of(FinishReason.LENGTH);
            case STOP_EOS, STOP_TOKEN, STOP_STRING -> Optional.of(FinishReason.STOP);
        };
    }
}
