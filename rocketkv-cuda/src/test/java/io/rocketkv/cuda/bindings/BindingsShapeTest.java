package io.rocketkv.cuda.bindings;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/**
 * Runs everywhere: every binding has the jextract shape (a holder per function with NAME, DESC and HANDLE,
 * a public static method of the same name whose signature is the descriptor's), initialising a holder never
 * throws even without the library, and a missing library is reported, not crashed on.
 */
class BindingsShapeTest {

    record Binding(String name, FunctionDescriptor descriptor, MethodHandle handle, Method method) {
    }

    static List<Binding> bindings(Class<?> header) throws ReflectiveOperationException {
        List<Binding> out = new ArrayList<>();
        for (Class<?> holder : header.getDeclaredClasses()) {
            if (holder.getSimpleName().equals("Library")) {
                continue;
            }
            Field name = holder.getDeclaredField("NAME");
            Field desc = holder.getDeclaredField("DESC");
            Field handle = holder.getDeclaredField("HANDLE");
            for (Field f : List.of(name, desc, handle)) {
                assertTrue(Modifier.isStatic(f.getModifiers()) && Modifier.isFinal(f.getModifiers()), f.toString());
                f.setAccessible(true);
            }
            FunctionDescriptor d = (FunctionDescriptor) desc.get(null);
            Method m = header.getMethod((String) name.get(null), d.toMethodType().parameterArray());
            out.add(new Binding((String) name.get(null), d, (MethodHandle) handle.get(null), m));
        }
        return out;
    }

    @ParameterizedTest
    @ValueSource(classes = {cuda_h.class, cublas_h.class, cublasLt_h.class, nccl_h.class})
    void everyHolderMatchesItsMethod(Class<?> header) throws ReflectiveOperationException {
        List<Binding> bindings = bindings(header);
        @SuppressWarnings("unchecked")
        List<String> symbols = (List<String>) header.getField("SYMBOLS").get(null);
        assertEquals(symbols.stream().sorted().toList(), bindings.stream().map(Binding::name).sorted().toList());
        for (Binding b : bindings) {
            assertEquals(b.descriptor().toMethodType(), b.handle().type(), b.name());
            assertEquals(b.descriptor().toMethodType().returnType(), b.method().getReturnType(), b.name());
            assertTrue(Modifier.isPublic(b.method().getModifiers()) && Modifier.isStatic(b.method().getModifiers()));
            assertTrue(b.descriptor().returnLayout().isPresent(), b.name() + " returns a status or a string");
        }
    }

    @Test
    void driverBindingsReturnCuResultAndUseTheHeadersVersionedSymbols() throws ReflectiveOperationException {
        List<String> names = bindings(cuda_h.class).stream().map(Binding::name).toList();
        for (Binding b : bindings(cuda_h.class)) {
            assertEquals(ValueLayout.JAVA_INT, b.descriptor().returnLayout().orElseThrow().withoutName(), b.name());
        }
        // cuda.h 13.0 maps these to versioned symbols; the unversioned ones are older ABIs
        for (String v : List.of("cuMemAlloc_v2", "cuMemFree_v2", "cuMemcpyHtoD_v2", "cuMemcpyDtoH_v2", "cuMemcpyDtoD_v2",
                "cuMemsetD8_v2", "cuMemGetInfo_v2", "cuDeviceTotalMem_v2", "cuStreamDestroy_v2", "cuEventDestroy_v2",
                "cuEventElapsedTime_v2", "cuStreamBeginCapture_v2", "cuGraphExecUpdate_v2", "cuDevicePrimaryCtxRelease_v2",
                "cuGraphInstantiateWithFlags")) {
            assertTrue(names.contains(v), v);
        }
        assertTrue(names.stream().noneMatch(n -> List.of("cuMemAlloc", "cuMemFree", "cuEventElapsedTime",
                "cuStreamBeginCapture", "cuGraphInstantiate").contains(n)), names.toString());
    }

