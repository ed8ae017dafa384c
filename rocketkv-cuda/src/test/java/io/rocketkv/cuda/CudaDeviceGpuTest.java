package io.rocketkv.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rocketkv.cuda.bindings.cuda_h;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Device properties, contexts across threads and memory accounting. */
@RequiresCuda
class CudaDeviceGpuTest {

    private static CudaContext ctx;

    @BeforeAll
    static void open() {
        ctx = Gpu.context();
    }

    @AfterAll
    static void close() {
        if (ctx != null) {
            ctx.close();
        }
    }

    @Test
    void deviceInfo() {
        CudaDevice d = ctx.device();
        System.out.println(d + ", driver " + CudaDriver.driverVersion() + ", " + CudaDriver.deviceCount() + " device(s)");
        assertFalse(d.name().isBlank());
        assertTrue(d.computeCapability().major() >= 7, d.computeCapability().toString());
        assertTrue(d.totalMemory() > (1L << 30), "total " + d.totalMemory());
        assertTrue(d.multiprocessorCount() > 0);
        assertEquals(d.multiprocessorCount(), d.attribute(cuda_h.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT));
        assertEquals(32, d.attribute(cuda_h.CU_DEVICE_ATTRIBUTE_WARP_SIZE));
        assertEquals(1024, d.attribute(cuda_h.CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK));
        CudaContext.MemoryInfo m = ctx.memoryInfo();
        assertTrue(m.total() > 0 && m.total() <= d.totalMemory(), m + " vs " + d.totalMemory());
        assertTrue(m.free() > 0 && m.free() <= m.total(), m.toString());
        assertTrue(d.freeMemory() > 0);
        assertThrows(IllegalArgumentException.class, () -> CudaDriver.device(CudaDriver.deviceCount()));
    }

    @Test
    void kernelsRunOnThisDevice() {
        // the fatbin must hold code this device runs: SASS of its family or PTX it can JIT
        CudaDevice.ComputeCapability cc = ctx.device().computeCapability();
        for (String name : KernelImages.names()) {
            assertTrue(Fatbin.entries(KernelImages.read(name)).stream().anyMatch(e -> e.runsOn(cc)), name + " on sm_"
                    + cc.smVersion());
        }
    }

    @Test
    void freeMemoryReturnsAfterFree() {
        long gib = 1L << 30;
        try (DeviceBuffer warm = ctx.allocate(1 << 20)) { // first allocation may set up allocator state
            warm.memset((byte) 0);
        }
        ctx.synchronize();
        long before = ctx.memoryInfo().free();
        try (DeviceBuffer a = ctx.allocate(gib); DeviceBuffer b = ctx.allocate(gib / 2)) {
            a.memset((byte) 1);
            b.memset((byte) 2);
            long during = ctx.memoryInfo().free();
            assertTrue(before - during >= gib + gib / 2, "free went from " + before + " to " + during);
        }
        long after = ctx.memoryInfo().free();
        // other processes on a shared GPU may move it a little; ours must be back
        assertTrue(Math.abs(after - before) <= (16L << 20), "free before " + before + ", after " + after);
    }

    @Test
    void anotherThreadCanUseTheContext() throws Exception {
        float[] data = {1f, 2f, 3f};
        try (DeviceBuffer buf = ctx.allocate(12)) {
            buf.copyFrom(data);
            float[] back = CompletableFuture.supplyAsync(buf::toFloatArray).get(); // a pool thread, no context yet
            assertEquals(3f, back[2]);
            CompletableFuture.runAsync(() -> {
                try (DeviceBuffer other = ctx.allocate(4)) {
                    other.fill(5f);
                    assertEquals(5f, other.toFloatArray()[0]);
                }
            }).get();
        }
    }
}
