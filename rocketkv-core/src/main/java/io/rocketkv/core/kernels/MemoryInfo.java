package io.rocketkv.core.kernels;

/**
 * The memory a backend's tensors come from ({@link Kernels#memoryInfo()}): a GPU's device memory, or the JVM heap
 * for the CPU backend.
 *
 * @param free           bytes free now
 * @param total          bytes in all (the device's memory; the heap's maximum size)
 * @param heap           true when tensors live on the JVM heap (the CPU backend), false for device memory
 * @param maxTensorBytes the largest single tensor the backend can hold ({@link Long#MAX_VALUE} when only memory
 *                       limits it; one Java array on the heap)
 */
public record MemoryInfo(long free, long total, boolean heap, long maxTensorBytes) {

    public MemoryInfo {
        if (free < 0 || total < 0 || maxTensorBytes < 1) {
            throw new IllegalArgumentException("memory sizes must be >= 0 (max tensor >= 1), got free " + free
                    + ", total " + total + ", max tensor " + maxTensorBytes);
        }
    }
}
