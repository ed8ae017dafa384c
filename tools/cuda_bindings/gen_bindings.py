#!/usr/bin/env python3
"""Writes the jextract-shaped FFM bindings io.rocketkv.cuda.bindings.cuda_h, cublas_h and nccl_h.

jextract itself cannot be fetched in this environment, so this script produces the same shape from the
C prototypes listed below (copied from cuda.h / cublas_api.h of CUDA 13.0, with the header's macro
already applied: cuMemAlloc is the symbol cuMemAlloc_v2, cuGraphInstantiate is
cuGraphInstantiateWithFlags, ...). One nested holder class per C function holds its FunctionDescriptor
and its MethodHandle, created on first use; calls go through invokeExact; -Drocketkv.cuda.trace traces
every downcall. CudaHeaderTest checks the prototypes against the installed cuda.h.

The cuBLASLt prototypes are copied from cublasLt.h of cuBLAS 13.1 (the nvidia-cublas wheel's include/; the
header is not installed on the build machine, so they are checked by hand, not by a test); the fp8 GEMM needs them.

The NCCL prototypes are copied from nccl.h of NCCL 2.x (src/nccl.h.in in NVIDIA/nccl); nccl.h is not
installed on the build machine, so they are checked by hand against that header, not by a test. One of them
takes a struct by value (ncclCommInitRank's ncclUniqueId commId): STRUCT_TYPES maps it to the struct's
MemoryLayout, which the FFM linker passes by value.

To bind another function: add its prototype below, run
    python3 tools/cuda_bindings/gen_bindings.py
from the repository root and commit the regenerated Java files.
"""
import pathlib
import re

OUT = pathlib.Path(__file__).resolve().parents[2] / "rocketkv-cuda/src/main/java/io/rocketkv/cuda/bindings"

