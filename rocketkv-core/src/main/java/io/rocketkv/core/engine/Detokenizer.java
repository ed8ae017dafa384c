package io.rocketkv.core.engine;

/** Turns generated ids into text; the engine's only view of the tokenizer. */
@FunctionalInterface
public interface Detokenizer {

    /** Decodes ids to text, dropping special tokens. */
    String decode(int[] ids);
}
