package io.rocketkv.core.testing;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rocketkv.core.model.Architecture;
import io.rocketkv.core.model.RopeScaling;
import io.rocketkv.core.numeric.DType;
import io.rocketkv.core.weights.SafeTensorsWriter;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;
import java.util.SplittableRandom;

/**
 * A small random Llama-family checkpoint in Hugging Face layout, for tests: {@code config.json},
 * {@code generation_config.json}, {@code model.safetensors} (HF tensor names), {@code tokenizer.json} and
 * {@code tokenizer_config.json} (a {@link TinyBpeTokenizer}). Same spec and seed, same bytes.
 *
 * <p>Weights: every matrix is {@code N(0, 1/sqrt(fan_in))} (fan_in = columns; about 0.02 at real widths, and
 * large enough at tiny ones that each layer keeps unit-scale activations and logits spread about ±1 instead of
 * being nearly uniform); norm weights {@code 1 + N(0, 0.05)} (Qwen3's per-head q/k norms {@code 1 + N(0, 0.2)});
 * biases {@code N(0, 0.1)}. Phi-3 writes q/k/v as one {@code self_attn.qkv_proj.weight} ([q; k; v] rows) and gate/up
 * as one {@code mlp.gate_up_proj.weight} ([gate; up] rows), each drawn as one matrix, and a config.json in the shape
 * of the published Phi-3 ones (no head_dim, a top-level {@code original_max_position_embeddings}, longrope in
 * {@code rope_scaling} under the older key {@code type}). Each tensor draws from its
 * own {@link SplittableRandom} seeded from {@code seed} and its name, so changing the layer count leaves the
 * other tensors alone. Bos/eos are the tokenizer's special tokens; rows of the embedding past the tokenizer's
 * size are padding.
 *
 * <pre>{@code
 * RandomCheckpoint.builder().architecture(Architecture.QWEN2).dtype(DType.BF16).tieEmbeddings(true).build()
 *     .write(tempDir);
 * }</pre>
 */
