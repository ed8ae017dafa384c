package io.rocketkv.cuda;

import io.rocketkv.core.kernels.OutOfDeviceMemoryException;

/**
 * The scratch memory of one {@link CudaKernels} (the bf16 copy of a GEMM's activations, split-KV partials, the step
 * plan, RocketKV's selection buffers): every kernel family grows its buffers here, so that one counter, the
 * {@link #epoch()}, tells when any of them moved. A recorded step (CUDA graph) captured at an older epoch points at
 * freed memory and must be recorded again; while a step is being captured nothing may be allocated at all.
 * The kernels themselves never allocate. Not thread-safe: the backend's one thread uses it.
 */
final class CudaScratch {

    private final CudaContext context;
    private long epoch;
    private boolean capturing;

    CudaScratch(CudaContext context) {
        this.context = context;
    }

    /** How many times scratch memory was reallocated. */
    long epoch() {
        return epoch;
    }

    boolean capturing() {
        return capturing;
    }

    /** Marks the start or end of a capture: {@link #grow} refuses to allocate in between. */
    void capturing(boolean on) {
        this.capturing = on;
    }

    /**
     * Returns {@code b} when it holds {@code bytes}, else frees it and allocates a larger buffer (at least 1.5× the
     * old one, so that a growing step does not reallocate every time), advancing the epoch.
     *
     * @throws IllegalStateException          while a step is being captured
     * @throws OutOfDeviceMemoryException     when the device has no room
     */
    DeviceBuffer grow(DeviceBuffer b, long bytes) {
        if (b != null && b.byteSize() >= bytes) {
            return b;
        }
        if (capturing) {
            throw new IllegalStateException("scratch memory of " + bytes + " bytes would be allocated while a CUDA graph"
                    + " is being captured; run the step once without capture first");
        }
        epoch++;
        long size = Math.max(bytes, 256);
        if (b != null) {
            size = Math.max(size, b.byteSize() + b.byteSize() / 2);
            b.close(); // cuMemFree waits for the work queued before it
        }
        return allocate(size, "scratch memory");
    }

    /**
     * cuMemAlloc, with CUDA_ERROR_OUT_OF_MEMORY turned into an {@link OutOfDeviceMemoryException} that says how much
     * was asked for and how much is free.
     */
    DeviceBuffer allocate(long bytes, String what) {
        try {
            return context.allocate(bytes);
        } catch (CudaException e) {
            if (e.status() != io.rocketkv.cuda.bindings.cuda_h.CUDA_ERROR_OUT_OF_MEMORY) {
                throw e;
            }
            String free;
            try {
                CudaContext.MemoryInfo m = context.memoryInfo();
                free = (m.free() >> 20) + " MiB free of " + (m.total() >> 20) + " MiB";
            } catch (RuntimeException ignored) {
                free = "free memory unknown";
            }
            throw new OutOfDeviceMemoryException(what + " needs " + (bytes >> 20) + " MiB (" + bytes + " bytes), "
                    + free + " on " + context.device(), bytes, e);
        }
    }
}
