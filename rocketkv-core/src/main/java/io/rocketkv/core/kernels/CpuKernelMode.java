package io.rocketkv.core.kernels;

import io.rocketkv.core.kernels.dense.DenseOps;
import io.rocketkv.core.kernels.dense.ScalarDenseOps;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Which implementation of the CPU backend's dense ops (matmul, rmsNorm, siluMul, add) {@link CpuKernels} runs:
 * {@link #SIMD}, the default, on the Vector API ({@code jdk.incubator.vector}), or {@link #SCALAR}, the plain-Java
 * reference twin the SIMD kernels are tested against. The system property {@value #PROPERTY} ({@code simd} or
 * {@code scalar}) picks one for {@link CpuKernels#CpuKernels()}.
 *
 * <p>The attention twin ({@link CpuAttention}) follows the dense ops: SIMD beside the SIMD ops, scalar beside the
 * scalar ones. The Vector API is an incubator module: a JVM started without {@value #JVM_FLAG} does not have it.
 * The default then runs the scalar kernels and logs one warning naming the flag; the SIMD classes (package
 * {@code io.rocketkv.core.kernels.simd}) are loaded by name only where the module is present, so no class that
 * refers to it is loaded.
 */
public enum CpuKernelMode {
    /** Plain Java loops, one multiply-add at a time: the reference. */
    SCALAR,
    /** Vector API kernels: FMA over vector lanes, register-blocked matmul, weights widened in registers. */
    SIMD;

    /** The system property that picks the mode: {@code simd} (default) or {@code scalar}. */
    public static final String PROPERTY = "rocketkv.cpu.kernels";
    /** The JVM option that adds the Vector API module. */
    public static final String JVM_FLAG = "--add-modules jdk.incubator.vector";

    private static final String VECTOR_MODULE = "jdk.incubator.vector";
    private static final String VECTOR_OPS = "io.rocketkv.core.kernels.simd.VectorDenseOps";
    private static final String VECTOR_ATTENTION = "io.rocketkv.core.kernels.simd.SimdAttention";
    private static final Logger log = LoggerFactory.getLogger(CpuKernelMode.class);
    private static final AtomicBoolean warned = new AtomicBoolean();

    /**
     * The mode {@value #PROPERTY} names, {@link #SIMD} when it is unset.
     *
     * @throws IllegalArgumentException when the property holds another value
     */
    public static CpuKernelMode fromSystemProperty() {
        String v = System.getProperty(PROPERTY);
        if (v == null || v.isBlank()) {
            return SIMD;
        }
        return switch (v.trim().toLowerCase(Locale.ROOT)) {
            case "simd" -> SIMD;
            case "scalar" -> SCALAR;
            default -> throw new IllegalArgumentException("system property " + PROPERTY + " is '" + v
                    + "'; expected simd or scalar");
        };
    }

    /** Whether {@value #PROPERTY} is set (an explicit choice: SIMD is then refused, not replaced, without the module). */
    static boolean propertySet() {
        String v = System.getProperty(PROPERTY);
        return v != null && !v.isBlank();
    }

    /** Whether this JVM was started with the Vector API module ({@value #JVM_FLAG}). */
    public static boolean vectorApiAvailable() {
        return ModuleLayer.boot().findModule(VECTOR_MODULE).isPresent();
    }

    /**
     * The ops of this mode. {@link #SIMD} without the Vector API module falls back to the scalar ops when
     * {@code fallBack} is true (logging one warning per JVM), else throws.
     *
     * @throws IllegalStateException when SIMD is asked for without the module and {@code fallBack} is false
     */
    DenseOps ops(boolean fallBack) {
        if (this == SCALAR) {
            return ScalarDenseOps.INSTANCE;
        }
        if (!vectorApiAvailable()) {
            if (!fallBack) {
                throw new IllegalStateException("the SIMD CPU kernels need the Vector API: start the JVM with "
                        + JVM_FLAG + " (or ask for CpuKernelMode.SCALAR)");
            }
            if (warned.compareAndSet(false, true)) {
                log.warn("jdk.incubator.vector is not in this JVM: the CPU backend runs its scalar kernels, several"
                        + " times slower; start java with {} for the SIMD kernels", JVM_FLAG);
            }
            return ScalarDenseOps.INSTANCE;
        }
        return load(VECTOR_OPS, DenseOps.class);
    }

    /** The attention twin that goes with {@code dense}: the SIMD one beside the SIMD dense ops, else the scalar one. */
    static CpuAttention attention(DenseOps dense) {
        return "simd".equals(dense.name()) ? load(VECTOR_ATTENTION, CpuAttention.class) : new ScalarAttention();
    }

    /** By name, so that a JVM without the module never loads a class that refers to it. */
    private static <T> T load(String className, Class<T> type) {
        try {
            return type.cast(Class.forName(className).getConstructor().newInstance());
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot load the SIMD CPU kernels " + className, e);
        }
    }
}
