package io.rocketkv.cuda;

import java.util.Locale;

/**
 * Whether fp8 checkpoint weights run as fp8 GEMMs ({@link CublasLt#gemmFp8}: e4m3 weights and per-tensor e4m3
 * activations on fp8 tensor cores) or are dequantized to bf16 when they load: {@code -Drocketkv.cuda.fp8Gemm=auto}
 * (the default: fp8 where the device has fp8 tensor cores, compute capability 8.9 or newer, and cuBLASLt loads),
 * {@code on} (the same, and an error where either is missing) or {@code off} (always bf16). A weight with
 * per-channel scales, or whose sides are not multiples of 16, is dequantized to bf16 whatever this says.
 */
enum Fp8Gemm {
    AUTO, ON, OFF;

    static final String PROPERTY = "rocketkv.cuda.fp8Gemm";

    /** The setting the system property asks for ({@link #AUTO} when unset). */
    static Fp8Gemm requested() {
        String v = System.getProperty(PROPERTY, "auto").trim().toLowerCase(Locale.ROOT);
        return switch (v) {
            case "auto" -> AUTO;
            case "on", "true" -> ON;
            case "off", "false" -> OFF;
            default -> throw new IllegalArgumentException("-D" + PROPERTY + "=" + System.getProperty(PROPERTY)
                    + " is not one of auto, on, off");
        };
    }

    /**
     * Whether fp8 GEMMs run on a device of compute capability {@code smVersion} (major * 10 + minor) where cuBLASLt
     * {@code libraryLoads}.
     *
     * @throws IllegalStateException for {@link #ON} where they cannot
     */
    boolean enabled(int smVersion, boolean libraryLoads) {
        boolean can = smVersion >= 89 && libraryLoads;
        if (this == ON && !can) {
            throw new IllegalStateException("-D" + PROPERTY + "=on, but " + (smVersion < 89
                    ? "this device (sm_" + smVersion + ") has no fp8 tensor cores (sm_89 or newer)"
                    : "cuBLASLt (libcublasLt.so.13) could not be loaded") + "; use auto or off");
        }
        return this != OFF && can;
    }
}
