package io.rocketkv.core.kernels;

import java.util.List;

/**
 * A backend other than the CPU's, found with {@link java.util.ServiceLoader}: an artifact that holds one
 * registers it in {@code META-INF/services/io.rocketkv.core.kernels.KernelsProvider} (rocketkv-cuda does, for
 * CUDA). Leaving the artifact off the class path leaves the backend out; nothing else refers to its classes.
 *
 * <p>Implementations have a public no-argument constructor that does no work: probing the machine (loading a
 * driver, counting devices) happens in the methods below, once, when asked.
 */
public interface KernelsProvider {

    /** The backend's name, as {@link Kernels#name()} says it (e.g. {@code "cuda"}). */
    String name();

    /**
     * Null when the backend can run here; else why not, as a phrase (e.g. the driver did not load, no device,
     * or the artifact was built without its kernels). {@code Backend.AUTO} logs it when it takes the CPU.
     */
    String unavailableReason();

    /**
     * Returns when the backend can run here; else throws an exception saying why and what to do instead.
     *
     * @param what who asks, for the message (e.g. {@code "backend CUDA"})
     */
    void requireAvailable(String what);

    /** Devices this backend can use; 0 when it cannot run here. */
    int deviceCount();

    /** A backend on device {@code device} ({@code [0, deviceCount())}); the caller closes it. */
    Kernels open(int device);

    /**
     * A backend on device {@code device} whose paged KV cache holds {@code kvCacheDtype} where it can store that type
     * (see {@link Kernels#kvCacheDtype()}); null, or a type it does not store, gives {@link #open(int)}'s backend
     * (the caller checks {@code kvCacheDtype()} against what was asked).
     */
    default Kernels open(int device, io.rocketkv.core.numeric.DType kvCacheDtype) {
        return open(device);
    }

    /** Null when {@link #collectives} can join this backend's devices here; else why not. */
    String collectivesUnavailableReason();

    /**
     * One {@link Collective} per rank, joining {@code ranks} (backends this provider opened, rank order) into a
     * tensor-parallel group; the caller closes them.
     */
    List<Collective> collectives(List<Kernels> ranks);
}