CUDA = [
    # initialisation, version, errors
    "CUresult cuInit(unsigned int Flags)",
    "CUresult cuDriverGetVersion(int *driverVersion)",
    "CUresult cuGetErrorName(CUresult error, const char **pStr)",
    "CUresult cuGetErrorString(CUresult error, const char **pStr)",
    # devices
    "CUresult cuDeviceGetCount(int *count)",
    "CUresult cuDeviceGet(CUdevice *device, int ordinal)",
    "CUresult cuDeviceGetName(char *name, int len, CUdevice dev)",
    "CUresult cuDeviceGetAttribute(int *pi, CUdevice_attribute attrib, CUdevice dev)",
    "CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev)",
    # contexts
    "CUresult cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice dev)",
    "CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev)",
    "CUresult cuCtxSetCurrent(CUcontext ctx)",
    "CUresult cuCtxGetCurrent(CUcontext *pctx)",
    "CUresult cuCtxSynchronize(void)",
    # memory
    "CUresult cuMemGetInfo_v2(size_t *free, size_t *total)",
    "CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytesize)",
    "CUresult cuMemFree_v2(CUdeviceptr dptr)",
    "CUresult cuMemHostAlloc(void **pp, size_t bytesize, unsigned int Flags)",
    "CUresult cuMemFreeHost(void *p)",
    "CUresult cuMemcpyHtoD_v2(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount)",
    "CUresult cuMemcpyDtoH_v2(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount)",
    "CUresult cuMemcpyDtoD_v2(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount)",
    "CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount, CUstream hStream)",
    "CUresult cuMemcpyDtoHAsync_v2(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount, CUstream hStream)",
    "CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount, CUstream hStream)",
    "CUresult cuMemsetD8_v2(CUdeviceptr dstDevice, unsigned char uc, size_t N)",
    "CUresult cuMemsetD32_v2(CUdeviceptr dstDevice, unsigned int ui, size_t N)",
    "CUresult cuMemsetD8Async(CUdeviceptr dstDevice, unsigned char uc, size_t N, CUstream hStream)",
    "CUresult cuMemsetD32Async(CUdeviceptr dstDevice, unsigned int ui, size_t N, CUstream hStream)",
    # streams and events
    "CUresult cuStreamCreate(CUstream *phStream, unsigned int Flags)",
    "CUresult cuStreamDestroy_v2(CUstream hStream)",
    "CUresult cuStreamSynchronize(CUstream hStream)",
    "CUresult cuStreamWaitEvent(CUstream hStream, CUevent hEvent, unsigned int Flags)",
    "CUresult cuEventCreate(CUevent *phEvent, unsigned int Flags)",
    "CUresult cuEventRecord(CUevent hEvent, CUstream hStream)",
    "CUresult cuEventSynchronize(CUevent hEvent)",
    "CUresult cuEventElapsedTime_v2(float *pMilliseconds, CUevent hStart, CUevent hEnd)",
    "CUresult cuEventDestroy_v2(CUevent hEvent)",
    # modules and launches
    "CUresult cuModuleLoadData(CUmodule *module, const void *image)",
    "CUresult cuModuleUnload(CUmodule hmod)",
    "CUresult cuModuleGetFunction(CUfunction *hfunc, CUmodule hmod, const char *name)",
    "CUresult cuFuncGetAttribute(int *pi, CUfunction_attribute attrib, CUfunction hfunc)",
    "CUresult cuFuncSetAttribute(CUfunction hfunc, CUfunction_attribute attrib, int value)",
    "CUresult cuLaunchKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY, unsigned int gridDimZ, "
    "unsigned int blockDimX, unsigned int blockDimY, unsigned int blockDimZ, unsigned int sharedMemBytes, "
    "CUstream hStream, void **kernelParams, void **extra)",
    "CUresult cuOccupancyMaxActiveBlocksPerMultiprocessor(int *numBlocks, CUfunction func, int blockSize, "
    "size_t dynamicSMemSize)",
    # graphs
    "CUresult cuStreamBeginCapture_v2(CUstream hStream, CUstreamCaptureMode mode)",
    "CUresult cuStreamEndCapture(CUstream hStream, CUgraph *phGraph)",
    "CUresult cuGraphInstantiateWithFlags(CUgraphExec *phGraphExec, CUgraph hGraph, unsigned long long flags)",
    "CUresult cuGraphLaunch(CUgraphExec hGraphExec, CUstream hStream)",
    "CUresult cuGraphExecUpdate_v2(CUgraphExec hGraphExec, CUgraph hGraph, CUgraphExecUpdateResultInfo *resultInfo)",
    "CUresult cuGraphExecDestroy(CUgraphExec hGraphExec)",
    "CUresult cuGraphDestroy(CUgraph hGraph)",
]

CUBLAS = [
    "cublasStatus_t cublasCreate_v2(cublasHandle_t *handle)",
    "cublasStatus_t cublasDestroy_v2(cublasHandle_t handle)",
    "cublasStatus_t cublasGetVersion_v2(cublasHandle_t handle, int *version)",
    "cublasStatus_t cublasSetStream_v2(cublasHandle_t handle, cudaStream_t streamId)",
    "cublasStatus_t cublasSetWorkspace_v2(cublasHandle_t handle, void *workspace, size_t workspaceSizeInBytes)",
    "cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode)",
    "const char *cublasGetStatusName(cublasStatus_t status)",
    "const char *cublasGetStatusString(cublasStatus_t status)",
    "cublasStatus_t cublasGemmEx(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, "
    "int m, int n, int k, const void *alpha, const void *A, cudaDataType Atype, int lda, const void *B, "
    "cudaDataType Btype, int ldb, const void *beta, void *C, cudaDataType Ctype, int ldc, "
    "cublasComputeType_t computeType, cublasGemmAlgo_t algo)",
]

