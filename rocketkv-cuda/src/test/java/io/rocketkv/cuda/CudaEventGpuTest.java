package io.rocketkv.cuda;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Events: ordering and timing (prints the achieved bandwidth, llm.c style, as information only). */
@RequiresCuda
class CudaEventGpuTest {

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
    void timesWorkBetweenTwoEvents() {
        long bytes = 1L << 30;
        try (CudaStream stream = ctx.createStream(); CudaEvent start = ctx.createEvent(); CudaEvent end = ctx.createEvent();
             DeviceBuffer buf = ctx.allocate(bytes); ElementwiseKernels k = new ElementwiseKernels(ctx)) {
            buf.memsetAsync((byte) 0, stream); // warm up
            start.record(stream);
            for (int i = 0; i < 10; i++) {
                buf.memsetAsync((byte) i, stream);
            }
            end.record(stream);
            end.synchronize();
            float ms = end.elapsedMillisSince(start);
            assertTrue(ms > 0f, "elapsed " + ms + " ms");
            System.out.printf("memset: 10 x 1 GiB in %.3f ms = %.0f GB/s written%n", ms, 10 * bytes / (ms * 1e6));

            long n = bytes / 4 / 2;
            DeviceBuffer x = buf.slice(0, 4 * n);
            DeviceBuffer y = buf.slice(4 * n, 4 * n);
            start.record(stream);
            k.residualAdd(x, y, n, stream);
            end.record(stream);
            stream.synchronize();
            float addMs = CudaEvent.elapsedMillis(start, end);
            assertTrue(addMs > 0f);
            System.out.printf("residual_add_f32: %d floats in %.3f ms = %.0f GB/s (read 2, write 1)%n", n, addMs,
                    12.0 * n / (addMs * 1e6));
        }
    }

    @Test
    void streamWaitsForAnEventOfAnother() {
        try (CudaStream a = ctx.createStream(true); CudaStream b = ctx.createStream(true); CudaEvent done = ctx.createEvent();
             DeviceBuffer buf = ctx.allocate(1 << 26); DeviceBuffer copy = ctx.allocate(1 << 26)) {
            buf.fill(0f);
            ctx.synchronize();
            buf.memsetAsync((byte) 0x40, a); // 0x40404040 = 3.0039215f
            done.record(a);
            b.waitFor(done);
            copy.copyFromAsync(buf, b);
            b.synchronize();
            float[] last = new float[1];
            copy.copyTo(java.lang.foreign.MemorySegment.ofArray(last), (1 << 26) - 4);
            assertTrue(last[0] == Float.intBitsToFloat(0x40404040), "got " + last[0]);
        }
    }

    @Test
    void timingNeedsTimingEvents() {
        try (CudaEvent plain = CudaEvent.create(ctx, false); CudaEvent timed = ctx.createEvent()) {
            assertThrows(IllegalArgumentException.class, () -> CudaEvent.elapsedMillis(plain, timed));
        }
    }
}
