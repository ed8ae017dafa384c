package io.rocketkv.core.model;

import com.fasterxml.jackson.databind.JsonNode;
import io.rocketkv.core.weights.CheckpointFormatException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Reads {@code config.json}'s {@code quantization_config} into a {@link QuantizationConfig}, refusing what the
 * loader cannot run. The three spellings accepted:
 *
 * <pre>
 * ModelOpt:           {"quant_method": "modelopt", "quant_algo": "FP8" | "FP8_PER_CHANNEL_PER_TOKEN", ...}
 *                     (or the hf_quant_config.json form nested under "quantization")
 * vLLM / AutoFP8:     {"quant_method": "fp8", "activation_scheme": "static" | "dynamic", ...}
 * compressed-tensors: {"quant_method": "compressed-tensors", "config_groups": {"group_0": {"weights":
 *                       {"num_bits": 8, "type": "float", "strategy": "tensor" | "channel", ...}, ...}}, ...}
 * </pre>
 *
 * Block-wise fp8 ({@code weight_block_size}, ModelOpt {@code FP8_PB_*}, compressed-tensors strategy {@code block} or
 * {@code group}) and every other method (gptq, awq, bitsandbytes, NVFP4, int8, ...) is an
 * {@link UnsupportedModelException} naming the field and its value.
 */
final class QuantizationConfigParser {

    static final String FIELD = "quantization_config";

    private static final Set<String> MODELOPT_ALGOS = Set.of("FP8", "FP8_PER_CHANNEL_PER_TOKEN");
    private static final Set<String> CT_STRATEGIES = Set.of("tensor", "channel");
    private static final String SUPPORTED = "supported: fp8 e4m3 weights with per-tensor or per-channel scales, "
            + "from modelopt (quant_algo FP8 or FP8_PER_CHANNEL_PER_TOKEN), fp8, or compressed-tensors (8-bit float "
            + "weights, strategy tensor or channel)";

    private final String source;

    private QuantizationConfigParser(String source) {
        this.source = source;
    }

    /** The {@code quantization_config} of the config object {@code c}; {@link QuantizationConfig#NONE} when absent. */
    static QuantizationConfig parse(JsonNode c, String source) {
        JsonNode q = c.get(FIELD);
        if (q == null || q.isNull()) {
            return QuantizationConfig.NONE;
        }
        return new QuantizationConfigParser(source).parse(q);
    }

    private QuantizationConfig parse(JsonNode q) {
        if (!q.isObject()) {
            throw malformed("\"" + FIELD + "\" = " + q + " is not an object");
        }
        String method = text(q, "quant_method", FIELD);
        if (method == null) {
            throw malformed("\"" + FIELD + "\" has no \"quant_method\"");
        }
        JsonNode block = q.get("weight_block_size");
        if (block != null && !block.isNull()) {
            throw blockWise(FIELD + ".weight_block_size = " + block);
        }
        return switch (method) {
            case "modelopt" -> new QuantizationConfig(method, modelOpt(q));
            case "fp8" -> new QuantizationConfig(method, fp8(q));
            case "compressed-tensors" -> new QuantizationConfig(method, compressedTensors(q));
            default -> throw unsupported(FIELD + ".quant_method \"" + method + "\"");
        };
    }

    private String modelOpt(JsonNode q) {
        JsonNode node = q.has("quantization") && q.get("quantization").isObject() ? q.get("quantization") : q;
        String where = node == q ? FIELD : FIELD + ".quantization";
        String algo = text(node, "quant_algo", where);
        if (algo == null) {
            return ""; // the tensors say the rest
        }
        String upper = algo.toUpperCase(Locale.ROOT);
        if (upper.startsWith("FP8_PB") || upper.contains("BLOCK")) {
            throw blockWise(where + ".quant_algo \"" + algo + "\"");
        }
        if (!MODELOPT_ALGOS.contains(upper)) {
            throw unsupported(where + ".quant_algo \"" + algo + "\"");
        }
        return upper;
    }

    private String fp8(JsonNode q) {
        String fmt = text(q, "fmt", FIELD);
        if (fmt != null && !fmt.equals("e4m3")) {
            throw unsupported(FIELD + ".fmt \"" + fmt + "\" (fp8 weights must be e4m3)");
        }
        String activations = text(q, "activation_scheme", FIELD);
        return activations == null ? "" : "activation_scheme " + activations;
    }

    private String compressedTensors(JsonNode q) {
        JsonNode groups = q.get("config_groups");
        if (groups == null || groups.isNull()) {
            return "";
        }
        if (!groups.isObject()) {
            throw malformed("\"" + FIELD + ".config_groups\" = " + groups + " is not an object");
        }
        List<String> strategies = new ArrayList<>();
        for (Map.Entry<String, JsonNode> group : groups.properties()) {
            String where = FIELD + ".config_groups." + group.getKey() + ".weights";
            JsonNode w = group.getValue().get("weights");
            if (w == null || w.isNull()) {
                continue; // a group that quantizes activations only
            }
            JsonNode bits = w.get("num_bits");
            String type = text(w, "type", where);
            if (bits == null || !bits.canConvertToInt() || bits.intValue() != 8 || !"float".equals(type)) {
                throw unsupported(where + " num_bits " + bits + ", type \"" + type + "\" (fp8 weights are "
                        + "num_bits 8, type float)");
            }
            String strategy = text(w, "strategy", where);
            JsonNode blocks = w.get("block_structure");
            if ("block".equals(strategy) || "group".equals(strategy) || "tensor_group".equals(strategy)
                    || (blocks != null && !blocks.isNull())) {
                throw blockWise(where + ".strategy \"" + strategy + "\""
                        + (blocks == null || blocks.isNull() ? "" : ", block_structure " + blocks));
            }
            if (strategy != null && !CT_STRATEGIES.contains(strategy)) {
                throw unsupported(where + ".strategy \"" + strategy + "\"");
            }
            if (strategy != null && !strategies.contains(strategy)) {
                strategies.add(strategy);
            }
        }
        return strategies.isEmpty() ? "float8" : "float8 " + String.join(", ", strategies);
    }

    private String text(JsonNode node, String field, String where) {
        JsonNode v = node.get(field);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isTextual()) {
            throw malformed("\"" + where + "." + field + "\" = " + v + " is not a string");
        }
        return v.textValue();
    }

    private UnsupportedModelException blockWise(String what) {
        return new UnsupportedModelException(source + ": " + what + " asks for block-wise fp8 scales, which are "
                + "not supported; " + SUPPORTED);
    }

    private UnsupportedModelException unsupported(String what) {
        return new UnsupportedModelException(source + ": " + what + " is not supported; " + SUPPORTED);
    }

    private CheckpointFormatException malformed(String problem) {
        return new CheckpointFormatException(source + ": " + problem + ". Fix the config or download the model "
                + "again.");
    }
}
