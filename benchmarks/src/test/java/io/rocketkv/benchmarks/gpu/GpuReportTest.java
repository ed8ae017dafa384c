package io.rocketkv.benchmarks.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rocketkv.benchmarks.gpu.GpuReport.Algo;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GpuReportTest {

    static Path resource(String name) throws Exception {
        return Path.of(GpuReportTest.class.getResource("/gpu/" + name).toURI());
    }

    @Test
    void transcribedH200ReportReadsBackAsWritten() throws Exception {
        GpuReport r = GpuReport.read(resource("h200-2026-11-28-transcribed.json"));
        assertEquals("NVIDIA H200", r.metadata().device());
        assertEquals(4207, r.ceilings().copyGbs());
        assertNull(r.ceilings().gemmTflops());
        assertEquals(18, r.decode().size());
        GpuReport.DecodeRow last = r.decode().stream()
                .filter(d -> d.algo().isDense() && d.context() == 32768 && d.batch() == 8).findFirst().orElseThrow();
        assertEquals(278.6, last.us());
        assertEquals(AttentionCost.LLAMA_8B.denseDecodeBytes(32768, 8), last.bytes());
        assertEquals(73.1, r.prefill().get(0).tflops(), 0.1);
        assertEquals(6, r.decode().stream().filter(d -> !d.algo().isDense()).count());
    }

    @Test
    void roundTripKeepsEveryField(@TempDir Path dir) throws Exception {
        GpuReport r = GpuReport.read(resource("h200-2026-11-28-transcribed.json"));
        Path out = dir.resolve("sub/report.json");
        r.write(out);
        assertEquals(r, GpuReport.read(out));
        String json = Files.readString(out);
        assertTrue(json.contains("\"pctCopy\"") && json.contains("\"rocketkv\""), json);
    }

    @Test
    void peerJsonFromTheTorchScriptIsRead() throws Exception {
        GpuReport.Peer p = GpuReport.readPeer(resource("torch-attention-h200.json"));
        assertEquals("NVIDIA H200", p.device());
        assertEquals(24, p.decode().size());
        assertEquals(9.320170321363085, p.decode().get(0).us());
        assertEquals(4096, p.decode().get(0).context());
    }

    @Test
    void peerJsonWithoutRowsIsRejected(@TempDir Path dir) throws Exception {
        Path empty = Files.writeString(dir.resolve("p.json"), "{\"peer\": \"x\", \"decode\": []}");
        assertThrows(java.io.IOException.class, () -> GpuReport.readPeer(empty));
    }

    @Test
    void algoIsValidated() {
        assertEquals("RocketKV B256 k8 P4", Algo.rocketkv(256, 8, 4).label());
        assertEquals("dense", Algo.dense().label());
        assertThrows(IllegalArgumentException.class, () -> new Algo("sparse", null, null, null));
        assertThrows(IllegalArgumentException.class, () -> new Algo("rocketkv", 2048, null, 4));
    }
}
