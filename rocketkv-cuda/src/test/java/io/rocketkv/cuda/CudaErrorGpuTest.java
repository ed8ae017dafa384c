package io.rocketkv.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rocketkv.cuda.bindings.cuda_h;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** CUDA errors come back as {@link CudaException}s naming the call and the error, and leave the context usable. */
@RequiresCuda
class CudaErrorGpuTest {

    private static CudaContext ctx;
    private static CudaModule module;

    @BeforeAll
    static void open() {
        ctx = Gpu.context();
        module = KernelImages.load(ctx, ElementwiseKernels.FAMILY);
    }

    @AfterAll
    static void close() {
        if (module != null) {
            module.close();
        }
        if (ctx != null) {
            ctx.close();
        }
    }

    @Test
    void tooManyThreadsPerBlockIsInvalidValue() {
        CudaFunction add = module.function("residual_add_f32");
        assertTrue(add.maxThreadsPerBlock() <= 1024);
        try (DeviceBuffer x = ctx.allocate(4 * 4096)) {
            CudaException e = assertThrows(CudaException.class,
                    () -> add.launch(Dim3.of(1), Dim3.of(2048), 0, ctx.defaultStream(), x, x, 4096L));
            assertEquals("cuLaunchKernel", e.function());
            assertEquals(cuda_h.CUDA_ERROR_INVALID_VALUE, e.status());
            assertEquals("CUDA_ERROR_INVALID_VALUE", e.errorName());
            assertTrue(e.getMessage().contains("residual_add_f32") && e.getMessage().contains("2048"), e.getMessage());

            CudaException shared = assertThrows(CudaException.class,
                    () -> add.launch(Dim3.of(1), Dim3.of(32), 1 << 20, ctx.defaultStream(), x, x, 4096L));
            assertEquals("cuLaunchKernel", shared.function());

            x.fill(1f); // the context survived both
            add.launch(Dim3.of(16), Dim3.of(256), 0, ctx.defaultStream(), x, x, 4096L);
            ctx.synchronize();
            assertEquals(2f, x.toFloatArray()[4095]);
        }
    }

    @Test
    void occupancyIsReported() {
        CudaFunction add = module.function("residual_add_f32");
        assertTrue(add.maxActiveBlocksPerMultiprocessor(256, 0) >= 1);
        assertTrue(add.attribute(cuda_h.CU_FUNC_ATTRIBUTE_NUM_REGS) > 0);
    }

    @Test
    void missingKernelIsNotFound() {
        CudaException e = assertThrows(CudaException.class, () -> module.function("no_such_kernel"));
        assertEquals("cuModuleGetFunction", e.function());
        assertEquals("CUDA_ERROR_NOT_FOUND", e.errorName());
        assertTrue(e.getMessage().contains("no_such_kernel"), e.getMessage());
    }

    @Test
    void garbageImageIsRejected() {
        CudaException e = assertThrows(CudaException.class,
                () -> ctx.loadModule("garbage", "this is not a kernel image".getBytes(java.nio.charset.StandardCharsets.US_ASCII)));
        assertEquals("cuModuleLoadData", e.function());
        assertTrue(e.errorName().startsWith("CUDA_ERROR_"), e.errorName());
        assertTrue(e.getMessage().contains("garbage"), e.getMessage());
    }

    @Test
    void ptxTextLoadsToo() {
        String ptx = """
                .version 8.0
                .target sm_90
                .address_size 64
                .visible .entry nothing() { ret; }
                """;
        try (CudaModule m = ctx.loadModule("inline.ptx", ptx.getBytes(java.nio.charset.StandardCharsets.US_ASCII))) {
            m.function("nothing").launch(Dim3.of(1), Dim3.of(32), 0, ctx.defaultStream());
            ctx.synchronize();
        }
    }
}
