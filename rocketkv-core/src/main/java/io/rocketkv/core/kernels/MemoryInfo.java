package io.rocketkv.core.kernels;

/**
 * The memory a backend's tensors come from ({@link Kernels#memoryInfo()}): a GPU's device memory, or the host's
 * physical memory for the CPU backend (its activations on the JVM heap, its KV cache off it).
 *
 * @param free           bytes free now
 * @param total          bytes in all (the device's memory; the host's physical memory)
 * @param heap           true for host memory (the CPU backend: its KV cache is allocated as blocks are used, so
 *                       the pool is a bound), false for device memory
 * @param maxTensorBytes the largest single tensor the backend can hold ({@link Long#MAX_VALUE} when only memory
 *                       limits it)
 */
public record MemoryInfo(long free, long total, boolean heap, long maxTensorBytes) {

    public MemoryInfo {
        if (free < 0 || total < 0 || maxTensorBytes < 1) {
            throw new IllegalArgumentException("memory sizes must be >= 0 (max tensor >= 1), got free " + free
                    + ", total " + total + ", max tensor " + maxTensorBytes);
        }
    }
}
