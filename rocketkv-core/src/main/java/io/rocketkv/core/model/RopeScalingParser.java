package io.rocketkv.core.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

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
 * Phi-3 ({@code Phi3Config}) differs: {@code su} and {@code yarn} are read as {@code longrope} and no other kind is
 * accepted; longrope's {@code original_max_position_embeddings} is the config's top-level one (default
 * {@value #PHI3_ORIGINAL_MAX_POSITIONS}), whatever the RoPE object says; {@code partial_rotary_factor} (the RoPE
 * object's, else the top-level one) rotates the first {@code int(head_dim * partial_rotary_factor)} channels of each
 * head ({@link #rotaryDim}). Other architectures rotate whole heads: a {@code partial_rotary_factor} other than 1 is
 * not supported.
 */
final class RopeScalingParser {

    /** {@code Phi3Config.original_max_position_embeddings}'s default. */
    static final int PHI3_ORIGINAL_MAX_POSITIONS = 4096;

    private RopeScalingParser() {
    }

    /**
     * @param arch   the architecture (Phi-3 reads the object its own way)
     * @param config the whole config.json object (for {@code max_position_embeddings})
     * @param node   its {@code field} object, or {@code null}
     * @return the scaling, or {@code null} for none
     */
    static RopeScaling parse(ModelConfigParser parser, Architecture arch, JsonNode config, JsonNode node,
                             String field) {
        if (node == null) {
            return null;
        }
        ModelConfigParser r = new ModelConfigParser(parser.source() + " " + field);
        String type = ModelConfigParser.hasValue(node, "rope_type") ? r.text(node, "rope_type") : r.text(node, "type");
        if (arch == Architecture.PHI3) {
            type = phi3Type(parser, field, type);
        }
        if (type == null || type.equals("default")) {
            return null;
        }
        int maxPositions = parser.requiredInt(config, "max_position_embeddings");
        if (arch == Architecture.PHI3) { // Phi3Config: the top-level original_max_position_embeddings wins
            Integer top = parser.optionalInt(config, "original_max_position_embeddings");
            ObjectNode copy = ((ObjectNode) node).deepCopy();
            copy.put("original_max_position_embeddings", top != null ? top : PHI3_ORIGINAL_MAX_POSITIONS);
            node = copy;
        }
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

    /**
     * The channels of each head that RoPE rotates: {@code int(head_dim * partial_rotary_factor)}, the factor of
     * {@code node} (the RoPE object, may be {@code null}) or else the config's top-level one, default 1.
     *
     * @throws UnsupportedModelException for a factor other than 1 outside Phi-3, or one giving an odd dimension
     * @throws io.rocketkv.core.weights.CheckpointFormatException for a factor outside (0, 1]
     */
    static int rotaryDim(ModelConfigParser parser, Architecture arch, JsonNode config, JsonNode node, String field,
                         int headDim) {
        Double nested = node == null ? null
                : new ModelConfigParser(parser.source() + " " + field).optionalDouble(node, "partial_rotary_factor");
        Double factor = nested != null ? nested : parser.optionalDouble(config, "partial_rotary_factor");
        String name = nested != null ? field + ".partial_rotary_factor" : "partial_rotary_factor";
        if (factor == null || factor == 1.0) {
            return headDim;
        }
        if (arch != Architecture.PHI3) {
            throw new UnsupportedModelException(parser.source() + ": " + name + " = " + factor + " is not supported"
                    + " for " + arch.className() + " (RoPE on part of each head: Phi3ForCausalLM only); "
                    + "supported: 1.0");
        }
        if (!(factor > 0 && factor <= 1)) {
            throw parser.fail("has " + name + " = " + factor + ", outside (0, 1]");
        }
        int dim = (int) (headDim * factor); // Python's int(head_dim * partial_rotary_factor)
        if (dim < 2 || dim % 2 != 0) {
            throw new UnsupportedModelException(parser.source() + ": " + name + " = " + factor + " of head_dim "
                    + headDim + " rotates " + dim + " channels; an even number of at least 2 is supported");
        }
        return dim;
    }

    /** {@code Phi3Config}: {@code su} and {@code yarn} are longrope; only default and longrope are accepted. */
    private static String phi3Type(ModelConfigParser parser, String field, String type) {
        if (type == null || type.equals("default") || type.equals(RopeScaling.LONGROPE)) {
            return type;
        }
        if (type.equals("su") || type.equals(RopeScaling.YARN)) {
            return RopeScaling.LONGROPE;
        }
        throw new UnsupportedModelException(parser.source() + ": " + field + " rope_type \"" + type + "\" is not "
                + "supported for " + Architecture.PHI3.className() + "; supported: default, longrope (su and yarn "
                + "read as longrope), as Phi3Config accepts");
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
