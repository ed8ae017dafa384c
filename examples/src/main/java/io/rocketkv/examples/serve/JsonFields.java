package io.rocketkv.examples.serve;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Typed reads of one field of a request body. A field that is absent or JSON {@code null} reads as null; a value
 * of the wrong type is a 400 {@code invalid_type} naming the field ({@code at}: its path in the body, e.g.
 * {@code messages[0].content}).
 */
final class JsonFields {

    private static final Logger log = LoggerFactory.getLogger(JsonFields.class);

    private JsonFields() {
    }

    static boolean present(JsonNode body, String field) {
        JsonNode v = body.get(field);
        return v != null && !v.isNull();
    }

    static String text(JsonNode body, String field) {
        JsonNode v = body.get(field);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isTextual()) {
            throw wrongType(field, "a string", v);
        }
        return v.asText();
    }

    static Integer integer(JsonNode body, String field) {
        JsonNode v = body.get(field);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isIntegralNumber() || !v.canConvertToInt()) {
            throw wrongType(field, "an integer", v);
        }
        return v.asInt();
    }

    static Long longInteger(JsonNode body, String field) {
        JsonNode v = body.get(field);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isIntegralNumber() || !v.canConvertToLong()) {
            throw wrongType(field, "an integer", v);
        }
        return v.asLong();
    }

    static Double number(JsonNode body, String field) {
        JsonNode v = body.get(field);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isNumber()) {
            throw wrongType(field, "a number", v);
        }
        return v.asDouble();
    }

    static Boolean bool(JsonNode body, String field) {
        JsonNode v = body.get(field);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isBoolean()) {
            throw wrongType(field, "a boolean", v);
        }
        return v.asBoolean();
    }

    static boolean bool(JsonNode body, String field, boolean absent) {
        Boolean b = bool(body, field);
        return b == null ? absent : b;
    }

    /** A string or a list of strings (as {@code stop}); empty when absent. */
    static List<String> strings(JsonNode body, String field) {
        JsonNode s = body.get(field);
        if (s == null || s.isNull()) {
            return List.of();
        }
        if (s.isTextual()) {
            return List.of(s.asText());
        }
        List<String> out = new ArrayList<>();
        if (s.isArray()) {
            for (JsonNode e : s) {
                if (!e.isTextual()) {
                    throw wrongType(field, "a string or a list of strings", s);
                }
                out.add(e.asText());
            }
            return out;
        }
        throw wrongType(field, "a string or a list of strings", s);
    }

    /** A list of integers (token ids, each in 0..vocab-1); empty when absent. */
    static List<Integer> tokenIdList(JsonNode body, String field, int vocab) {
        JsonNode v = body.get(field);
        if (v == null || v.isNull()) {
            return List.of();
        }
        if (!v.isArray()) {
            throw wrongType(field, "a list of token ids", v);
        }
        List<Integer> out = new ArrayList<>();
        for (int i : tokenIds(v, field, vocab)) {
            out.add(i);
        }
        return out;
    }

    /** The token ids of the JSON array {@code a}; each must be an integer in 0..vocab-1. */
    static int[] tokenIds(JsonNode a, String at, int vocab) {
        int[] ids = new int[a.size()];
        for (int i = 0; i < ids.length; i++) {
            JsonNode e = a.get(i);
            if (!e.isIntegralNumber() || !e.canConvertToInt()) {
                throw wrongType(at, "a list of token ids (integers)", a);
            }
            ids[i] = e.asInt();
            if (ids[i] < 0 || ids[i] >= vocab) {
                throw ApiError.badRequest(at, "invalid_value", "'" + at + "' holds the token id " + ids[i]
                        + " (at " + i + "); the vocabulary's ids are 0.." + (vocab - 1));
            }
        }
        return ids;
    }

    static ApiError wrongType(String field, String expected, JsonNode got) {
        String kind = got == null ? "nothing" : got.getNodeType().name().toLowerCase(Locale.ROOT) + " " + got;
        if (kind.length() > 80) {
            kind = kind.substring(0, 80) + "…";
        }
        return ApiError.badRequest(field, "invalid_type", "'" + field + "' must be " + expected + "; got " + kind);
    }

    /** One WARN line naming the fields of a request that nobody defines (vLLM ignores them the same way). */
    static void logIgnored(String endpoint, Set<String> ignored) {
        if (!ignored.isEmpty()) {
            log.warn("ignoring fields of a {} request that this server does not know: {}", endpoint,
                    String.join(", ", ignored));
        }
    }

    /** A 400 for a field this server knows but cannot honour with the value sent. */
    static ApiError notSupported(String field, String what) {
        return ApiError.badRequest(field, "not_supported", "'" + field + "' " + what);
    }
}
