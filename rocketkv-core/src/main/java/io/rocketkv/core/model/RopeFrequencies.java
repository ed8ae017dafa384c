package io.rocketkv.core.model;

import io.rocketkv.core.kernels.RopeTable;

import java.util.List;

/**
 * RoPE inverse frequencies and attention factors as transformers 5.18 computes them ({@code modeling_rope_utils.py},
 * CPU, float32). Each tensor operation there is one float32 operation here, Python scalars cast to float32 as torch
 * casts them, in the same order; Python float arithmetic stays in double. {@code RopeFrequenciesTest} checks every
 * kind against transformers' own values (within one ulp: a pow() of another library).
 *
 * <p>Default ({@code compute_default_rope_parameters}):
 * {@code inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))}. Everywhere
 * {@code dim} is {@link ModelConfig#rotaryDim()} ({@code int(head_dim * partial_rotary_factor)}, as transformers
 * takes it).
 */
final class RopeFrequencies {

    private RopeFrequencies() {
    }

    /** The table the model rotates with. */
    static RopeTable table(ModelConfig c) {
        RopeScaling s = c.ropeScaling();
        float[] initial = initial(c);
        float attention = (float) attentionFactor(c); // cos() * attention_scaling: a float32 product
        if (s == null) {
            return RopeTable.fixed("default", initial, attention);
        }
        return switch (s) {
            case RopeScaling.Dynamic d -> RopeTable.lengthDependent(s.type(), initial, attention,
                    c.maxPositionEmbeddings(), seqLen -> dynamic(c, d, seqLen));
            case RopeScaling.LongRope l -> {
                float[] longTable = longRope(c, l.longFactor());
                yield RopeTable.lengthDependent(s.type(), initial, attention, l.originalMaxPositionEmbeddings(),
                        seqLen -> longTable);
            }
            default -> RopeTable.fixed(s.type(), initial, attention);
        };
    }

    /** The table transformers builds with the model (dynamic, longrope: that of a short sequence). */
    static float[] initial(ModelConfig c) {
        RopeScaling s = c.ropeScaling();
        if (s == null) {
            return unscaled(c.ropeTheta(), c.rotaryDim());
        }
        return switch (s) {
            case RopeScaling.Linear l -> linear(c, l);
            case RopeScaling.Dynamic d -> unscaled(c.ropeTheta(), c.rotaryDim()); // seq_len <= max_position_embeddings
            case RopeScaling.Yarn y -> YarnFrequencies.invFreq(c.ropeTheta(), c.rotaryDim(), y);
            case RopeScaling.LongRope l -> longRope(c, l.shortFactor());
            case RopeScaling.Llama3 l -> llama3(c, l);
        };
    }

    /**
     * The multiplier of cos and sin ({@code attention_scaling}), in double as Python computes it: 1, but for yarn
     * ({@link YarnFrequencies#attentionFactor}) and longrope ({@code attention_factor}, else
     * {@code sqrt(1 + log(factor) / log(original_max_position_embeddings))} when factor > 1).
     */
    static double attentionFactor(ModelConfig c) {
        return switch (c.ropeScaling()) {
            case RopeScaling.Yarn y -> YarnFrequencies.attentionFactor(y);
            case RopeScaling.LongRope l -> l.attentionFactor() != null ? l.attentionFactor()
                    : l.factor() <= 1.0 ? 1.0
                    : Math.sqrt(1 + Math.log(l.factor()) / Math.log(l.originalMaxPositionEmbeddings()));
            case null, default -> 1.0;
        };
    }

    /** {@code base ** (arange(0, dim, 2).float() / dim)}: float32 exponents, a float32 power of the float32 base. */
    static float[] powers(float base, int dim) {
        float[] p = new float[dim / 2];
        for (int i = 0; i < p.length; i++) {
            float exponent = (float) (2 * i) / (float) dim;
            p[i] = (float) Math.pow(base, exponent);
        }
        return p;
    }

    static float[] unscaled(double base, int dim) {
        float[] inv = powers((float) base, dim);
        for (int i = 0; i < inv.length; i++) {
            inv[i] = 1.0f / inv[i];
        }
        return inv;
    }

