package io.rocketkv.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Allocation, copies in every direction, memset, slices and the checks around them. */
@RequiresCuda
class DeviceBufferGpuTest {

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
    void floatRoundTrip() {
        for (int n : new int[] {1, 54, 97, 1 << 20}) {
            float[] src = Gpu.gaussian(new Random(n), n, 1f);
            try (DeviceBuffer buf = ctx.allocate(4L * n)) {
                buf.copyFrom(src);
                assertArrayEquals(src, buf.toFloatArray(), "n=" + n);
            }
        }
    }

    @Test
    void segmentRoundTripWithOffsetsHeapAndNative() {
        byte[] bytes = new byte[1000];
        new Random(7).nextBytes(bytes);
        try (DeviceBuffer buf = ctx.allocate(4096); Arena arena = Arena.ofConfined()) {
            buf.memset((byte) 0);
            buf.copyFrom(MemorySegment.ofArray(bytes), 100); // heap, staged
            MemorySegment nat = arena.allocate(1000);
            buf.copyTo(nat, 100); // native, direct
            assertArrayEquals(bytes, nat.toArray(ValueLayout.JAVA_BYTE));
            byte[] head = new byte[100];
            buf.copyTo(MemorySegment.ofArray(head));
            assertArrayEquals(new byte[100], head);
            buf.copyFrom(nat, 3096);
            byte[] tail = new byte[1000];
            buf.copyTo(MemorySegment.ofArray(tail), 3096);
            assertArrayEquals(bytes, tail);
        }
    }

    @Test
    void deviceToDeviceAndSlices() {
        int[] ints = new int[256];
        Arrays.setAll(ints, i -> i * 3 - 100);
        try (DeviceBuffer a = ctx.allocate(1024); DeviceBuffer b = ctx.allocate(2048)) {
            a.copyFrom(ints);
            b.memset((byte) 0xFF);
            DeviceBuffer upper = b.slice(1024, 1024);
            upper.copyFrom(a);
            int[] back = new int[256];
            upper.copyTo(back);
            assertArrayEquals(ints, back);
            int[] lower = new int[256];
            b.slice(0, 1024).copyTo(lower);
            assertTrue(Arrays.stream(lower).allMatch(v -> v == -1));
            assertEquals(b.address() + 1024, upper.address());
        }
    }

    @Test
    void memsetAndFill() {
        try (DeviceBuffer buf = ctx.allocate(4 * 1000)) {
            buf.memset((byte) 0x3F);
            short[] s = new short[2000];
            buf.copyTo(s);
            for (short v : s) {
                assertEquals((short) 0x3F3F, v);
            }
            buf.fill(-2.5f);
            for (float v : buf.toFloatArray()) {
                assertEquals(-2.5f, v);
            }
        }
    }

    @Test
    void asyncCopiesThroughPinnedMemory() {
        int n = 1 << 16;
        float[] src = Gpu.gaussian(new Random(3), n, 1f);
        try (PinnedHostBuffer pin = ctx.allocatePinned(4L * n); DeviceBuffer buf = ctx.allocate(4L * n);
             DeviceBuffer copy = ctx.allocate(4L * n); CudaStream stream = ctx.createStream(true)) {
            MemorySegment.copy(src, 0, pin.segment(), ValueLayout.JAVA_FLOAT, 0, n);
            buf.copyFromAsync(pin.segment(), 0, stream);
            copy.copyFromAsync(buf, stream);
            buf.memsetAsync((byte) 0, stream);
            stream.synchronize(); // the pinned source may change only once the upload has run
            pin.segment().fill((byte) 0);
            copy.copyToAsync(pin.segment(), 0, stream);
            stream.synchronize();
            assertArrayEquals(src, pin.segment().toArray(ValueLayout.JAVA_FLOAT));
            assertTrue(Arrays.equals(new float[n], buf.toFloatArray()));
        }
    }

    @Test
    void outOfBoundsAndClosedUseAreJavaErrors() {
        DeviceBuffer buf = ctx.allocate(16);
        assertThrows(IndexOutOfBoundsException.class, () -> buf.copyFrom(new float[5]));
        assertThrows(IndexOutOfBoundsException.class, () -> buf.copyTo(MemorySegment.ofArray(new float[3]), 8));
        assertThrows(IndexOutOfBoundsException.class, () -> buf.slice(8, 9));
        assertThrows(IllegalArgumentException.class, () -> ctx.allocate(0));
        assertThrows(IllegalArgumentException.class, () -> buf.copyFromAsync(MemorySegment.ofArray(new byte[4]), 0,
                ctx.defaultStream()));
        DeviceBuffer slice = buf.slice(0, 8);
        buf.close();
        buf.close(); // idempotent
        assertThrows(IllegalStateException.class, buf::address);
        assertThrows(IllegalStateException.class, () -> slice.copyFrom(new float[1]));
    }

    @Test
    void outOfMemoryIsACudaException() {
        long tooMuch = ctx.device().totalMemory() * 2;
        CudaException e = assertThrows(CudaException.class, () -> ctx.allocate(tooMuch));
        assertEquals("cuMemAlloc_v2", e.function());
        assertEquals("CUDA_ERROR_OUT_OF_MEMORY", e.errorName());
        try (DeviceBuffer ok = ctx.allocate(1024)) { // the context is still fine
            ok.memset((byte) 1);
        }
    }
}
