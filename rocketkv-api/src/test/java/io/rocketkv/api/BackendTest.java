package io.rocketkv.api;

import static io.rocketkv.api.ConfigAssertions.assertConfigError;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class BackendTest {

    @Test
    void parsesNamesIgnoringCase() {
        assertEquals(Backend.AUTO, Backend.parse("auto"));
        assertEquals(Backend.CPU, Backend.parse("CPU"));
        assertEquals(Backend.CUDA, Backend.parse(" Cuda "));
    }

    @Test
    void pytorchIsTensorRtLlmsNameForAuto() {
        assertEquals(Backend.AUTO, Backend.parse("pytorch"));
        assertEquals(Backend.AUTO, Backend.parse("PyTorch"));
    }

    @Test
    void unknownNameListsTheAllowedOnes() {
        assertConfigError("backend", () -> Backend.parse("tensorrt"),
                "backend (backend)", "auto, cpu, cuda", "pytorch", "got \"tensorrt\"");
        assertConfigError("backend", () -> Backend.parse(null), "got null");
    }

    @Test
    void yamlNamesRoundTrip() {
        for (Backend b : Backend.values()) {
            assertEquals(b, Backend.parse(b.yamlName()));
        }
    }
}
