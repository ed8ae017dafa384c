package io.rocketkv.benchmarks.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rocketkv.benchmarks.gpu.GpuReport;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PerformancePlotsTest {

    private static Path resource(String name) throws Exception {
        return Path.of(PerformancePlotsTest.class.getResource("/gpu/" + name).toURI());
    }

    @Test
    void writesThreePngsOfTheExpectedSizeFromTheH200Data(@TempDir Path dir) throws Exception {
        GpuReport report = GpuReport.read(resource("h200-2026-11-28-transcribed.json"));
        GpuReport.Peer peer = GpuReport.readPeer(resource("torch-attention-h200.json"));
        List<Path> pngs = PerformancePlots.write(report, Optional.of(peer), dir.resolve("images"));
        assertEquals(List.of(PerformancePlots.DECODE_US, PerformancePlots.DECODE_PCT_COPY,
                PerformancePlots.ROCKET_SPEEDUP), pngs.stream().map(p -> p.getFileName().toString()).toList());
        for (Path png : pngs) {
            assertTrue(Files.size(png) > 10_000, png + " is " + Files.size(png) + " bytes");
            BufferedImage img = ImageIO.read(png.toFile());
            assertEquals(PerformancePlots.WIDTH, img.getWidth(), png.toString());
            assertEquals(PerformancePlots.HEIGHT, img.getHeight(), png.toString());
            assertTrue(distinctColours(img) > 20, png + " looks blank");
        }
    }

    @Test
    void mainWritesWithoutAPeer(@TempDir Path dir) throws Exception {
        PerformancePlots.main(new String[] {resource("h200-2026-11-28-transcribed.json").toString(), "-",
                dir.toString()});
        assertTrue(Files.size(dir.resolve(PerformancePlots.DECODE_US)) > 10_000);
    }

    @Test
    void linesGroupAlgorithmAndBatchSortedByContext() throws Exception {
        GpuReport report = GpuReport.read(resource("h200-2026-11-28-transcribed.json"));
        var lines = PerformancePlots.byLine(report.decode());
        assertEquals(List.of("dense b1", "dense b8", "dense b32", "RocketKV B2048 k64 P4 b1",
                "RocketKV B2048 k64 P4 b8", "RocketKV B2048 k64 P4 b32"), List.copyOf(lines.keySet()));
        List<Integer> contexts = lines.get("dense b1").stream().map(GpuReport.DecodeRow::context).toList();
        assertEquals(List.of(4096, 8192, 16384, 32768, 131072), contexts);
    }

    private static int distinctColours(BufferedImage img) {
        Set<Integer> seen = new HashSet<>();
        for (int y = 0; y < img.getHeight(); y += 4) {
            for (int x = 0; x < img.getWidth(); x += 4) {
                seen.add(img.getRGB(x, y));
            }
        }
        return seen.size();
    }
}