    /** {@code _compute_linear_scaling_rope_parameters}: {@code inv_freq /= factor}. */
    private static float[] linear(ModelConfig c, RopeScaling.Linear l) {
        float[] inv = unscaled(c.ropeTheta(), c.rotaryDim());
        float factor = (float) l.factor();
        for (int i = 0; i < inv.length; i++) {
            inv[i] = inv[i] / factor;
        }
        return inv;
    }

    /**
     * {@code _compute_dynamic_ntk_parameters} for a sequence longer than max_position_embeddings, where
     * {@code seq_len} is a tensor ({@code dynamic_rope_update}: {@code torch.max(position_ids) + 1}), so the new base
     * is a float32 tensor:
     * <pre>
     * base = base * ((factor * seq_len / max_position_embeddings) - (factor - 1)) ** (dim / (dim - 2))
     * inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
     * </pre>
     */
    static float[] dynamic(ModelConfig c, RopeScaling.Dynamic d, int seqLen) {
        int dim = c.rotaryDim();
        int len = Math.max(seqLen, c.maxPositionEmbeddings());
        float scaled = (float) d.factor() * (float) len / (float) c.maxPositionEmbeddings() - (float) (d.factor() - 1);
        // tensor ** python float: torch raises the float32 value to the double exponent, then rounds to float32
        float grown = (float) Math.pow(scaled, (double) dim / (dim - 2));
        float base = (float) c.ropeTheta() * grown;
        float[] inv = powers(base, dim);
        for (int i = 0; i < inv.length; i++) {
            inv[i] = 1.0f / inv[i];
        }
        return inv;
    }

    /**
     * {@code _compute_longrope_parameters}:
     * {@code inv_freq = 1.0 / (ext_factors * base ** (torch.arange(0, dim, 2).float() / dim))}, the short or the
     * long factors as float32.
     */
    private static float[] longRope(ModelConfig c, List<Double> factors) {
        float[] inv = powers((float) c.ropeTheta(), c.rotaryDim());
        for (int i = 0; i < inv.length; i++) {
            inv[i] = 1.0f / (factors.get(i).floatValue() * inv[i]);
        }
        return inv;
    }

    /**
     * {@code _compute_llama3_parameters}, on top of the default:
     * <pre>
     * low_freq_wavelen = old_context_len / low_freq_factor
     * high_freq_wavelen = old_context_len / high_freq_factor
     * wavelen = 2 * math.pi / inv_freq
     * inv_freq_llama = torch.where(wavelen &gt; low_freq_wavelen, inv_freq / factor, inv_freq)
     * smooth_factor = (old_context_len / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
     * smoothed_inv_freq = (1 - smooth_factor) * inv_freq_llama / factor + smooth_factor * inv_freq_llama
     * is_medium_freq = ~(wavelen &lt; high_freq_wavelen) * ~(wavelen &gt; low_freq_wavelen)
     * inv_freq_llama = torch.where(is_medium_freq, smoothed_inv_freq, inv_freq_llama)
     * </pre>
     * {@code scalar / tensor} is {@code tensor.reciprocal() * scalar} in torch, and so it is here.
     */
    private static float[] llama3(ModelConfig c, RopeScaling.Llama3 s) {
        float[] inv = unscaled(c.ropeTheta(), c.rotaryDim());
        float factor = (float) s.factor();
        float low = (float) s.lowFreqFactor();
        float oldContext = s.originalMaxPositionEmbeddings();
        float lowFreqWavelen = (float) ((double) s.originalMaxPositionEmbeddings() / s.lowFreqFactor());
        float highFreqWavelen = (float) ((double) s.originalMaxPositionEmbeddings() / s.highFreqFactor());
        float highMinusLow = (float) (s.highFreqFactor() - s.lowFreqFactor());
        float twoPi = (float) (2 * Math.PI);
        for (int i = 0; i < inv.length; i++) {
            float wavelen = (1.0f / inv[i]) * twoPi;
            if (wavelen > lowFreqWavelen) {
                inv[i] = inv[i] / factor;
            } else if (!(wavelen < highFreqWavelen)) {
                float smooth = ((1.0f / wavelen) * oldContext - low) / highMinusLow;
                inv[i] = (1 - smooth) * inv[i] / factor + smooth * inv[i];
            }
        }
        return inv;
    }
}
