package io.rocketkv.core.model;

import java.util.List;

/**
 * What {@code config.json}'s {@code quantization_config} says about the weights: {@link #NONE}, or fp8 e4m3
 * weights written by one of the supported producers. Which tensors are fp8, and whether their scales are per
 * tensor or per channel, is read from the tensors themselves ({@link io.rocketkv.core.weights.Fp8Weights}); the
 * config is checked so that a layout this library does not run (block-wise fp8, int4, NVFP4, ...) is refused when
 * the config is read, naming the field.
 *
 * @param method the {@code quant_method} as written ({@code modelopt}, {@code fp8}, {@code compressed-tensors}), or
 *               null for an unquantized checkpoint
 * @param scheme what the producer calls the scheme ({@code FP8}, {@code FP8_PER_CHANNEL_PER_TOKEN},
 *               {@code activation_scheme static}, {@code float8 tensor}, ...), for messages and inspection; may be
 *               empty
 */
public record QuantizationConfig(String method, String scheme) {

    /** No {@code quantization_config}: every weight in F32, F16 or BF16. */
    public static final QuantizationConfig NONE = new QuantizationConfig(null, "");

    /** The {@code quant_method} values accepted (all of them fp8 e4m3 with per-tensor or per-channel scales). */
    public static final List<String> SUPPORTED_METHODS = List.of("modelopt", "fp8", "compressed-tensors");

    public QuantizationConfig {
        scheme = scheme == null ? "" : scheme;
        if (method != null && !SUPPORTED_METHODS.contains(method)) {
            throw new IllegalArgumentException("quant_method \"" + method + "\" is not one of " + SUPPORTED_METHODS);
        }
    }

    /** Whether the checkpoint declares fp8 weights. */
    public boolean fp8() {
        return method != null;
    }

    @Override
    public String toString() {
        return method == null ? "none" : "fp8 e4m3 (" + method + (scheme.isEmpty() ? "" : " " + scheme) + ")";
    }
}
