package io.rocketkv.core.tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.IntPredicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What a split does with the delimiters it finds ({@code SplitDelimiterBehavior} in
 * {@code tokenizers}), and the splitting itself: a piece is cut into spans that alternately match
 * and do not match a pattern, then the spans are kept, dropped or merged, and empty ones dropped.
 */
enum SplitBehavior {
    REMOVED, ISOLATED, MERGED_WITH_PREVIOUS, MERGED_WITH_NEXT, CONTIGUOUS;

    static SplitBehavior fromJson(String name) {
        return switch (name) {
            case "Removed" -> REMOVED;
            case "Isolated" -> ISOLATED;
            case "MergedWithPrevious" -> MERGED_WITH_PREVIOUS;
            case "MergedWithNext" -> MERGED_WITH_NEXT;
            case "Contiguous" -> CONTIGUOUS;
            default -> throw TokenizerFormatException.unsupported("split behavior", name,
                    "Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous");
        };
    }

    /** Splits on the matches of {@code pattern} (Oniguruma {@code find_iter} semantics for empty matches). */
    void split(Piece piece, Pattern pattern, boolean invert, List<Piece> out) {
        String s = piece.text();
        List<int[]> spans = new ArrayList<>();
        if (s.isEmpty()) {
            spans.add(new int[] {0, 0, 0});
        } else {
            Matcher m = pattern.matcher(s);
            int prev = 0;
            int lastEnd = -1;
            while (m.find()) {
                int start = m.start();
                int end = m.end();
                if (start == end && end == lastEnd) {
                    continue; // an empty match right after the previous match is skipped, as in onig
                }
                if (prev != start) {
                    spans.add(new int[] {prev, start, 0});
                }
                spans.add(new int[] {start, end, 1});
                prev = end;
                lastEnd = end;
            }
            if (prev != s.length()) {
                spans.add(new int[] {prev, s.length(), 0});
            }
        }
        apply(piece, spans, invert, out);
    }

    /** Splits on every single code point for which {@code delimiter} holds. */
    void split(Piece piece, IntPredicate delimiter, List<Piece> out) {
        String s = piece.text();
        List<int[]> spans = new ArrayList<>();
        int last = 0;
        for (int i = 0; i < s.length(); ) {
            int cp = s.codePointAt(i);
            int next = i + Character.charCount(cp);
            if (delimiter.test(cp)) {
                if (last < i) {
                    spans.add(new int[] {last, i, 0});
                }
                spans.add(new int[] {i, next, 1});
                last = next;
            }
            i = next;
        }
        if (last < s.length()) {
            spans.add(new int[] {last, s.length(), 0});
        }
        apply(piece, spans, false, out);
    }

    /** Applies this behavior to spans {start, end, isMatch} and emits the non-empty pieces. */
    private void apply(Piece piece, List<int[]> spans, boolean invert, List<Piece> out) {
        if (invert) {
            for (int[] span : spans) {
                span[2] = 1 - span[2];
            }
        }
        List<int[]> kept = new ArrayList<>(spans.size());
        boolean previousMatch = false;
        switch (this) {
            case ISOLATED -> kept.addAll(spans);
            case REMOVED -> spans.stream().filter(sp -> sp[2] == 0).forEach(kept::add);
            case CONTIGUOUS, MERGED_WITH_PREVIOUS -> {
                for (int[] span : spans) {
                    boolean match = span[2] == 1;
                    boolean merge = this == CONTIGUOUS ? match == previousMatch : match && !previousMatch;
                    if (merge && !kept.isEmpty()) {
                        kept.getLast()[1] = span[1];
                    } else {
                        kept.add(span);
                    }
                    previousMatch = match;
                }
            }
            case MERGED_WITH_NEXT -> {
                for (int i = spans.size() - 1; i >= 0; i--) {
                    int[] span = spans.get(i);
                    boolean match = span[2] == 1;
                    if (match && !previousMatch && !kept.isEmpty()) {
                        kept.getLast()[0] = span[0];
                    } else {
                        kept.add(span);
                    }
                    previousMatch = match;
                }
                java.util.Collections.reverse(kept);
            }
        }
        String s = piece.text();
        for (int[] span : kept) {
            if (span[1] > span[0]) {
                out.add(new Piece(s.substring(span[0], span[1]), piece.atStart() && span[0] == 0));
            }
        }
    }

    @Override
    public String toString() {
        return name().toLowerCase(Locale.ROOT);
    }
}
