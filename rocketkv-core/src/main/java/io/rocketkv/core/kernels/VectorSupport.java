package io.rocketkv.core.kernels;

/**
 * Whether the JVM was started with the Vector API ({@code --add-modules jdk.incubator.vector}). Classes that use it
 * are loaded only when this says so; without it the CPU backend runs its scalar twins.
 */
public final class VectorSupport {

    private static final boolean AVAILABLE = ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();

    private VectorSupport() {
    }

    /** True when {@code jdk.incubator.vector} is in the boot layer. */
    public static boolean available() {
        return AVAILABLE;
    }
}
