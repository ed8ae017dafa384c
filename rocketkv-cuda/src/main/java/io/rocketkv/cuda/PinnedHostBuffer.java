package io.rocketkv.cuda;

import io.rocketkv.cuda.bindings.cuda_h;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Page-locked host memory (cuMemHostAlloc, portable across contexts): the source or target of
 * asynchronous copies. {@link #segment()} is valid until {@link #close()} (cuMemFreeHost).
 */
public final class PinnedHostBuffer implements AutoCloseable {

    private final CudaContext context;
    private final MemorySegment segment;
    private boolean closed;

    private PinnedHostBuffer(CudaContext context, MemorySegment segment) {
        this.context = context;
        this.segment = segment;
    }

    @SuppressWarnings("restricted")
    static PinnedHostBuffer allocate(CudaContext context, long bytes) {
        if (bytes <= 0) {
            throw new IllegalArgumentException("a pinned host buffer needs at least 1 byte, got " + bytes);
        }
        context.ensureCurrent();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(cuda_h.C_POINTER);
            CudaDriver.check(cuda_h.cuMemHostAlloc(out, bytes, cuda_h.CU_MEMHOSTALLOC_PORTABLE), "cuMemHostAlloc",
                    bytes + " bytes");
            // the driver returned bytes of memory at this address; the size is ours, not read from anywhere
            return new PinnedHostBuffer(context, out.get(cuda_h.C_POINTER, 0).reinterpret(bytes));
        }
    }

    /** The memory; do not use it after {@link #close()}. */
    public MemorySegment segment() {
        if (closed) {
            throw new IllegalStateException("pinned host buffer is closed");
        }
        return segment;
    }

    public long byteSize() {
        return segment.byteSize();
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (!context.isClosed()) {
            context.ensureCurrent();
            CudaDriver.check(cuda_h.cuMemFreeHost(segment), "cuMemFreeHost");
        }
    }
}
