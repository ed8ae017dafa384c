package io.rocketkv.core.model;

import io.rocketkv.core.kernels.RopeTable;
import io.rocketkv.core.numeric.DType;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * The shape and hyper-parameters of a Llama-family model, from a Hugging Face {@code config.json} (and
 * {@code generation_config.json}). Built by {@link #load}; validated on construction.
 *
 * @param architecture          which of the supported architectures
 * @param hiddenSize            model width ({@code hidden_size})
 * @param intermediateSize      MLP width ({@code intermediate_size})
 * @param numHiddenLayers       decoder layers
 * @param numAttentionHeads     query heads
 * @param numKeyValueHeads      key/value heads (GQA); {@code num_attention_heads} when the config has none
 * @param headDim               width of one head: {@code head_dim}, or {@code hidden_size / num_attention_heads}
 *                              (Qwen3: 128, {@code Qwen3Config}'s default)
 * @param rmsNormEps            epsilon of every RMSNorm
 * @param ropeTheta             RoPE base ({@code rope_theta}, default 10000)
 * @param ropeScaling           RoPE scaling ({@code rope_scaling} / {@code rope_parameters}), or {@code null} for none
 * @param maxPositionEmbeddings longest context the model supports
 * @param vocabSize             rows of the embedding and of {@code lm_head}
 * @param tieWordEmbeddings     {@code lm_head} shares the embedding matrix (no {@code lm_head.weight} tensor)
 * @param attentionBias         attention projections have biases: q/k/v for Qwen2, q/k/v/o for Llama and Qwen3
 * @param mlpBias               gate/up/down projections have biases (Llama {@code mlp_bias})
 * @param bosTokenId            beginning-of-sequence token, or {@code null}
 * @param eosTokenIds           end-of-sequence tokens (generation_config.json wins over config.json); may be empty
 * @param torchDtype            dtype the weights were saved in ({@code dtype} / {@code torch_dtype}), or {@code null}
 * @param slidingWindow         attention window of the sliding layers (Mistral; Qwen2 and Qwen3 when
 *                              {@code use_sliding_window}), or {@code null}: a query at position p sees the keys at
 *                              positions {@code > p − window}
 * @param quantization          {@code quantization_config}: {@link QuantizationConfig#NONE}, or fp8 weights
 * @param slidingLayers         per layer, whether it attends within {@code slidingWindow} ({@code layer_types[i] ==
 *                              "sliding_attention"}); {@code null} means every layer when there is a window. All
 *                              false without a window (transformers then attends fully whatever layer_types says)
 * @param rotaryDim             channels of each head that RoPE rotates, the first ones ({@code int(head_dim *
 *                              partial_rotary_factor)}, Phi-3 family; {@code headDim} for every other architecture):
 *                              channel i pairs with i + rotaryDim / 2, the channels from rotaryDim on pass unrotated
 */
public record ModelConfig(
        Architecture architecture,
        int hiddenSize,
        int intermediateSize,
        int numHiddenLayers,
        int numAttentionHeads,
        int numKeyValueHeads,
        int headDim,
        double rmsNormEps,
        double ropeTheta,
        RopeScaling ropeScaling,
        int maxPositionEmbeddings,
        int vocabSize,
        boolean tieWordEmbeddings,
        boolean attentionBias,
        boolean mlpBias,
        Integer bosTokenId,
        List<Integer> eosTokenIds,
        DType torchDtype,
        Integer slidingWindow,
        QuantizationConfig quantization,
        List<Boolean> slidingLayers,
        int rotaryDim) {

    public static final String CONFIG_FILE = "config.json";
    public static final String GENERATION_CONFIG_FILE = "generation_config.json";

    /** An unquantized model ({@link QuantizationConfig#NONE}). */
    public ModelConfig(Architecture architecture, int hiddenSize, int intermediateSize, int numHiddenLayers,
                       int numAttentionHeads, int numKeyValueHeads, int headDim, double rmsNormEps, double ropeTheta,
                       RopeScaling ropeScaling, int maxPositionEmbeddings, int vocabSize, boolean tieWordEmbeddings,
                       boolean attentionBias, boolean mlpBias, Integer bosTokenId, List<Integer> eosTokenIds,
                       DType torchDtype, Integer slidingWindow) {
        this(architecture, hiddenSize, intermediateSize, numHiddenLayers, numAttentionHeads, numKeyValueHeads,
                headDim, rmsNormEps, ropeTheta, ropeScaling, maxPositionEmbeddings, vocabSize, tieWordEmbeddings,
                attentionBias, mlpBias, bosTokenId, eosTokenIds, torchDtype, slidingWindow, QuantizationConfig.NONE);
    }

    /** Every layer slides when there is a window (Mistral's rule). */
    public ModelConfig(Architecture architecture, int hiddenSize, int intermediateSize, int numHiddenLayers,
                       int numAttentionHeads, int numKeyValueHeads, int headDim, double rmsNormEps, double ropeTheta,
                       RopeScaling ropeScaling, int maxPositionEmbeddings, int vocabSize, boolean tieWordEmbeddings,
                       boolean attentionBias, boolean mlpBias, Integer bosTokenId, List<Integer> eosTokenIds,
                       DType torchDtype, Integer slidingWindow, QuantizationConfig quantization) {
        this(architecture, hiddenSize, intermediateSize, numHiddenLayers, numAttentionHeads, numKeyValueHeads,
                headDim, rmsNormEps, ropeTheta, ropeScaling, maxPositionEmbeddings, vocabSize, tieWordEmbeddings,
                attentionBias, mlpBias, bosTokenId, eosTokenIds, torchDtype, slidingWindow, quantization, null);
    }

    /** RoPE over the whole of each head ({@code rotaryDim == headDim}). */
    public ModelConfig(Architecture architecture, int hiddenSize, int intermediateSize, int numHiddenLayers,
                       int numAttentionHeads, int numKeyValueHeads, int headDim, double rmsNormEps, double ropeTheta,
                       RopeScaling ropeScaling, int maxPositionEmbeddings, int vocabSize, boolean tieWordEmbeddings,
                       boolean attentionBias, boolean mlpBias, Integer bosTokenId, List<Integer> eosTokenIds,
                       DType torchDtype, Integer slidingWindow, QuantizationConfig quantization,
                       List<Boolean> slidingLayers) {
        this(architecture, hiddenSize, intermediateSize, numHiddenLayers, numAttentionHeads, numKeyValueHeads,
                headDim, rmsNormEps, ropeTheta, ropeScaling, maxPositionEmbeddings, vocabSize, tieWordEmbeddings,
                attentionBias, mlpBias, bosTokenId, eosTokenIds, torchDtype, slidingWindow, quantization,
                slidingLayers, headDim);
    }

    public ModelConfig {
        Objects.requireNonNull(architecture, "architecture");
        Objects.requireNonNull(quantization, "quantization");
        requirePositive("hidden_size", hiddenSize);
        requirePositive("intermediate_size", intermediateSize);
        requirePositive("num_hidden_layers", numHiddenLayers);
        requirePositive("num_attention_heads", numAttentionHeads);
        requirePositive("num_key_value_heads", numKeyValueHeads);
        if (numAttentionHeads % numKeyValueHeads != 0) {
            throw new IllegalArgumentException("num_attention_heads = " + numAttentionHeads
                    + " must be a multiple of num_key_value_heads = " + numKeyValueHeads);
        }
        requirePositive("head_dim", headDim);
        if (headDim % 2 != 0) {
            throw new IllegalArgumentException("head_dim = " + headDim + " must be even (RoPE rotates pairs)");
        }
        if (!(rmsNormEps > 0) || Double.isInfinite(rmsNormEps)) {
            throw new IllegalArgumentException("rms_norm_eps = " + rmsNormEps + " must be finite and > 0");
        }
        if (!(ropeTheta > 1) || Double.isInfinite(ropeTheta)) {
            throw new IllegalArgumentException("rope_theta = " + ropeTheta + " must be finite and > 1");
        }
        if (rotaryDim < 2 || rotaryDim > headDim || rotaryDim % 2 != 0) {
            throw new IllegalArgumentException("the rotary dimension (head_dim * partial_rotary_factor) = " + rotaryDim
                    + " must be even and in [2, head_dim = " + headDim + "]");
        }
        requirePositive("max_position_embeddings", maxPositionEmbeddings);
        if (ropeScaling instanceof RopeScaling.LongRope l) {
            requireLength("rope_scaling.short_factor", l.shortFactor().size(), headDim, rotaryDim);
            requireLength("rope_scaling.long_factor", l.longFactor().size(), headDim, rotaryDim);
        }
        requirePositive("vocab_size", vocabSize);
        if (bosTokenId != null) {
            requireToken("bos_token_id", bosTokenId, vocabSize);
        }
        eosTokenIds = List.copyOf(eosTokenIds);
        for (int eos : eosTokenIds) {
            requireToken("eos_token_id", eos, vocabSize);
        }
        if (slidingWindow != null) {
            requirePositive("sliding_window", slidingWindow);
        }
        if (slidingLayers != null && slidingLayers.size() != numHiddenLayers) {
            throw new IllegalArgumentException("layer_types has " + slidingLayers.size() + " entries, num_hidden_layers = "
                    + numHiddenLayers);
        }
        Boolean[] slides = new Boolean[numHiddenLayers];
        for (int i = 0; i < numHiddenLayers; i++) {
            slides[i] = slidingWindow != null && (slidingLayers == null || slidingLayers.get(i));
        }
        slidingLayers = List.of(slides);
    }

    /** Reads {@code dir/config.json} and, when present, {@code dir/generation_config.json}. */
    public static ModelConfig load(Path dir) {
        return ModelConfigParser.load(dir);
    }

    /**
     * Parses config JSON text ({@code generationConfigJson} may be {@code null}); errors name "config.json".
     */
    public static ModelConfig parse(String configJson, String generationConfigJson) {
        return ModelConfigParser.parse(configJson, generationConfigJson);
    }

    /** The attention window of layer {@code layer}, or {@code null} when it attends fully. */
    public Integer layerSlidingWindow(int layer) {
        return slidingLayers.get(layer) ? slidingWindow : null;
    }

    /**
     * The window past which every layer's keys may leave the KV cache: {@code sliding_window} when every layer
     * slides, else 0 (a full-attention layer reads every key, and all layers share the cache's blocks).
     */
    public int kvReleaseWindow() {
        return slidingWindow != null && !slidingLayers.contains(false) ? slidingWindow : 0;
    }

    /** Whether some layer's window is shorter than {@code maxSeqLen}, so that it changes what a query sees. */
    public boolean slidingWindowBinds(int maxSeqLen) {
        return slidingWindow != null && slidingWindow < maxSeqLen && slidingLayers.contains(true);
    }

    /**
     * Refuses RocketKV where a window binds ({@link #slidingWindowBinds}): RocketKV's stage 1 keeps tokens of the
     * whole prompt and its stage 2 selects pages of the whole cache, so it has no rule for keys leaving a window.
     *
     * @throws IllegalArgumentException naming {@code sliding_window}, {@code max_seq_len} and the ways out
     */
    public void checkRocketKv(int maxSeqLen) {
        if (slidingWindowBinds(maxSeqLen)) {
            throw new IllegalArgumentException("RocketKV sparse attention is not available for a model with "
                    + "sliding-window attention: its sliding_window (config.json) is " + slidingWindow
                    + ", shorter than max_seq_len " + maxSeqLen + "; drop the sparse attention config (dense "
                    + "attention honours the window) or set max_seq_len <= " + slidingWindow);
        }
    }

    /** {@code ropeScaling} as an Optional. */
    public Optional<RopeScaling> ropeScalingIfAny() {
        return Optional.ofNullable(ropeScaling);
    }

    /** Width of all query heads: {@code numAttentionHeads * headDim}. */
    public int qDim() {
        return numAttentionHeads * headDim;
    }

    /** Width of all key (or value) heads: {@code numKeyValueHeads * headDim}. */
    public int kvDim() {
        return numKeyValueHeads * headDim;
    }

    /** Query heads sharing one KV head (the GQA group size). */
    public int queriesPerKvHead() {
        return numAttentionHeads / numKeyValueHeads;
    }

    /** Whether q_proj, k_proj and v_proj have a {@code .bias} tensor. */
    public boolean qkvBias() {
        return attentionBias;
    }

    /** Whether o_proj has a {@code .bias} tensor (Llama and Qwen3 with {@code attention_bias}; never Qwen2). */
    public boolean oProjBias() {
        return attentionBias && (architecture == Architecture.LLAMA || architecture == Architecture.QWEN3);
    }

    /**
     * Whether each head's query and key are RMS-normed before RoPE ({@code self_attn.q_norm.weight} and
     * {@code self_attn.k_norm.weight}, [head_dim], epsilon {@code rms_norm_eps}): Qwen3.
     */
    public boolean qkNorm() {
        return architecture == Architecture.QWEN3;
    }

    /**
     * Whether q/k/v are one fused weight {@code self_attn.qkv_proj.weight} ([q; k; v] rows) and gate/up one
     * {@code mlp.gate_up_proj.weight} ([gate; up] rows), split when the weights load: Phi-3.
     */
    public boolean fusedProjections() {
        return architecture == Architecture.PHI3;
    }

    /**
     * RoPE inverse frequencies, {@code rotaryDim / 2} of them, as transformers computes them in float32 when it
     * builds the model (for {@code dynamic} and {@code longrope}: those of a sequence no longer than the original
     * context). See {@link RopeFrequencies}.
     */
    public float[] ropeInvFreq() {
        return RopeFrequencies.initial(this);
    }

    /** The rope table the forward pass rotates q and k with: frequencies per sequence length, attention factor. */
    public RopeTable ropeTable() {
        return RopeFrequencies.table(this);
    }

    private static void requireLength(String field, int length, int headDim, int rotaryDim) {
        if (length != rotaryDim / 2) {
            throw new IllegalArgumentException(field + " has " + length + " numbers; it needs "
                    + (rotaryDim == headDim ? "head_dim / 2" : "head_dim * partial_rotary_factor / 2") + " = "
                    + rotaryDim / 2);
        }
    }

    private static void requirePositive(String field, int value) {
        if (value <= 0) {
            throw new IllegalArgumentException(field + " = " + value + " must be > 0");
        }
    }

    private static void requireToken(String field, int id, int vocabSize) {
        if (id < 0 || id >= vocabSize) {
            throw new IllegalArgumentException(field + " = " + id + " must be in [0, vocab_size = " + vocabSize + ")");
        }
    }
}
