package io.rocketkv.core.model;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.rocketkv.core.numeric.DType;
import io.rocketkv.core.weights.CheckpointFiles;
import io.rocketkv.core.weights.CheckpointFormatException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.stream.Collectors;

/** Reads {@code config.json} / {@code generation_config.json} into a {@link ModelConfig}. */
final class ModelConfigParser {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** {@code Qwen3Config.head_dim}'s default, which a Qwen3 config without {@code head_dim} gets. */
    static final int QWEN3_DEFAULT_HEAD_DIM = 128;

    private final String source; // file named in messages

    ModelConfigParser(String source) {
        this.source = source;
    }

    /** The file (and field) this parser names in its messages. */
    String source() {
        return source;
    }

    static ModelConfig load(Path dir) {
        Path folder = dir.toAbsolutePath().normalize();
        if (Files.isRegularFile(folder) && folder.getFileName().toString().equals(ModelConfig.CONFIG_FILE)) {
            folder = folder.getParent();
        }
        Path config = folder.resolve(ModelConfig.CONFIG_FILE);
        CheckpointFiles.requireRegularIfPresent(config, "the model config");
        if (!Files.isRegularFile(config)) {
            throw new CheckpointFormatException("model folder " + folder + " has no " + ModelConfig.CONFIG_FILE
                    + ": point to a Hugging Face model folder (the one holding config.json and the weights).");
        }
        Path generation = folder.resolve(ModelConfig.GENERATION_CONFIG_FILE);
        CheckpointFiles.requireRegularIfPresent(generation, "the generation config");
        JsonNode generationRoot = Files.isRegularFile(generation) ? readTree(generation) : null;
        return new ModelConfigParser(config.toString()).build(readTree(config), generationRoot,
                generation.toString());
    }

    static ModelConfig parse(String configJson, String generationConfigJson) {
        JsonNode config = parseTree(configJson, ModelConfig.CONFIG_FILE);
        JsonNode generation = generationConfigJson == null
                ? null : parseTree(generationConfigJson, ModelConfig.GENERATION_CONFIG_FILE);
        return new ModelConfigParser(ModelConfig.CONFIG_FILE).build(config, generation,
                ModelConfig.GENERATION_CONFIG_FILE);
    }

    private static JsonNode readTree(Path file) {
        try {
            return parseTree(Files.readString(file), file.toString());
        } catch (IOException e) {
            throw new CheckpointFormatException("cannot read " + file + ": " + e, e);
        }
    }

    private static JsonNode parseTree(String json, String source) {
        try {
            JsonNode root = JSON.readTree(json);
            if (root == null || !root.isObject()) {
                throw new CheckpointFormatException(source + " is not a JSON object: download the model again.");
            }
            return root;
        } catch (JsonProcessingException e) {
            throw new CheckpointFormatException(source + " is not valid JSON: " + e.getOriginalMessage()
                    + ". Download the model again or fix the file.", e);
        }
    }

