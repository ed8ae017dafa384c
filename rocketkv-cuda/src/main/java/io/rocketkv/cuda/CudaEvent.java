package io.rocketkv.cuda;

import io.rocketkv.cuda.bindings.cuda_h;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/** A CUDA event: a marker recorded on a stream, to wait for or to time the work between two. */
public final class CudaEvent implements AutoCloseable {

    private final CudaContext context;
    private final MemorySegment handle; // CUevent
    private final boolean timing;
    private boolean closed;

    private CudaEvent(CudaContext context, MemorySegment handle, boolean timing) {
        this.context = context;
        this.handle = handle;
        this.timing = timing;
    }

    static CudaEvent create(CudaContext context, boolean timing) {
        context.ensureCurrent();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(cuda_h.C_POINTER);
            int flags = timing ? cuda_h.CU_EVENT_DEFAULT : cuda_h.CU_EVENT_DISABLE_TIMING;
            CudaDriver.check(cuda_h.cuEventCreate(out, flags), "cuEventCreate");
            return new CudaEvent(context, out.get(cuda_h.C_POINTER, 0), timing);
        }
    }

    /** The driver's CUevent. */
    public MemorySegment handle() {
        if (closed) {
            throw new IllegalStateException("CUDA event is closed");
        }
        return handle;
    }

    /** Records this event at the current end of {@code stream}'s queue. */
    public CudaEvent record(CudaStream stream) {
        context.ensureCurrent();
        CudaDriver.check(cuda_h.cuEventRecord(handle(), stream.handle()), "cuEventRecord");
        return this;
    }

    /** Waits until the work recorded before this event has finished. */
    public void synchronize() {
        context.ensureCurrent();
        CudaDriver.check(cuda_h.cuEventSynchronize(handle()), "cuEventSynchronize");
    }

    /** Milliseconds between {@code start} and this event (both recorded and completed; about 0.5 µs resolution). */
    public float elapsedMillisSince(CudaEvent start) {
        return elapsedMillis(start, this);
    }

    /** Milliseconds between two recorded, completed events (cuEventElapsedTime). */
    public static float elapsedMillis(CudaEvent start, CudaEvent end) {
        if (!start.timing || !end.timing) {
            throw new IllegalArgumentException("timing needs events created with timing enabled");
        }
        end.context.ensureCurrent();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ms = arena.allocate(cuda_h.C_FLOAT);
            CudaDriver.check(cuda_h.cuEventElapsedTime_v2(ms, start.handle(), end.handle()), "cuEventElapsedTime_v2");
            return ms.get(cuda_h.C_FLOAT, 0);
        }
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (!context.isClosed()) {
            context.ensureCurrent();
            CudaDriver.check(cuda_h.cuEventDestroy_v2(handle), "cuEventDestroy_v2");
        }
    }
}
