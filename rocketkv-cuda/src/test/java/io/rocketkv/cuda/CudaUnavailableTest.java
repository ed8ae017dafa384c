package io.rocketkv.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import io.rocketkv.cuda.bindings.cuda_h;
import org.junit.jupiter.api.Test;

/**
 * Runs everywhere. On a machine without a driver or device (CI, the build machine) CUDA must be reported
 * unavailable with a reason, and every request must fail with {@link CudaUnavailableException}, never an
 * {@link UnsatisfiedLinkError} or a crash. Where CUDA is available the "unavailable" cases skip.
 */
class CudaUnavailableTest {

    @Test
    void probeIsConsistent() {
        boolean available = CudaDriver.isAvailable();
        assertEquals(available, CudaDriver.unavailableReason().isEmpty(), CudaDriver.unavailableReason());
        assertEquals(available, CudaDriver.deviceCount() > 0);
        if (available) {
            assertTrue(CudaDriver.driverVersion() >= 12000, "driver version " + CudaDriver.driverVersion());
        }
    }

    @Test
    void reasonNamesTheMissingPiece() {
        assumeFalse(CudaDriver.isAvailable(), "CUDA is available here");
        String reason = CudaDriver.unavailableReason();
        assertTrue(reason.contains("libcuda.so.1") || reason.contains("cuInit") || reason.contains("no CUDA device"),
                reason);
        if (!cuda_h.library().isLoaded()) {
            assertTrue(reason.contains("libcuda.so.1") && reason.contains("could not be loaded"), reason);
        }
    }

    @Test
    void requestsThrowCudaUnavailableException() {
        assumeFalse(CudaDriver.isAvailable(), "CUDA is available here");
        String reason = CudaDriver.unavailableReason();
        CudaUnavailableException e = assertThrows(CudaUnavailableException.class, () -> CudaDriver.device(0));
        assertTrue(e.getMessage().contains(reason), e.getMessage());
        assertTrue(e.getMessage().contains("not available"), e.getMessage());
        assertEquals(CudaException.NO_STATUS, e.status());
        assertThrows(CudaUnavailableException.class, () -> CudaContext.primary(0));
        assertThrows(CudaUnavailableException.class, () -> Cublas.create(null));
        assertThrows(CudaUnavailableException.class, () -> CudaDriver.require("a launch"));
        assertEquals(0, CudaDriver.deviceCount());
    }

    @Test
    void rawBindingsWithoutTheLibraryThrowIllegalState() {
        assumeFalse(cuda_h.library().isLoaded(), "libcuda.so.1 loads here");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> cuda_h.cuInit(0));
        assertTrue(e.getMessage().contains("cuInit") && e.getMessage().contains("libcuda.so.1"), e.getMessage());
        assertThrows(IllegalStateException.class, cuda_h::cuCtxSynchronize);
        assertFalse(cuda_h.library().failure().isEmpty());
    }

    @Test
    void errorNamesFallBackToNumbersWithoutTheLibrary() {
        assumeFalse(cuda_h.library().isLoaded(), "libcuda.so.1 loads here");
        assertEquals("CUresult 1", CudaDriver.errorName(1));
        CudaException e = new CudaException("cuLaunchKernel", 1, "CUDA_ERROR_INVALID_VALUE", "invalid argument", "k");
        assertEquals("cuLaunchKernel failed: CUDA_ERROR_INVALID_VALUE (1): invalid argument [k]", e.getMessage());
        assertEquals("cuLaunchKernel", e.function());
        assertEquals("CUDA_ERROR_INVALID_VALUE", e.errorName());
    }
}