CUBLASLT = [
    "cublasStatus_t cublasLtCreate(cublasLtHandle_t *lightHandle)",
    "cublasStatus_t cublasLtDestroy(cublasLtHandle_t lightHandle)",
    "size_t cublasLtGetVersion(void)",
    "cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t *matmulDesc, cublasComputeType_t computeType, "
    "cudaDataType_t scaleType)",
    "cublasStatus_t cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t matmulDesc)",
    "cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t matmulDesc, "
    "cublasLtMatmulDescAttributes_t attr, const void *buf, size_t sizeInBytes)",
    "cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t *matLayout, cudaDataType type, uint64_t rows, "
    "uint64_t cols, int64_t ld)",
    "cublasStatus_t cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t matLayout)",
    "cublasStatus_t cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t *pref)",
    "cublasStatus_t cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t pref)",
    "cublasStatus_t cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t pref, "
    "cublasLtMatmulPreferenceAttributes_t attr, const void *buf, size_t sizeInBytes)",
    "cublasStatus_t cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t lightHandle, cublasLtMatmulDesc_t operationDesc, "
    "cublasLtMatrixLayout_t Adesc, cublasLtMatrixLayout_t Bdesc, cublasLtMatrixLayout_t Cdesc, "
    "cublasLtMatrixLayout_t Ddesc, cublasLtMatmulPreference_t preference, int requestedAlgoCount, "
    "cublasLtMatmulHeuristicResult_t *heuristicResultsArray, int *returnAlgoCount)",
    "cublasStatus_t cublasLtMatmul(cublasLtHandle_t lightHandle, cublasLtMatmulDesc_t computeDesc, "
    "const void *alpha, const void *A, cublasLtMatrixLayout_t Adesc, const void *B, cublasLtMatrixLayout_t Bdesc, "
    "const void *beta, const void *C, cublasLtMatrixLayout_t Cdesc, void *D, cublasLtMatrixLayout_t Ddesc, "
    "const cublasLtMatmulAlgo_t *algo, void *workspace, size_t workspaceSizeInBytes, cudaStream_t stream)",
]

NCCL = [
    "ncclResult_t ncclGetVersion(int *version)",
    "ncclResult_t ncclGetUniqueId(ncclUniqueId *uniqueId)",
    "ncclResult_t ncclCommInitRank(ncclComm_t *comm, int nranks, ncclUniqueId commId, int rank)",
    "ncclResult_t ncclCommInitAll(ncclComm_t *comm, int ndev, const int *devlist)",
    "ncclResult_t ncclCommDestroy(ncclComm_t comm)",
    "ncclResult_t ncclCommAbort(ncclComm_t comm)",
    "const char *ncclGetErrorString(ncclResult_t result)",
    "const char *ncclGetLastError(ncclComm_t comm)",
    "ncclResult_t ncclAllReduce(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t datatype, "
    "ncclRedOp_t op, ncclComm_t comm, cudaStream_t stream)",
    "ncclResult_t ncclAllGather(const void *sendbuff, void *recvbuff, size_t sendcount, ncclDataType_t datatype, "
    "ncclComm_t comm, cudaStream_t stream)",
    "ncclResult_t ncclGroupStart(void)",
    "ncclResult_t ncclGroupEnd(void)",
]

# C type -> (Java type, layout constant). Pointers of any kind are C_POINTER / MemorySegment.
INT_TYPES = {"int", "unsigned int", "CUresult", "CUdevice", "CUdevice_attribute", "CUfunction_attribute",
             "CUstreamCaptureMode", "cublasStatus_t", "cublasOperation_t", "cudaDataType", "cublasComputeType_t",
             "cublasGemmAlgo_t", "cublasMath_t", "ncclResult_t", "ncclDataType_t", "ncclRedOp_t", "cudaDataType_t",
             "cublasLtMatmulDescAttributes_t", "cublasLtMatmulPreferenceAttributes_t"}
LONG_TYPES = {"size_t": "C_LONG", "CUdeviceptr": "C_LONG_LONG", "unsigned long long": "C_LONG_LONG",
              "uint64_t": "C_LONG_LONG", "int64_t": "C_LONG_LONG"}
