package io.rocketkv.cuda.bindings;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;

/** Runs everywhere: the trace line format of {@code -Drocketkv.cuda.trace}. */
class DowncallTraceTest {

    @Test
    void formatsNameArgumentsAndStatus() {
        assertEquals("cuMemAlloc_v2(0x1000, 4096) -> 0",
                DowncallTrace.format("cuMemAlloc_v2", 0, MemorySegment.ofAddress(0x1000), 4096L));
        assertEquals("cuMemcpyHtoD_v2(0x7f0012340000, NULL, 8) -> 1",
                DowncallTrace.format("cuMemcpyHtoD_v2", 1, 0x7f0012340000L, MemorySegment.NULL, 8L));
        assertEquals("cuCtxSynchronize() -> 0", DowncallTrace.format("cuCtxSynchronize", 0));
    }

    @Test
    void offUnlessAsked() {
        String mode = System.getProperty(DowncallTrace.PROPERTY, "false").trim();
        assertEquals(!mode.isEmpty() && !mode.equalsIgnoreCase("false"), DowncallTrace.ENABLED);
    }
}
