package io.rocketkv.cuda;

import io.rocketkv.cuda.bindings.cuda_h;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/** A kernel of a loaded {@link CudaModule}, launched with cuLaunchKernel. Valid while its module is loaded. */
public final class CudaFunction {

    private final CudaModule module;
    private final String name;
    private final MemorySegment handle; // CUfunction

    CudaFunction(CudaModule module, String name, MemorySegment handle) {
        this.module = module;
        this.name = name;
        this.handle = handle;
    }

    public String name() {
        return name;
    }

    public CudaModule module() {
        return module;
    }

    /** The driver's CUfunction. */
    public MemorySegment handle() {
        module.checkOpen();
        return handle;
    }

    /** Any {@code CU_FUNC_ATTRIBUTE_*} of {@link cuda_h}. */
    public int attribute(int attribute) {
        module.context().ensureCurrent();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(cuda_h.C_INT);
            CudaDriver.check(cuda_h.cuFuncGetAttribute(out, attribute, handle()), "cuFuncGetAttribute",
                    name + " attribute " + attribute);
            return out.get(cuda_h.C_INT, 0);
        }
    }

    /** The most threads a block of this kernel may have (registers permitting, at most 1024). */
    public int maxThreadsPerBlock() {
        return attribute(cuda_h.CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK);
    }

    /** Allows up to {@code bytes} of dynamic shared memory per block (needed above 48 KiB). */
    public void setMaxDynamicSharedMemory(int bytes) {
        module.context().ensureCurrent();
        CudaDriver.check(cuda_h.cuFuncSetAttribute(handle(), cuda_h.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                bytes), "cuFuncSetAttribute", name + " max dynamic shared memory " + bytes);
    }

    /** Blocks of {@code blockSize} threads that fit on one multiprocessor at once. */
    public int maxActiveBlocksPerMultiprocessor(int blockSize, long dynamicSharedBytes) {
        module.context().ensureCurrent();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(cuda_h.C_INT);
            CudaDriver.check(cuda_h.cuOccupancyMaxActiveBlocksPerMultiprocessor(out, handle(), blockSize,
                    dynamicSharedBytes), "cuOccupancyMaxActiveBlocksPerMultiprocessor", name);
            return out.get(cuda_h.C_INT, 0);
        }
    }

    /**
     * Queues this kernel on {@code stream}. Each argument's Java type must match the kernel's C parameter
     * (see {@link KernelArgs}). Configuration errors (too many threads, too much shared memory) throw here;
     * errors inside the kernel surface at the next synchronisation.
     */
    public void launch(Dim3 grid, Dim3 block, int sharedMemBytes, CudaStream stream, Object... args) {
        launch(grid, block, sharedMemBytes, stream, KernelArgs.of(args));
    }

    public void launch(Dim3 grid, Dim3 block, int sharedMemBytes, CudaStream stream, KernelArgs args) {
        if (sharedMemBytes < 0) {
            throw new IllegalArgumentException("shared memory bytes must be >= 0, got " + sharedMemBytes);
        }
        module.context().ensureCurrent();
        try (Arena arena = Arena.ofConfined()) {
            int status = cuda_h.cuLaunchKernel(handle(), grid.x(), grid.y(), grid.z(), block.x(), block.y(), block.z(),
                    sharedMemBytes, stream.handle(), args.toKernelParams(arena), MemorySegment.NULL);
            if (status != cuda_h.CUDA_SUCCESS) {
                CudaDriver.check(status, "cuLaunchKernel", name + " grid " + grid + " block " + block + " shared "
                        + sharedMemBytes + " args " + args);
            }
        }
    }

    @Override
    public String toString() {
        return "CudaFunction[" + name + " in " + module.name() + "]";
    }
}
