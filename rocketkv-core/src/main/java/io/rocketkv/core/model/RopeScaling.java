package io.rocketkv.core.model;

import java.util.List;

/**
 * The RoPE scaling of a config: {@code rope_scaling} (older checkpoints) or {@code rope_parameters} (transformers
 * v5), its kind under {@code rope_type} (or the older {@code type}). {@code "default"}, or no such field, means no
 * scaling and is a {@code null} {@link ModelConfig#ropeScaling()}. Defaults are resolved as transformers 5.18 resolves
 * them ({@code RopeScalingParser}); the frequencies are {@code ModelConfig.ropeTable()}'s.
 *
 * <p>The kinds and their keys:
 * <ul>
 *   <li>{@code linear} (position interpolation): {@code factor}.</li>
 *   <li>{@code dynamic} (NTK-aware): {@code factor}; the base grows with the sequence once it is longer than
 *       {@code max_position_embeddings}.</li>
 *   <li>{@code yarn}: {@code factor}, {@code original_max_position_embeddings}, optional {@code beta_fast} (32),
 *       {@code beta_slow} (1), {@code truncate} (true), {@code attention_factor}, {@code mscale},
 *       {@code mscale_all_dim}.</li>
 *   <li>{@code longrope}: {@code short_factor}, {@code long_factor} ({@code head_dim / 2} numbers each),
 *       {@code original_max_position_embeddings}, optional {@code factor}, {@code attention_factor}; the long
 *       factors apply once the sequence is longer than {@code original_max_position_embeddings}.</li>
 *   <li>{@code llama3}: {@code factor}, {@code low_freq_factor}, {@code high_freq_factor},
 *       {@code original_max_position_embeddings}.</li>
 * </ul>
 */
public sealed interface RopeScaling {

    String LINEAR = "linear";
    String DYNAMIC = "dynamic";
    String YARN = "yarn";
    String LONGROPE = "longrope";
    String LLAMA3 = "llama3";
    /** Values of {@code rope_type} this library runs ({@code default} means none). */
    List<String> SUPPORTED_TYPES = List.of("default", LINEAR, DYNAMIC, YARN, LONGROPE, LLAMA3);

    /** The {@code rope_type}. */
    String type();

    /** Whether the frequencies depend on the sequence's current length ({@code dynamic}, {@code longrope}). */
    default boolean dependsOnLength() {
        return false;
    }

    /** Position interpolation: every inverse frequency divided by {@code factor}. */
    record Linear(double factor) implements RopeScaling {
        public Linear {
            requirePositive("factor", factor);
        }

        @Override
        public String type() {
            return LINEAR;
        }
    }

    /** Dynamic NTK: past {@code max_position_embeddings} the base is rescaled by the sequence's length. */
    record Dynamic(double factor) implements RopeScaling {
        public Dynamic {
            requirePositive("factor", factor);
        }

        @Override
        public String type() {
            return DYNAMIC;
        }

        @Override
        public boolean dependsOnLength() {
            return true;
        }
    }

    /**
     * YaRN, with its defaults resolved: {@code factor} (absent: max_position_embeddings / original),
     * {@code betaFast} (absent or 0: 32), {@code betaSlow} (absent or 0: 1), {@code truncate} (absent: true).
     *
     * @param attentionFactor the multiplier of cos and sin, or {@code null} to derive it from factor and mscale
     * @param mscale          {@code mscale}, or {@code null}
     * @param mscaleAllDim    {@code mscale_all_dim}, or {@code null}
     */
    record Yarn(double factor, int originalMaxPositionEmbeddings, Double attentionFactor, double betaFast,
                double betaSlow, Double mscale, Double mscaleAllDim, boolean truncate) implements RopeScaling {
        public Yarn {
            requirePositive("factor", factor);
            requirePositive("original_max_position_embeddings", originalMaxPositionEmbeddings);
            if (attentionFactor != null) {
                requirePositive("attention_factor", attentionFactor);
            }
            requirePositive("beta_fast", betaFast);
            requirePositive("beta_slow", betaSlow);
            requireFinite("mscale", mscale);
            requireFinite("mscale_all_dim", mscaleAllDim);
        }

        @Override
        public String type() {
            return YARN;
        }
    }

