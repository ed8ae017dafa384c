package io.rocketkv.api;

import io.rocketkv.core.tokenizer.Tokenizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * {@code SamplingParams.bad} words as the token sequences the engine bans, as vLLM encodes them: each word as written
 * (leading spaces stripped) and, for tokenizers that mark a word's leading space inside its first token (byte-level
 * BPE, SentencePiece), also with one space in front when that gives as many tokens with a different first one, so the
 * word is banned at the start of the text and after a space alike. No special tokens are added.
 */
final class BadWords {

    private BadWords() {
    }

    static List<List<Integer>> encode(Tokenizer tokenizer, List<String> words) {
        List<List<Integer>> out = new ArrayList<>();
        for (String word : words) {
            String bare = word.stripLeading();
            int[] plain = tokenizer.encode(bare, false);
            if (plain.length > 0) {
                out.add(Arrays.stream(plain).boxed().toList());
            }
            int[] spaced = tokenizer.encode(" " + bare, false);
            if (spaced.length > 0 && spaced.length == plain.length && spaced[0] != plain[0]) {
                out.add(Arrays.stream(spaced).boxed().toList());
            }
        }
        return out;
    }
}
