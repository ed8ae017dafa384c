package io.rocketkv.core.engine;

/** Why a request finished, with the OpenAI / vLLM {@code finish_reason} string. */
public enum FinishReason {
    /** An EOS token, a stop token id or a stop string. */
    STOP("stop"),
    /** {@code max_tokens} generated (or the model's length limit reached). */
    LENGTH("length");

    private final String wireName;

    FinishReason(String wireName) {
        this.wireName = wireName;
    }

    /** {@code "stop"} or {@code "length"}. */
    public String wireName() {
        return wireName;
    }
}