HANDLE_TYPES = {"CUcontext", "CUstream", "CUevent", "CUmodule", "CUfunction", "CUgraph", "CUgraphExec",
                "cublasHandle_t", "cudaStream_t", "ncclComm_t", "cublasLtHandle_t", "cublasLtMatmulDesc_t",
                "cublasLtMatrixLayout_t", "cublasLtMatmulPreference_t"}
# structs passed by value: C type -> the MemoryLayout constant declared in the header class's constants
STRUCT_TYPES = {"ncclUniqueId": "ncclUniqueId"}


def java_type(ctype):
    t = ctype.replace("const ", "").strip()
    if "*" in t or t in HANDLE_TYPES:
        return "MemorySegment", "C_POINTER"
    if t in STRUCT_TYPES:
        return "MemorySegment", STRUCT_TYPES[t]
    if t in INT_TYPES:
        return "int", "C_INT"
    if t in LONG_TYPES:
        return "long", LONG_TYPES[t]
    if t == "float":
        return "float", "C_FLOAT"
    if t == "unsigned char":
        return "byte", "C_CHAR"
    raise ValueError("no mapping for C type " + ctype)


def parse(proto):
    m = re.fullmatch(r"(.+?)\s*\b(\w+)\((.*)\)", proto.strip())
    ret, name, params = m.group(1).strip(), m.group(2), m.group(3).strip()
    args = []
    if params and params != "void":
        for p in params.split(","):
            p = p.strip()
            pm = re.fullmatch(r"(.*?[\s*])(\w+)", p)
            args.append((pm.group(1).strip(), pm.group(2)))
    return ret, name, args


def holder(header, proto):
    ret, name, args = parse(proto)
    rj, rl = java_type(ret)
    layouts = [f"{header}.{rl}"] + [f"{header}.{java_type(t)[1]}" for t, _ in args]
    params = ", ".join(f"{java_type(t)[0]} {n}" for t, n in args)
    names = ", ".join(n for _, n in args)
    cast = "(MemorySegment) " if rj == "MemorySegment" else f"({rj}) "
    trace_args = (", " + names) if names else ""
    layout_lines = ",\n                ".join(layouts)
    return f"""
    private static final class {name} {{
        static final String NAME = "{name}";
        static final FunctionDescriptor DESC = FunctionDescriptor.of(
                {layout_lines});
        static final MethodHandle HANDLE = Library.INSTANCE.downcall(NAME, DESC);
    }}

    /**
     * {{@snippet lang=c :
     * {proto}
     * }}
     */
    public static {rj} {name}({params}) {{
        var mh$ = {name}.HANDLE;
        try {{
            {rj} result$ = {cast}mh$.invokeExact({names});
            if (TRACE_DOWNCALLS) {{
                DowncallTrace.trace({name}.NAME, result${trace_args});
            }}
            return result$;
        }} catch (Error | RuntimeException ex$) {{
            throw ex$;
        }} catch (Throwable ex$) {{
            throw new AssertionError("should not reach here", ex$);
        }}
    }}
"""