    /**
     * LongRoPE (Phi-3): per-frequency divisors, {@code shortFactor} up to {@code originalMaxPositionEmbeddings}
     * tokens, {@code longFactor} beyond.
     *
     * @param factor          {@code factor} (absent: max_position_embeddings / original), for the attention factor
     * @param attentionFactor the multiplier of cos and sin, or {@code null} to derive it from factor
     */
    record LongRope(List<Double> shortFactor, List<Double> longFactor, double factor, Double attentionFactor,
                    int originalMaxPositionEmbeddings) implements RopeScaling {
        public LongRope {
            shortFactor = List.copyOf(shortFactor);
            longFactor = List.copyOf(longFactor);
            requireFactors("short_factor", shortFactor);
            requireFactors("long_factor", longFactor);
            requirePositive("factor", factor);
            if (attentionFactor != null) {
                requirePositive("attention_factor", attentionFactor);
            }
            requirePositive("original_max_position_embeddings", originalMaxPositionEmbeddings);
        }

        @Override
        public String type() {
            return LONGROPE;
        }

        @Override
        public boolean dependsOnLength() {
            return true;
        }
    }

    /**
     * Llama 3.1+.
     *
     * @param factor                        how much longer than {@code originalMaxPositionEmbeddings} the context is
     * @param lowFreqFactor                 wavelengths above {@code original / lowFreqFactor} are divided by factor
     * @param highFreqFactor                wavelengths below {@code original / highFreqFactor} are kept
     * @param originalMaxPositionEmbeddings the context length the model was pre-trained with (8192 for Llama 3)
     */
    record Llama3(double factor, double lowFreqFactor, double highFreqFactor, int originalMaxPositionEmbeddings)
            implements RopeScaling {
        public Llama3 {
            requirePositive("factor", factor);
            requirePositive("low_freq_factor", lowFreqFactor);
            requirePositive("high_freq_factor", highFreqFactor);
            if (!(highFreqFactor > lowFreqFactor)) {
                throw new IllegalArgumentException("rope_scaling.high_freq_factor = " + highFreqFactor
                        + " must be greater than low_freq_factor = " + lowFreqFactor);
            }
            requirePositive("original_max_position_embeddings", originalMaxPositionEmbeddings);
        }

        @Override
        public String type() {
            return LLAMA3;
        }
    }

    /** Llama 3 scaling with the given parameters. */
    static Llama3 llama3(double factor, double lowFreqFactor, double highFreqFactor, int originalMaxPositionEmbeddings) {
        return new Llama3(factor, lowFreqFactor, highFreqFactor, originalMaxPositionEmbeddings);
    }

    /** The message for a {@code rope_type} this library does not run. */
    static String unsupportedType(String type) {
        return "rope_scaling type \"" + type + "\" is not supported; supported: " + String.join(", ", SUPPORTED_TYPES);
    }

    private static void requirePositive(String field, double value) {
        if (!(value > 0) || Double.isInfinite(value)) {
            throw new IllegalArgumentException("rope_scaling." + field + " = " + value + " must be finite and > 0");
        }
    }

    private static void requireFinite(String field, Double value) {
        if (value != null && !Double.isFinite(value)) {
            throw new IllegalArgumentException("rope_scaling." + field + " = " + value + " must be finite");
        }
    }

    private static void requireFactors(String field, List<Double> factors) {
        if (factors.isEmpty()) {
            throw new IllegalArgumentException("rope_scaling." + field + " must not be empty");
        }
        for (int i = 0; i < factors.size(); i++) {
            double f = factors.get(i);
            if (!(f > 0) || Double.isInfinite(f)) {
                throw new IllegalArgumentException("rope_scaling." + field + "[" + i + "] = " + f
                        + " must be finite and > 0");
            }
        }
    }
}
