package io.rocketkv.core.numeric;

import java.util.Locale;
import java.util.Optional;

/**
 * Element types of tensors, named as in the safetensors header ({@code "dtype": "BF16"}).
 */
public enum DType {
    F64("F64", 8, true),
    F32("F32", 4, true),
    F16("F16", 2, true),
    BF16("BF16", 2, true),
    /** OCP fp8 e4m3 "fn": no infinities, max finite 448. */
    F8_E4M3("F8_E4M3", 1, true),
    /** OCP fp8 e5m2: IEEE-like, max finite 57344, has inf and NaN. */
    F8_E5M2("F8_E5M2", 1, true),
    I64("I64", 8, false),
    I32("I32", 4, false),
    I16("I16", 2, false),
    I8("I8", 1, false),
    U8("U8", 1, false),
    BOOL("BOOL", 1, false);

    private final String safetensorsName;
    private final int byteSize;
    private final boolean floatingPoint;

    DType(String safetensorsName, int byteSize, boolean floatingPoint) {
        this.safetensorsName = safetensorsName;
        this.byteSize = byteSize;
        this.floatingPoint = floatingPoint;
    }

    /** The name used in safetensors headers, e.g. {@code "BF16"}. */
    public String safetensorsName() {
        return safetensorsName;
    }

    /** Bytes per element. */
    public int byteSize() {
        return byteSize;
    }

    public boolean isFloatingPoint() {
        return floatingPoint;
    }

    /** Looks up a safetensors dtype name ({@code "BF16"}, {@code "F8_E4M3"}, ...), case-sensitive as in the format. */
    public static Optional<DType> fromSafetensorsName(String name) {
        for (DType t : values()) {
            if (t.safetensorsName.equals(name)) {
                return Optional.of(t);
            }
        }
        return Optional.empty();
    }

    /**
     * Maps a Hugging Face {@code torch_dtype} / {@code dtype} string ({@code "bfloat16"}, {@code "float16"},
     * {@code "float32"}, {@code "float8_e5m2"}, ...) to a DType.
     */
    public static Optional<DType> fromTorchName(String name) {
        if (name == null) {
            return Optional.empty();
        }
        return switch (name.toLowerCase(Locale.ROOT).replace("torch.", "")) {
            case "float32", "float", "fp32" -> Optional.of(F32);
            case "float16", "half", "fp16" -> Optional.of(F16);
            case "bfloat16", "bf16" -> Optional.of(BF16);
            case "float64", "double" -> Optional.of(F64);
            case "float8_e4m3fn", "float8_e4m3" -> Optional.of(F8_E4M3);
            case "float8_e5m2" -> Optional.of(F8_E5M2);
            default -> Optional.empty();
        };
    }
}