def write(cls, doc, library_expr, constants, protos):
    body = "".join(holder(cls, p) for p in protos)
    symbols = ",\n".join(f'            "{parse(p)[1]}"' for p in protos)
    text = f"""// Generated by tools/cuda_bindings/gen_bindings.py: edit the prototypes there and regenerate.
package io.rocketkv.cuda.bindings;

import java.lang.foreign.AddressLayout;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.List;

/**
{doc}
 *
 * <p>Shaped like jextract output: one holder class per C function, created on first call (so loading this
 * class never loads the library), calls through {{@code invokeExact}}, the C status returned as is. Where
 * the library or a symbol is missing a call throws {{@link IllegalStateException}} naming both; use
 * {{@link #library()}} to ask first. {{@code -Drocketkv.cuda.trace=true}} logs every downcall (name,
 * arguments, status) to SLF4J logger {{@code io.rocketkv.cuda.trace}}, {{@code =stderr}} prints it.
 */
@SuppressWarnings("restricted") // native access is this class's job; launchers pass --enable-native-access
public final class {cls} {{

    {cls}() {{
        // static members only
    }}

    public static final ValueLayout.OfByte C_CHAR = ValueLayout.JAVA_BYTE;
    public static final ValueLayout.OfInt C_INT = ValueLayout.JAVA_INT;
    public static final ValueLayout.OfLong C_LONG = ValueLayout.JAVA_LONG;
    public static final ValueLayout.OfLong C_LONG_LONG = ValueLayout.JAVA_LONG;
    public static final ValueLayout.OfFloat C_FLOAT = ValueLayout.JAVA_FLOAT;
    public static final AddressLayout C_POINTER = ValueLayout.ADDRESS
            .withTargetLayout(MemoryLayout.sequenceLayout(java.lang.Long.MAX_VALUE, ValueLayout.JAVA_BYTE));

    static final boolean TRACE_DOWNCALLS = DowncallTrace.ENABLED;
{constants}
    /** The symbols bound here, in declaration order (an availability check looks them all up). */
    public static final List<String> SYMBOLS = List.of(
{symbols});

    /** The shared library these functions live in, loaded on first use (never throws). */
    public static NativeLibrary library() {{
        return Library.INSTANCE;
    }}

    private static final class Library {{
        static final NativeLibrary INSTANCE = {library_expr};
    }}
{body}}}
"""
    (OUT / f"{cls}.java").write_text(text)


CUDA_CONSTANTS = """
    // CUresult values the facade names (cuGetErrorName gives the rest)
    public static final int CUDA_SUCCESS = 0;
    public static final int CUDA_ERROR_INVALID_VALUE = 1;
    public static final int CUDA_ERROR_OUT_OF_MEMORY = 2;
    public static final int CUDA_ERROR_NOT_INITIALIZED = 3;
    public static final int CUDA_ERROR_NO_DEVICE = 100;
    public static final int CUDA_ERROR_INVALID_IMAGE = 200;
    public static final int CUDA_ERROR_NO_BINARY_FOR_GPU = 209;
    public static final int CUDA_ERROR_INVALID_HANDLE = 400;
    public static final int CUDA_ERROR_NOT_FOUND = 500;
    public static final int CUDA_ERROR_ILLEGAL_ADDRESS = 700;
    public static final int CUDA_ERROR_STREAM_CAPTURE_INVALIDATED = 901;
    public static final int CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES = 701;
    public static final int CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE = 910;

    // CUdevice_attribute
    public static final int CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 1;
    public static final int CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X = 5;
    public static final int CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK = 8;
    public static final int CU_DEVICE_ATTRIBUTE_WARP_SIZE = 10;
    public static final int CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16;
    public static final int CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE = 38;
    public static final int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
    public static final int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;
    public static final int CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR = 81;
    public static final int CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97;

    // CUfunction_attribute
    public static final int CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 0;
    public static final int CU_FUNC_ATTRIBUTE_NUM_REGS = 4;
    public static final int CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8;

    // flags
    public static final int CU_STREAM_DEFAULT = 0x0;
    public static final int CU_STREAM_NON_BLOCKING = 0x1;
    public static final int CU_EVENT_DEFAULT = 0x0;
    public static final int CU_EVENT_BLOCKING_SYNC = 0x1;
    public static final int CU_EVENT_DISABLE_TIMING = 0x2;
    public static final int CU_MEMHOSTALLOC_PORTABLE = 0x01;
    public static final int CU_STREAM_CAPTURE_MODE_GLOBAL = 0;
    public static final int CU_STREAM_CAPTURE_MODE_THREAD_LOCAL = 1;
    public static final int CU_STREAM_CAPTURE_MODE_RELAXED = 2;
    public static final long CUDA_GRAPH_INSTANTIATE_FLAG_AUTO_FREE_ON_LAUNCH = 1L;
    public static final int CU_GRAPH_EXEC_UPDATE_SUCCESS = 0;

    /**
     * {@snippet lang=c :
     * typedef struct CUgraphExecUpdateResultInfo_st {
     *     CUgraphExecUpdateResult result;
     *     CUgraphNode errorNode;
     *     CUgraphNode errorFromNode;
     * } CUgraphExecUpdateResultInfo;
     * }
     */
    public static final MemoryLayout CUgraphExecUpdateResultInfo = MemoryLayout.structLayout(
            C_INT.withName("result"),
            MemoryLayout.paddingLayout(4),
            C_POINTER.withName("errorNode"),
            C_POINTER.withName("errorFromNode")).withName("CUgraphExecUpdateResultInfo_st");
"""

