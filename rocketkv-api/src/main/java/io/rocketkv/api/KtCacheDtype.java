package io.rocketkv.api;

import io.rocketkv.core.numeric.DType;
import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * Element type of the RocketKV KT cache (the per-page min and max of the keys), the
 * {@code kt_cache_dtype} field of {@link RocketSparseAttentionConfig}. Values are stored by a plain
 * round-to-nearest cast with no scale factor; fp8 saturates at its largest finite value.
 */
public enum KtCacheDtype {
    /** OCP fp8 e5m2, one byte per value, max finite 57344. The default, as in TensorRT-LLM. */
    FLOAT8_E5M2("float8_e5m2", DType.F8_E5M2),
    /** bfloat16, two bytes per value. */
    BFLOAT16("bfloat16", DType.BF16);

    private final String yamlName;
    private final DType dtype;

    KtCacheDtype(String yamlName, DType dtype) {
        this.yamlName = yamlName;
        this.dtype = dtype;
    }

    /** The name used in YAML and by TensorRT-LLM: {@code "float8_e5m2"} or {@code "bfloat16"}. */
    public String yamlName() {
        return yamlName;
    }

    /** The tensor element type of the KT cache. */
    public DType dtype() {
        return dtype;
    }

    /** Bytes per stored value. */
    public int byteSize() {
        return dtype.byteSize();
    }

    /**
     * Parses a YAML name ({@code "float8_e5m2"}, {@code "bfloat16"}), ignoring case.
     *
     * @throws ConfigException naming {@code sparse_attention_config.kt_cache_dtype} and listing the allowed names
     */
    public static KtCacheDtype parse(String name) {
        if (name != null) {
            String lower = name.trim().toLowerCase(Locale.ROOT);
            for (KtCacheDtype t : values()) {
                if (t.yamlName.equals(lower)) {
                    return t;
                }
            }
        }
        throw ConfigException.invalid("sparse_attention_config.kt_cache_dtype", "ktCacheDtype",
                "one of " + allowedNames(), name);
    }

    /** The allowed YAML names, comma-separated. */
    static String allowedNames() {
        return Arrays.stream(values()).map(KtCacheDtype::yamlName).collect(Collectors.joining(", "));
    }
}
