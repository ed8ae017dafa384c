package io.rocketkv.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The fp8-GEMM switch ({@link Fp8Gemm}): its property values and which devices it enables. */
class Fp8GemmTest {

    @Test
    void autoTakesFp8TensorCoresWhereCublasLtLoads() {
        assertTrue(Fp8Gemm.AUTO.enabled(90, true));
        assertTrue(Fp8Gemm.AUTO.enabled(89, true));
        assertTrue(Fp8Gemm.AUTO.enabled(100, true));
        assertFalse(Fp8Gemm.AUTO.enabled(80, true), "A100 has no fp8 tensor cores");
        assertFalse(Fp8Gemm.AUTO.enabled(90, false));
        assertFalse(Fp8Gemm.OFF.enabled(90, true));
        assertTrue(Fp8Gemm.ON.enabled(90, true));
        var e = assertThrows(IllegalStateException.class, () -> Fp8Gemm.ON.enabled(80, true));
        assertTrue(e.getMessage().contains("sm_80") && e.getMessage().contains("use auto or off"), e.getMessage());
        e = assertThrows(IllegalStateException.class, () -> Fp8Gemm.ON.enabled(90, false));
        assertTrue(e.getMessage().contains("libcublasLt"), e.getMessage());
    }

    @Test
    void thePropertyIsReadAndABadValueNamed() {
        String old = System.getProperty(Fp8Gemm.PROPERTY);
        try {
            System.clearProperty(Fp8Gemm.PROPERTY);
            assertEquals(Fp8Gemm.AUTO, Fp8Gemm.requested());
            System.setProperty(Fp8Gemm.PROPERTY, "OFF");
            assertEquals(Fp8Gemm.OFF, Fp8Gemm.requested());
            System.setProperty(Fp8Gemm.PROPERTY, "fast");
            var e = assertThrows(IllegalArgumentException.class, Fp8Gemm::requested);
            assertTrue(e.getMessage().contains("-Drocketkv.cuda.fp8Gemm=fast"), e.getMessage());
        } finally {
            if (old == null) {
                System.clearProperty(Fp8Gemm.PROPERTY);
            } else {
                System.setProperty(Fp8Gemm.PROPERTY, old);
            }
        }
    }
}
