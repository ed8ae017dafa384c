package io.rocketkv.core.model;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.List;

/**
 * Reads one {@code rope_scaling} / {@code rope_parameters} object into a {@link RopeScaling}, with the defaults
 * transformers 5.18 applies ({@code RotaryEmbeddingConfigMixin.standardize_rope_params} and the
 * {@code _compute_*_parameters} functions of {@code modeling_rope_utils.py}):
 * <ul>
 *   <li>the kind is {@code rope_type}, else the older {@code type}; absent or {@code "default"}: no scaling;</li>
 *   <li>{@code original_max_position_embeddings} of llama3, yarn and longrope defaults to the config's
 *       {@code max_position_embeddings};</li>
 *   <li>a yarn or longrope {@code factor} that is absent defaults to max_position_embeddings / original;</li>
 *   <li>yarn's {@code beta_fast} / {@code beta_slow} default to 32 / 1 (also when 0: Python's {@code or}),
 *       {@code truncate} to true.</li>
 * </ul>
 * {@code partial_rotary_factor} other than 1 (only part of each head rotated) is not supported.
 */
final class RopeScalingParser {

    private RopeScalingParser() {
    }

    /**
     * @param config the whole config.json object (for {@code max_position_embeddings})
     * @param node   its {@code field} object, or {@code null}
     * @return the scaling, or {@code null} for none
     */
    static RopeScaling parse(ModelConfigParser parser, JsonNode config, JsonNode node, String field) {
        Double partial = parser.optionalDouble(config, "partial_rotary_factor");
        if (node == null) {
            requireWholeRotation(parser, partial, "partial_rotary_factor");
            return null;
        }
        ModelConfigParser r = new ModelConfigParser(parser.source() + " " + field);
        Double nestedPartial = r.optionalDouble(node, "partial_rotary_factor");
        requireWholeRotation(parser, nestedPartial != null ? nestedPartial : partial,
                nestedPartial != null ? field + ".partial_rotary_factor" : "partial_rotary_factor");
        String type = ModelConfigParser.hasValue(node, "rope_type") ? r.text(node, "rope_type") : r.text(node, "type");
        if (type == null || type.equals("default")) {
            return null;
        }
        int maxPositions = parser.requiredInt(config, "max_position_embeddings");
        return switch (type) {
            case RopeScaling.LINEAR -> new RopeScaling.Linear(r.requiredDouble(node, "factor"));
            case RopeScaling.DYNAMIC -> new RopeScaling.Dynamic(r.requiredDouble(node, "factor"));
            case RopeScaling.YARN -> {
                int original = original(r, node, maxPositions);
                Double factor = r.optionalDouble(node, "factor");
                yield new RopeScaling.Yarn(factor != null ? factor : (double) maxPositions / original, original,
                        r.optionalDouble(node, "attention_factor"), orDefault(r.optionalDouble(node, "beta_fast"), 32),
                        orDefault(r.optionalDouble(node, "beta_slow"), 1), r.optionalDouble(node, "mscale"),
                        r.optionalDouble(node, "mscale_all_dim"), r.optionalBool(node, "truncate", true));
            }
            case RopeScaling.LONGROPE -> {
                int original = original(r, node, maxPositions);
                Double factor = r.optionalDouble(node, "factor");
                yield new RopeScaling.LongRope(numbers(r, node, "short_factor"), numbers(r, node, "long_factor"),
                        factor != null ? factor : (double) maxPositions / original,
                        r.optionalDouble(node, "attention_factor"), original);
            }
            case RopeScaling.LLAMA3 -> RopeScaling.llama3(r.requiredDouble(node, "factor"),
                    r.requiredDouble(node, "low_freq_factor"), r.requiredDouble(node, "high_freq_factor"),
                    original(r, node, maxPositions));
            default -> throw new UnsupportedModelException(parser.source() + ": " + RopeScaling.unsupportedType(type));
        };
    }

    private static void requireWholeRotation(ModelConfigParser parser, Double partial, String field) {
        if (partial != null && partial != 1.0) {
            throw new UnsupportedModelException(parser.source() + ": " + field + " = " + partial + " is not supported"
                    + " (RoPE on part of each head); supported: 1.0");
        }
    }

    private static int original(ModelConfigParser r, JsonNode node, int maxPositions) {
        Integer v = r.optionalInt(node, "original_max_position_embeddings");
        return v != null ? v : maxPositions;
    }

    /** Python's {@code value or default}: absent, null and 0 take the default. */
    private static double orDefault(Double value, double defaultValue) {
        return value == null || value == 0 ? defaultValue : value;
    }

    private static List<Double> numbers(ModelConfigParser r, JsonNode node, String field) {
        if (!ModelConfigParser.hasValue(node, field)) {
            throw r.fail("lacks the required field \"" + field + "\"");
        }
        JsonNode v = node.get(field);
        if (!v.isArray()) {
            throw r.fail("field \"" + field + "\" = " + v + " is not a list of numbers");
        }
        List<Double> out = new ArrayList<>(v.size());
        for (JsonNode e : v) {
            if (!e.isNumber()) {
                throw r.fail("field \"" + field + "\" has " + e + ", which is not a number");
            }
            out.add(e.doubleValue());
        }
        return out;
    }
}
