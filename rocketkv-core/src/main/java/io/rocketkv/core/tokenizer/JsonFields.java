package io.rocketkv.core.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.regex.Pattern;

/** Typed reads of {@code tokenizer.json} component fields, with messages naming the component and field. */
final class JsonFields {
    private JsonFields() {
    }

    static String type(JsonNode node, String kind) {
        JsonNode type = node.get("type");
        if (type == null || !type.isTextual()) {
            throw new TokenizerFormatException(kind + " without a \"type\" field: " + abbreviate(node));
        }
        return type.asText();
    }

    static String text(JsonNode node, String field, String component) {
        JsonNode value = node.get(field);
        if (value == null || !value.isTextual()) {
            throw new TokenizerFormatException(component + ": missing or non-string field \"" + field + "\"");
        }
        return value.asText();
    }

    static String textOr(JsonNode node, String field, String fallback) {
        JsonNode value = node.get(field);
        return value == null || value.isNull() ? fallback : value.asText();
    }

    static boolean bool(JsonNode node, String field, boolean fallback) {
        JsonNode value = node.get(field);
        return value == null || value.isNull() ? fallback : value.asBoolean();
    }

    static int integer(JsonNode node, String field, int fallback) {
        JsonNode value = node.get(field);
        return value == null || value.isNull() ? fallback : value.asInt();
    }

    static JsonNode array(JsonNode node, String field, String component) {
        JsonNode value = node.get(field);
        if (value == null || !value.isArray()) {
            throw new TokenizerFormatException(component + ": missing or non-array field \"" + field + "\"");
        }
        return value;
    }

    /** A {@code {"String": "..."}} or {@code {"Regex": "..."}} pattern field. */
    static Pattern pattern(JsonNode node, String component) {
        JsonNode pattern = node.get("pattern");
        if (pattern != null && pattern.has("String")) {
            return OnigPattern.literal(pattern.get("String").asText());
        }
        if (pattern != null && pattern.has("Regex")) {
            return OnigPattern.compile(pattern.get("Regex").asText());
        }
        throw new TokenizerFormatException(component + ": field \"pattern\" must be {\"String\": ...} or "
                + "{\"Regex\": ...}, got " + abbreviate(pattern));
    }

    static String abbreviate(JsonNode node) {
        String s = String.valueOf(node);
        return s.length() > 200 ? s.substring(0, 200) + "..." : s;
    }
}