    private ModelConfig build(JsonNode c, JsonNode generation, String generationSource) {
        Architecture arch = architecture(c);
        String act = text(c, "hidden_act");
        if (act != null && !act.equals("silu")) {
            throw new UnsupportedModelException(source + ": hidden_act \"" + act + "\" is not supported; "
                    + "supported: silu");
        }
        int hidden = requiredInt(c, "hidden_size");
        int heads = requiredInt(c, "num_attention_heads");
        Integer kvHeads = optionalInt(c, "num_key_value_heads");
        Integer headDim = optionalInt(c, "head_dim"); // may be present as null
        if (headDim == null && arch == Architecture.QWEN3) {
            headDim = QWEN3_DEFAULT_HEAD_DIM;
        } else if (headDim == null) {
            if (heads <= 0 || hidden % heads != 0) {
                throw fail("has no head_dim and hidden_size = " + hidden + " is not a multiple of "
                        + "num_attention_heads = " + heads + "; add \"head_dim\" to the config");
            }
            headDim = hidden / heads;
        }
        JsonNode ropeParameters = object(c, "rope_parameters"); // transformers v5 spelling
        JsonNode ropeScalingNode = object(c, "rope_scaling");
        JsonNode ropeNode = ropeScalingNode != null ? ropeScalingNode : ropeParameters;
        String ropeField = ropeScalingNode != null ? "rope_scaling" : "rope_parameters";
        RopeScaling ropeScaling = checkedRopeScaling(arch, c, ropeNode, ropeField);
        int rotaryDim = RopeScalingParser.rotaryDim(this, arch, c, ropeNode, ropeField, headDim);
        if (ropeScalingNode != null && ropeParameters != null && hasRopeType(ropeParameters)) {
            RopeScaling other = checkedRopeScaling(arch, c, ropeParameters, "rope_parameters");
            if (!Objects.equals(ropeScaling, other)) {
                throw fail("has both rope_scaling " + ropeScalingNode + " and rope_parameters " + ropeParameters
                        + ", and they describe different RoPE scaling (" + describe(ropeScaling) + " vs "
                        + describe(other) + "); keep one of them (transformers v5 reads rope_parameters)");
            }
        }
        Double theta = optionalDouble(c, "rope_theta");
        if (ropeParameters != null) {
            Double v5Theta = new ModelConfigParser(source + " rope_parameters").optionalDouble(ropeParameters,
                    "rope_theta");
            if (theta == null) {
                theta = v5Theta;
            } else if (v5Theta != null && !v5Theta.equals(theta)) {
                throw fail("has rope_theta = " + theta + " and rope_parameters.rope_theta = " + v5Theta
                        + ", which disagree; keep one of them");
            }
        }
        boolean attentionBias = switch (arch) {
            case LLAMA -> optionalBool(c, "attention_bias", false);
            case QWEN2 -> optionalBool(c, "attention_bias", true); // Qwen2Attention: q/k/v bias=True
            case QWEN3 -> optionalBool(c, "attention_bias", false); // Qwen3Config.attention_bias = False
            case MISTRAL, PHI3 -> false; // MistralAttention, Phi3Attention: bias=False whatever the config says
        };
        Integer slidingWindow = switch (arch) {
            case LLAMA -> null;
            // Phi3Model masks every layer with config.sliding_window (it reads no layer_types)
            case MISTRAL, PHI3 -> optionalInt(c, "sliding_window");
            // Qwen2Config: self.sliding_window = sliding_window if self.use_sliding_window else None
            case QWEN2, QWEN3 -> optionalBool(c, "use_sliding_window", false) ? optionalInt(c, "sliding_window") : null;
        };
        // MistralConfig ignores layer_types (every layer slides); Qwen2Config takes layer_types, else
        // "sliding_attention" if sliding_window is not None and i >= max_window_layers else "full_attention"
        // Qwen2Config and Qwen3Config derive layer_types from max_window_layers the same way
        List<Boolean> slidingLayers = (arch == Architecture.QWEN2 || arch == Architecture.QWEN3) && slidingWindow != null
                ? qwen2SlidingLayers(c, requiredInt(c, "num_hidden_layers")) : null;
        Integer bos = optionalInt(c, "bos_token_id");
        List<Integer> eos = intOrIntList(c, "eos_token_id");
        if (generation != null) {
            ModelConfigParser g = new ModelConfigParser(generationSource);
            if (hasValue(generation, "bos_token_id")) {
                bos = g.optionalInt(generation, "bos_token_id");
            }
            if (hasValue(generation, "eos_token_id")) {
                eos = g.intOrIntList(generation, "eos_token_id");
            }
        }
        QuantizationConfig quantization = QuantizationConfigParser.parse(c, source);
        try {
            return new ModelConfig(arch, hidden, requiredInt(c, "intermediate_size"),
                    requiredInt(c, "num_hidden_layers"), heads, kvHeads == null ? heads : kvHeads, headDim,
                    requiredDouble(c, "rms_norm_eps"), theta == null ? 10000.0 : theta,
                    ropeScaling, requiredInt(c, "max_position_embeddings"),
                    requiredInt(c, "vocab_size"), optionalBool(c, "tie_word_embeddings", false), attentionBias,
                    arch == Architecture.LLAMA && optionalBool(c, "mlp_bias", false), bos, eos, dtype(c),
                    slidingWindow, quantization, slidingLayers, rotaryDim);
        } catch (IllegalArgumentException e) {
            throw new CheckpointFormatException(source + ": " + e.getMessage() + ". Fix the config or download "
                    + "the model again.", e);
        }
    }

    /** Qwen2's per-layer choice ({@code layer_types}, else {@code max_window_layers}, default 28). */
    private List<Boolean> qwen2SlidingLayers(JsonNode c, int layers) {
        JsonNode types = c.get("layer_types");
        List<Boolean> slides = new ArrayList<>();
        if (types == null || types.isNull()) {
            Integer maxWindowLayers = optionalInt(c, "max_window_layers");
            int first = maxWindowLayers == null ? 28 : maxWindowLayers;
            for (int i = 0; i < layers; i++) {
                slides.add(i >= first);
            }
            return slides;
        }
        if (!types.isArray() || types.size() != layers) {
            throw fail("field \"layer_types\" = " + types + " must list num_hidden_layers = " + layers + " layer types");
        }
        for (JsonNode t : types) {
            String type = t.isTextual() ? t.textValue() : String.valueOf(t);
            switch (type) {
                case "sliding_attention" -> slides.add(true);
                case "full_attention" -> slides.add(false);
                default -> throw new UnsupportedModelException(source + ": layer type \"" + type + "\" is not "
                        + "supported; supported: sliding_attention, full_attention");
            }
        }
        return slides;
    }