    @Test
    void launchKernelTakesElevenArguments() throws ReflectiveOperationException {
        Binding launch = bindings(cuda_h.class).stream().filter(b -> b.name().equals("cuLaunchKernel")).findFirst()
                .orElseThrow();
        assertEquals(11, launch.descriptor().argumentLayouts().size());
        Binding gemm = bindings(cublas_h.class).stream().filter(b -> b.name().equals("cublasGemmEx")).findFirst()
                .orElseThrow();
        assertEquals(19, gemm.descriptor().argumentLayouts().size());
    }

    /** The cuBLASLt prototypes as cublasLt.h of cuBLAS 13.1 declares them (the header is not installed here). */
    @Test
    void cublasLtBindingsMatchCublasLtH() throws ReflectiveOperationException {
        List<Binding> bindings = bindings(cublasLt_h.class);
        assertEquals(List.of("cublasLtCreate", "cublasLtDestroy", "cublasLtGetVersion", "cublasLtMatmul",
                "cublasLtMatmulAlgoGetHeuristic", "cublasLtMatmulDescCreate", "cublasLtMatmulDescDestroy",
                "cublasLtMatmulDescSetAttribute", "cublasLtMatmulPreferenceCreate", "cublasLtMatmulPreferenceDestroy",
                "cublasLtMatmulPreferenceSetAttribute", "cublasLtMatrixLayoutCreate", "cublasLtMatrixLayoutDestroy"),
                bindings.stream().map(Binding::name).sorted().toList());
        // cublasLtMatmul(handle, desc, alpha, A, Adesc, B, Bdesc, beta, C, Cdesc, D, Ddesc, algo, ws, wsSize, stream)
        assertEquals(16, find(bindings, "cublasLtMatmul").descriptor().argumentLayouts().size());
        assertEquals(cublasLt_h.C_LONG, find(bindings, "cublasLtMatmul").descriptor().argumentLayouts().get(14));
        // cublasLtMatrixLayoutCreate(layout*, cudaDataType, uint64_t rows, uint64_t cols, int64_t ld)
        assertEquals(List.of(cublasLt_h.C_POINTER, cublasLt_h.C_INT, cublasLt_h.C_LONG_LONG, cublasLt_h.C_LONG_LONG,
                cublasLt_h.C_LONG_LONG), find(bindings, "cublasLtMatrixLayoutCreate").descriptor().argumentLayouts());
        assertEquals(10, find(bindings, "cublasLtMatmulAlgoGetHeuristic").descriptor().argumentLayouts().size());
        // 64-byte algo + size_t + status + float + int[4]
        assertEquals(96, cublasLt_h.cublasLtMatmulHeuristicResult_t.byteSize());
    }

    @Test
    void ncclBindingsMatchNcclH() throws ReflectiveOperationException {
        List<Binding> bindings = bindings(nccl_h.class);
        assertEquals(List.of("ncclAllGather", "ncclAllReduce", "ncclCommAbort", "ncclCommDestroy", "ncclCommInitAll",
                "ncclCommInitRank", "ncclGetErrorString", "ncclGetLastError", "ncclGetUniqueId", "ncclGetVersion",
                "ncclGroupEnd", "ncclGroupStart"), bindings.stream().map(Binding::name).sorted().toList());
        // typedef struct { char internal[NCCL_UNIQUE_ID_BYTES]; } ncclUniqueId; passed by value to ncclCommInitRank
        assertEquals(128, nccl_h.ncclUniqueId.byteSize());
        assertEquals(1, nccl_h.ncclUniqueId.byteAlignment());
        Binding init = find(bindings, "ncclCommInitRank");
        assertEquals(List.of(nccl_h.C_POINTER, nccl_h.C_INT, nccl_h.ncclUniqueId, nccl_h.C_INT),
                init.descriptor().argumentLayouts());
        // ncclAllReduce(sendbuff, recvbuff, size_t count, datatype, op, comm, stream)
        assertEquals(List.of(nccl_h.C_POINTER, nccl_h.C_POINTER, nccl_h.C_LONG, nccl_h.C_INT, nccl_h.C_INT,
                nccl_h.C_POINTER, nccl_h.C_POINTER), find(bindings, "ncclAllReduce").descriptor().argumentLayouts());
        assertEquals(List.of(nccl_h.C_POINTER, nccl_h.C_POINTER, nccl_h.C_LONG, nccl_h.C_INT, nccl_h.C_POINTER,
                nccl_h.C_POINTER), find(bindings, "ncclAllGather").descriptor().argumentLayouts());
        assertEquals(0, find(bindings, "ncclGroupStart").descriptor().argumentLayouts().size());
        assertEquals(nccl_h.C_POINTER, find(bindings, "ncclGetErrorString").descriptor().returnLayout().orElseThrow());
        assertEquals(nccl_h.C_INT, find(bindings, "ncclCommDestroy").descriptor().returnLayout().orElseThrow());
    }

