package io.rocketkv.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class PrefillKernelTest {

    @AfterEach
    void clear() {
        System.clearProperty(PrefillKernel.PROPERTY);
    }

    @Test
    void autoIsTheDefaultAndTakesV3() {
        assertEquals(PrefillKernel.AUTO, PrefillKernel.requested());
        assertEquals(PrefillKernel.MMA, PrefillKernel.AUTO.resolve(true));
        assertEquals(PrefillKernel.MMA, PrefillKernel.AUTO.resolve(false));
    }

    @Test
    void explicitChoicesAreKeptOrRefusedWithoutSm90a() {
        System.setProperty(PrefillKernel.PROPERTY, " WS ");
        assertEquals(PrefillKernel.WS, PrefillKernel.requested());
        assertEquals(PrefillKernel.MMA, PrefillKernel.MMA.resolve(true));
        assertEquals(PrefillKernel.WGMMA, PrefillKernel.WGMMA.resolve(true));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PrefillKernel.WS.resolve(false));
        assertTrue(e.getMessage().contains("sm_90a") && e.getMessage().contains("use auto or mma"), e.getMessage());
    }

    @Test
    void anUnknownKernelIsRefusedNamingTheChoices() {
        System.setProperty(PrefillKernel.PROPERTY, "flash");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, PrefillKernel::requested);
        assertTrue(e.getMessage().contains("flash") && e.getMessage().contains("auto") && e.getMessage().contains("ws"),
                e.getMessage());
    }
}
