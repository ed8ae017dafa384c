package io.rocketkv.core.tokenizer;

/**
 * A span of text on its way through normalization and pre-tokenization.
 *
 * @param text    the (possibly normalized) text of the span
 * @param atStart whether the span begins at offset 0 of the original input; the Metaspace
 *                pre-tokenizer's {@code prepend_scheme: "first"} depends on it
 */
record Piece(String text, boolean atStart) {
}