public record RandomCheckpoint(
        Architecture architecture,
        int vocabSize,
        int hiddenSize,
        int intermediateSize,
        int numLayers,
        int numHeads,
        int numKvHeads,
        int headDim,
        DType dtype,
        boolean tieEmbeddings,
        boolean attentionBias,
        double ropeTheta,
        RopeScaling ropeScaling, // nullable
        int maxPositions,
        double rmsNormEps,
        long seed,
        double partialRotaryFactor, // Phi-3 only: RoPE on the first head_dim * factor channels
        Integer slidingWindow) {    // Phi-3 only (the other architectures' windows: SlidingWindowCheckpoints)

    public RandomCheckpoint {
        Objects.requireNonNull(architecture, "architecture");
        if (vocabSize < TinyBpeTokenizer.size()) {
            throw new IllegalArgumentException("vocabSize = " + vocabSize + " must be >= the tokenizer's "
                    + TinyBpeTokenizer.size() + " ids");
        }
        if (hiddenSize <= 0 || intermediateSize <= 0 || numLayers <= 0 || numHeads <= 0 || numKvHeads <= 0
                || headDim <= 0 || headDim % 2 != 0 || maxPositions <= 0 || numHeads % numKvHeads != 0) {
            throw new IllegalArgumentException("bad sizes: " + this);
        }
        if (dtype != DType.F32 && dtype != DType.BF16 && dtype != DType.F16) {
            throw new IllegalArgumentException("dtype = " + dtype + " must be F32, BF16 or F16");
        }
        if (architecture == Architecture.QWEN2 && !attentionBias) {
            throw new IllegalArgumentException("Qwen2 always has q/k/v biases (transformers ignores the flag)");
        }
        if ((architecture == Architecture.MISTRAL || architecture == Architecture.PHI3) && attentionBias) {
            throw new IllegalArgumentException(architecture.className() + " has no attention biases");
        }
        if (architecture != Architecture.PHI3 && (partialRotaryFactor != 1.0 || slidingWindow != null)) {
            throw new IllegalArgumentException("partial rotary and a sliding window are written for Phi-3 only");
        }
        if (architecture == Architecture.PHI3 && headDim * numHeads != hiddenSize) {
            throw new IllegalArgumentException("Phi-3 configs have no head_dim: it must be hidden / heads");
        }
        if (architecture == Architecture.PHI3 && ropeScaling != null && !(ropeScaling instanceof RopeScaling.LongRope)) {
            throw new IllegalArgumentException("Phi-3 takes longrope only (Phi3Config), not " + ropeScaling.type());
        }
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The default tiny Llama: vocab 320, hidden 64, 2 layers, 4 heads, 2 KV heads, head_dim 16, F32. */
    public static RandomCheckpoint tiny() {
        return builder().build();
    }

    /** Writes all files into {@code dir} (created if needed) and returns {@code dir}. */
    public Path write(Path dir) throws IOException {
        Files.createDirectories(dir);
        ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        json.writeValue(dir.resolve("config.json").toFile(), config(json));
        ObjectNode generation = json.createObjectNode();
        generation.put("_from_model_config", true);
        generation.put("bos_token_id", TinyBpeTokenizer.bosId());
        generation.put("eos_token_id", TinyBpeTokenizer.eosId());
        json.writeValue(dir.resolve("generation_config.json").toFile(), generation);
        weights().write(dir.resolve("model.safetensors"));
        TinyBpeTokenizer.write(dir, maxPositions);
        return dir;
    }

    /** The keys of {@code s} as a config.json's {@code rope_scaling} spells them. */
    private static void writeRopeScaling(ObjectNode r, RopeScaling s) {
        switch (s) {
            case RopeScaling.Linear l -> r.put("factor", l.factor());
            case RopeScaling.Dynamic d -> r.put("factor", d.factor());
            case RopeScaling.Yarn y -> {
                r.put("factor", y.factor());
                r.put("original_max_position_embeddings", y.originalMaxPositionEmbeddings());
                r.put("beta_fast", y.betaFast());
                r.put("beta_slow", y.betaSlow());
                r.put("truncate", y.truncate());
                putIfPresent(r, "attention_factor", y.attentionFactor());
                putIfPresent(r, "mscale", y.mscale());
                putIfPresent(r, "mscale_all_dim", y.mscaleAllDim());
            }
            case RopeScaling.LongRope l -> {
                l.shortFactor().forEach(r.putArray("short_factor")::add);
                l.longFactor().forEach(r.putArray("long_factor")::add);
                r.put("factor", l.factor());
                putIfPresent(r, "attention_factor", l.attentionFactor());
                r.put("original_max_position_embeddings", l.originalMaxPositionEmbeddings());
            }
            case RopeScaling.Llama3 l -> {
                r.put("factor", l.factor());
                r.put("high_freq_factor", l.highFreqFactor());
                r.put("low_freq_factor", l.lowFreqFactor());
                r.put("original_max_position_embeddings", l.originalMaxPositionEmbeddings());
            }
        }
        r.put("rope_type", s.type());
    }

    private static void putIfPresent(ObjectNode r, String field, Double value) {
        if (value != null) {
            r.put(field, value);
        }
    }

    private ObjectNode config(ObjectMapper json) {
        ObjectNode c = json.createObjectNode();
        c.putArray("architectures").add(architecture.className());
        c.put("model_type", architecture.modelType());
        if (architecture == Architecture.LLAMA) {
            c.put("attention_bias", attentionBias);
            c.put("mlp_bias", false);
        }
        if (architecture == Architecture.QWEN3) {
            c.put("attention_bias", attentionBias);
        }
        c.put("attention_dropout", 0.0);
        c.put("bos_token_id", TinyBpeTokenizer.bosId());
        c.put("eos_token_id", TinyBpeTokenizer.eosId());
        if (architecture == Architecture.PHI3) {
            phi3Config(c);
        } else {
            c.put("head_dim", headDim);
        }
        c.put("hidden_act", "silu");
        c.put("hidden_size", hiddenSize);
        c.put("initializer_range", 0.02);
        c.put("intermediate_size", intermediateSize);
        c.put("max_position_embeddings", maxPositions);
        c.put("num_attention_heads", numHeads);
        c.put("num_hidden_layers", numLayers);
        c.put("num_key_value_heads", numKvHeads);
        c.put("rms_norm_eps", rmsNormEps);
        if (ropeScaling == null) {
            c.putNull("rope_scaling");
        } else if (architecture == Architecture.PHI3) {
            phi3RopeScaling(c.putObject("rope_scaling"), (RopeScaling.LongRope) ropeScaling);
        } else {
            writeRopeScaling(c.putObject("rope_scaling"), ropeScaling);
        }
        c.put("rope_theta", ropeTheta);
        if (architecture == Architecture.QWEN2 || architecture == Architecture.QWEN3) {
            c.put("max_window_layers", numLayers);
            c.put("use_sliding_window", false);
        }
        if (architecture == Architecture.PHI3 && slidingWindow != null) {
            c.put("sliding_window", slidingWindow);
        } else if (architecture != Architecture.LLAMA) {
            c.putNull("sliding_window");
        }
        c.put("tie_word_embeddings", tieEmbeddings);
        c.put("torch_dtype", switch (dtype) {
            case BF16 -> "bfloat16";
            case F16 -> "float16";
            default -> "float32";
        });
        c.put("use_cache", true);
        c.put("vocab_size", vocabSize);
        return c;
    }

    /** Phi3Config's own keys (dropouts read only in training; pad_token_id must be in the vocabulary). */
    private void phi3Config(ObjectNode c) {
        c.put("embd_pdrop", 0.0);
        c.put("resid_pdrop", 0.0);
        c.put("pad_token_id", TinyBpeTokenizer.eosId());
        c.put("original_max_position_embeddings", ropeScaling instanceof RopeScaling.LongRope l
                ? l.originalMaxPositionEmbeddings() : maxPositions);
        if (partialRotaryFactor != 1.0) {
            c.put("partial_rotary_factor", partialRotaryFactor);
        }
    }

    /**
     * Longrope as Phi-3's configs write it: the factors and {@code "type": "longrope"}; the original context is the
     * top-level key, the factor left to its default (max_position_embeddings / original) when it is that.
     */
    private void phi3RopeScaling(ObjectNode r, RopeScaling.LongRope l) {
        l.longFactor().forEach(r.putArray("long_factor")::add);
        l.shortFactor().forEach(r.putArray("short_factor")::add);
        if (l.factor() != (double) maxPositions / l.originalMaxPositionEmbeddings()) {
            r.put("factor", l.factor());
        }
        putIfPresent(r, "attention_factor", l.attentionFactor());
        r.put("type", l.type());
    }

    /** The weights as a writer (not yet written), for tests that want to alter or shard them. */
    public SafeTensorsWriter weights() {
        SafeTensorsWriter w = new SafeTensorsWriter().metadata("format", "pt");
        int qDim = numHeads * headDim;
        int kvDim = numKvHeads * headDim;
        matrix(w, "model.embed_tokens.weight", vocabSize, hiddenSize);
        for (int i = 0; i < numLayers; i++) {
            String p = "model.layers." + i + ".";
            norm(w, p + "input_layernorm.weight", hiddenSize);
            if (architecture == Architecture.PHI3) {
                matrix(w, p + "self_attn.qkv_proj.weight", qDim + 2 * kvDim, hiddenSize);
            } else {
                matrix(w, p + "self_attn.q_proj.weight", qDim, hiddenSize);
                matrix(w, p + "self_attn.k_proj.weight", kvDim, hiddenSize);
                matrix(w, p + "self_attn.v_proj.weight", kvDim, hiddenSize);
            }
            matrix(w, p + "self_attn.o_proj.weight", hiddenSize, qDim);
            if (attentionBias) {
                bias(w, p + "self_attn.q_proj.bias", qDim);
                bias(w, p + "self_attn.k_proj.bias", kvDim);
                bias(w, p + "self_attn.v_proj.bias", kvDim);
                if (architecture == Architecture.LLAMA || architecture == Architecture.QWEN3) { // o_proj too
                    bias(w, p + "self_attn.o_proj.bias", hiddenSize);
                }
            }
            if (architecture == Architecture.QWEN3) {
                headNorm(w, p + "self_attn.q_norm.weight");
                headNorm(w, p + "self_attn.k_norm.weight");
            }
            norm(w, p + "post_attention_layernorm.weight", hiddenSize);
            if (architecture == Architecture.PHI3) {
                matrix(w, p + "mlp.gate_up_proj.weight", 2 * intermediateSize, hiddenSize);
            } else {
                matrix(w, p + "mlp.gate_proj.weight", intermediateSize, hiddenSize);
                matrix(w, p + "mlp.up_proj.weight", intermediateSize, hiddenSize);
            }
            matrix(w, p + "mlp.down_proj.weight", hiddenSize, intermediateSize);
        }
        norm(w, "model.norm.weight", hiddenSize);
        if (!tieEmbeddings) {
            matrix(w, "lm_head.weight", vocabSize, hiddenSize);
        }
        return w;
    }

    private void matrix(SafeTensorsWriter w, String name, int rows, int cols) {
        w.add(name, dtype, new long[] {rows, cols}, gaussian(name, Math.multiplyExact(rows, cols), 0.0, 1.0 / Math.sqrt(cols)));
    }

    private void norm(SafeTensorsWriter w, String name, int size) {
        w.add(name, dtype, new long[] {size}, gaussian(name, size, 1.0, 0.05));
    }

    /**
     * A per-head q/k norm weight [head_dim]: {@code 1 + N(0, 0.2)}, spread wider than the other norms so that a
     * norm applied after RoPE instead of before it, or q's and k's swapped, moves the logits well past the parity
     * tolerance.
     */
    private void headNorm(SafeTensorsWriter w, String name) {
        w.add(name, dtype, new long[] {headDim}, gaussian(name, headDim, 1.0, 0.2));
    }

    private void bias(SafeTensorsWriter w, String name, int size) {
        w.add(name, dtype, new long[] {size}, gaussian(name, size, 0.0, 0.1));
    }

    /** {@code n} draws of N(mean, std) by Box–Muller from a stream seeded by {@code seed} and {@code name}. */
    private float[] gaussian(String name, int n, double mean, double std) {
        long s = seed;
        for (int i = 0; i < name.length(); i++) {
            s = s * 1_000_003L + name.charAt(i);
        }
        SplittableRandom random = new SplittableRandom(s);
        float[] out = new float[n];
        for (int i = 0; i < n; i += 2) {
            double radius = Math.sqrt(-2 * Math.log(1 - random.nextDouble())); // 1 - u is in (0, 1]
            double angle = 2 * Math.PI * random.nextDouble();
            out[i] = (float) (mean + std * radius * Math.cos(angle));
            if (i + 1 < n) {
                out[i + 1] = (float) (mean + std * radius * Math.sin(angle));
            }
        }
        return out;
    }

    /** Builder with the {@link #tiny()} defaults; architecture-specific defaults for the bias. */
    public static final class Builder {
        private Architecture architecture = Architecture.LLAMA;
        private int vocabSize = 320;
        private int hiddenSize = 64;
        private int intermediateSize = 128;
        private int numLayers = 2;
        private int numHeads = 4;
        private int numKvHeads = 2;
        private int headDim = 16;
        private DType dtype = DType.F32;
        private boolean tieEmbeddings;
        private Boolean attentionBias; // null: Qwen2 true, others false
        private double ropeTheta = 10000.0;
        private RopeScaling ropeScaling;
        private int maxPositions = 256;
        private double rmsNormEps = 1e-5;
        private long seed = 42;
        private double partialRotaryFactor = 1.0;
        private Integer slidingWindow;

        private Builder() {}

        public Builder architecture(Architecture v) { architecture = v; return this; }
        public Builder vocabSize(int v) { vocabSize = v; return this; }
        public Builder hiddenSize(int v) { hiddenSize = v; return this; }
        public Builder intermediateSize(int v) { intermediateSize = v; return this; }
        public Builder numLayers(int v) { numLayers = v; return this; }
        public Builder numHeads(int v) { numHeads = v; return this; }
        public Builder numKvHeads(int v) { numKvHeads = v; return this; }
        public Builder headDim(int v) { headDim = v; return this; }
        public Builder dtype(DType v) { dtype = v; return this; }
        public Builder tieEmbeddings(boolean v) { tieEmbeddings = v; return this; }
        public Builder attentionBias(boolean v) { attentionBias = v; return this; }
        public Builder ropeTheta(double v) { ropeTheta = v; return this; }
        public Builder ropeScaling(RopeScaling v) { ropeScaling = v; return this; }
        public Builder maxPositions(int v) { maxPositions = v; return this; }
        public Builder rmsNormEps(double v) { rmsNormEps = v; return this; }
        public Builder seed(long v) { seed = v; return this; }
        public Builder partialRotaryFactor(double v) { partialRotaryFactor = v; return this; }
        public Builder slidingWindow(Integer v) { slidingWindow = v; return this; }

        public RandomCheckpoint build() {
            boolean bias = attentionBias != null ? attentionBias : architecture == Architecture.QWEN2;
            return new RandomCheckpoint(architecture, vocabSize, hiddenSize, intermediateSize, numLayers, numHeads,
                    numKvHeads, headDim, dtype, tieEmbeddings, bias, ropeTheta, ropeScaling, maxPositions,
                    rmsNormEps, seed, partialRotaryFactor, slidingWindow);
        }
    }
}
