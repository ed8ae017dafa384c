package io.rocketkv.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/** Runs everywhere: the kernel-parameter array cuLaunchKernel reads, built without a GPU. */
class KernelArgsTest {

    @Test
    @SuppressWarnings("restricted")
    void eachPointerLeadsToItsValue() {
        KernelArgs args = KernelArgs.of(0x7f00_1234_5678L, 42, 1.5f, 2.25, (short) -3, (byte) 7, true,
                MemorySegment.ofAddress(0xABCDL));
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment params = args.toKernelParams(arena).reinterpret(8L * args.size());
            MemorySegment[] p = new MemorySegment[args.size()];
            for (int i = 0; i < p.length; i++) {
                p[i] = params.getAtIndex(ValueLayout.ADDRESS, i).reinterpret(8);
                assertEquals(0, p[i].address() % 8, "slot " + i + " is 8-byte aligned");
            }
            assertEquals(0x7f00_1234_5678L, p[0].get(ValueLayout.JAVA_LONG, 0));
            assertEquals(42, p[1].get(ValueLayout.JAVA_INT, 0));
            assertEquals(1.5f, p[2].get(ValueLayout.JAVA_FLOAT, 0));
            assertEquals(2.25, p[3].get(ValueLayout.JAVA_DOUBLE, 0));
            assertEquals((short) -3, p[4].get(ValueLayout.JAVA_SHORT, 0));
            assertEquals((byte) 7, p[5].get(ValueLayout.JAVA_BYTE, 0));
            assertEquals((byte) 1, p[6].get(ValueLayout.JAVA_BYTE, 0));
            assertEquals(0xABCDL, p[7].get(ValueLayout.JAVA_LONG, 0));
        }
    }

    @Test
    void noArgumentsIsNull() {
        try (Arena arena = Arena.ofConfined()) {
            assertEquals(MemorySegment.NULL, KernelArgs.of().toKernelParams(arena));
        }
    }

    @Test
    void unsupportedOrNullArgumentsAreRejectedUpFront() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> KernelArgs.of(1, "two"));
        assertEquals(true, e.getMessage().contains("argument 1") && e.getMessage().contains("String"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> KernelArgs.of(1, null));
        assertThrows(IllegalArgumentException.class, () -> Dim3.of(0));
        assertEquals(1, Dim3.blocksFor(0, 256));
        assertEquals(4, Dim3.blocksFor(1000, 256));
    }
}