CUBLAS_CONSTANTS = """
    // cublasStatus_t
    public static final int CUBLAS_STATUS_SUCCESS = 0;
    public static final int CUBLAS_STATUS_NOT_INITIALIZED = 1;
    public static final int CUBLAS_STATUS_ALLOC_FAILED = 3;
    public static final int CUBLAS_STATUS_INVALID_VALUE = 7;
    public static final int CUBLAS_STATUS_ARCH_MISMATCH = 8;
    public static final int CUBLAS_STATUS_MAPPING_ERROR = 11;
    public static final int CUBLAS_STATUS_EXECUTION_FAILED = 13;
    public static final int CUBLAS_STATUS_INTERNAL_ERROR = 14;
    public static final int CUBLAS_STATUS_NOT_SUPPORTED = 15;
    public static final int CUBLAS_STATUS_LICENSE_ERROR = 16;

    // cublasOperation_t
    public static final int CUBLAS_OP_N = 0;
    public static final int CUBLAS_OP_T = 1;
    // cudaDataType (library_types.h)
    public static final int CUDA_R_32F = 0;
    public static final int CUDA_R_16F = 2;
    public static final int CUDA_R_16BF = 14;
    // cublasComputeType_t
    public static final int CUBLAS_COMPUTE_32F = 68;
    public static final int CUBLAS_COMPUTE_32F_PEDANTIC = 69;
    // cublasGemmAlgo_t
    public static final int CUBLAS_GEMM_DEFAULT = -1;
    // cublasMath_t
    public static final int CUBLAS_DEFAULT_MATH = 0;
    public static final int CUBLAS_PEDANTIC_MATH = 2;
"""

CUBLASLT_CONSTANTS = """
    // Values from cublasLt.h / cublas_api.h / library_types.h of CUDA 13 (ABI: never renumbered).

    // cublasStatus_t
    public static final int CUBLAS_STATUS_SUCCESS = 0;
    public static final int CUBLAS_STATUS_NOT_SUPPORTED = 15;
    // cublasOperation_t
    public static final int CUBLAS_OP_N = 0;
    public static final int CUBLAS_OP_T = 1;
    // cudaDataType
    public static final int CUDA_R_32F = 0;
    public static final int CUDA_R_16BF = 14;
    public static final int CUDA_R_8F_E4M3 = 28;
    // cublasComputeType_t
    public static final int CUBLAS_COMPUTE_32F = 68;
    // cublasLtMatmulDescAttributes_t
    public static final int CUBLASLT_MATMUL_DESC_TRANSA = 3;
    public static final int CUBLASLT_MATMUL_DESC_TRANSB = 4;
    public static final int CUBLASLT_MATMUL_DESC_A_SCALE_POINTER = 17;
    public static final int CUBLASLT_MATMUL_DESC_B_SCALE_POINTER = 18;
    public static final int CUBLASLT_MATMUL_DESC_FAST_ACCUM = 25;
    // cublasLtMatmulPreferenceAttributes_t
    public static final int CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES = 1;

    /**
     * {@snippet lang=c :
     * typedef struct { uint64_t data[8]; } cublasLtMatmulAlgo_t;
     * typedef struct {
     *     cublasLtMatmulAlgo_t algo; size_t workspaceSize; cublasStatus_t state; float wavesCount; int reserved[4];
     * } cublasLtMatmulHeuristicResult_t;
     * }
     */
    public static final MemoryLayout cublasLtMatmulHeuristicResult_t = MemoryLayout.structLayout(
            MemoryLayout.sequenceLayout(8, C_LONG_LONG).withName("algo"),
            C_LONG.withName("workspaceSize"),
            C_INT.withName("state"),
            C_FLOAT.withName("wavesCount"),
            MemoryLayout.sequenceLayout(4, C_INT).withName("reserved")).withName("cublasLtMatmulHeuristicResult_t");
"""

