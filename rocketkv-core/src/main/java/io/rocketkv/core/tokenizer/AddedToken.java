package io.rocketkv.core.tokenizer;

/**
 * An entry of {@code "added_tokens"}: text matched whole in the input before the model sees it.
 *
 * @param id         the id {@code tokenizers} assigns (the model's id when the content is in its vocab)
 * @param content    the exact text of the token
 * @param singleWord match only when not preceded or followed by a word character
 * @param lstrip     the match swallows whitespace on its left
 * @param rstrip     the match swallows whitespace on its right
 * @param normalized match against normalized text (otherwise against the raw input)
 * @param special    dropped by {@code decode(ids, skipSpecialTokens = true)}
 */
public record AddedToken(int id, String content, boolean singleWord, boolean lstrip, boolean rstrip,
                         boolean normalized, boolean special) {
}
