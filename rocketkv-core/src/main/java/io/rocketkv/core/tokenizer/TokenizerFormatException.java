package io.rocketkv.core.tokenizer;

/**
 * A {@code tokenizer.json} (or {@code tokenizer_config.json}) that cannot be used: malformed JSON, a
 * missing field, or a component type this implementation does not support. The message names the
 * file where known, the component kind and type, and what is supported.
 */
public final class TokenizerFormatException extends RuntimeException {

    public TokenizerFormatException(String message) {
        super(message);
    }

    public TokenizerFormatException(String message, Throwable cause) {
        super(message, cause);
    }

    /** An unknown {@code "type"} of a component kind (normalizer, pre_tokenizer, model, ...). */
    static TokenizerFormatException unsupported(String kind, String type, String... supported) {
        return new TokenizerFormatException("unsupported " + kind + " type '" + type + "' (supported: "
                + String.join(", ", supported) + ")");
    }
}
