package io.rocketkv.api;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Typed reads of values in a parsed YAML tree. Each failure is a {@link ConfigException} that names the key
 * path and shows the value as written ({@code max_seq_len must be an integer, got string "4096"}); unknown keys
 * are reported with the allowed keys and, where one is close, a suggestion.
 */
final class YamlValues {

    private YamlValues() {
    }

    /** Lists the allowed keys in a message only when there are this few; else the message points at the docs. */
    private static final int MAX_KEYS_LISTED = 24;

    /**
     * Checks the keys of {@code node} against {@code section}: an implemented key passes, an accepted-ignored key
     * has its value's type checked and adds one line to {@code warnings} (naming it and why it does not apply), any
     * other key is a {@link ConfigException} with the nearest known key as a suggestion.
     */
    static void checkKeys(JsonNode node, TrtLlmKeys.Section section, List<String> warnings) {
        String prefix = section.prefix();
        for (Map.Entry<String, JsonNode> entry : node.properties()) {
            String key = entry.getKey();
            if (section.implemented().contains(key)) {
                continue;
            }
            TrtLlmKeys.Ignored ignored = section.ignored().get(key);
            if (ignored != null) {
                checkKind(entry.getValue(), prefix + key, ignored.kind());
                warnings.add("ignoring " + prefix + key + " (a TensorRT-LLM key that does not apply here: "
                        + ignored.why() + ")");
                continue;
            }
            List<String> allowed = section.allKeys();
            String hint = closest(key, allowed);
            String under = section.path().isEmpty() ? "top-level keys" : "keys under " + section.path();

            String list = allowed.size() <= MAX_KEYS_LISTED
                    ? "; allowed " + under + ": " + String.join(", ", allowed)
                    : "; " + under + " read here: " + String.join(", ", section.implemented()) + "; the other "
                            + section.ignored().size() + " of TensorRT-LLM's are accepted and ignored (docs/api.md"
                            + " lists them)";
            throw new ConfigException(prefix + key, "unknown key " + prefix + key + list
                    + (hint == null ? "" : " (did you mean " + hint + "?)"));
        }
    }

    /** Checks that an accepted-ignored key's value has the type TensorRT-LLM gives it; null is always accepted. */
    private static void checkKind(JsonNode v, String path, TrtLlmKeys.Kind kind) {
        if (v.isNull()) {
            return;
        }
        switch (kind) {
            case BOOL -> bool(v, path);
            case INT -> {
                if (!v.isIntegralNumber()) {
                    throw wrongType(path, "an integer", v);
                }
            }
            case NUMBER -> number(v, path);
            case STRING -> text(v, path);
            case LIST -> {
                if (!v.isArray()) {
                    throw wrongType(path, "a list", v);
                }
            }
            case MAPPING -> requireMapping(v, path);
            case ANY -> { }
        }
    }

    static void requireMapping(JsonNode node, String path) {
        if (!node.isObject()) {
            throw new ConfigException(path, path + " must be a mapping of keys, got " + describe(node));
        }
    }

    static int integer(JsonNode v, String path) {
        if (v.isIntegralNumber() && v.canConvertToInt()) {
            return v.intValue();
        }
        if (v.isIntegralNumber()) {
            throw new ConfigException(path, path + " must be an integer in the int range, got " + describe(v));
        }
        throw wrongType(path, "an integer", v);
    }

    static Integer nullableInt(JsonNode v, String path) {
        return v.isNull() ? null : integer(v, path);
    }

    static double number(JsonNode v, String path) {
        if (v.isNumber()) {
            return v.doubleValue();
        }
        throw wrongType(path, "a number", v);
    }

    static boolean bool(JsonNode v, String path) {
        if (v.isBoolean()) {
            return v.booleanValue();
        }
        throw wrongType(path, "a boolean (true or false)", v);
    }

    static String text(JsonNode v, String path) {
        if (v.isTextual()) {
            return v.textValue();
        }
        throw wrongType(path, "a string", v);
    }

    private static ConfigException wrongType(String path, String expected, JsonNode v) {
        return new ConfigException(path, path + " must be " + expected + ", got " + describe(v));
    }

    /** Says what a value is, for messages: {@code string "32"}, {@code floating-point 32.5}, {@code a list}. */
    static String describe(JsonNode v) {
        if (v == null || v.isNull() || v.isMissingNode()) {
            return "null (an empty value)";
        }
        if (v.isTextual()) {
            return "string " + ConfigException.show(v.textValue());
        }
        if (v.isBoolean()) {
            return "boolean " + v.booleanValue();
        }
        if (v.isIntegralNumber()) {
            return "integer " + v.asText();
        }
        if (v.isNumber()) {
            return "floating-point " + v.asText();
        }
        if (v.isObject()) {
            return "a mapping " + v;
        }
        if (v.isArray()) {
            return "a list " + v;
        }
        return v.getNodeType().name().toLowerCase(Locale.ROOT) + " " + v;
    }

    /**
     * The allowed key an unknown one was probably meant to be: the nearest within edit distance 3 ({@code
     * max_seqlen}), else one whose words include all of the unknown key's words ({@code kernel},
     * {@code enable_reuse}); null when none fits.
     */
    static String closest(String key, List<String> allowed) {
        String lower = key.toLowerCase(Locale.ROOT);
        String best = null;
        int bestDistance = 4;
        for (String candidate : allowed) {
            int d = editDistance(lower, candidate);
            if (d < bestDistance) {
                best = candidate;
                bestDistance = d;
            }
        }
        if (best != null) {
            return best;
        }
        List<String> words = List.of(lower.split("_"));
        for (String candidate : allowed) {
            if (List.of(candidate.split("_")).containsAll(words)) {
                return candidate;
            }
        }
        return null;
    }

    private static int editDistance(String a, String b) {
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            prev[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int substitute = prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
                cur[j] = Math.min(substitute, Math.min(prev[j], cur[j - 1]) + 1);
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }
}
