package io.rocketkv.api.chat;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Removes a template's comments ({@code {# ... #}}) with the whitespace jinja2 removes with them, as Hugging Face's
 * environment sets it up ({@code trim_blocks} and {@code lstrip_blocks} on): {@code {#-} strips all whitespace before
 * the comment and {@code -#}} all after it; otherwise the spaces and tabs between the start of its line and the
 * comment go, and one newline right after it. Jinjava strips differently around comments (it drops the spaces
 * before a comment in the middle of a line, and ignores the {@code -} markers), so they are resolved before Jinjava
 * sees the template. {@code {{ ... }}} and {@code {% ... %}} tags (their quoted strings may hold {@code {#}) and
 * {@code {% raw %}} blocks are copied unchanged.
 */
final class JinjaComments {

    private static final Pattern RAW = Pattern.compile("\\{%[-+]?\\s*raw\\s*[-+]?%}");
    private static final Pattern END_RAW = Pattern.compile("\\{%[-+]?\\s*endraw\\s*[-+]?%}");

    private JinjaComments() {
    }

    static String strip(String template) {
        StringBuilder out = new StringBuilder(template.length());
        int n = template.length();
        int i = 0;
        while (i < n) {
            if (template.startsWith("{%", i) || template.startsWith("{{", i)) {
                Matcher raw = RAW.matcher(template).region(i, n);
                if (raw.lookingAt()) {
                    Matcher end = END_RAW.matcher(template);
                    int stop = end.find(raw.end()) ? end.end() : n;
                    out.append(template, i, stop);
                    i = stop;
                    continue;
                }
                int stop = tagEnd(template, i + 2, template.charAt(i + 1) == '%' ? "%}" : "}}");
                out.append(template, i, stop);
                i = stop;
            } else if (template.startsWith("{#", i)) {
                int close = template.indexOf("#}", i + 2);
                if (close < 0) {
                    out.append(template, i, n); // unterminated: Jinjava reports it
                    break;
                }
                boolean stripBefore = i + 2 < close && template.charAt(i + 2) == '-';
                boolean stripAfter = close - 1 > i + 2 && template.charAt(close - 1) == '-';
                if (stripBefore) {
                    int k = out.length();
                    while (k > 0 && Character.isWhitespace(out.charAt(k - 1))) {
                        k--;
                    }
                    out.setLength(k);
                } else {
                    int k = out.length();
                    while (k > 0 && (out.charAt(k - 1) == ' ' || out.charAt(k - 1) == '\t')) {
                        k--;
                    }
                    if (k == 0 || out.charAt(k - 1) == '\n') {
                        out.setLength(k);
                    }
                }
                i = close + 2;
                if (stripAfter) {
                    while (i < n && Character.isWhitespace(template.charAt(i))) {
                        i++;
                    }
                } else if (template.startsWith("\r\n", i)) {
                    i += 2;
                } else if (i < n && template.charAt(i) == '\n') {
                    i++;
                }
            } else {
                out.append(template.charAt(i++));
            }
        }
        return out.toString();
    }

    /** The index just past {@code close}, from {@code from}, skipping quoted strings; the end if none. */
    private static int tagEnd(String t, int from, String close) {
        char quote = 0;
        for (int i = from; i < t.length(); i++) {
            char c = t.charAt(i);
            if (quote != 0) {
                if (c == '\\') {
                    i++;
                } else if (c == quote) {
                    quote = 0;
                }
            } else if (c == '\'' || c == '"') {
                quote = c;
            } else if (t.startsWith(close, i)) {
                return i + close.length();
            }
        }
        return t.length();
    }
}
