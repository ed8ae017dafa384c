package io.rocketkv.benchmarks.gpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import io.rocketkv.cuda.CudaDriver;
import java.nio.file.Path;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EndToEndBenchTest {

    @Test
    void defaultsAreTheIssuesContextsAndBothParts() {
        EndToEndBench.Options o = EndToEndBench.Options.parse(new String[] {"--model", "m", "--out", "o.json"});
        assertArrayEquals(new int[] {8192, 32768, 131072}, o.contexts());
        assertEquals(64, o.newTokens());
        assertEquals(Set.of("step", "api"), o.parts());
        assertFalse(o.kvFp8());
        assertTrue(EndToEndBench.Options.parse(new String[] {"--model", "m", "--out", "o", "--kv-cache-dtype", "fp8"})
                .kvFp8());
        EndToEndBench.Options q = EndToEndBench.Options.parse(new String[] {"--model", "m", "--out", "o", "--quick",
                "--parts", "api", "--budget-s", "30", "--max-batch", "8"});
        assertArrayEquals(new int[] {8192}, q.contexts());
        assertEquals(Set.of("api"), q.parts());
        assertEquals(30.0, q.budgetSeconds());
        assertEquals(8, q.maxBatch());
    }

    @Test
    void badArgumentsNameTheOptionAndTheValue() {
        assertMessage("--model DIR and --out PATH are required", new String[] {"--out", "o"});
        assertMessage("--kv-cache-dtype takes bf16 or fp8, got fp16",
                new String[] {"--model", "m", "--out", "o", "--kv-cache-dtype", "fp16"});
        assertMessage("unknown option --fast", new String[] {"--model", "m", "--out", "o", "--fast"});
        assertMessage("--contexts takes integers", new String[] {"--model", "m", "--out", "o", "--contexts", "8k"});
        assertMessage("--contexts must each be >= 64", new String[] {"--model", "m", "--out", "o", "--contexts", "8"});
        assertMessage("--new-tokens must be >= 4", new String[] {"--model", "m", "--out", "o", "--new-tokens", "2"});
        assertMessage("--max-batch must be >= 1", new String[] {"--model", "m", "--out", "o", "--max-batch", "0"});
        assertMessage("--budget-s must be > 0", new String[] {"--model", "m", "--out", "o", "--budget-s", "-1"});
        assertMessage("--parts takes step and/or api", new String[] {"--model", "m", "--out", "o", "--parts", "hf"});
        assertMessage("--out needs a value", new String[] {"--model", "m", "--out"});
    }

    private static void assertMessage(String expected, String[] args) {
        var e = assertThrows(IllegalArgumentException.class, () -> EndToEndBench.Options.parse(args));
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }

    @Test
    void promptIdsFollowTheFormulaThePeerUses() {
        // transformers_e2e.py: 3 + (i * 7919 + 13) % 250
        assertArrayEquals(new int[] {16, 185, 104, 23}, EndToEndBench.prompt(4));
        for (int id : EndToEndBench.prompt(5000)) {
            assertTrue(id >= 3 && id < 253, "id " + id);
        }
    }

    @Test
    void withoutAGpuItWritesTheReasonAndNothingElse(@TempDir Path dir) throws Exception {
        assumeFalse(CudaDriver.isAvailable(), "a CUDA device is present: the skip path is not taken");
        Path out = dir.resolve("e2e.json");
        EndToEndBench.main(new String[] {"--model", dir.resolve("no-model").toString(), "--out", out.toString()});
        EndToEndReport r = EndToEndReport.read(out);
        assertNull(r.model());
        assertTrue(r.step().isEmpty() && r.api().isEmpty() && r.capacity().isEmpty());
        assertEquals(1, r.skipped().size());
        assertTrue(r.skipped().getFirst().reason().startsWith("CUDA is unavailable"), r.skipped().toString());
    }
}
