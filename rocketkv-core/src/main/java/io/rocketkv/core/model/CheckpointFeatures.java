package io.rocketkv.core.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * What a checkpoint's {@code config.json} asks of a runtime, feature by feature, and whether this library runs each:
 * the architecture, the attention layout, biases, norms, RoPE scaling, sliding windows, quantization, mixture of
 * experts. The verdicts are {@link ModelConfig#load}'s own: a feature is {@link Support#SUPPORTED} when the config
 * loads, {@link Support#UNSUPPORTED} when the error that refused it names it, and {@link Support#NOT_CHECKED} when
 * loading stopped at another feature first ({@link #loadError()} says which). Nothing here loads weights.
 *
 * @param features  in the order a reader of the config meets them
 * @param loadError null when the config loads; else {@link ModelConfig#load}'s message
 */
public record CheckpointFeatures(List<Feature> features, String loadError) {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final List<String> MOE_KEYS = List.of("num_experts", "num_local_experts", "n_routed_experts",
            "moe_intermediate_size", "num_experts_per_tok");
    private static final List<String> SOFTCAP_KEYS = List.of("attn_logit_softcapping", "final_logit_softcapping");

    public CheckpointFeatures {
        features = List.copyOf(features);
    }

    /** How this library treats a feature. */
    public enum Support {
        SUPPORTED("yes"),
        /** The CPU backend runs it, the CUDA backend refuses it. */
        CPU_ONLY("CPU only"),
        /** Present in the config and without effect (as in transformers). */
        IGNORED("ignored"),
        UNSUPPORTED("no"),
        /** Loading the config stopped at another feature before this one was checked. */
        NOT_CHECKED("not checked");

        private final String label;

        Support(String label) {
            this.label = label;
        }

        public String label() {
            return label;
        }
    }

    /** One feature: its name, the config's value, the verdict and a note (what it means here; may be empty). */
    public record Feature(String name, String value, Support support, String note) {
    }

    /** True when the config loads (every feature is supported or ignored, possibly on the CPU only). */
    public boolean loads() {
        return loadError == null;
    }

    /**
     * The features of the checkpoint folder {@code dir} (or its {@code config.json}).
     *
     * @throws io.rocketkv.core.weights.CheckpointFormatException when there is no readable config.json
     */
    public static CheckpointFeatures of(Path dir) {
        Path file = Files.isDirectory(dir) ? dir.resolve(ModelConfig.CONFIG_FILE) : dir;
        JsonNode c;
        try {
            c = JSON.readTree(Files.readString(file));
        } catch (IOException e) {
            throw new io.rocketkv.core.weights.CheckpointFormatException("cannot read " + file + ": " + e, e);
        }
        if (c == null || !c.isObject()) {
            throw new io.rocketkv.core.weights.CheckpointFormatException(file + " is not a JSON object");
        }
        ModelConfig config = null;
        String error = null;
        try {
            config = ModelConfig.load(Files.isDirectory(dir) ? dir : dir.getParent());
        } catch (RuntimeException e) {
            error = e.getMessage();
        }
        return new CheckpointFeatures(features(c, config, error), error);
    }

    private static List<Feature> features(JsonNode c, ModelConfig config, String error) {
        List<Feature> out = new ArrayList<>();
        String archs = c.has("architectures") ? c.get("architectures").toString() : text(c, "model_type");
        out.add(new Feature("architecture", archs, verdict(config, error, "architectures", "model_type"),
                "supported: " + Architecture.supported()));
        int heads = c.path("num_attention_heads").asInt(0);
        int kvHeads = c.path("num_key_value_heads").asInt(heads);
        String layout = kvHeads == heads ? "MHA" : kvHeads == 1 ? "MQA" : "GQA";
        out.add(new Feature("attention heads", layout + " (" + heads + " query / " + kvHeads + " KV heads)",
                verdict(config, error, "num_attention_heads", "num_key_value_heads"), ""));
        if (present(c, "head_dim")) {
            out.add(new Feature("head_dim", c.get("head_dim").asText(), verdict(config, error, "head_dim"),
                    "explicit (hidden_size / heads = " + (heads > 0 ? c.path("hidden_size").asInt() / heads : 0) + ")"));
        }
        if (config != null && config.architecture() == Architecture.QWEN3) {
            out.add(new Feature("per-head q/k RMSNorm", "q_norm, k_norm", Support.SUPPORTED, "before RoPE"));
        }
        if (c.path("attention_bias").asBoolean(false) || (config != null && config.attentionBias())) {
            boolean ignored = config != null && !config.attentionBias();
            out.add(new Feature("attention bias", "true", ignored ? Support.IGNORED : verdict(config, error,
                    "attention_bias"), ignored ? "this architecture has no attention bias in transformers either" : ""));
        }
        if (c.path("mlp_bias").asBoolean(false)) {
            out.add(new Feature("mlp_bias", "true", verdict(config, error, "mlp_bias"), ""));
        }
        if (c.path("tie_word_embeddings").asBoolean(false)) {
            out.add(new Feature("tied embeddings", "true", verdict(config, error, "tie_word_embeddings"), ""));
        }
        String act = text(c, "hidden_act");
        if (act != null) {
            out.add(new Feature("hidden_act", act, verdict(config, error, "hidden_act"), "supported: silu"));
        }
        rope(c, config, error, out);
        slidingWindow(c, config, error, out);
        if (present(c, "quantization_config")) {
            JsonNode q = c.get("quantization_config");
            out.add(new Feature("quantization_config", String.valueOf(text(q, "quant_method")),
                    verdict(config, error, "quantization_config", "quant_method", "quant_algo", "fp8"),
                    config == null ? "" : config.quantization().toString()));
        }
        for (String key : MOE_KEYS) {
            if (present(c, key)) {
                out.add(new Feature("mixture of experts", key + " = " + c.get(key), Support.UNSUPPORTED,
                        "no MoE models here"));
                break;
            }
        }
        for (String key : SOFTCAP_KEYS) {
            if (present(c, key)) {
                out.add(new Feature("logit soft-capping", key + " = " + c.get(key), Support.UNSUPPORTED,
                        "not implemented (Gemma 2)"));
            }
        }
        return out;
    }

    private static void rope(JsonNode c, ModelConfig config, String error, List<Feature> out) {
        JsonNode node = present(c, "rope_scaling") ? c.get("rope_scaling") : c.get("rope_parameters");
        String type = node == null ? null : text(node, "rope_type") != null ? text(node, "rope_type") : text(node, "type");
        if (type != null && !type.equals("default")) {
            Support s = verdict(config, error, "rope_scaling", "rope_parameters", "rope_type", type);
            if (s == Support.SUPPORTED && config.ropeScaling() != null && config.ropeScaling().dependsOnLength()) {
                s = Support.CPU_ONLY;
            }
            out.add(new Feature("RoPE scaling", type, s, "supported: " + String.join(", ", RopeScaling.SUPPORTED_TYPES)
                    + (s == Support.CPU_ONLY ? "; its frequencies follow the sequence's length, which the CUDA backend"
                    + " refuses" : "")));
        }
        if (present(c, "partial_rotary_factor") && c.get("partial_rotary_factor").asDouble() != 1.0) {
            out.add(new Feature("partial rotary", c.get("partial_rotary_factor").asText(),
                    verdict(config, error, "partial_rotary_factor"), "only part of each head rotates"));
        }
    }

    private static void slidingWindow(JsonNode c, ModelConfig config, String error, List<Feature> out) {
        if (!present(c, "sliding_window")) {
            return;
        }
        String value = c.get("sliding_window").asText();
        if (config == null) {
            out.add(new Feature("sliding window", value, verdict(null, error, "sliding_window", "layer_types"), ""));
            return;
        }
        int sliding = 0;
        for (int l = 0; l < config.numHiddenLayers(); l++) {
            sliding += config.layerSlidingWindow(l) == null ? 0 : 1;
        }
        if (sliding == 0) {
            out.add(new Feature("sliding window", value, Support.IGNORED, "no layer slides (as transformers reads"
                    + " use_sliding_window / max_window_layers / layer_types)"));
        } else {
            out.add(new Feature("sliding window", value + " in " + sliding + " of " + config.numHiddenLayers()
                    + " layers", Support.SUPPORTED, "attention limited to the window on both backends, blocks before"
                    + " it freed when every layer slides; RocketKV refused where the window is shorter than"
                    + " max_seq_len"));
        }
    }

    /** SUPPORTED when the config loaded; UNSUPPORTED when the refusal names one of {@code keys}; else NOT_CHECKED. */
    private static Support verdict(ModelConfig config, String error, String... keys) {
        if (config != null) {
            return Support.SUPPORTED;
        }
        for (String k : keys) {
            if (error != null && error.contains(k)) {
                return Support.UNSUPPORTED;
            }
        }
        return Support.NOT_CHECKED;
    }

    private static boolean present(JsonNode c, String key) {
        return c.has(key) && !c.get(key).isNull();
    }

    private static String text(JsonNode c, String key) {
        return present(c, key) ? c.get(key).asText() : null;
    }
}
