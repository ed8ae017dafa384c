package io.rocketkv.benchmarks.downcall;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.rocketkv.cuda.CudaDriver;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DowncallOverheadTest {

    @Test
    void needsExactlyAnOutput() {
        assertEquals(Path.of("x.json"), DowncallOverhead.parse(new String[] {"--out", "x.json"}));
        var e = assertThrows(IllegalArgumentException.class, () -> DowncallOverhead.parse(new String[] {"--out"}));
        assertTrue(e.getMessage().startsWith("usage: DowncallOverhead --out PATH"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> DowncallOverhead.parse(new String[] {"x.json"}));
    }

    @Test
    void withoutAGpuItWritesWhyItSkipped(@TempDir Path dir) throws Exception {
        assumeFalse(CudaDriver.isAvailable(), "a CUDA device is present: the skip path is not taken");
        Path out = dir.resolve("d/downcalls.json");
        DowncallOverhead.main(new String[] {"--out", out.toString()});
        String why = new ObjectMapper().readTree(out.toFile()).path("skipped").asText();
        assertTrue(why.startsWith("CUDA is unavailable"), why);
    }

    @Test
    void theKernelIsPtxWithTheEntryBothBindingsLookUp() {
        assertTrue(DowncallOverheadBenchmark.EMPTY_KERNEL_PTX.contains(".entry empty(.param .u32 n)"));
    }
}
