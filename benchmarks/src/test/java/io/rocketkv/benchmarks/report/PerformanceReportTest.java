package io.rocketkv.benchmarks.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PerformanceReportTest {

    private static Path sampleRun() throws Exception {
        return Path.of(PerformanceReportTest.class.getResource("/gpu/sample-run").toURI());
    }

    @Test
    void writesTheDocumentAndFivePlotsFromTheSampleRun(@TempDir Path dir) throws Exception {
        Path doc = dir.resolve("docs/performance-gpu.md");
        List<Path> written = PerformanceReport.write(sampleRun(), doc, dir.resolve("docs/images"));
        assertEquals(6, written.size(), written.toString());
        for (String png : List.of(PerformancePlots.DECODE_US, PerformancePlots.DECODE_PCT_COPY,
                PerformancePlots.ROCKET_SPEEDUP, EndToEndPlots.TOKENS_VS_BATCH, EndToEndPlots.SEQUENCES_VS_CONTEXT)) {
            Path p = dir.resolve("docs/images").resolve(png);
            assertTrue(Files.size(p) > 10_000, p + " is " + Files.size(p) + " bytes");
        }
        String md = Files.readString(doc);
        for (String expected : List.of("SAMPLE GPU", "![decode µs per layer vs context](images/gpu-decode-us-vs-context.png)",
                "(images/" + EndToEndPlots.TOKENS_VS_BATCH + ")", "| 1 | 4096 | 10.0 | 1,678 | 41.9 | 12.0 | 1.20× | 5.0 | 2.0× |",
                "| dense | 8192 | 1.000 | 111.1 | 13.9 | 100.0 | 200 | 50.0 | 2.000 | 50.0 | 2.00× | 2.00× |",
                "| Launch | 2,000 ± 1 | 2,100 ± 1 | -100 | 0.95 |", "sm_100 is built but not measured",
                "- transformers context 32768: sample skip", "### Concurrent sequences")) {
            assertTrue(md.contains(expected), "missing " + expected + " in\n" + md);
        }
    }

    /**
     * docs/performance-gpu.md is what the generator makes of the committed run it names (so the document is the
     * run's, not edited by hand); the plots are not compared byte for byte (font rendering differs by machine).
     */
    @Test
    void theCommittedGpuReportIsGeneratedFromTheCommittedRun(@TempDir Path dir) throws Exception {
        Path repo = Path.of("").toAbsolutePath().getParent();
        Path committed = repo.resolve("docs/performance-gpu.md");
        assertTrue(Files.isRegularFile(committed), committed + " is missing");
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("Generated from `([^`/]+)/`")
                .matcher(Files.readString(committed));
        assertTrue(m.find(), "performance-gpu.md does not name the run it was generated from");
        Path run = repo.resolve("benchmarks/results").resolve(m.group(1));
        assertTrue(Files.isDirectory(run), run + " (named by performance-gpu.md) is missing");
        Path doc = dir.resolve("performance-gpu.md");
        PerformanceReport.write(run, doc, dir.resolve("images"));
        assertEquals(Files.readString(committed), Files.readString(doc),
                "docs/performance-gpu.md differs from what benchmarks/plots.sh makes of " + run
                        + ": run benchmarks/plots.sh " + "benchmarks/results/" + m.group(1));
    }

    @Test
    void missingPartsAreSaidToBeMissing(@TempDir Path dir) throws Exception {
        Path results = dir.resolve("results");
        Files.createDirectories(results);
        Files.copy(sampleRun().resolve("downcalls.json"), results.resolve("downcalls.json"));
        Path doc = dir.resolve("perf.md");
        PerformanceReport.write(results, doc, dir.resolve("images"));
        String md = Files.readString(doc);
        assertTrue(md.contains("Not measured in this run (no `rocketkv-gpu.json`)"), md);
        assertTrue(md.contains("Not measured in this run (no `rocketkv-e2e.json`"), md);
    }

    @Test
    void anEmptyOrMissingDirectoryIsAClearError(@TempDir Path dir) {
        var e = assertThrows(IOException.class, () -> GpuResults.read(dir));
        assertTrue(e.getMessage().contains("holds none of"), e.getMessage());
        var missing = assertThrows(IOException.class, () -> GpuResults.read(dir.resolve("nope")));
        assertTrue(missing.getMessage().contains("is not a directory"), missing.getMessage());
        assertThrows(IllegalArgumentException.class, () -> PerformanceReport.main(new String[] {"only-one"}));
    }

    @Test
    void aSkippedDowncallRunIsReadAsTheReason() {
        var d = GpuResults.downcalls(new com.fasterxml.jackson.databind.ObjectMapper().createObjectNode()
                .put("skipped", "CUDA is unavailable: no driver"));
        assertTrue(d.rows().isEmpty());
        assertEquals("CUDA is unavailable: no driver", d.skipped());
    }
}
