/**
 * Hugging Face {@code tokenizer.json} tokenizers, giving the ids and text of the Python
 * {@code tokenizers} library (checked against {@code tokenizers} 0.23.2 on the Llama 3, Qwen 3 and
 * Llama 2 fixtures in {@code src/test/resources/tokenizers}).
 *
 * <p>Entry point: {@link io.rocketkv.core.tokenizer.Tokenizer#load}. Supported components:
 * <ul>
 *   <li>model: {@code BPE} (merges as {@code "a b"} or {@code ["a", "b"]}; ignore_merges, byte_fallback,
 *       unk_token with fuse_unk, continuing_subword_prefix, end_of_word_suffix; dropout must be null);</li>
 *   <li>normalizer: NFC, NFD, NFKC, NFKD, Lowercase, StripAccents, Strip, Prepend, Replace, Sequence;</li>
 *   <li>pre_tokenizer: Sequence, Split (all five behaviours, invert), ByteLevel, Metaspace, Digits,
 *       Whitespace, WhitespaceSplit, Punctuation;</li>
 *   <li>post_processor: TemplateProcessing (single sequences), ByteLevel, BertProcessing,
 *       RobertaProcessing, Sequence;</li>
 *   <li>decoder: ByteLevel, ByteFallback, Fuse, Replace, Strip, Metaspace, Sequence;</li>
 *   <li>added tokens: leftmost-longest matching on raw text ({@code normalized: false}) or on each
 *       normalized span ({@code normalized: true}); single_word, lstrip, rstrip.</li>
 * </ul>
 * Any other component type fails at load with a {@link io.rocketkv.core.tokenizer.TokenizerFormatException}
 * that lists the supported ones (notably the Unigram, WordPiece and WordLevel models, the Precompiled
 * and BertNormalizer normalizers, the UnicodeScripts, BertPreTokenizer and CharDelimiterSplit
 * pre-tokenizers, and the WordPiece, BPEDecoder and CTC decoders).
 *
 * <p>Known limits: no offsets, pairs, truncation or padding; Oniguruma regexes are translated to
 * {@code java.util.regex} (see {@code OnigPattern}), so a character whose Unicode category changed
 * between the JDK's Unicode version and Oniguruma's could split differently; {@code encode_special_tokens}
 * (treating special tokens as text) is not offered.
 */
package io.rocketkv.core.tokenizer;
