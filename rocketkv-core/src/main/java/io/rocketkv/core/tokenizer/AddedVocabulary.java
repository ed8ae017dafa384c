package io.rocketkv.core.tokenizer;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The added tokens of a tokenizer and how they cut the input ({@code AddedVocabulary} in
 * {@code tokenizers}): tokens with {@code normalized: false} are found in the raw text, the others in
 * each normalized span between them; what lies between matches goes on to pre-tokenization.
 */
final class AddedVocabulary {

    /** A span of text: an added token ({@code id >= 0}) or plain text ({@code id == -1}) starting at {@code start}. */
    record Segment(String text, int id, int start) {
    }

    private final Map<String, Integer> contentToId;
    private final Map<Integer, AddedToken> byId;
    private final Set<String> specialContents;
    private final List<AddedToken> rawTokens;         // matched before normalization
    private final AddedTokenTrie rawTrie;
    private final List<AddedToken> normalizedTokens;  // matched after normalization
    private final AddedTokenTrie normalizedTrie;

    /** {@code tokens} with their final ids, in file order. */
    AddedVocabulary(List<AddedToken> tokens, Normalizer normalizer) {
        Map<String, Integer> contentToId = new HashMap<>();
        Map<Integer, AddedToken> byId = new HashMap<>();
        Set<String> specialContents = new HashSet<>();
        List<AddedToken> specials = new ArrayList<>();
        List<AddedToken> others = new ArrayList<>();
        for (AddedToken token : tokens) {
            contentToId.put(token.content(), token.id());
            byId.put(token.id(), token);
            if (token.special()) {
                if (specialContents.add(token.content())) {
                    specials.add(token);
                }
            } else if (!specialContents.contains(token.content())) {
                others.add(token);
            }
        }
        // tokenizers builds its matchers from special tokens, then the other added tokens.
        List<AddedToken> raw = new ArrayList<>();
        List<AddedToken> normalized = new ArrayList<>();
        for (List<AddedToken> group : List.of(specials, others)) {
            for (AddedToken token : group) {
                (token.normalized() ? normalized : raw).add(byId.get(contentToId.get(token.content())));
            }
        }
        this.contentToId = Map.copyOf(contentToId);
        this.byId = Map.copyOf(byId);
        this.specialContents = Set.copyOf(specialContents);
        this.rawTokens = List.copyOf(raw);
        this.rawTrie = new AddedTokenTrie(raw.stream().map(AddedToken::content).toList());
        this.normalizedTokens = List.copyOf(normalized);
        this.normalizedTrie = new AddedTokenTrie(normalized.stream()
                .map(t -> normalizer == null ? t.content() : normalizer.normalize(t.content())).toList());
    }

    Integer idOf(String content) {
        return contentToId.get(content);
    }

    /** The content of added token {@code id}, or null. */
    String contentOf(int id) {
        AddedToken token = byId.get(id);
        return token == null ? null : token.content();
    }

    boolean isSpecial(String content) {
        return specialContents.contains(content);
    }

    int maxId() {
        return byId.keySet().stream().mapToInt(Integer::intValue).max().orElse(-1);
    }

    List<AddedToken> tokens() {
        List<AddedToken> all = new ArrayList<>(byId.values());
        all.sort((a, b) -> Integer.compare(a.id(), b.id()));
        return Collections.unmodifiableList(all);
    }

    /** Cuts raw input on the tokens that are matched before normalization. */
    List<Segment> splitRaw(String text) {
        return split(text, rawTrie, rawTokens);
    }

    /** Cuts normalized text on the tokens that are matched after normalization. */
    List<Segment> splitNormalized(String text) {
        return split(text, normalizedTrie, normalizedTokens);
    }

    /** {@code AddedVocabulary::find_matches} followed by dropping empty spans. */
    private static List<Segment> split(String text, AddedTokenTrie trie, List<AddedToken> tokens) {
        if (trie.isEmpty() || text.isEmpty()) {
            return text.isEmpty() ? List.of() : List.of(new Segment(text, -1, 0));
        }
        List<Segment> out = new ArrayList<>();
        int startOffset = 0;
        for (int[] m = trie.find(text, 0); m != null; m = trie.find(text, m[1])) {
            int start = m[0];
            int stop = m[1];
            AddedToken token = tokens.get(m[2]);
            if (token.singleWord()) {
                boolean startSpace = start == 0 || !isWordChar(text.codePointBefore(start));
                boolean stopSpace = stop == text.length() || !isWordChar(text.codePointAt(stop));
                if (!startSpace || !stopSpace) {
                    continue;
                }
            }
            if (token.lstrip()) {
                int newStart = start;
                while (newStart > 0 && Normalizer.isRustWhitespace(text.codePointBefore(newStart))) {
                    newStart -= Character.charCount(text.codePointBefore(newStart));
                }
                start = Math.max(newStart, startOffset);
            }
            if (token.rstrip()) {
                while (stop < text.length() && Normalizer.isRustWhitespace(text.codePointAt(stop))) {
                    stop += Character.charCount(text.codePointAt(stop));
                }
            }
            if (start < startOffset) {
                continue; // overlaps what an rstrip before it swallowed (tokenizers would emit overlapping spans)
            }
            if (startOffset < start) {
                out.add(new Segment(text.substring(startOffset, start), -1, startOffset));
            }
            out.add(new Segment(text.substring(start, stop), token.id(), start));
            startOffset = stop;
        }
        if (startOffset < text.length()) {
            out.add(new Segment(text.substring(startOffset), -1, startOffset));
        }
        return out;
    }

    /** Rust regex's Unicode {@code \w}: alphabetic, marks, decimal digits, connector punctuation, join controls. */
    private static boolean isWordChar(int cp) {
        int type = Character.getType(cp);
        return Character.isAlphabetic(cp) || type == Character.NON_SPACING_MARK || type == Character.ENCLOSING_MARK
                || type == Character.COMBINING_SPACING_MARK || type == Character.DECIMAL_DIGIT_NUMBER
                || type == Character.CONNECTOR_PUNCTUATION || cp == 0x200C || cp == 0x200D;
    }
}
