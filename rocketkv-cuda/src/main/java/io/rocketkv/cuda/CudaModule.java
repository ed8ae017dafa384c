package io.rocketkv.cuda;

import io.rocketkv.cuda.bindings.cuda_h;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Collectors;

/**
 * Code loaded into a context with cuModuleLoadData: a fatbin (as the build makes, see {@link KernelImages}),
 * a cubin or PTX text. Closing unloads it (cuModuleUnload), after which its functions are invalid.
 */
public final class CudaModule implements AutoCloseable {

    private final CudaContext context;
    private final String name;
    private final MemorySegment handle; // CUmodule
    private final Map<String, CudaFunction> functions = new ConcurrentHashMap<>();
    private volatile boolean closed;

    private CudaModule(CudaContext context, String name, MemorySegment handle) {
        this.context = context;
        this.name = name;
        this.handle = handle;
    }

    static CudaModule load(CudaContext context, String name, byte[] image) {
        if (image.length == 0) {
            throw new IllegalArgumentException("module " + name + ": empty image");
        }
        context.ensureCurrent();
        try (Arena arena = Arena.ofConfined()) {
            // a copy in native memory with a trailing NUL, which PTX text needs and binaries ignore
            MemorySegment data = arena.allocate(image.length + 1L, 16);
            MemorySegment.copy(image, 0, data, cuda_h.C_CHAR, 0, image.length);
            MemorySegment out = arena.allocate(cuda_h.C_POINTER);
            int status = cuda_h.cuModuleLoadData(out, data);
            if (status != cuda_h.CUDA_SUCCESS) {
                CudaDriver.check(status, "cuModuleLoadData", "module " + name + explainArchitectures(context, image));
            }
            return new CudaModule(context, name, out.get(cuda_h.C_POINTER, 0));
        }
    }

    private static String explainArchitectures(CudaContext context, byte[] image) {
        if (!Fatbin.isFatbin(image)) {
            return "";
        }
        try {
            CudaDevice.ComputeCapability cc = context.device().computeCapability();
            var entries = Fatbin.entries(image);
            boolean runs = entries.stream().anyMatch(e -> e.runsOn(cc));
            return ", fatbin holds " + entries.stream().map(Fatbin.Entry::toString).collect(Collectors.joining(", "))
                    + (runs ? "" : "; none runs on this device (sm_" + cc.smVersion() + ")");
        } catch (IllegalArgumentException e) {
            return ", " + e.getMessage();
        }
    }

    /** The kernel {@code name} ({@code extern "C"}, so unmangled); looked up once. */
    public CudaFunction function(String functionName) {
        checkOpen();
        return functions.computeIfAbsent(functionName, n -> {
            context.ensureCurrent();
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment out = arena.allocate(cuda_h.C_POINTER);
                CudaDriver.check(cuda_h.cuModuleGetFunction(out, handle, arena.allocateFrom(n)), "cuModuleGetFunction",
                        "kernel " + n + " in module " + name);
                return new CudaFunction(this, n, out.get(cuda_h.C_POINTER, 0));
            }
        });
    }

    public String name() {
        return name;
    }

    public CudaContext context() {
        return context;
    }

    void checkOpen() {
        if (closed) {
            throw new IllegalStateException("CUDA module " + name + " is unloaded");
        }
        context.checkOpen();
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (!context.isClosed()) {
            context.ensureCurrent();
            CudaDriver.check(cuda_h.cuModuleUnload(handle), "cuModuleUnload", name);
        }
    }

    @Override
    public String toString() {
        return "CudaModule[" + name + "]";
    }
}
