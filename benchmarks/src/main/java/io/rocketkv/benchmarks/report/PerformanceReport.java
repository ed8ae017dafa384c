package io.rocketkv.benchmarks.report;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The GPU report in one call: from the directory {@code benchmarks/peers/run_all.sh} wrote, the PNGs
 * ({@link PerformancePlots}, {@link EndToEndPlots}) into {@code IMAGES_DIR} and the tables
 * ({@link PerformanceMarkdown}) into {@code DOC}, which links the images relative to itself. Usage:
 * {@code PerformanceReport RESULTS_DIR DOC IMAGES_DIR} (run by {@code benchmarks/plots.sh RESULTS_DIR}).
 */
public final class PerformanceReport {

    private PerformanceReport() {
    }

    public static void main(String[] args) throws IOException {
        if (args.length != 3) {
            throw new IllegalArgumentException("usage: PerformanceReport RESULTS_DIR DOC IMAGES_DIR (RESULTS_DIR: the"
                    + " OUT_DIR of benchmarks/peers/run_all.sh)");
        }
        for (Path p : write(Path.of(args[0]), Path.of(args[1]), Path.of(args[2]))) {
            System.out.println("wrote " + p);
        }
    }

    /** Writes the images and the document; returns every file written. */
    public static List<Path> write(Path resultsDir, Path doc, Path imagesDir) throws IOException {
        GpuResults r = GpuResults.read(resultsDir);
        List<Path> written = new ArrayList<>();
        if (r.sweep().isPresent()) {
            written.addAll(PerformancePlots.write(r.sweep().get(), r.sdpa(), imagesDir));
        }
        if (r.e2e().isPresent() && r.e2e().get().model() != null) {
            written.addAll(EndToEndPlots.write(r.e2e().get(), imagesDir));
        }
        Path docDir = doc.toAbsolutePath().getParent();
        Files.createDirectories(docDir);
        String prefix = docDir.relativize(imagesDir.toAbsolutePath()).toString().replace('\\', '/');
        Files.writeString(doc, PerformanceMarkdown.render(r, prefix.isEmpty() ? "" : prefix + "/"));
        written.add(doc);
        return written;
    }
}
