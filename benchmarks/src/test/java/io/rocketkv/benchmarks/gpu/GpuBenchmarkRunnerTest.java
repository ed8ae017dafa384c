package io.rocketkv.benchmarks.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rocketkv.benchmarks.gpu.GpuReport.Algo;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class GpuBenchmarkRunnerTest {

    private static final AttentionCost C = AttentionCost.LLAMA_8B;
    private static final long H200_FREE = 140L << 30;

    @Test
    void denseRunsWhereItFitsAndIsSkippedWhereNot() {
        assertNull(GpuBenchmarkRunner.decodeSkipReason(C, Algo.dense(), 131072, 64, H200_FREE));
        String why = GpuBenchmarkRunner.decodeSkipReason(C, Algo.dense(), 131072, 64, 16L << 30);
        assertNotNull(why);
        assertTrue(why.contains("32.0 GiB") && why.contains("80%"), why);
    }

    @Test
    void rocketKvIsSkippedWhenTheBudgetKeepsTheWholePrompt() {
        Algo b4096 = Algo.rocketkv(4096, 128, 4);
        assertTrue(GpuBenchmarkRunner.decodeSkipReason(C, b4096, 4096, 1, H200_FREE).contains("no compression"));
        assertNull(GpuBenchmarkRunner.decodeSkipReason(C, b4096, 8192, 1, H200_FREE));
        assertNull(GpuBenchmarkRunner.decodeSkipReason(C, Algo.rocketkv(256, 8, 4), 4096, 64, H200_FREE));
    }

    @Test
    void rocketKvMemoryDependsOnTheBudgetNotTheContext() {
        Algo a = Algo.rocketkv(2048, 64, 4);
        long free = C.rocketFootprint(CudaKernelsBench.rocketCacheTokens(2048), 64) * 10 / 8;
        assertNull(GpuBenchmarkRunner.decodeSkipReason(C, a, 131072, 64, free));
        assertNotNull(GpuBenchmarkRunner.decodeSkipReason(C, a, 131072, 64, free - 100));
    }

    @Test
    void sweepCoversTheIssuesGrid() {
        assertEquals(4096, GpuBenchmarkRunner.CONTEXTS[0]);
        assertEquals(131072, GpuBenchmarkRunner.CONTEXTS[GpuBenchmarkRunner.CONTEXTS.length - 1]);
        assertEquals(4, GpuBenchmarkRunner.BATCHES.length);
        assertEquals(Algo.rocketkv(2048, 64, 4), GpuBenchmarkRunner.ROCKET_CONFIGS.get(0));
        for (Algo a : GpuBenchmarkRunner.ROCKET_CONFIGS) {
            assertTrue(a.topk() * a.page() <= a.budget(), a.label());
        }
    }

    @Test
    void rowDerivesGbsAndPercentOfCopy() {
        GpuReport.DecodeRow r = GpuBenchmarkRunner.row(Algo.dense(), 32768, 8, 278.6, C.denseDecodeBytes(32768, 8),
                4207);
        assertEquals(3854, r.gbs(), 1.0);
        assertEquals(91.6, r.pctCopy(), 0.05);
    }

    @Test
    void optionsNeedAnOutputAndRejectUnknownFlags() {
        GpuBenchmarkRunner.Options o = GpuBenchmarkRunner.Options.parse(
                new String[] {"--out", "r.json", "--commit", "abc123", "--driver", "580.159.04", "--quick"});
        assertEquals(Path.of("r.json"), o.out());
        assertEquals("abc123", o.commit());
        assertEquals("580.159.04", o.driver());
        assertTrue(o.quick());
        assertEquals(GpuBenchmarkRunner.GEMM_SIZE, o.gemm());
        assertEquals(256, GpuBenchmarkRunner.Options.parse(new String[] {"--out", "r", "--gemm", "256"}).gemm());
        assertThrows(IllegalArgumentException.class,
                () -> GpuBenchmarkRunner.Options.parse(new String[] {"--out", "r", "--gemm", "0"}));
        assertThrows(IllegalArgumentException.class, () -> GpuBenchmarkRunner.Options.parse(new String[] {}));
        assertThrows(IllegalArgumentException.class,
                () -> GpuBenchmarkRunner.Options.parse(new String[] {"--out", "r.json", "--fast"}));
        assertThrows(IllegalArgumentException.class, () -> GpuBenchmarkRunner.Options.parse(new String[] {"--out"}));
        assertEquals(90.0, GpuBenchmarkRunner.Options.parse(new String[] {"--out", "r", "--budget-s", "90"}).budgetSeconds());
        var e = assertThrows(IllegalArgumentException.class,
                () -> GpuBenchmarkRunner.Options.parse(new String[] {"--out", "r", "--budget-s", "soon"}));
        assertTrue(e.getMessage().contains("--budget-s"), e.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> GpuBenchmarkRunner.Options.parse(new String[] {"--out", "r", "--budget-s", "0"}));
    }
}
