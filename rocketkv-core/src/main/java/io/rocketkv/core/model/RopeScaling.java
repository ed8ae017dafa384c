package io.rocketkv.core.model;

import java.util.List;

/**
 * The {@code rope_scaling} of a config. Only {@code "llama3"} is supported (Llama 3.1+); {@code "default"} or
 * {@code null} means no scaling and is represented by a {@code null} {@link ModelConfig#ropeScaling()}.
 *
 * @param type                          the rope type, {@value #LLAMA3}
 * @param factor                        how much longer than {@code originalMaxPositionEmbeddings} the context is
 * @param lowFreqFactor                 wavelengths above {@code original / lowFreqFactor} are divided by factor
 * @param highFreqFactor                wavelengths below {@code original / highFreqFactor} are kept
 * @param originalMaxPositionEmbeddings the context length the model was pre-trained with (8192 for Llama 3)
 */
public record RopeScaling(String type, double factor, double lowFreqFactor, double highFreqFactor,
                          int originalMaxPositionEmbeddings) {

    public static final String LLAMA3 = "llama3";
    /** Values of {@code rope_type} this library runs ({@code default} means none). */
    public static final List<String> SUPPORTED_TYPES = List.of("default", LLAMA3);

    public RopeScaling {
        if (!LLAMA3.equals(type)) {
            throw new UnsupportedModelException("rope_scaling type \"" + type + "\" is not supported; supported: "
                    + String.join(", ", SUPPORTED_TYPES) + " (linear, dynamic, yarn, longrope, ... are not)");
        }
        requirePositive("factor", factor);
        requirePositive("low_freq_factor", lowFreqFactor);
        requirePositive("high_freq_factor", highFreqFactor);
        if (!(highFreqFactor > lowFreqFactor)) {
            throw new IllegalArgumentException("rope_scaling.high_freq_factor = " + highFreqFactor
                    + " must be greater than low_freq_factor = " + lowFreqFactor);
        }
        if (originalMaxPositionEmbeddings <= 0) {
            throw new IllegalArgumentException("rope_scaling.original_max_position_embeddings = "
                    + originalMaxPositionEmbeddings + " must be > 0");
        }
    }

    /** Llama 3 scaling with the given parameters. */
    public static RopeScaling llama3(double factor, double lowFreqFactor, double highFreqFactor,
                                     int originalMaxPositionEmbeddings) {
        return new RopeScaling(LLAMA3, factor, lowFreqFactor, highFreqFactor, originalMaxPositionEmbeddings);
    }

    private static void requirePositive(String field, double value) {
        if (!(value > 0) || Double.isInfinite(value)) {
            throw new IllegalArgumentException("rope_scaling." + field + " = " + value + " must be finite and > 0");
        }
    }
}
