package io.rocketkv.core.model;

import java.util.Arrays;
import java.util.Optional;
import java.util.stream.Collectors;

/** The Llama-family architectures this library runs, as named in a Hugging Face {@code config.json}. */
public enum Architecture {
    /** Llama 1/2/3.x: optional {@code attention_bias} on q/k/v/o, optional {@code mlp_bias}. */
    LLAMA("LlamaForCausalLM", "llama"),
    /** Mistral: Llama without biases, with an optional sliding attention window. */
    MISTRAL("MistralForCausalLM", "mistral"),
    /** Qwen2 / Qwen2.5: q/k/v projections always have a bias, o_proj does not. */
    QWEN2("Qwen2ForCausalLM", "qwen2"),
    /**
     * Qwen3: each head's query and key are RMS-normed ({@code self_attn.q_norm}, {@code self_attn.k_norm}, weights
     * [head_dim]) after the projections and before RoPE; {@code attention_bias} (default false) covers q/k/v/o;
     * {@code head_dim} defaults to 128.
     */
    QWEN3("Qwen3ForCausalLM", "qwen3"),
    /**
     * Phi-3 / Phi-3.5 / Phi-4-mini: Llama without biases, q/k/v fused in {@code self_attn.qkv_proj.weight} ([q; k; v]
     * rows) and gate/up in {@code mlp.gate_up_proj.weight} ([gate; up] rows), split when the weights load;
     * {@code partial_rotary_factor} (RoPE on the first channels of each head), {@code sliding_window} on every
     * layer, RoPE {@code default} or {@code longrope} ({@code su} and {@code yarn} read as longrope).
     */
    PHI3("Phi3ForCausalLM", "phi3");

    private final String className;
    private final String modelType;

    Architecture(String className, String modelType) {
        this.className = className;
        this.modelType = modelType;
    }

    /** The transformers class name in {@code "architectures"}, e.g. {@code LlamaForCausalLM}. */
    public String className() {
        return className;
    }

    /** The {@code "model_type"} value, e.g. {@code llama}. */
    public String modelType() {
        return modelType;
    }

    public static Optional<Architecture> fromClassName(String name) {
        return Arrays.stream(values()).filter(a -> a.className.equals(name)).findFirst();
    }

    public static Optional<Architecture> fromModelType(String type) {
        return Arrays.stream(values()).filter(a -> a.modelType.equals(type)).findFirst();
    }

    /** "LlamaForCausalLM (llama), ..." for error messages. */
    public static String supported() {
        return Arrays.stream(values()).map(a -> a.className + " (" + a.modelType + ")")
                .collect(Collectors.joining(", "));
    }
}
