package io.rocketkv.cuda;

import io.rocketkv.cuda.bindings.cuda_h;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * One CUDA device: its name, compute capability, memory and multiprocessors (read once when opened).
 * Get one from {@link CudaDriver#device(int)}; work on it through its {@link #primaryContext()}.
 */
public final class CudaDevice {

    /** A compute capability, e.g. 9.0 for Hopper (sm_90), 10.0 for Blackwell (sm_100). */
    public record ComputeCapability(int major, int minor) {
        /** As in {@code sm_90}: {@code 10 * major + minor}. */
        public int smVersion() {
            return 10 * major + minor;
        }

        @Override
        public String toString() {
            return major + "." + minor;
        }
    }

    private final int ordinal;
    private final int handle; // CUdevice
    private final String name;
    private final ComputeCapability computeCapability;
    private final long totalMemory;
    private final int multiprocessorCount;

    private CudaDevice(int ordinal, int handle, String name, ComputeCapability cc, long totalMemory, int smCount) {
        this.ordinal = ordinal;
        this.handle = handle;
        this.name = name;
        this.computeCapability = cc;
        this.totalMemory = totalMemory;
        this.multiprocessorCount = smCount;
    }

    static CudaDevice open(int ordinal) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment dev = arena.allocate(cuda_h.C_INT);
            CudaDriver.check(cuda_h.cuDeviceGet(dev, ordinal), "cuDeviceGet", "ordinal " + ordinal);
            int handle = dev.get(cuda_h.C_INT, 0);
            MemorySegment name = arena.allocate(256);
            CudaDriver.check(cuda_h.cuDeviceGetName(name, 256, handle), "cuDeviceGetName");
            MemorySegment bytes = arena.allocate(cuda_h.C_LONG);
            CudaDriver.check(cuda_h.cuDeviceTotalMem_v2(bytes, handle), "cuDeviceTotalMem_v2");
            ComputeCapability cc = new ComputeCapability(
                    attribute(handle, cuda_h.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR),
                    attribute(handle, cuda_h.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR));
            return new CudaDevice(ordinal, handle, name.getString(0), cc, bytes.get(cuda_h.C_LONG, 0),
                    attribute(handle, cuda_h.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT));
        }
    }

    private static int attribute(int device, int attribute) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(cuda_h.C_INT);
            CudaDriver.check(cuda_h.cuDeviceGetAttribute(out, attribute, device), "cuDeviceGetAttribute",
                    "attribute " + attribute);
            return out.get(cuda_h.C_INT, 0);
        }
    }

    public int ordinal() {
        return ordinal;
    }

    /** The driver's CUdevice handle. */
    public int handle() {
        return handle;
    }

    /** e.g. "NVIDIA H200". */
    public String name() {
        return name;
    }

    public ComputeCapability computeCapability() {
        return computeCapability;
    }

    /** Bytes of device memory. */
    public long totalMemory() {
        return totalMemory;
    }

    /** Streaming multiprocessors (132 on an H200). */
    public int multiprocessorCount() {
        return multiprocessorCount;
    }

    /** Any {@code CU_DEVICE_ATTRIBUTE_*} of {@link cuda_h}. */
    public int attribute(int attribute) {
        return attribute(handle, attribute);
    }

    /**
     * Free device memory in bytes right now. Retains the primary context for the call (creating it if no
     * one holds it); {@link CudaContext#memoryInfo()} is the cheap way when a context is open.
     */
    public long freeMemory() {
        try (CudaContext ctx = primaryContext()) {
            return ctx.memoryInfo().free();
        }
    }

    /** Retains this device's primary context (close it to release); it is made current on this thread. */
    public CudaContext primaryContext() {
        return CudaContext.retainPrimary(this);
    }

    @Override
    public String toString() {
        return "CUDA device " + ordinal + " (" + name + ", sm_" + computeCapability.smVersion() + ", "
                + multiprocessorCount + " SMs, " + (totalMemory >> 20) + " MiB)";
    }
}
