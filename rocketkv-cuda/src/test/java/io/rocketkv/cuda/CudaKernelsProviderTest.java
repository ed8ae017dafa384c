package io.rocketkv.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import io.rocketkv.core.kernels.KernelsProvider;
import java.util.List;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;

/**
 * Runs everywhere: this jar registers its provider for ServiceLoader, and the provider reports what the driver
 * and the kernel images say.
 */
class CudaKernelsProviderTest {

    @Test
    void theJarRegistersTheCudaProvider() {
        List<String> found = ServiceLoader.load(KernelsProvider.class).stream()
                .map(p -> p.type().getName()).toList();
        assertEquals(List.of(CudaKernelsProvider.class.getName()), found);
        assertEquals("cuda", new CudaKernelsProvider().name());
    }

    @Test
    void availabilityIsTheDriversAndTheKernelImages() {
        KernelsProvider cuda = new CudaKernelsProvider();
        assertEquals(CudaDriver.deviceCount(), cuda.deviceCount());
        if (!CudaDriver.isAvailable()) {
            assertEquals(CudaDriver.unavailableReason(), cuda.unavailableReason());
        } else if (!KernelImages.available()) {
            assertEquals(KernelImages.MISSING, cuda.unavailableReason());
        } else {
            assertNull(cuda.unavailableReason());
        }
    }

    @Test
    void requireAvailableSaysWhyWhereCudaCannotRun() {
        assumeFalse(CudaDriver.isAvailable() && KernelImages.available(), "CUDA runs here");
        var e = assertThrows(IllegalStateException.class,
                () -> new CudaKernelsProvider().requireAvailable("backend CUDA"));
        assertTrue(e.getMessage().startsWith("backend CUDA"), e.getMessage());
        assertTrue(e.getMessage().contains(new CudaKernelsProvider().unavailableReason()), e.getMessage());
    }
}
