package io.rocketkv.cuda;

import io.rocketkv.cuda.bindings.cuda_h;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A retained primary context of one device: the owner of the memory, streams, events, modules and cuBLAS
 * handles made from it. Every facade call makes its context current on the calling thread first (one
 * {@code cuCtxSetCurrent} the first time a thread uses it, a thread-local check after), so any thread may
 * use any object. Closing releases the retain; when the last one goes the driver destroys the context and
 * everything in it, so close the objects made from it first.
 */
public final class CudaContext implements AutoCloseable {

    /** Free and total device memory in bytes (cuMemGetInfo). */
    public record MemoryInfo(long free, long total) {
    }

    /** Bumped by every close, so that threads re-check their current context. */
    private static final AtomicLong EPOCH = new AtomicLong();

    private record Current(long context, long epoch) {
    }

    private static final ThreadLocal<Current> CURRENT = new ThreadLocal<>();

    private final CudaDevice device;
    private final MemorySegment handle; // CUcontext
    private final CudaStream defaultStream;
    private volatile boolean closed;

    private CudaContext(CudaDevice device, MemorySegment handle) {
        this.device = device;
        this.handle = handle;
        this.defaultStream = CudaStream.legacyDefault(this);
    }

    static CudaContext retainPrimary(CudaDevice device) {
        CudaDriver.require("CudaContext for " + device.name());
        MemorySegment handle;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(cuda_h.C_POINTER);
            CudaDriver.check(cuda_h.cuDevicePrimaryCtxRetain(out, device.handle()), "cuDevicePrimaryCtxRetain",
                    device.toString());
            handle = out.get(cuda_h.C_POINTER, 0);
        }
        CudaContext ctx = new CudaContext(device, handle);
        ctx.makeCurrent();
        return ctx;
    }

    /** The primary context of device {@code ordinal}, retained and made current on this thread. */
    public static CudaContext primary(int ordinal) {
        return CudaDriver.device(ordinal).primaryContext();
    }

    public CudaDevice device() {
        return device;
    }

    /** The driver's CUcontext. */
    public MemorySegment handle() {
        return handle;
    }

    /** Makes this context current on the calling thread (cuCtxSetCurrent). */
    public CudaContext makeCurrent() {
        checkOpen();
        CudaDriver.check(cuda_h.cuCtxSetCurrent(handle), "cuCtxSetCurrent", device.toString());
        CURRENT.set(new Current(handle.address(), EPOCH.get()));
        return this;
    }

    /** Makes this context current on the calling thread unless this thread already did so. */
    void ensureCurrent() {
        Current c = CURRENT.get();
        if (c == null || c.context() != handle.address() || c.epoch() != EPOCH.get()) {
            makeCurrent();
        } else {
            checkOpen();
        }
    }

    /** Waits for all work in this context (cuCtxSynchronize); reports errors of earlier asynchronous work. */
    public void synchronize() {
        ensureCurrent();
        CudaDriver.check(cuda_h.cuCtxSynchronize(), "cuCtxSynchronize");
    }

    public MemoryInfo memoryInfo() {
        ensureCurrent();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment free = arena.allocate(cuda_h.C_LONG);
            MemorySegment total = arena.allocate(cuda_h.C_LONG);
            CudaDriver.check(cuda_h.cuMemGetInfo_v2(free, total), "cuMemGetInfo_v2");
            return new MemoryInfo(free.get(cuda_h.C_LONG, 0), total.get(cuda_h.C_LONG, 0));
        }
    }

    /** {@code bytes} of uninitialised device memory. */
    public DeviceBuffer allocate(long bytes) {
        return DeviceBuffer.allocate(this, bytes);
    }

    /** {@code bytes} of page-locked host memory, for asynchronous copies. */
    public PinnedHostBuffer allocatePinned(long bytes) {
        return PinnedHostBuffer.allocate(this, bytes);
    }

    /** A new stream that synchronises with the legacy default stream (CU_STREAM_DEFAULT). */
    public CudaStream createStream() {
        return CudaStream.create(this, false);
    }

    /** A new stream; {@code nonBlocking} = CU_STREAM_NON_BLOCKING (no implicit sync with the default stream). */
    public CudaStream createStream(boolean nonBlocking) {
        return CudaStream.create(this, nonBlocking);
    }

    /** The legacy default (NULL) stream; closing it does nothing. */
    public CudaStream defaultStream() {
        return defaultStream;
    }

    /** A new event that records timing. */
    public CudaEvent createEvent() {
        return CudaEvent.create(this, true);
    }

    /** Loads a fatbin, cubin or NUL-free PTX image. */
    public CudaModule loadModule(String name, byte[] image) {
        return CudaModule.load(this, name, image);
    }

    boolean isClosed() {
        return closed;
    }

    void checkOpen() {
        if (closed) {
            throw new IllegalStateException("the CUDA context of " + device + " is closed");
        }
    }

    /** Releases the primary context (cuDevicePrimaryCtxRelease); a second close does nothing. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        EPOCH.incrementAndGet();
        CURRENT.remove();
        CudaDriver.check(cuda_h.cuDevicePrimaryCtxRelease_v2(device.handle()), "cuDevicePrimaryCtxRelease_v2",
                device.toString());
    }

    @Override
    public String toString() {
        return "primary context of " + device + (closed ? " (closed)" : "");
    }
}
