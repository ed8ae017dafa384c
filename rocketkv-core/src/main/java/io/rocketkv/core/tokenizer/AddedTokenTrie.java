package io.rocketkv.core.tokenizer;

import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Finds added tokens in text the way {@code tokenizers}' Aho-Corasick automaton with
 * {@code MatchKind::LeftmostLongest} does: the match starting leftmost, the longest of those, then
 * the search resumes after it. A character trie; positions whose character starts no token are
 * skipped with one bit test.
 */
final class AddedTokenTrie {
    private static final class Node {
        final Map<Character, Node> children = new HashMap<>(4);
        int token = -1; // index into the token list, -1 when no token ends here
    }

    private final Node root = new Node();
    private final BitSet firstChars = new BitSet(1 << 16);
    private final boolean empty;

    /** {@code patterns.get(i)} is the text to find for token index i. */
    AddedTokenTrie(List<String> patterns) {
        boolean any = false;
        for (int i = 0; i < patterns.size(); i++) {
            String p = patterns.get(i);
            if (p.isEmpty()) {
                continue;
            }
            any = true;
            firstChars.set(p.charAt(0));
            Node node = root;
            for (int j = 0; j < p.length(); j++) {
                node = node.children.computeIfAbsent(p.charAt(j), c -> new Node());
            }
            if (node.token < 0) {
                node.token = i; // for equal patterns the first one wins, as in aho-corasick
            }
        }
        empty = !any;
    }

    boolean isEmpty() {
        return empty;
    }

    /**
     * The next match at or after {@code from}: {@code {start, end, tokenIndex}}, or null when none.
     */
    int[] find(String text, int from) {
        if (empty) {
            return null;
        }
        for (int i = from; i < text.length(); i++) {
            if (!firstChars.get(text.charAt(i))) {
                continue;
            }
            Node node = root;
            int bestEnd = -1;
            int bestToken = -1;
            for (int j = i; j < text.length(); j++) {
                node = node.children.get(text.charAt(j));
                if (node == null) {
                    break;
                }
                if (node.token >= 0) {
                    bestEnd = j + 1;
                    bestToken = node.token;
                }
            }
            if (bestToken >= 0) {
                return new int[] {i, bestEnd, bestToken};
            }
        }
        return null;
    }
}