    @Test
    void ncclEnumValuesAreNcclHs() {
        // ncclDataType_t, ncclRedOp_t and ncclResult_t as numbered in nccl.h
        assertEquals(7, nccl_h.ncclFloat32);
        assertEquals(9, nccl_h.ncclBfloat16);
        assertEquals(6, nccl_h.ncclFloat16);
        assertEquals(0, nccl_h.ncclSum);
        assertEquals(4, nccl_h.ncclAvg);
        assertEquals(0, nccl_h.ncclSuccess);
        assertEquals(4, nccl_h.ncclInvalidArgument);
        assertEquals(7, nccl_h.ncclInProgress);
        assertEquals("libnccl.so.2", nccl_h.library().name());
    }

    private static Binding find(List<Binding> bindings, String name) {
        return bindings.stream().filter(b -> b.name().equals(name)).findFirst().orElseThrow();
    }

    @Test
    void missingLibraryGivesAThrowingHandleNotAnError() {
        NativeLibrary none = NativeLibrary.load("libdoes-not-exist-rocketkv.so.7", "libnor-this.so.1");
        assertEquals(false, none.isLoaded());
        assertTrue(none.failure().orElseThrow().contains("libdoes-not-exist-rocketkv.so.7"));
        assertTrue(none.find("cuInit").isEmpty());
        MethodHandle h = none.downcall("cuFoo", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS,
                ValueLayout.JAVA_LONG));
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> { int ignored = (int) h.invokeExact(MemorySegment.NULL, 3L); });
        assertTrue(e.getMessage().contains("cuFoo") && e.getMessage().contains("could not be loaded"), e.getMessage());
        MethodHandle v = none.downcall("cuBar", FunctionDescriptor.ofVoid(ValueLayout.JAVA_INT));
        assertThrows(IllegalStateException.class, () -> {
            v.invokeExact(1);
        });
    }

    @Test
    void missingSymbolInALoadedLibraryIsNamed() {
        NativeLibrary libc = NativeLibrary.load("libc.so.6");
        assumeFalse(!libc.isLoaded(), "no libc.so.6 here");
        assertTrue(libc.find("strlen").isPresent());
        MethodHandle h = libc.downcall("cuNotInLibc", FunctionDescriptor.of(ValueLayout.JAVA_INT));
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> { int ignored = (int) h.invokeExact(); });
        assertTrue(e.getMessage().contains("unresolved symbol cuNotInLibc in libc.so.6"), e.getMessage());
    }

    @Test
    void cublasFallsBackAcrossSonames() {
        NativeLibrary lib = cublas_h.library();
        assertNotNull(lib.name());
        if (!lib.isLoaded()) {
            assertTrue(lib.name().contains("libcublas.so.13") && lib.name().contains("libcublas.so.12"), lib.name());
        }
        assertTrue(Arrays.asList("libcublas.so.13", "libcublas.so.12", "libcublas.so.13 or libcublas.so.12")
                .contains(lib.name()), lib.name());
    }
}
