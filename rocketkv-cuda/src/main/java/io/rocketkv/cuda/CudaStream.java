package io.rocketkv.cuda;

import io.rocketkv.cuda.bindings.cuda_h;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * A CUDA stream: an in-order queue of copies and launches. {@link CudaContext#createStream()} makes one
 * (closing destroys it); {@link CudaContext#defaultStream()} is the legacy NULL stream, which cannot be
 * captured into a graph and whose close does nothing.
 */
public final class CudaStream implements AutoCloseable {

    private final CudaContext context;
    private final MemorySegment handle; // CUstream; NULL for the legacy default stream
    private final boolean owned;
    private boolean closed;

    private CudaStream(CudaContext context, MemorySegment handle, boolean owned) {
        this.context = context;
        this.handle = handle;
        this.owned = owned;
    }

    static CudaStream legacyDefault(CudaContext context) {
        return new CudaStream(context, MemorySegment.NULL, false);
    }

    static CudaStream create(CudaContext context, boolean nonBlocking) {
        context.ensureCurrent();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(cuda_h.C_POINTER);
            int flags = nonBlocking ? cuda_h.CU_STREAM_NON_BLOCKING : cuda_h.CU_STREAM_DEFAULT;
            CudaDriver.check(cuda_h.cuStreamCreate(out, flags), "cuStreamCreate");
            return new CudaStream(context, out.get(cuda_h.C_POINTER, 0), true);
        }
    }

    /** The driver's CUstream (NULL for the default stream). */
    public MemorySegment handle() {
        if (closed) {
            throw new IllegalStateException("CUDA stream is closed");
        }
        return handle;
    }

    public CudaContext context() {
        return context;
    }

    public boolean isDefault() {
        return !owned;
    }

    /** Waits until everything queued so far has finished; reports errors of that work. */
    public void synchronize() {
        context.ensureCurrent();
        CudaDriver.check(cuda_h.cuStreamSynchronize(handle()), "cuStreamSynchronize");
    }

    /** Makes later work on this stream wait for {@code event} (cuStreamWaitEvent). */
    public void waitFor(CudaEvent event) {
        context.ensureCurrent();
        CudaDriver.check(cuda_h.cuStreamWaitEvent(handle(), event.handle(), 0), "cuStreamWaitEvent");
    }

    @Override
    public void close() {
        if (closed || !owned) {
            return;
        }
        closed = true;
        if (!context.isClosed()) {
            context.ensureCurrent();
            CudaDriver.check(cuda_h.cuStreamDestroy_v2(handle), "cuStreamDestroy_v2");
        }
    }

    @Override
    public String toString() {
        return owned ? "CudaStream[0x" + Long.toHexString(handle.address()) + "]" : "CudaStream[default]";
    }
}
