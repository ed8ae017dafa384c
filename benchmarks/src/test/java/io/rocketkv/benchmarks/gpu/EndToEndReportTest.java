package io.rocketkv.benchmarks.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EndToEndReportTest {

    private static Path sample() throws Exception {
        return Path.of(EndToEndReportTest.class.getResource("/gpu/sample-run/rocketkv-e2e.json").toURI());
    }

    @Test
    void roundTripsThroughJson(@TempDir Path dir) throws Exception {
        EndToEndReport r = EndToEndReport.read(sample());
        assertTrue(r.metadata().commit().startsWith("SAMPLE"), "the fixture says it is a sample");
        assertEquals(8, r.step().size());
        assertEquals(4, r.api().size());
        assertEquals(4, r.capacity().size());
        Path out = dir.resolve("sub/e2e.json");
        r.write(out);
        assertEquals(r, EndToEndReport.read(out));
    }

    @Test
    void aReportWithOnlySkippedEntriesRoundTrips(@TempDir Path dir) throws Exception {
        var r = new EndToEndReport(new GpuReport.Metadata("none", "unknown", 0, "c", "d", "s"), null, 0, null, null,
                null, List.of(new GpuReport.Skipped("end-to-end", "CUDA is unavailable: test")));
        r.write(dir.resolve("e.json"));
        assertEquals(r, EndToEndReport.read(dir.resolve("e.json")));
    }

    @Test
    void metadataIsRequired() {
        assertThrows(IllegalArgumentException.class, () -> new EndToEndReport(null, null, 0, null, null, null, null));
    }
}