NCCL_CONSTANTS = """
    // Values from nccl.h of NCCL 2.x (src/nccl.h.in in NVIDIA/nccl); the enums are ABI, never renumbered.

    // ncclResult_t
    public static final int ncclSuccess = 0;
    public static final int ncclUnhandledCudaError = 1;
    public static final int ncclSystemError = 2;
    public static final int ncclInternalError = 3;
    public static final int ncclInvalidArgument = 4;
    public static final int ncclInvalidUsage = 5;
    public static final int ncclRemoteError = 6;
    public static final int ncclInProgress = 7;
    public static final int ncclTimeout = 8;
    public static final int ncclNumResults = 9;

    // ncclRedOp_t (built-in operators)
    public static final int ncclSum = 0;
    public static final int ncclProd = 1;
    public static final int ncclMax = 2;
    public static final int ncclMin = 3;
    public static final int ncclAvg = 4;

    // ncclDataType_t
    public static final int ncclInt8 = 0;
    public static final int ncclUint8 = 1;
    public static final int ncclInt32 = 2;
    public static final int ncclUint32 = 3;
    public static final int ncclInt64 = 4;
    public static final int ncclUint64 = 5;
    public static final int ncclFloat16 = 6;
    public static final int ncclFloat32 = 7;
    public static final int ncclFloat64 = 8;
    public static final int ncclBfloat16 = 9;

    /** {@code #define NCCL_UNIQUE_ID_BYTES 128}. */
    public static final int NCCL_UNIQUE_ID_BYTES = 128;

    /**
     * {@snippet lang=c :
     * typedef struct { char internal[NCCL_UNIQUE_ID_BYTES]; } ncclUniqueId;
     * }
     */
    public static final MemoryLayout ncclUniqueId = MemoryLayout.structLayout(
            MemoryLayout.sequenceLayout(NCCL_UNIQUE_ID_BYTES, C_CHAR).withName("internal")).withName("ncclUniqueId");
"""

write("cuda_h", " * The CUDA driver API ({@code cuda.h}, {@code libcuda.so.1}): the functions RocketKV uses.",
      'NativeLibrary.load("libcuda.so.1")', CUDA_CONSTANTS, CUDA)
write("cublas_h", " * cuBLAS ({@code cublas_api.h}, {@code libcublas.so.13}, else {@code libcublas.so.12}): handle, stream,\n"
      " * workspace and {@code cublasGemmEx}.",
      'NativeLibrary.load("libcublas.so.13", "libcublas.so.12")', CUBLAS_CONSTANTS, CUBLAS)
write("cublasLt_h", " * cuBLASLt ({@code cublasLt.h}, {@code libcublasLt.so.13}, else {@code libcublasLt.so.12}): handle,\n"
      " * matmul and layout descriptors, heuristics and {@code cublasLtMatmul}: the fp8 (e4m3) GEMM.",
      'NativeLibrary.load("libcublasLt.so.13", "libcublasLt.so.12")', CUBLASLT_CONSTANTS, CUBLASLT)
write("nccl_h", " * NCCL ({@code nccl.h}, {@code libnccl.so.2}): version, unique id, communicators, all-reduce,\n"
      " * all-gather, groups and error strings: what tensor parallelism over several GPUs of one host needs.",
      'NativeLibrary.load("libnccl.so.2")', NCCL_CONSTANTS, NCCL)
print("wrote", OUT / "cuda_h.java,", OUT / "cublas_h.java,", OUT / "cublasLt_h.java", "and", OUT / "nccl_h.java")
