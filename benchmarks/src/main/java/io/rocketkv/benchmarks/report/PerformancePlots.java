package io.rocketkv.benchmarks.report;

import io.rocketkv.benchmarks.gpu.GpuReport;
import io.rocketkv.benchmarks.gpu.GpuReport.Algo;
import io.rocketkv.benchmarks.gpu.GpuReport.DecodeRow;
import io.rocketkv.benchmarks.gpu.GpuReport.PeerRow;
import java.awt.Color;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.ToDoubleFunction;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.lines.SeriesLines;
import org.knowm.xchart.style.markers.Marker;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * The PNG plots of docs/performance.md, drawn (headless) from the GPU runner's JSON ({@link GpuReport}) and the
 * PyTorch peer's JSON ({@code benchmarks/peers/torch_attention.py}):
 * <ul>
 *   <li>{@value #DECODE_US}: decode µs per layer vs context, one line per algorithm and batch, log-log, the
 *       PyTorch peer dashed;</li>
 *   <li>{@value #DECODE_PCT_COPY}: % of copy bandwidth vs context, same lines; the peer's GB/s are divided by
 *       the runner's copy ceiling too, so both lines share one ceiling;</li>
 *   <li>{@value #ROCKET_SPEEDUP}: dense µs / RocketKV µs at the same context and batch.</li>
 * </ul>
 * Usage: {@code PerformancePlots RUNNER_JSON PEER_JSON OUT_DIR} (the peer may be {@code -} for none).
 */
public final class PerformancePlots {

    public static final String DECODE_US = "gpu-decode-us-vs-context.png";
    public static final String DECODE_PCT_COPY = "gpu-decode-pct-copy-vs-context.png";
    public static final String ROCKET_SPEEDUP = "gpu-rocketkv-speedup-vs-context.png";
    public static final int WIDTH = 900;
    public static final int HEIGHT = 560;

    private PerformancePlots() {
    }

    public static void main(String[] args) throws IOException {
        if (args.length != 3) {
            throw new IllegalArgumentException("usage: PerformancePlots RUNNER_JSON PEER_JSON|- OUT_DIR");
        }
        GpuReport report = GpuReport.read(Path.of(args[0]));
        Optional<GpuReport.Peer> peer = "-".equals(args[1]) ? Optional.empty()
                : Optional.of(GpuReport.readPeer(Path.of(args[1])));
        for (Path p : write(report, peer, Path.of(args[2]))) {
            System.out.println("wrote " + p);
        }
    }

    /** Writes the three PNGs into {@code dir} and returns their paths. */
    public static List<Path> write(GpuReport report, Optional<GpuReport.Peer> peer, Path dir) throws IOException {
        System.setProperty("java.awt.headless", "true");
        Files.createDirectories(dir);
        String source = report.metadata().device() + ", " + report.metadata().date();
        List<Path> written = new ArrayList<>();
        written.add(save(decodeChart("Decode attention, one layer: µs vs context (" + source + ")", "µs per layer",
                true, report, peer, DecodeRow::us, PeerRow::us), dir.resolve(DECODE_US)));
        written.add(save(decodeChart(String.format("Decode attention: %% of copy bandwidth (%.0f GB/s) vs context (%s)",
                        report.ceilings().copyGbs(), source), "% of device-to-device copy", false, report, peer,
                DecodeRow::pctCopy, r -> 100 * r.gbs() / report.ceilings().copyGbs()), dir.resolve(DECODE_PCT_COPY)));
        written.add(save(speedupChart(report, source), dir.resolve(ROCKET_SPEEDUP)));
        return written;
    }

    private static XYChart chart(String title, String yTitle, boolean logY) {
        XYChart c = new XYChartBuilder().width(WIDTH).height(HEIGHT).title(title).xAxisTitle("context (tokens)")
                .yAxisTitle(yTitle).build();
        c.getStyler().setXAxisLogarithmic(true);
        c.getStyler().setYAxisLogarithmic(logY);
        c.getStyler().setLegendPosition(Styler.LegendPosition.OutsideE);
        c.getStyler().setChartTitleFont(c.getStyler().getChartTitleFont().deriveFont(13f));
        c.getStyler().setDecimalPattern("#,###.#");
        return c;
    }

    private static XYChart decodeChart(String title, String yTitle, boolean logY, GpuReport report,
                                       Optional<GpuReport.Peer> peer, ToDoubleFunction<DecodeRow> ours,
                                       ToDoubleFunction<PeerRow> theirs) {
        XYChart c = chart(title, yTitle, logY);
        Map<String, List<DecodeRow>> lines = byLine(report.decode());
        for (Map.Entry<String, List<DecodeRow>> e : lines.entrySet()) {
            DecodeRow first = e.getValue().get(0);
            add(c, e.getKey(), e.getValue().stream().mapToDouble(DecodeRow::context).toArray(),
                    e.getValue().stream().mapToDouble(ours).toArray(), first.batch(), marker(first.algo()));
        }
        peer.ifPresent(p -> {
            Map<Integer, List<PeerRow>> byBatch = new LinkedHashMap<>();
            p.decode().stream().sorted(Comparator.comparingInt(PeerRow::batch).thenComparingInt(PeerRow::context))
                    .forEach(r -> byBatch.computeIfAbsent(r.batch(), b -> new ArrayList<>()).add(r));
            byBatch.forEach((batch, rows) -> add(c, "PyTorch SDPA b" + batch,
                    rows.stream().mapToDouble(PeerRow::context).toArray(),
                    rows.stream().mapToDouble(theirs).toArray(), batch, null));
        });
        return c;
    }

    private static XYChart speedupChart(GpuReport report, String source) {
        XYChart c = chart("RocketKV decode speedup over dense decode vs context (" + source + ")",
                "dense µs / RocketKV µs", true);
        Map<String, DecodeRow> dense = new LinkedHashMap<>();
        for (DecodeRow r : report.decode()) {
            if (r.algo().isDense()) {
                dense.put(r.context() + "/" + r.batch(), r);
            }
        }
        int lines = 0;
        for (Map.Entry<String, List<DecodeRow>> e : byLine(report.decode()).entrySet()) {
            List<double[]> points = new ArrayList<>();
            for (DecodeRow r : e.getValue()) {
                DecodeRow d = dense.get(r.context() + "/" + r.batch());
                if (!r.algo().isDense() && d != null) {
                    points.add(new double[] {r.context(), d.us() / r.us()});
                }
            }
            if (!points.isEmpty()) {
                add(c, e.getKey(), points.stream().mapToDouble(p -> p[0]).toArray(),
                        points.stream().mapToDouble(p -> p[1]).toArray(), e.getValue().get(0).batch(),
                        marker(e.getValue().get(0).algo()));
                lines++;
            }
        }
        if (lines == 0) {
            add(c, "no RocketKV rows with a dense row at the same context and batch", new double[] {1, 2},
                    new double[] {1, 1}, 1, null);
        }
        return c;
    }

    /** Rows grouped into lines "algorithm bN", each sorted by context; lines ordered by algorithm then batch. */
    static Map<String, List<DecodeRow>> byLine(List<DecodeRow> rows) {
        Map<String, List<DecodeRow>> lines = new LinkedHashMap<>();
        rows.stream()
                .sorted(Comparator.comparing((DecodeRow r) -> !r.algo().isDense())
                        .thenComparing(r -> r.algo().label())
                        .thenComparingInt(DecodeRow::batch)
                        .thenComparingInt(DecodeRow::context))
                .forEach(r -> lines.computeIfAbsent(label(r.algo(), r.batch()), k -> new ArrayList<>()).add(r));
        return lines;
    }

    static String label(Algo a, int batch) {
        return a.label() + " b" + batch;
    }

    /** One colour per batch, so a batch's dense, RocketKV and PyTorch lines match. */
    static Color colour(int batch) {
        return switch (batch) {
            case 1 -> new Color(0x1f77b4);
            case 8 -> new Color(0xff7f0e);
            case 32 -> new Color(0x9467bd);
            case 64 -> new Color(0x2ca02c);
            default -> new Color(0x7f7f7f);
        };
    }

    /** Circles for dense; for RocketKV a marker per budget. */
    private static Marker marker(Algo a) {
        if (a.isDense()) {
            return SeriesMarkers.CIRCLE;
        }
        return switch (a.budget()) {
            case 256 -> SeriesMarkers.TRIANGLE_UP;
            case 1024 -> SeriesMarkers.SQUARE;
            case 4096 -> SeriesMarkers.TRIANGLE_DOWN;
            default -> SeriesMarkers.DIAMOND;
        };
    }

    /** A solid line with {@code marker}, or, with a null marker, a dashed line without one (the peer). */
    private static void add(XYChart c, String name, double[] x, double[] y, int batch, Marker marker) {
        XYSeries s = c.addSeries(name, x, y);
        s.setLineColor(colour(batch));
        s.setMarkerColor(colour(batch));
        s.setMarker(marker == null ? SeriesMarkers.NONE : marker);
        if (marker == null) {
            s.setLineStyle(SeriesLines.DASH_DASH);
        }
    }

    private static Path save(XYChart chart, Path file) throws IOException {
        try (OutputStream out = Files.newOutputStream(file)) {
            BitmapEncoder.saveBitmap(chart, out, BitmapEncoder.BitmapFormat.PNG);
        }
        return file;
    }
}
