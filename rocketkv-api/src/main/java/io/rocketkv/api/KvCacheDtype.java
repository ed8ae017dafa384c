package io.rocketkv.api;

import io.rocketkv.core.numeric.DType;
import java.util.List;
import java.util.Locale;

/**
 * Element type of the paged KV cache: {@code kv_cache_config.dtype}, with TensorRT-LLM's names. Each backend stores
 * one type (the CPU float32, CUDA bfloat16); {@code auto} (the default, as in TensorRT-LLM) takes it, and a named
 * type must be the backend's (checked when the LLM is built). The quantized types TensorRT-LLM accepts
 * ({@code fp8}, {@code fp8_ds_mla}, {@code nvfp4}) and {@code float16} are refused with a message: no backend here
 * stores them yet.
 */
public enum KvCacheDtype {
    /** The backend's own type: bfloat16 on both (the CPU's default, {@code -Drocketkv.cpu.kvCacheDtype}). */
    AUTO("auto", null),
    /** bfloat16 (also written {@code bf16}): what both backends store by default. */
    BFLOAT16("bfloat16", DType.BF16),
    /** float32 (also written {@code fp32}): the CPU backend's exact reference cache; CUDA refuses it. */
    FLOAT32("float32", DType.F32);

    /** TensorRT-LLM's names that no backend here stores. */
    static final List<String> REFUSED = List.of("fp8", "fp8_ds_mla", "nvfp4", "float16", "fp16", "half");

    private static final String KEY = "kv_cache_config.dtype";

    private final String yamlName;
    private final DType dtype;

    KvCacheDtype(String yamlName, DType dtype) {
        this.yamlName = yamlName;
        this.dtype = dtype;
    }

    /** The YAML name: {@code auto}, {@code bfloat16} or {@code float32}. */
    public String yamlName() {
        return yamlName;
    }

    /** The tensor element type, or null for {@link #AUTO}. */
    public DType dtype() {
        return dtype;
    }

    /**
     * Parses a name, ignoring case: {@code auto}, {@code bfloat16}/{@code bf16}, {@code float32}/{@code fp32}.
     *
     * @throws ConfigException naming {@code kv_cache_config.dtype}; for {@code fp8} and the other quantized types,
     *                         saying that no backend stores them yet
     */
    public static KvCacheDtype parse(String name) {
        String lower = name == null ? "" : name.trim().toLowerCase(Locale.ROOT);
        switch (lower) {
            case "auto" -> {
                return AUTO;
            }
            case "bfloat16", "bf16" -> {
                return BFLOAT16;
            }
            case "float32", "fp32" -> {
                return FLOAT32;
            }
            default -> {
                if (REFUSED.contains(lower)) {
                    throw new ConfigException(KEY, KEY + " (dtype) " + ConfigException.show(name) + " is not"
                            + " supported yet: the KV cache is stored as float32 on the CPU and bfloat16 on CUDA (a"
                            + " quantized fp8 KV cache is planned); use auto");
                }
                throw ConfigException.invalid(KEY, "dtype", "one of auto, bfloat16 (bf16), float32 (fp32)", name);
            }
        }
    }

    /**
     * Checks this choice against what the backend stores.
     *
     * @param backendName  the backend's name, for the message
     * @param backendDtype the backend's KV cache element type
     * @return true when the backend stores this type (or this is {@link #AUTO}); false for {@link #BFLOAT16} on a
     *         float32 backend (the caller warns: the CPU keeps float32, which holds every bfloat16 value exactly)
     * @throws ConfigException for {@link #FLOAT32} on a backend that stores bfloat16
     */
    boolean checkBackend(String backendName, DType backendDtype) {
        if (dtype == null || dtype == backendDtype) {
            return true;
        }
        if (this == BFLOAT16 && backendDtype == DType.F32) {
            return false;
        }
        throw new ConfigException(KEY, KEY + " (dtype) " + yamlName + " is not what the " + backendName
                + " backend stores (" + backendDtype + "); use auto");
    }
}
