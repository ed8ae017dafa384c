package io.rocketkv.core.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The {@code "normalizer"} of {@code tokenizer.json}: rewrites each span of input text that is not an
 * added token before pre-tokenization. Only the resulting text matters here (no offset alignment).
 */
sealed interface Normalizer {

    String normalize(String text);

    static Normalizer fromJson(JsonNode node) {
        String type = JsonFields.type(node, "normalizer");
        return switch (type) {
            case "NFC" -> new Unicode(java.text.Normalizer.Form.NFC);
            case "NFD" -> new Unicode(java.text.Normalizer.Form.NFD);
            case "NFKC" -> new Unicode(java.text.Normalizer.Form.NFKC);
            case "NFKD" -> new Unicode(java.text.Normalizer.Form.NFKD);
            case "Lowercase" -> new Lowercase();
            case "StripAccents" -> new StripAccents();
            case "Strip" -> new Strip(JsonFields.bool(node, "strip_left", true), JsonFields.bool(node, "strip_right", true));
            case "Prepend" -> new Prepend(JsonFields.text(node, "prepend", "Prepend normalizer"));
            case "Replace" -> new Replace(JsonFields.pattern(node, "Replace normalizer"),
                    JsonFields.text(node, "content", "Replace normalizer"));
            case "Sequence" -> {
                List<Normalizer> steps = new ArrayList<>();
                for (JsonNode step : JsonFields.array(node, "normalizers", "Sequence normalizer")) {
                    steps.add(fromJson(step));
                }
                yield new Sequence(List.copyOf(steps));
            }
            default -> throw TokenizerFormatException.unsupported("normalizer", type, "NFC", "NFD", "NFKC", "NFKD",
                    "Lowercase", "StripAccents", "Strip", "Prepend", "Replace", "Sequence");
        };
    }

    /** Unicode normalization form, via {@link java.text.Normalizer}. */
    record Unicode(java.text.Normalizer.Form form) implements Normalizer {
        @Override
        public String normalize(String text) {
            return java.text.Normalizer.normalize(text, form);
        }
    }

    /** Rust's {@code char::to_lowercase} per character (full mapping, no context such as final sigma). */
    record Lowercase() implements Normalizer {
        @Override
        public String normalize(String text) {
            StringBuilder out = new StringBuilder(text.length());
            text.codePoints().forEach(cp -> out.append(Character.toString(cp).toLowerCase(Locale.ROOT)));
            return out.toString();
        }
    }

    /** Removes combining marks (general category M), as after NFD. */
    record StripAccents() implements Normalizer {
        @Override
        public String normalize(String text) {
            StringBuilder out = new StringBuilder(text.length());
            text.codePoints().filter(cp -> {
                int t = Character.getType(cp);
                return t != Character.NON_SPACING_MARK && t != Character.COMBINING_SPACING_MARK
                        && t != Character.ENCLOSING_MARK;
            }).forEach(out::appendCodePoint);
            return out.toString();
        }
    }

    /** Strips Unicode White_Space from either end. */
    record Strip(boolean left, boolean right) implements Normalizer {
        @Override
        public String normalize(String text) {
            int start = 0;
            int end = text.length();
            while (left && start < end && isRustWhitespace(text.codePointAt(start))) {
                start += Character.charCount(text.codePointAt(start));
            }
            while (right && end > start && isRustWhitespace(text.codePointBefore(end))) {
                end -= Character.charCount(text.codePointBefore(end));
            }
            return text.substring(start, end);
        }
    }

    /** Prepends a string to non-empty text. */
    record Prepend(String prefix) implements Normalizer {
        @Override
        public String normalize(String text) {
            return text.isEmpty() ? text : prefix + text;
        }
    }

    /** Replaces every match of a pattern by a literal. */
    record Replace(Pattern pattern, String content) implements Normalizer {
        @Override
        public String normalize(String text) {
            return pattern.matcher(text).replaceAll(Matcher.quoteReplacement(content));
        }
    }

    record Sequence(List<Normalizer> steps) implements Normalizer {
        @Override
        public String normalize(String text) {
            for (Normalizer step : steps) {
                text = step.normalize(text);
            }
            return text;
        }
    }

    /** Rust's {@code char::is_whitespace}: the Unicode White_Space property. */
    static boolean isRustWhitespace(int cp) {
        return switch (cp) {
            case 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000 -> true;
            default -> cp >= 0x2000 && cp <= 0x200A;
        };
    }
}
