package io.rocketkv.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Capturing kernel launches into a graph, replaying it, updating it, and capture misuse. */
@RequiresCuda
class CudaGraphGpuTest {

    private static CudaContext ctx;
    private static ElementwiseKernels kernels;

    @BeforeAll
    static void open() {
        ctx = Gpu.context();
        kernels = new ElementwiseKernels(ctx);
    }

    @AfterAll
    static void close() {
        if (kernels != null) {
            kernels.close();
        }
        if (ctx != null) {
            ctx.close();
        }
    }

    @Test
    void captureOnceReplayTwice() {
        int n = 4097;
        float[] x0 = Gpu.gaussian(new Random(1), n, 1f);
        float[] y = Gpu.gaussian(new Random(2), n, 1f);
        try (CudaStream stream = ctx.createStream(); DeviceBuffer x = ctx.allocate(4L * n); DeviceBuffer yd = ctx.allocate(4L * n)) {
            x.copyFrom(x0);
            yd.copyFrom(y);
            try (CudaGraph graph = CudaGraph.capture(stream, () -> {
                for (int i = 0; i < 3; i++) {
                    kernels.residualAdd(x, yd, n, stream);
                }
            })) {
                stream.synchronize();
                assertArrayEquals(x0, x.toFloatArray(), "capture must not run the work");
                graph.launch(stream);
                graph.launch(stream);
                stream.synchronize();
                float[] expected = x0.clone();
                for (int r = 0; r < 6; r++) {
                    for (int i = 0; i < n; i++) {
                        expected[i] += y[i];
                    }
                }
                assertArrayEquals(expected, x.toFloatArray());
            }
        }
    }

    @Test
    void updateRebindsBuffers() {
        int n = 1000;
        try (CudaStream stream = ctx.createStream(); DeviceBuffer a = ctx.allocate(4L * n); DeviceBuffer b = ctx.allocate(4L * n);
             DeviceBuffer one = ctx.allocate(4L * n)) {
            a.fill(0f);
            b.fill(10f);
            one.fill(1f);
            try (CudaGraph graph = CudaGraph.capture(stream, () -> kernels.residualAdd(a, one, n, stream))) {
                graph.launch(stream);
                assertTrue(graph.update(stream, () -> kernels.residualAdd(b, one, n, stream)));
                graph.launch(stream);
                stream.synchronize();
                assertEquals(1f, a.toFloatArray()[n - 1]);
                assertEquals(11f, b.toFloatArray()[n - 1]);
                // a different topology cannot be an in-place update
                assertEquals(false, graph.update(stream, () -> {
                    kernels.residualAdd(b, one, n, stream);
                    kernels.residualAdd(b, one, n, stream);
                }));
                graph.launch(stream); // still the one-add graph on b
                stream.synchronize();
                assertEquals(12f, b.toFloatArray()[0]);
            }
        }
    }

    @Test
    void captureMisuseLeavesTheStreamUsable() {
        assertThrows(IllegalArgumentException.class, () -> CudaGraph.capture(ctx.defaultStream(), () -> { }));
        try (CudaStream stream = ctx.createStream(); DeviceBuffer x = ctx.allocate(16)) {
            IllegalStateException boom = assertThrows(IllegalStateException.class,
                    () -> CudaGraph.capture(stream, () -> {
                        kernels.residualAdd(x, x, 4, stream);
                        throw new IllegalStateException("boom");
                    }));
            assertEquals("boom", boom.getMessage());
            x.fill(1f);
            kernels.residualAdd(x, x, 4, stream); // not capturing any more: runs
            stream.synchronize();
            assertEquals(2f, x.toFloatArray()[3]);
        }
    }
}
