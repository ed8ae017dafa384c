package io.rocketkv.cuda;

import io.rocketkv.cuda.bindings.cuda_h;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Device memory: an address and a size in bytes, owned by a {@link CudaContext}. Closing frees it
 * (cuMemFree); a {@link #slice(long, long) slice} is a view that frees nothing. Copies are bounds-checked
 * in Java before they reach the driver. The synchronous copies run on the legacy default stream and
 * return when done; the {@code Async} ones are queued on a stream and need native (ideally
 * {@link PinnedHostBuffer pinned}) host memory that stays alive until the stream is synchronised.
 */
public final class DeviceBuffer implements AutoCloseable {

    private final CudaContext context;
    private final long address;
    private final long byteSize;
    private final DeviceBuffer parent; // null for an allocation
    private boolean closed;

    private DeviceBuffer(CudaContext context, long address, long byteSize, DeviceBuffer parent) {
        this.context = context;
        this.address = address;
        this.byteSize = byteSize;
        this.parent = parent;
    }

    static DeviceBuffer allocate(CudaContext context, long bytes) {
        if (bytes <= 0) {
            throw new IllegalArgumentException("a device buffer needs at least 1 byte, got " + bytes);
        }
        context.ensureCurrent();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(cuda_h.C_LONG_LONG);
            CudaDriver.check(cuda_h.cuMemAlloc_v2(out, bytes), "cuMemAlloc_v2", bytes + " bytes");
            return new DeviceBuffer(context, out.get(cuda_h.C_LONG_LONG, 0), bytes, null);
        }
    }

    /** The device address (CUdeviceptr), e.g. for a kernel argument. */
    public long address() {
        checkOpen();
        return address;
    }

    public long byteSize() {
        return byteSize;
    }

    public CudaContext context() {
        return context;
    }

    /** A view of {@code bytes} bytes from {@code offset}; it frees nothing and dies with this buffer. */
    public DeviceBuffer slice(long offset, long bytes) {
        checkRange(offset, bytes, "slice");
        if (bytes == 0) {
            throw new IllegalArgumentException("an empty slice of " + this);
        }
        return new DeviceBuffer(context, address + offset, bytes, this);
    }

    // ---- host -> device -------------------------------------------------------------------------

    /** Copies all of {@code src} (heap or native) to the start of this buffer. */
    public void copyFrom(MemorySegment src) {
        copyFrom(src, 0);
    }

    /** Copies all of {@code src} (heap or native) to {@code dstOffset} bytes into this buffer. */
    public void copyFrom(MemorySegment src, long dstOffset) {
        checkRange(dstOffset, src.byteSize(), "copy of " + src.byteSize() + " host bytes into");
        if (src.byteSize() == 0) {
            return;
        }
        context.ensureCurrent();
        if (src.isNative()) {
            CudaDriver.check(cuda_h.cuMemcpyHtoD_v2(address + dstOffset, src, src.byteSize()), "cuMemcpyHtoD_v2");
            return;
        }
        try (Arena arena = Arena.ofConfined()) { // the driver cannot read the Java heap: stage it
            MemorySegment staged = arena.allocate(src.byteSize(), 16).copyFrom(src);
            CudaDriver.check(cuda_h.cuMemcpyHtoD_v2(address + dstOffset, staged, src.byteSize()), "cuMemcpyHtoD_v2");
        }
    }

    public void copyFrom(float[] src) {
        copyFrom(MemorySegment.ofArray(src));
    }

    public void copyFrom(int[] src) {
        copyFrom(MemorySegment.ofArray(src));
    }

    /** e.g. bf16 or fp16 bits. */
    public void copyFrom(short[] src) {
        copyFrom(MemorySegment.ofArray(src));
    }

    /** Copies all of the native segment {@code src} on {@code stream}. */
    public void copyFromAsync(MemorySegment src, long dstOffset, CudaStream stream) {
        checkRange(dstOffset, src.byteSize(), "asynchronous copy of " + src.byteSize() + " host bytes into");
        requireNative(src);
        context.ensureCurrent();
        CudaDriver.check(cuda_h.cuMemcpyHtoDAsync_v2(address + dstOffset, src, src.byteSize(), stream.handle()),
                "cuMemcpyHtoDAsync_v2");
    }

    // ---- device -> host -------------------------------------------------------------------------

    /** Fills all of {@code dst} (heap or native) from the start of this buffer. */
    public void copyTo(MemorySegment dst) {
        copyTo(dst, 0);
    }

    /** Fills all of {@code dst} (heap or native) from {@code srcOffset} bytes into this buffer. */
    public void copyTo(MemorySegment dst, long srcOffset) {
        checkRange(srcOffset, dst.byteSize(), "copy of " + dst.byteSize() + " bytes to the host from");
        if (dst.byteSize() == 0) {
            return;
        }
        context.ensureCurrent();
        if (dst.isNative()) {
            CudaDriver.check(cuda_h.cuMemcpyDtoH_v2(dst, address + srcOffset, dst.byteSize()), "cuMemcpyDtoH_v2");
            return;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment staged = arena.allocate(dst.byteSize(), 16);
            CudaDriver.check(cuda_h.cuMemcpyDtoH_v2(staged, address + srcOffset, dst.byteSize()), "cuMemcpyDtoH_v2");
            dst.copyFrom(staged);
        }
    }

    public void copyTo(float[] dst) {
        copyTo(MemorySegment.ofArray(dst));
    }

    public void copyTo(int[] dst) {
        copyTo(MemorySegment.ofArray(dst));
    }

    public void copyTo(short[] dst) {
        copyTo(MemorySegment.ofArray(dst));
    }

    /** The first {@code count} floats of this buffer. */
    public float[] toFloatArray(int count) {
        float[] out = new float[count];
        copyTo(out);
        return out;
    }

    /** All of this buffer as floats (its size must be a multiple of 4). */
    public float[] toFloatArray() {
        if (byteSize % Float.BYTES != 0 || byteSize / Float.BYTES > Integer.MAX_VALUE - 8) {
            throw new IllegalStateException(this + " is not a float array");
        }
        return toFloatArray((int) (byteSize / Float.BYTES));
    }

    /** Fills all of the native segment {@code dst} on {@code stream}. */
    public void copyToAsync(MemorySegment dst, long srcOffset, CudaStream stream) {
        checkRange(srcOffset, dst.byteSize(), "asynchronous copy of " + dst.byteSize() + " bytes to the host from");
        requireNative(dst);
        context.ensureCurrent();
        CudaDriver.check(cuda_h.cuMemcpyDtoHAsync_v2(dst, address + srcOffset, dst.byteSize(), stream.handle()),
                "cuMemcpyDtoHAsync_v2");
    }

    // ---- device -> device, memset -----------------------------------------------------------------

    /** Copies all of {@code src} to the start of this buffer. */
    public void copyFrom(DeviceBuffer src) {
        checkRange(0, src.byteSize, "copy of " + src + " into");
        context.ensureCurrent();
        CudaDriver.check(cuda_h.cuMemcpyDtoD_v2(address, src.address(), src.byteSize), "cuMemcpyDtoD_v2");
    }

    /** Copies all of {@code src} to the start of this buffer on {@code stream}. */
    public void copyFromAsync(DeviceBuffer src, CudaStream stream) {
        checkRange(0, src.byteSize, "asynchronous copy of " + src + " into");
        context.ensureCurrent();
        CudaDriver.check(cuda_h.cuMemcpyDtoDAsync_v2(address, src.address(), src.byteSize, stream.handle()),
                "cuMemcpyDtoDAsync_v2");
    }

    /** Sets every byte to {@code value} (cuMemsetD8). */
    public void memset(byte value) {
        checkOpen();
        context.ensureCurrent();
        CudaDriver.check(cuda_h.cuMemsetD8_v2(address, value, byteSize), "cuMemsetD8_v2");
    }

    /** Sets every byte to {@code value} on {@code stream}. */
    public void memsetAsync(byte value, CudaStream stream) {
        checkOpen();
        context.ensureCurrent();
        CudaDriver.check(cuda_h.cuMemsetD8Async(address, value, byteSize, stream.handle()), "cuMemsetD8Async");
    }

    /** Sets every float to {@code value} (cuMemsetD32; the size must be a multiple of 4 bytes). */
    public void fill(float value) {
        checkOpen();
        if (byteSize % Float.BYTES != 0 || address % Float.BYTES != 0) {
            throw new IllegalStateException(this + " is not 4-byte aligned and sized");
        }
        context.ensureCurrent();
        CudaDriver.check(cuda_h.cuMemsetD32_v2(address, Float.floatToRawIntBits(value), byteSize / Float.BYTES),
                "cuMemsetD32_v2");
    }

    // ---- lifetime ----------------------------------------------------------------------------------

    public boolean isClosed() {
        return closed || (parent != null && parent.isClosed());
    }

    /** Frees the memory (nothing for a slice); a second close does nothing. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (parent == null && !context.isClosed()) {
            context.ensureCurrent();
            CudaDriver.check(cuda_h.cuMemFree_v2(address), "cuMemFree_v2", this.toString());
        }
    }

    private void checkOpen() {
        if (isClosed()) {
            throw new IllegalStateException("device buffer " + this + " is closed");
        }
        context.checkOpen();
    }

    private void checkRange(long offset, long bytes, String what) {
        checkOpen();
        if (offset < 0 || bytes < 0 || offset > byteSize - bytes) {
            throw new IndexOutOfBoundsException(what + " " + this + " at offset " + offset + ": " + bytes
                    + " bytes do not fit in " + byteSize);
        }
    }

    private static void requireNative(MemorySegment s) {
        if (!s.isNative()) {
            throw new IllegalArgumentException("asynchronous copies need native host memory (e.g. a PinnedHostBuffer),"
                    + " got a heap segment");
        }
    }

    @Override
    public String toString() {
        return "DeviceBuffer[0x" + Long.toHexString(address) + ", " + byteSize + " bytes" + (parent != null ? ", slice" : "")
                + "]";
    }
}
