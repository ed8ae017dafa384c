package io.rocketkv.core.model;

/**
 * The checkpoint is well formed but describes a model this library does not run: another architecture, an
 * activation other than SiLU, a RoPE scaling type not in {@link RopeScaling#SUPPORTED_TYPES}. The message names what was found
 * and what is supported. Unchecked, like {@link io.rocketkv.core.weights.CheckpointFormatException}.
 */
public class UnsupportedModelException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    public UnsupportedModelException(String message) {
        super(message);
    }
}