    private Architecture architecture(JsonNode c) {
        JsonNode archs = c.get("architectures");
        if (archs != null && archs.isArray() && !archs.isEmpty()) {
            List<String> names = new ArrayList<>();
            for (JsonNode a : archs) {
                names.add(a.asText());
                if (a.isTextual() && Architecture.fromClassName(a.textValue()).isPresent()) {
                    return Architecture.fromClassName(a.textValue()).get();
                }
            }
            throw new UnsupportedModelException(source + ": architectures " + names + " are not supported; "
                    + "supported: " + Architecture.supported());
        }
        String type = text(c, "model_type");
        if (type == null) {
            throw fail("has neither \"architectures\" nor \"model_type\"; cannot tell which model it describes");
        }
        return Architecture.fromModelType(type).orElseThrow(() -> new UnsupportedModelException(source
                + ": model_type \"" + type + "\" is not supported; supported: " + Architecture.supported()));
    }

    /** {@link RopeScalingParser#parse}, with a value out of range reported as a checkpoint fault. */
    private RopeScaling checkedRopeScaling(Architecture arch, JsonNode c, JsonNode node, String field) {
        try {
            return RopeScalingParser.parse(this, arch, c, node, field);
        } catch (IllegalArgumentException e) {
            throw new CheckpointFormatException(source + ": " + e.getMessage() + ". Fix the config or download "
                    + "the model again.", e);
        }
    }

    private static boolean hasRopeType(JsonNode node) {
        return hasValue(node, "rope_type") || hasValue(node, "type");
    }

    private static String describe(RopeScaling r) {
        return r == null ? "none" : r.toString();
    }

    private DType dtype(JsonNode c) {
        String name = hasValue(c, "dtype") ? text(c, "dtype") : text(c, "torch_dtype");
        if (name == null) {
            return null;
        }
        return DType.fromTorchName(name).orElseThrow(() -> fail("has dtype \"" + name + "\"; known: float32, "
                + "float16, bfloat16, float64, float8_e4m3fn, float8_e5m2"));
    }

    // ---- typed field access; absent and JSON null read the same ----

    static boolean hasValue(JsonNode node, String field) {
        JsonNode v = node.get(field);
        return v != null && !v.isNull();
    }

    private JsonNode object(JsonNode node, String field) {
        if (!hasValue(node, field)) {
            return null;
        }
        JsonNode v = node.get(field);
        if (!v.isObject()) {
            throw fail("field \"" + field + "\" = " + v + " is not an object");
        }
        return v;
    }

    String text(JsonNode node, String field) {
        if (!hasValue(node, field)) {
            return null;
        }
        JsonNode v = node.get(field);
        if (!v.isTextual()) {
            throw fail("field \"" + field + "\" = " + v + " is not a string");
        }
        return v.textValue();
    }

    int requiredInt(JsonNode node, String field) {
        Integer v = optionalInt(node, field);
        if (v == null) {
            throw fail("lacks the required field \"" + field + "\"");
        }
        return v;
    }

    Integer optionalInt(JsonNode node, String field) {
        return hasValue(node, field) ? toInt(node.get(field), field) : null;
    }

    private int toInt(JsonNode v, String field) {
        // Accept 4096 and 4096.0 (some exporters write floats), nothing fractional or out of int range.
        if (v.isNumber() && v.canConvertToExactIntegral() && v.canConvertToInt()) {
            return v.intValue();
        }
        throw fail("field \"" + field + "\" = " + v + " is not a 32-bit integer");
    }

    double requiredDouble(JsonNode node, String field) {
        Double v = optionalDouble(node, field);
        if (v == null) {
            throw fail("lacks the required field \"" + field + "\"");
        }
        return v;
    }

    Double optionalDouble(JsonNode node, String field) {
        if (!hasValue(node, field)) {
            return null;
        }
        JsonNode v = node.get(field);
        if (!v.isNumber()) {
            throw fail("field \"" + field + "\" = " + v + " is not a number");
        }
        return v.doubleValue();
    }

    boolean optionalBool(JsonNode node, String field, boolean defaultValue) {
        if (!hasValue(node, field)) {
            return defaultValue;
        }
        JsonNode v = node.get(field);
        if (!v.isBoolean()) {
            throw fail("field \"" + field + "\" = " + v + " is not true or false");
        }
        return v.booleanValue();
    }

    /** An int or a list of ints ({@code eos_token_id}); empty when absent. */
    private List<Integer> intOrIntList(JsonNode node, String field) {
        if (!hasValue(node, field)) {
            return List.of();
        }
        JsonNode v = node.get(field);
        if (!v.isArray()) {
            return List.of(toInt(v, field));
        }
        List<Integer> ids = new ArrayList<>();
        for (JsonNode e : v) {
            ids.add(toInt(e, field));
        }
        return ids.stream().distinct().collect(Collectors.toUnmodifiableList());
    }

    CheckpointFormatException fail(String problem) {
        return new CheckpointFormatException(source + " " + problem + ". Fix the config or download the model "
                + "again.");
    }
}
