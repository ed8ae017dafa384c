package io.rocketkv.api;

import io.rocketkv.core.numeric.DType;
import java.util.List;
import java.util.Locale;

/**
 * Element type of the paged KV cache: {@code kv_cache_config.dtype}, with TensorRT-LLM's names. {@code auto} (the
 * default, as in TensorRT-LLM) takes the backend's own type (bfloat16 on both); a named type must be one the backend
 * stores (checked when the LLM is built): the CPU stores bfloat16, float32 and fp8 (e4m3 with the checkpoint's
 * per-layer k_scale / v_scale, 1.0 where it has none), CUDA bfloat16 and fp8. The other types TensorRT-LLM
 * accepts ({@code fp8_ds_mla}, {@code nvfp4}) and {@code float16} are refused with a message.
 */
public enum KvCacheDtype {
    /** The backend's own type: bfloat16 on both (the CPU's default, {@code -Drocketkv.cpu.kvCacheDtype}). */
    AUTO("auto", null),
    /** bfloat16 (also written {@code bf16}): what both backends store by default. */
    BFLOAT16("bfloat16", DType.BF16),
    /** float32 (also written {@code fp32}): the CPU backend's exact reference cache; CUDA refuses it. */
    FLOAT32("float32", DType.F32),
    /**
     * fp8 (e4m3, also written {@code fp8_e4m3}): a quarter of float32's bytes, half of bfloat16's; each layer's K
     * and V scaled by the checkpoint's {@code k_scale} / {@code v_scale} (1.0 where it has none). The CPU backend
     * and the CUDA backend store it, for dense attention and RocketKV.
     */
    FP8("fp8", DType.F8_E4M3);

    /** TensorRT-LLM's names that no backend here stores. */
    static final List<String> REFUSED = List.of("fp8_ds_mla", "nvfp4", "float16", "fp16", "half");

    private static final String KEY = "kv_cache_config.dtype";

    private final String yamlName;
    private final DType dtype;

    KvCacheDtype(String yamlName, DType dtype) {
        this.yamlName = yamlName;
        this.dtype = dtype;
    }

    /** The YAML name: {@code auto}, {@code bfloat16}, {@code float32} or {@code fp8}. */
    public String yamlName() {
        return yamlName;
    }

    /** The tensor element type, or null for {@link #AUTO}. */
    public DType dtype() {
        return dtype;
    }

    /**
     * Parses a name, ignoring case: {@code auto}, {@code bfloat16}/{@code bf16}, {@code float32}/{@code fp32},
     * {@code fp8}/{@code fp8_e4m3}.
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
            case "fp8", "fp8_e4m3" -> {
                return FP8;
            }
            default -> {
                if (REFUSED.contains(lower)) {
                    throw new ConfigException(KEY, KEY + " (dtype) " + ConfigException.show(name) + " is not"
                            + " supported: the KV cache is stored as bfloat16 (both backends), float32 or fp8 (the"
                            + " CPU); use auto, bfloat16, float32 or fp8");
                }
                throw ConfigException.invalid(KEY, "dtype", "one of auto, bfloat16 (bf16), float32 (fp32), fp8", name);
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
        if (this == FP8) {
            throw new ConfigException(KEY, KEY + " (dtype) fp8: the " + backendName + " backend does not store an fp8"
                    + " KV cache (it stores " + backendDtype + "); use auto or bfloat16");
        }
        throw new ConfigException(KEY, KEY + " (dtype) " + yamlName + " is not what the " + backendName
                + " backend stores (" + backendDtype + "); use auto");
    }
}
