package io.rocketkv.core.tokenizer;

import java.util.concurrent.ConcurrentHashMap;

/**
 * The BPE {@code "model"} of {@code tokenizer.json}: turns one pre-tokenized word into token ids,
 * following {@code tokenizers}' {@code BPE::tokenize} (ignore_merges, byte_fallback, unk with
 * fuse_unk, continuing_subword_prefix, end_of_word_suffix; dropout is rejected at load).
 * Immutable apart from a bounded concurrent cache of merged short words.
 */
final class BpeModel {
    /** Words cached at most (as {@code tokenizers}' DEFAULT_CACHE_CAPACITY). */
    private static final int CACHE_CAPACITY = 10_000;
    /** Only words shorter than this (UTF-16 units) are cached. */
    private static final int CACHE_MAX_WORD = 256;

    private final Vocab vocab;
    private final String[] idToToken;           // (max id + 1) token string, null for holes
    private final MergeTable merges;
    private final int unkId;                    // -1 without unk_token
    private final boolean fuseUnk;
    private final int[] byteFallbackIds;        // (256) id of "<0xXX>", or null without byte_fallback
    private final String continuingSubwordPrefix; // null when absent
    private final String endOfWordSuffix;         // null when absent
    private final boolean ignoreMerges;
    private final char cutBefore;               // 0 when words are merged whole
    private final ConcurrentHashMap<String, int[]> cache = new ConcurrentHashMap<>();

    /**
     * @param cutBefore a character c such that no merge joins a symbol not ending in c to one starting
     *                  with c, so that words can be merged piece by piece, cut before each c that follows
     *                  another character; -1 when there is none (the loader checks every merge)
     */
    record Options(String unkToken, boolean fuseUnk, boolean byteFallback, String continuingSubwordPrefix,
                   String endOfWordSuffix, boolean ignoreMerges, int cutBefore) {
    }

    BpeModel(Vocab vocab, MergeTable merges, Options options) {
        this.vocab = vocab;
        this.merges = merges;
        idToToken = vocab.tokensById();
        if (options.unkToken() != null) {
            int id = vocab.get(options.unkToken());
            if (id < 0) {
                throw new TokenizerFormatException("BPE model: unk_token '" + options.unkToken() + "' is not in the vocab");
            }
            unkId = id;
        } else {
            unkId = -1;
        }
        fuseUnk = options.fuseUnk();
        if (options.byteFallback()) {
            byteFallbackIds = new int[256];
            for (int b = 0; b < 256; b++) {
                byteFallbackIds[b] = vocab.get(String.format("<0x%02X>", b));
            }
        } else {
            byteFallbackIds = null;
        }
        // An empty prefix or suffix changes nothing; null skips the string building.
        continuingSubwordPrefix = emptyToNull(options.continuingSubwordPrefix());
        endOfWordSuffix = emptyToNull(options.endOfWordSuffix());
        ignoreMerges = options.ignoreMerges();
        // Cutting changes which characters are first/last in a word, so not with a prefix or suffix.
        boolean canCut = options.cutBefore() > 0 && options.cutBefore() < 0x10000 && continuingSubwordPrefix == null
                && endOfWordSuffix == null;
        cutBefore = canCut ? (char) options.cutBefore() : 0;
    }

    private static String emptyToNull(String s) {
        return s == null || s.isEmpty() ? null : s;
    }

    /** Number of ids the vocab spans (max id + 1). */
    int size() {
        return idToToken.length;
    }

    /** The id of {@code token}, or -1. */
    int tokenToId(String token) {
        return vocab.get(token);
    }

    String idToToken(int id) {
        return id >= 0 && id < idToToken.length ? idToToken[id] : null;
    }

    /** Appends the ids of {@code word} to {@code out}. */
    void tokenize(String word, IntArrayBuilder out) {
        if (word.isEmpty()) {
            return;
        }
        if (ignoreMerges) {
            int id = vocab.get(word);
            if (id >= 0) {
                out.add(id);
                return;
            }
        }
        if (cutBefore == 0) {
            out.addAll(cachedMerge(word));
            return;
        }
        // SentencePiece-style input arrives as one long word ("▁The▁cat▁sat"); no merge crosses a cut
        // before a '▁' that follows another character, so the pieces merge alone, each one cached.
        int start = 0;
        for (int i = 1; i < word.length(); i++) {
            if (word.charAt(i) == cutBefore && word.charAt(i - 1) != cutBefore) {
                out.addAll(cachedMerge(word.substring(start, i)));
                start = i;
            }
        }
        out.addAll(cachedMerge(start == 0 ? word : word.substring(start)));
    }

    private int[] cachedMerge(String word) {
        int[] ids = cache.get(word);
        if (ids == null) {
            ids = mergeWord(word);
            if (word.length() < CACHE_MAX_WORD && cache.size() < CACHE_CAPACITY) {
                cache.putIfAbsent(word, ids);
            }
        }
        return ids;
    }

    /** {@code BPE::merge_word}: one symbol per character (or per byte via fallback, or unk), then merges. */
    private int[] mergeWord(String w) {
        int[] symbols = new int[w.length() + 8];
        int n = 0;
        int pendingUnk = 0; // number of characters in a pending (possibly fused) unk, 0 when none
        for (int i = 0; i < w.length(); ) {
            int cp = w.codePointAt(i);
            int end = i + Character.charCount(cp);
            boolean decorated = (i > 0 && continuingSubwordPrefix != null) || (end == w.length() && endOfWordSuffix != null);
            String s = null;
            int id;
            if (decorated) {
                s = (i > 0 && continuingSubwordPrefix != null ? continuingSubwordPrefix : "") + w.substring(i, end)
                        + (end == w.length() && endOfWordSuffix != null ? endOfWordSuffix : "");
                id = vocab.get(s);
            } else {
                id = vocab.get(w, i, end); // no substring for the common case
            }
            if (symbols.length - n < 8) {
                symbols = java.util.Arrays.copyOf(symbols, symbols.length * 2 + 8);
            }
            if (id < 0 && s == null) {
                s = w.substring(i, end);
            }
            i = end;
            if (id >= 0) {
                if (pendingUnk > 0) {
                    symbols[n++] = unkId;
                    pendingUnk = 0;
                }
                symbols[n++] = id;
                continue;
            }
            if (byteFallbackIds != null) {
                byte[] bytes = s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
                boolean all = true;
                for (byte b : bytes) {
                    all &= byteFallbackIds[b & 0xFF] >= 0;
                }
                if (all) {
                    // As in tokenizers, a pending unk is not flushed before the byte tokens.
                    for (byte b : bytes) {
                        if (n == symbols.length) {
                            symbols = java.util.Arrays.copyOf(symbols, symbols.length * 2);
                        }
                        symbols[n++] = byteFallbackIds[b & 0xFF];
                    }
                    continue;
                }
            }
            if (unkId >= 0) {
                if (pendingUnk > 0 && !fuseUnk) {
                    symbols[n++] = unkId;
                }
                pendingUnk++;
            }
        }
        if (pendingUnk > 0) {
            if (n == symbols.length) {
                symbols = java.util.Arrays.copyOf(symbols, n + 1);
            }
            symbols[n++] = unkId;
        }
        return BpeWord.merge(symbols, n, merges);
    }
}
