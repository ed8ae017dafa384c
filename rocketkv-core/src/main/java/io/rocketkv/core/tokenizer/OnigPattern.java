package io.rocketkv.core.tokenizer;

import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Compiles the regular expressions of {@code tokenizer.json} (Oniguruma syntax, as the Python
 * {@code tokenizers} wheels use) into {@link java.util.regex.Pattern}s that match the same text.
 *
 * <p>Both engines backtrack and pick the first alternative that matches, so alternation order
 * means the same. Differences handled here:
 * <ul>
 *   <li>Oniguruma's {@code \s \d \w} are Unicode (White_Space, Nd, letters/marks/digits/Pc):
 *       compiled with {@link Pattern#UNICODE_CHARACTER_CLASS}, which also makes {@code (?i)}
 *       Unicode case folding.</li>
 *   <li>{@code \h}/{@code \H} (hex digit in Oniguruma, horizontal space in Java) are spelled out.</li>
 *   <li>{@code \p{^X}} becomes {@code \P{X}}; script and property names longer than two letters get
 *       Java's {@code Is} prefix ({@code \p{Han}} → {@code \p{IsHan}}).</li>
 * </ul>
 * Not translated: Oniguruma's multi-line {@code ^}/{@code $}, {@code \K}, absent operators and
 * subexpression calls; none appear in Llama/Qwen/Mistral tokenizers.
 */
final class OnigPattern {
    private OnigPattern() {
    }

    /** Compiles an Oniguruma pattern from a {@code {"Regex": ...}} field. */
    static Pattern compile(String onig) {
        try {
            return Pattern.compile(translate(onig), Pattern.UNICODE_CHARACTER_CLASS);
        } catch (PatternSyntaxException e) {
            throw new TokenizerFormatException("cannot translate regex /" + onig + "/ to java.util.regex: "
                    + e.getDescription(), e);
        }
    }

    /** A pattern matching {@code literal} exactly (a {@code {"String": ...}} field). */
    static Pattern literal(String literal) {
        return Pattern.compile(Pattern.quote(literal));
    }

    static String translate(String onig) {
        StringBuilder out = new StringBuilder(onig.length() + 16);
        int classDepth = 0;
        for (int i = 0; i < onig.length(); i++) {
            char c = onig.charAt(i);
            if (c == '\\' && i + 1 < onig.length()) {
                char e = onig.charAt(i + 1);
                if (e == 'h' || e == 'H') {
                    String hex = "0-9a-fA-F";
                    out.append(classDepth > 0 ? hex : (e == 'h' ? "[" + hex + "]" : "[^" + hex + "]"));
                    i++;
                } else if ((e == 'p' || e == 'P') && i + 2 < onig.length() && onig.charAt(i + 2) == '{') {
                    int close = onig.indexOf('}', i + 3);
                    if (close < 0) {
                        throw new TokenizerFormatException("unterminated \\p{ in regex /" + onig + "/");
                    }
                    String name = onig.substring(i + 3, close);
                    boolean negated = e == 'P';
                    if (name.startsWith("^")) {
                        negated = !negated;
                        name = name.substring(1);
                    }
                    if (name.length() > 2 && !name.contains("=") && !name.startsWith("Is") && !name.startsWith("In")) {
                        name = "Is" + name;
                    }
                    out.append('\\').append(negated ? 'P' : 'p').append('{').append(name).append('}');
                    i = close;
                } else {
                    out.append(c).append(e);
                    i++;
                }
            } else {
                if (c == '[') {
                    classDepth++;
                } else if (c == ']' && classDepth > 0) {
                    classDepth--;
                }
                out.append(c);
            }
        }
        return out.toString();
    }
}
