package io.rocketkv.api;

import java.util.Locale;

/**
 * Which {@code Kernels} implementation runs the model: the {@code backend} key of {@code extra_config.yaml}.
 *
 * <p>{@link #AUTO} (the default) picks CUDA when {@code libcuda.so.1} loads and a device exists, else the
 * pure-Java CPU backend. Naming {@link #CUDA} where no device exists is an error when the engine starts.
 *
 * <p>TensorRT-LLM's YAML files say {@code backend: pytorch} for its PyTorch backend; {@link #parse} accepts
 * {@code pytorch} as a synonym of {@code auto} so those files load unchanged.
 */
public enum Backend {
    /** CUDA when a device is present, else CPU. */
    AUTO,
    /** The pure-Java CPU backend (the reference implementation). */
    CPU,
    /** The CUDA backend; fails at engine start when no CUDA device is present. */
    CUDA;

    /** The synonym of {@link #AUTO} that TensorRT-LLM's YAML files use. */
    static final String PYTORCH_SYNONYM = "pytorch";

    /** The name used in YAML and on the command line: {@code "auto"}, {@code "cpu"} or {@code "cuda"}. */
    public String yamlName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /**
     * Parses {@code auto}, {@code cpu}, {@code cuda} or {@code pytorch} (= auto), ignoring case and surrounding
     * blanks.
     *
     * @throws ConfigException naming the {@code backend} field and listing the allowed names
     */
    public static Backend parse(String name) {
        if (name != null) {
            String lower = name.trim().toLowerCase(Locale.ROOT);
            if (lower.equals(PYTORCH_SYNONYM)) {
                return AUTO;
            }
            for (Backend b : values()) {
                if (b.yamlName().equals(lower)) {
                    return b;
                }
            }
        }
        throw ConfigException.invalid("backend", "backend",
                "one of auto, cpu, cuda (or pytorch, TensorRT-LLM's name, which means auto)", name);
    }
}
