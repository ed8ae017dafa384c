package io.rocketkv.api.chat;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Rewrites the few jinja2 forms of Hugging Face chat templates that Jinjava parses differently into equivalent ones
 * it parses as jinja2 does; the rest of a template is left as written.
 *
 * <ul>
 *   <li>{@code xs[::-1]} (a reversed slice, Qwen's templates) becomes {@code (xs|reverse)}.</li>
 *   <li>In {@code namespace(a=x, b=messages|length - 1)}, each value is put in parentheses: jinja2 reads a keyword
 *       argument's value as a whole expression, Jinjava stops at the filter and fails on the {@code - 1}.</li>
 *   <li>{@code {{-} and {@code -}}} (whitespace control on expressions, which Jinjava ignores): the template's
 *       whitespace next to them is removed from the source, which is what jinja2 does with it.</li>
 *   <li>Comments go, with the whitespace jinja2 removes around them ({@link JinjaComments}).</li>
 * </ul>
 */
final class JinjaDialect {

    private static final Pattern EXPRESSION_LSTRIP = Pattern.compile("\\s*\\{\\{-");
    private static final Pattern EXPRESSION_RSTRIP = Pattern.compile("-}}\\s*");
    private static final Pattern REVERSED = Pattern.compile("([A-Za-z_][\\w.]*)\\[::-1\\]");
    private static final Pattern NAMESPACE = Pattern.compile("namespace\\(([^()]*)\\)");
    private static final Pattern KEYWORD = Pattern.compile("^\\s*([A-Za-z_]\\w*)\\s*=(?!=)(.*)$", Pattern.DOTALL);

    private JinjaDialect() {
    }

    static String rewrite(String template) {
        if (template == null) {
            return null;
        }
        String t = EXPRESSION_LSTRIP.matcher(JinjaComments.strip(template)).replaceAll("{{");
        t = EXPRESSION_RSTRIP.matcher(t).replaceAll("}}");
        t = REVERSED.matcher(t).replaceAll("($1|reverse)");
        Matcher m = NAMESPACE.matcher(t);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            StringBuilder args = new StringBuilder();
            for (String arg : splitTopLevel(m.group(1))) {
                Matcher k = KEYWORD.matcher(arg);
                if (args.length() > 0) {
                    args.append(',');
                }
                args.append(k.matches() ? k.group(1) + "=(" + k.group(2).strip() + ")" : arg);
            }
            m.appendReplacement(out, Matcher.quoteReplacement("namespace(" + args + ")"));
        }
        m.appendTail(out);
        return out.toString();
    }

    /** Splits on commas outside quotes and brackets. */
    private static List<String> splitTopLevel(String s) {
        List<String> parts = new ArrayList<>();
        int depth = 0;
        char quote = 0;
        int start = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (quote != 0) {
                if (c == quote) {
                    quote = 0;
                }
            } else if (c == '\'' || c == '"') {
                quote = c;
            } else if (c == '[' || c == '{') {
                depth++;
            } else if (c == ']' || c == '}') {
                depth--;
            } else if (c == ',' && depth == 0) {
                parts.add(s.substring(start, i));
                start = i + 1;
            }
        }
        parts.add(s.substring(start));
        return parts;
    }
}
