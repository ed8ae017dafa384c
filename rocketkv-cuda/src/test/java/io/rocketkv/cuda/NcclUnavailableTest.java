package io.rocketkv.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import io.rocketkv.core.numeric.DType;
import io.rocketkv.cuda.bindings.NativeLibrary;
import io.rocketkv.cuda.bindings.nccl_h;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Runs everywhere: without {@code libnccl.so.2} NCCL is reported unavailable with a reason naming it and
 * every call that needs it throws {@link CudaUnavailableException}, never {@link UnsatisfiedLinkError}; and
 * {@code ncclResult_t} codes map to their nccl.h names in {@link NcclException}.
 */
class NcclUnavailableTest {

    @Test
    void probeIsConsistent() {
        assertEquals(Nccl.isAvailable(), Nccl.unavailableReason().isEmpty(), Nccl.unavailableReason());
        assertEquals(Nccl.isAvailable(), Nccl.version() > 0, "version " + Nccl.version());
    }

    @Test
    void reasonNamesTheLibrary() {
        assumeFalse(Nccl.isAvailable(), "NCCL is available here");
        String reason = Nccl.unavailableReason();
        assertTrue(reason.contains("libnccl.so.2"), reason);
        if (!nccl_h.library().isLoaded()) {
            assertTrue(reason.contains("could not be loaded") && reason.contains("LD_LIBRARY_PATH"), reason);
        }
    }

    @Test
    void reasonForAMissingLibraryOrSymbol() {
        NativeLibrary none = NativeLibrary.load("libnccl-not-here-rocketkv.so.2");
        String reason = Nccl.reasonFor(none, nccl_h.SYMBOLS);
        assertTrue(reason.startsWith("libnccl.so.2 (NCCL) could not be loaded: ")
                && reason.contains("libnccl-not-here-rocketkv.so.2"), reason);
        NativeLibrary libc = NativeLibrary.load("libc.so.6");
        assumeFalse(!libc.isLoaded(), "no libc.so.6 here");
        assertEquals("", Nccl.reasonFor(libc, List.of("strlen")));
        String lacks = Nccl.reasonFor(libc, List.of("strlen", "ncclAllReduce", "ncclGroupEnd"));
        assertTrue(lacks.contains("lacks ncclAllReduce, ncclGroupEnd"), lacks);
    }

    @Test
    void callsThrowCudaUnavailableException() {
        assumeFalse(Nccl.isAvailable(), "NCCL is available here");
        CudaUnavailableException e = assertThrows(CudaUnavailableException.class, Nccl::uniqueId);
        assertTrue(e.getMessage().contains("Nccl.uniqueId") && e.getMessage().contains("libnccl.so.2"),
                e.getMessage());
        assertThrows(CudaUnavailableException.class, Nccl::groupStart);
        assertThrows(CudaUnavailableException.class, Nccl::groupEnd);
        assertThrows(CudaUnavailableException.class, () -> NcclCommunicator.initAll(List.of()));
        assertThrows(CudaUnavailableException.class, () -> NcclCommunicator.initRank(null, 2, new byte[128], 0));
    }

    @Test
    void rawBindingsWithoutTheLibraryThrowIllegalState() {
        assumeFalse(nccl_h.library().isLoaded(), "libnccl.so.2 loads here");
        IllegalStateException e = assertThrows(IllegalStateException.class, nccl_h::ncclGroupStart);
        assertTrue(e.getMessage().contains("ncclGroupStart") && e.getMessage().contains("libnccl.so.2"),
                e.getMessage());
        assertEquals("", Nccl.errorString(nccl_h.ncclInvalidArgument));
    }

    @Test
    void resultCodesMapToNcclHNames() {
        assertEquals("ncclSuccess", Nccl.resultName(0));
        assertEquals("ncclUnhandledCudaError", Nccl.resultName(1));
        assertEquals("ncclSystemError", Nccl.resultName(2));
        assertEquals("ncclInternalError", Nccl.resultName(3));
        assertEquals("ncclInvalidArgument", Nccl.resultName(nccl_h.ncclInvalidArgument));
        assertEquals("ncclInvalidUsage", Nccl.resultName(5));
        assertEquals("ncclRemoteError", Nccl.resultName(6));
        assertEquals("ncclInProgress", Nccl.resultName(7));
        assertEquals("ncclTimeout", Nccl.resultName(8));
        assertEquals("ncclResult_t 9", Nccl.resultName(9));
        assertEquals("ncclResult_t -1", Nccl.resultName(-1));
    }

    @Test
    void ncclExceptionCarriesFunctionCodeAndText() {
        NcclException e = new NcclException("ncclAllReduce", 4, "invalid argument", "rank 1 of 2, sum of 8 F32");
        assertEquals("ncclAllReduce failed: ncclInvalidArgument (4): invalid argument [rank 1 of 2, sum of 8 F32]",
                e.getMessage());
        assertEquals("ncclAllReduce", e.function());
        assertEquals(4, e.status());
        assertEquals("ncclInvalidArgument", e.errorName());
        assertThrows(NcclException.class, () -> Nccl.check(nccl_h.ncclSystemError, "ncclCommInitAll", "2 devices"));
        Nccl.check(nccl_h.ncclSuccess, "ncclGroupEnd", null); // success does not throw
        NcclException sys = assertThrows(NcclException.class, () -> Nccl.check(2, "ncclCommInitAll", "2 devices"));
        assertTrue(sys.getMessage().startsWith("ncclCommInitAll failed: ncclSystemError (2)"), sys.getMessage());
    }

    @Test
    void dataTypesMapToNcclH() {
        assertEquals(7, Nccl.dataType(DType.F32));
        assertEquals(9, Nccl.dataType(DType.BF16));
        assertEquals(6, Nccl.dataType(DType.F16));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Nccl.dataType(DType.I32));
        assertTrue(e.getMessage().contains("I32"), e.getMessage());
    }
}
