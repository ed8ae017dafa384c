package io.rocketkv.benchmarks.downcall;

import static jcuda.driver.JCudaDriver.cuCtxSetCurrent;
import static jcuda.driver.JCudaDriver.cuDeviceGet;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRelease;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRetain;
import static jcuda.driver.JCudaDriver.cuInit;
import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuModuleGetFunction;
import static jcuda.driver.JCudaDriver.cuModuleLoadData;
import static jcuda.driver.JCudaDriver.cuModuleUnload;
import static jcuda.driver.JCudaDriver.cuStreamCreate;
import static jcuda.driver.JCudaDriver.cuStreamDestroy;

import io.rocketkv.cuda.CudaContext;
import io.rocketkv.cuda.CudaDriver;
import io.rocketkv.cuda.bindings.cuda_h;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The cost of one CUDA driver call from Java: the project's FFM bindings ({@code cuda_h}, {@code invokeExact} on
 * a {@code MethodHandle} made once) against JCuda's JNI bindings ({@code jcuda.driver.JCudaDriver}), the same
 * driver calls with the same arguments, each status checked (FFM: compared with 0 here; JCuda: its exceptions
 * enabled). Both use the device's primary context.
 * <ul>
 *   <li>{@code *Launch}: {@code cuLaunchKernel} of an empty kernel (one int parameter, 1 block of 32 threads)
 *       on a non-blocking stream, not waited for: once the launch queue is full this is paced by the GPU's
 *       launch throughput, the same for both;</li>
 *   <li>{@code *LaunchSync}: the same launch, then {@code cuStreamSynchronize}: one round trip;</li>
 *   <li>{@code *StreamSync}: {@code cuStreamSynchronize} of an idle stream: the call alone;</li>
 *   <li>{@code *MemcpyHtoD}: {@code cuMemcpyHtoD} of {@code bytes} bytes from native (off-heap) memory, which
 *       returns when the copy is done.</li>
 * </ul>
 * Run by {@link DowncallOverhead} (which skips it, saying why, without a CUDA device); the kernel is PTX the
 * driver compiles at load, so no fatbin is needed.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 2, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Measurement(iterations = 3, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules=jdk.incubator.vector"})
public class DowncallOverheadBenchmark {

    /** An empty kernel with one parameter, in PTX (JIT-compiled by the driver for the device). */
    static final String EMPTY_KERNEL_PTX = """
            .version 7.0
            .target sm_50
            .address_size 64
            .visible .entry empty(.param .u32 n)
            {
                ret;
            }
            """;
    private static final int CU_STREAM_NON_BLOCKING = 1;

    @Param({"256"})
    public int bytes;

    private Arena arena;
    private CudaContext context;
    private MemorySegment ffmModule;
    private MemorySegment ffmFunction;
    private MemorySegment ffmStream;
    private MemorySegment ffmParams;
    private MemorySegment ffmHost;
    private long ffmDevice;

    private CUdevice jcDevice;
    private CUmodule jcModule;
    private CUfunction jcFunction;
    private CUstream jcStream;
    private Pointer jcParams;
    private Pointer jcHost;
    private CUdeviceptr jcDeviceBuffer;

    @Setup(Level.Trial)
    public void setUp() {
        if (!CudaDriver.isAvailable()) {
            throw new IllegalStateException("CUDA is unavailable: " + CudaDriver.unavailableReason());
        }
        arena = Arena.ofShared();
        context = CudaContext.primary(0);
        MemorySegment out = arena.allocate(cuda_h.C_POINTER);
        check(cuda_h.cuModuleLoadData(out, arena.allocateFrom(EMPTY_KERNEL_PTX)), "cuModuleLoadData");
        ffmModule = out.get(cuda_h.C_POINTER, 0);
        check(cuda_h.cuModuleGetFunction(out, ffmModule, arena.allocateFrom("empty")), "cuModuleGetFunction");
        ffmFunction = out.get(cuda_h.C_POINTER, 0);
        check(cuda_h.cuStreamCreate(out, CU_STREAM_NON_BLOCKING), "cuStreamCreate");
        ffmStream = out.get(cuda_h.C_POINTER, 0);
        MemorySegment arg = arena.allocate(ValueLayout.JAVA_INT);
        arg.set(ValueLayout.JAVA_INT, 0, 1);
        ffmParams = arena.allocate(ValueLayout.ADDRESS);
        ffmParams.set(ValueLayout.ADDRESS, 0, arg);
        ffmHost = arena.allocate(bytes, 64);
        MemorySegment dptr = arena.allocate(ValueLayout.JAVA_LONG);
        check(cuda_h.cuMemAlloc_v2(dptr, bytes), "cuMemAlloc_v2");
        ffmDevice = dptr.get(ValueLayout.JAVA_LONG, 0);

        JCudaDriver.setExceptionsEnabled(true);
        cuInit(0);
        jcDevice = new CUdevice();
        cuDeviceGet(jcDevice, 0);
        CUcontext jcContext = new CUcontext();
        cuDevicePrimaryCtxRetain(jcContext, jcDevice);
        cuCtxSetCurrent(jcContext);
        jcModule = new CUmodule();
        cuModuleLoadData(jcModule, (EMPTY_KERNEL_PTX + "\0").getBytes(StandardCharsets.US_ASCII));
        jcFunction = new CUfunction();
        cuModuleGetFunction(jcFunction, jcModule, "empty");
        jcStream = new CUstream();
        cuStreamCreate(jcStream, CU_STREAM_NON_BLOCKING);
        jcParams = Pointer.to(Pointer.to(new int[] {1}));
        jcHost = Pointer.to(ByteBuffer.allocateDirect(bytes));
        jcDeviceBuffer = new CUdeviceptr();
        cuMemAlloc(jcDeviceBuffer, bytes);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        check(cuda_h.cuCtxSynchronize(), "cuCtxSynchronize");
        cuMemFree(jcDeviceBuffer);
        cuStreamDestroy(jcStream);
        cuModuleUnload(jcModule);
        cuDevicePrimaryCtxRelease(jcDevice);
        check(cuda_h.cuMemFree_v2(ffmDevice), "cuMemFree_v2");
        check(cuda_h.cuStreamDestroy_v2(ffmStream), "cuStreamDestroy_v2");
        check(cuda_h.cuModuleUnload(ffmModule), "cuModuleUnload");
        context.close();
        arena.close();
    }

    private static void check(int status, String call) {
        if (status != 0) {
            throw new IllegalStateException(call + " failed: " + CudaDriver.errorName(status));
        }
    }

    @Benchmark
    public void ffmLaunch() {
        check(cuda_h.cuLaunchKernel(ffmFunction, 1, 1, 1, 32, 1, 1, 0, ffmStream, ffmParams, MemorySegment.NULL),
                "cuLaunchKernel");
    }

    @Benchmark
    public void jcudaLaunch() {
        JCudaDriver.cuLaunchKernel(jcFunction, 1, 1, 1, 32, 1, 1, 0, jcStream, jcParams, null);
    }

    @Benchmark
    public void ffmLaunchSync() {
        ffmLaunch();
        check(cuda_h.cuStreamSynchronize(ffmStream), "cuStreamSynchronize");
    }

    @Benchmark
    public void jcudaLaunchSync() {
        jcudaLaunch();
        JCudaDriver.cuStreamSynchronize(jcStream);
    }

    @Benchmark
    public void ffmStreamSync() {
        check(cuda_h.cuStreamSynchronize(ffmStream), "cuStreamSynchronize");
    }

    @Benchmark
    public void jcudaStreamSync() {
        JCudaDriver.cuStreamSynchronize(jcStream);
    }

    @Benchmark
    public void ffmMemcpyHtoD() {
        check(cuda_h.cuMemcpyHtoD_v2(ffmDevice, ffmHost, bytes), "cuMemcpyHtoD_v2");
    }

    @Benchmark
    public void jcudaMemcpyHtoD() {
        JCudaDriver.cuMemcpyHtoD(jcDeviceBuffer, jcHost, bytes);
    }
}
