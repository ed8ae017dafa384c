package io.rocketkv.cuda;

import java.util.Locale;

/**
 * Which prefill attention kernel runs for head dims 64 and 128 ({@code -Drocketkv.cuda.prefillKernel}); other head
 * dims always take v2. The Hopper kernels (v4, v5) need sm_90a code for the device, which
 * {@code attention_prefill_wgmma_probe} reports; where it is missing (sm_100, PTX, a plain sm_90 image) an explicit
 * {@code wgmma} or {@code ws} is refused.
 */
enum PrefillKernel {
    /**
     * The default: v3 on every device for now. v5 is to become the default where the device has sm_90a code once its
     * tests have run on a Hopper GPU (docs/cuda.md); until then it is opt-in ({@link #WS}).
     */
    AUTO("auto"),
    /** v3 ({@code prefill_mma.cuh}): mma.sync, portable to every target the fatbin has. */
    MMA("mma"),
    /** v4 ({@code prefill_wgmma.cuh}): wgmma, both warpgroups loading and computing in step. */
    WGMMA("wgmma"),
    /** v5 ({@code prefill_wgmma_ws.cuh}): wgmma, warp-specialised (a cp.async producer, two consumers in turn). */
    WS("ws");

    static final String PROPERTY = "rocketkv.cuda.prefillKernel";

    private final String key;

    PrefillKernel(String key) {
        this.key = key;
    }

    String key() {
        return key;
    }

    /** The kernel the system property asks for ({@link #AUTO} when unset). */
    static PrefillKernel requested() {
        String v = System.getProperty(PROPERTY, AUTO.key).trim().toLowerCase(Locale.ROOT);
        for (PrefillKernel k : values()) {
            if (k.key.equals(v)) {
                return k;
            }
        }
        throw new IllegalArgumentException("-D" + PROPERTY + "=" + System.getProperty(PROPERTY)
                + " is not a prefill kernel; use auto (the default, now mma), mma, wgmma or ws");
    }

    /** What runs, given whether the loaded image has sm_90a code for the device. */
    PrefillKernel resolve(boolean sm90a) {
        return switch (this) {
            case AUTO -> MMA;
            case MMA -> MMA;
            case WGMMA, WS -> {
                if (!sm90a) {
                    throw new IllegalArgumentException("-D" + PROPERTY + "=" + key + " needs sm_90a code for this"
                            + " device (a Hopper GPU and a fatbin built with compute_90a); use auto or mma");
                }
                yield this;
            }
        };
    }
}
